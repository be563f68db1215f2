import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LabeledData } from './batch';
import type { TeacherLike } from './teacher';

/**
 * Building blocks of option schemas, shared by every kd package (so "must be an integer >= 1"
 * reads the same everywhere). Use them in `optionsSchema<T>()({ ... })`.
 */

/** An integer in `[min, max]` (`max` omitted: no upper bound). */
export function integerSchema(min: number, max?: number) {
  const message = max === undefined ? `must be an integer >= ${min}` : `must be an integer in [${min}, ${max}]`;
  const schema = z.number({ message }).int({ message }).min(min, { message });
  return max === undefined ? schema : schema.max(max, { message });
}

/** A seed: any integer. */
export const seedSchema = z.number({ message: 'must be an integer' }).int({ message: 'must be an integer' });

/** A finite number > 0. */
export const positiveSchema = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });

/** A finite number >= 0. */
export const nonNegativeSchema = z.number({ message: 'must be a finite number >= 0' }).nonnegative({ message: 'must be >= 0' });

/** A number in the open interval (0, 1). */
export const openFractionSchema = z
  .number({ message: 'must be a number in (0, 1)' })
  .gt(0, { message: 'must be in (0, 1)' })
  .lt(1, { message: 'must be in (0, 1)' });

/** A probability in [0, 1]. */
export const probabilitySchema = z
  .number({ message: 'must be a number in [0, 1]' })
  .min(0, { message: 'must be in [0, 1]' })
  .max(1, { message: 'must be in [0, 1]' });

/** A non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** A tf.Tensor. */
export const tensorSchema = z.custom<tf.Tensor>((v) => v != null && v instanceof tf.Tensor, { message: 'must be a tf.Tensor' });

/** Whether `value` is `{ x, y }` tensors with one label per example (and a matching `teacherX`). */
export function isLabeledData(value: unknown): value is LabeledData {
  const d = value as LabeledData | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.x != null &&
    d.x instanceof tf.Tensor &&
    d.y != null &&
    d.y instanceof tf.Tensor &&
    d.x.rank >= 1 &&
    d.y.shape[0] === d.x.shape[0] &&
    (d.teacherX === undefined || (d.teacherX instanceof tf.Tensor && d.teacherX.shape[0] === d.x.shape[0]))
  );
}

/** A data set `{ x, y }` of tensors. */
export const labeledDataSchema = z.custom<LabeledData>(isLabeledData, { message: 'must be { x, y } tensors with one label per example' });

/** Anything `toTeacher` accepts: a model, an object with predict(), a function, a Teacher. */
export const teacherSchema = z.custom<TeacherLike>(
  (v) =>
    typeof v === 'function' ||
    (typeof v === 'object' &&
      v !== null &&
      (typeof (v as { predict?: unknown }).predict === 'function' || (v as { kind?: unknown }).kind === 'kd-teacher')),
  { message: 'must be a LayersModel, an object with predict(x), a function or a Teacher' },
);
