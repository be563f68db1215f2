/** Building blocks of the option schemas (internal): the shared ones of `@kd/core`. */
export {
  integerSchema as integer,
  isLabeledData,
  labeledDataSchema,
  nameSchema,
  nonNegativeSchema as nonNegative,
  positiveSchema as positive,
  seedSchema,
  teacherSchema,
  tensorSchema,
} from '@kd/core';
