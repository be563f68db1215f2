import { z } from 'zod';

/** Building blocks of the option schemas (internal). */

/** An integer in `[min, max]` (`max` omitted: no upper bound). */
export function integer(min: number, max?: number) {
  const message = max === undefined ? `must be an integer >= ${min}` : `must be an integer in [${min}, ${max}]`;
  const schema = z.number({ message }).int({ message }).min(min, { message });
  return max === undefined ? schema : schema.max(max, { message });
}

/** A seed: any integer. */
export const seedSchema = z.number({ message: 'must be an integer' }).int({ message: 'must be an integer' });

/** A number in the open interval (0, 1). */
export const openFraction = z
  .number({ message: 'must be a number in (0, 1)' })
  .gt(0, { message: 'must be in (0, 1)' })
  .lt(1, { message: 'must be in (0, 1)' });

/** A probability in [0, 1]. */
export const probability = z
  .number({ message: 'must be a number in [0, 1]' })
  .min(0, { message: 'must be in [0, 1]' })
  .max(1, { message: 'must be in [0, 1]' });
