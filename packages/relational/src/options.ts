import { z } from 'zod';

/** Zod pieces shared by the option schemas of `@kd/relational` (not exported from the package). */

/** A layer name to tap. */
export const tapSchema = (what: string) => {
  const message = `must name ${what}`;
  return z.string({ message }).min(1, { message });
};

/** A plugin, loss-term or variable-name prefix: a non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** A positive integer (a size). */
export const positiveInt = (what = 'a positive integer') => {
  const message = `must be ${what}`;
  return z.number({ message }).int({ message }).positive({ message });
};
