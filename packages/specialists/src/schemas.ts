import { type DataSource, integerSchema as integer, isDataSource } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';

/** Building blocks of the option schemas (internal): the shared ones of `@kd/core`, and two of its own. */
export {
  integerSchema as integer,
  nameSchema,
  openFractionSchema as openFraction,
  positiveSchema as positive,
  seedSchema,
  teacherSchema,
} from '@kd/core';

/** A class list: an array of integers >= 0 (validated against the class count where it is known). */
export const classesSchema = z.array(integer(0), { message: 'must be an array of class indices' });

/** Labels: an array-like of numbers, a 1-D tensor, or a DataSource (its declared labels). */
export const labelsSchema = z.custom<ArrayLike<number> | tf.Tensor1D | DataSource>(
  (v) =>
    (v instanceof tf.Tensor && v.rank === 1) || Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)) || isDataSource(v),
  { message: 'must be an array, a typed array or a 1-D tf.Tensor of class labels, or a DataSource that declares labels' },
);
