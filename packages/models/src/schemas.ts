import { integerSchema } from '@kd/core';
import { z } from 'zod';

/**
 * Building blocks of the builders' option schemas (so `smallCnn` and `mlp` check a shape or a
 * class count with one message).
 */

/** A class count: an integer >= 2 (one class has nothing to tell apart). */
export const classesSchema = integerSchema(2);

/**
 * An image's example shape `[height, width, channels]`: height and width >= 4, so the two 2x2
 * max-pools of {@link smallCnn} leave at least one pixel.
 */
export const imageShapeSchema = z.tuple([integerSchema(4), integerSchema(4), integerSchema(1)], {
  message: 'must be [height, width, channels]',
});

/** An example shape of any rank: a non-empty list of integers >= 1 (`[784]`, `[28, 28, 1]`). */
export const exampleShapeSchema = z.array(integerSchema(1)).min(1);
