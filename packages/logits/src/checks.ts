import { DistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { LogitsError } from './errors';

/**
 * Input checks and the gradient stop shared by the losses of `@kd/logits` (not exported from the
 * package). Every check reads shapes and dtypes only, except {@link checkLabelValues}, which reads
 * the labels; none creates a tensor.
 */

const shapeOf = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

function checkTensor(value: unknown, what: string, where: string): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new LogitsError('not-a-tensor', `${where}: ${what} must be a tf.Tensor, got ${value === null ? 'null' : typeof value}`);
  }
}

/**
 * Checks student logits and the teacher's tensor (`teacherWhat`: its logits, or its
 * log-probabilities at T): both float32 `[batch, classes]` of one shape, `batch >= 1`,
 * `classes >= 2`. Returns `[batch, classes]`.
 */
export function checkLogitsPair(student: unknown, teacher: unknown, where: string, teacherWhat = 'teacher logits'): [number, number] {
  checkTensor(student, 'student logits', where);
  checkTensor(teacher, teacherWhat, where);
  for (const [what, t] of [
    ['student logits', student],
    [teacherWhat, teacher],
  ] as const) {
    if (t.rank !== 2) {
      throw new DistillationError('logits-not-2d', `${where}: ${what} must be 2-D [batch, classes], got shape ${shapeOf(t)}`);
    }
    if (t.dtype !== 'float32') throw new LogitsError('logits-not-float', `${where}: ${what} must be float32, got ${t.dtype}`);
  }
  const [batch, classes] = student.shape as [number, number];
  if (teacher.shape[0] !== batch) {
    throw new LogitsError(
      'batch-size-mismatch',
      `${where}: student logits ${shapeOf(student)} and ${teacherWhat} ${shapeOf(teacher)} have different batch sizes`,
    );
  }
  if (teacher.shape[1] !== classes) {
    throw new DistillationError(
      'class-count-mismatch',
      `${where}: student logits ${shapeOf(student)} and ${teacherWhat} ${shapeOf(teacher)} have different numbers of classes`,
    );
  }
  if (batch === 0) throw new LogitsError('empty-batch', `${where}: the logits ${shapeOf(student)} have no example`);
  if (classes < 2) throw new LogitsError('too-few-classes', `${where}: the logits ${shapeOf(student)} must have at least 2 classes`);
  return [batch, classes];
}

/** Checks that `labels` is an int32 `[batch]` tensor (shape and dtype only). */
export function checkLabelShape(labels: unknown, batch: number, where: string): asserts labels is tf.Tensor1D {
  checkTensor(labels, 'labels', where);
  if (labels.rank !== 1) {
    throw new DistillationError('bad-labels', `${where}: labels must be 1-D [batch] class indices, got shape ${shapeOf(labels)}`);
  }
  if (labels.dtype !== 'int32') {
    throw new DistillationError('bad-labels', `${where}: labels must be int32 class indices, got dtype ${labels.dtype}`);
  }
  if (labels.shape[0] !== batch) {
    throw new LogitsError('batch-size-mismatch', `${where}: ${labels.shape[0]} labels for a batch of ${batch} logits`);
  }
}

/** Checks that every label is a class in `[0, classes)` (reads the labels). */
export function checkLabelValues(labels: tf.Tensor1D, classes: number, where: string): void {
  const values = labels.dataSync();
  for (let i = 0; i < values.length; i++) {
    const label = values[i]!;
    if (!(label >= 0 && label < classes)) {
      throw new DistillationError('label-out-of-range', `${where}: label ${i} = ${label} is not a class in [0, ${classes})`);
    }
  }
}

/**
 * The identity in the forward pass, a zero gradient in the backward pass: the teacher's side of a
 * loss is a constant (PyTorch `detach()`; the references run the teacher under `no_grad`).
 */
export const withoutGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T) => T;
