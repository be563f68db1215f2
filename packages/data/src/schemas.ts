/** Building blocks of the option schemas (internal): the shared ones of `@kd/core`. */
export {
  integerSchema as integer,
  openFractionSchema as openFraction,
  probabilitySchema as probability,
  seedSchema,
} from '@kd/core';
