import type { LabeledData, TeacherLike } from '@kd/core';
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

/** A finite number > 0. */
export const positive = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });

/** A finite number >= 0. */
export const nonNegative = z.number({ message: 'must be a finite number >= 0' }).nonnegative({ message: 'must be >= 0' });

/** A non-empty string. */
export const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** A tf.Tensor. */
export const tensorSchema = z.custom<tf.Tensor>((v) => v instanceof tf.Tensor, { message: 'must be a tf.Tensor' });

/** Whether `value` is `{ x, y }` tensors with one label per example. */
export function isLabeledData(value: unknown): value is LabeledData {
  const d = value as LabeledData | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.x instanceof tf.Tensor &&
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
