import { z } from 'zod';

/** Zod pieces shared by the option schemas of `@kd/crd` (not exported from the package). */

/** A positive integer (a size, a count). */
export const positiveInt = (what = 'a positive integer') => {
  const message = `must be ${what}`;
  return z.number({ message }).int({ message }).positive({ message });
};

/** A layer name to tap. */
export const tapSchema = (what = 'a tapped layer') => {
  const message = `must name ${what}`;
  return z.string({ message }).min(1, { message });
};

/** A plugin, loss-term or variable-name prefix: a non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** A seed of a weight initialisation: a finite number. */
export const seedSchema = z.number({ message: 'must be a finite number' });

/** CRD's temperature `nce_t` (> 0). */
export const temperatureSchema = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });

/** CRD's bank momentum `nce_m`, in [0, 1]. */
export const momentumSchema = z
  .number({ message: 'must be a number in [0, 1]' })
  .min(0, { message: 'must be in [0, 1]' })
  .max(1, { message: 'must be in [0, 1]' });

/** How per-anchor scores are computed. */
export const scoringSchema = z.enum(['gather', 'dense'], { message: "must be 'gather' or 'dense'" });

/** How the positive of each anchor is chosen. */
export const positiveSchema = z.enum(['exact', 'relax'], { message: "must be 'exact' or 'relax'" });
