import { z } from 'zod';

/** Zod pieces shared by the option schemas of `@kd/fitnet` (not exported from the package). */

/** A layer name to tap. */
export const tapSchema = (what: string) => {
  const message = `must name ${what}`;
  return z.string({ message }).min(1, { message });
};

/** A plugin, loss-term or variable-name prefix: a non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** The power p of an attention map (a finite number > 0). */
export const powerSchema = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });
