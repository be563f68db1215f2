import { checkSource, type DataSource } from '@kd/core';
import { SpecialistsError } from './errors';

/**
 * The labels a source declares, for what needs all N of them before reading (the specialist
 * sampler, the confusion matrix). Checks the source first with core's `checkSource` (`bad-source`,
 * and `bad-input-shape` against `exampleShape` when given); throws `no-labels` naming `what` (e.g.
 * `argument "data"`, `option "labels"`) when the source declares none.
 */
export function labelsOfSource(source: DataSource, where: string, what: string, exampleShape?: readonly (number | null)[]): Int32Array {
  const name = `${where}: ${what}`;
  const labels = checkSource(source, name, Number.POSITIVE_INFINITY, exampleShape ? { exampleShape } : {});
  if (!labels) {
    throw new SpecialistsError(
      'no-labels',
      `${name}${source.description ? ` (${source.description})` : ''} is a DataSource without labels; ${where} needs all N labels ` +
        'before reading any example, so the source must declare them (its "labels" field, an Int32Array)',
    );
  }
  return labels;
}
