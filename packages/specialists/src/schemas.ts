import type { TeacherLike } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
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

/** A finite number > 0. */
export const positive = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });

/** A non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** Anything `toTeacher` accepts: a model, an object with predict(), a function, a Teacher. */
export const teacherSchema = z.custom<TeacherLike>(
  (v) =>
    typeof v === 'function' ||
    (typeof v === 'object' &&
      v !== null &&
      (typeof (v as { predict?: unknown }).predict === 'function' || (v as { kind?: unknown }).kind === 'kd-teacher')),
  { message: 'must be a LayersModel, an object with predict(x), a function or a Teacher' },
);

/** A class list: an array of integers >= 0 (validated against the class count where it is known). */
export const classesSchema = z.array(integer(0), { message: 'must be an array of class indices' });

/** Labels: an array-like of numbers or a 1-D tensor. */
export const labelsSchema = z.custom<ArrayLike<number> | tf.Tensor1D>(
  (v) => (v instanceof tf.Tensor && v.rank === 1) || Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)),
  { message: 'must be an array, a typed array or a 1-D tf.Tensor of class labels' },
);
