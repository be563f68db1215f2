import { softTargets } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { bitEvalPreprocess } from './augment';
import { bitFineTune } from './finetune';
import { hyperRule } from './hyperrule';
import { resNetV2 } from './models';

const tiny = (seed: number, name: string) =>
  resNetV2({
    inputShape: [null, null, 1],
    root: { filters: 8, kernelSize: 3, stride: 1, pool: false },
    stages: [
      { units: 1, cout: 16, stride: 1 },
      { units: 1, cout: 32, stride: 2 },
    ],
    groups: 4,
    classes: 3,
    zeroHead: name === 'teacher',
    seed,
    name,
  });

describe('bitFineTune', () => {
  it('runs exactly the (scaled) HyperRule schedule with SGD momentum, stops at the last boundary', async () => {
    const model = tiny(1, 'teacher');
    const x = tf.randomUniform([10, 8, 8, 1], 0, 1, 'float32', 4);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32');
    const base = hyperRule({ trainSize: 10, imageSize: 8, stepsScale: 0.02 });
    const rule = { ...base, resize: 10, crop: 8 }; // scaled-down resolution for the test
    expect(rule.boundaries).toEqual([2, 4, 6, 8, 10]);
    const validation = bitEvalPreprocess({ x, y }, rule);
    let result: Awaited<ReturnType<typeof bitFineTune>> | undefined;
    const leaked = await leakedTensors(async () => {
      result = await bitFineTune(model, { x, y }, rule, { batchSize: 4, seed: 3, validation, mixupAlpha: 0.1 });
    });
    expect(leaked).toBe(0);
    expect(result!.steps).toBe(10); // 3 steps per epoch: stops inside epoch 4
    expect(result!.epochs).toHaveLength(4); // the partial 4th epoch (1 step) is logged too
    expect(result!.learningRates).toEqual(Array.from({ length: 10 }, (_, s) => rule.schedule(s)!));
    expect(result!.losses.every(Number.isFinite)).toBe(true);
    expect(result!.validation!.accuracy).toBeGreaterThanOrEqual(0);
    expect(result!.distiller.describe()).toBe('Loss = 1*ce');

    // the same schedule as a distillation run with the fine-tuned model as teacher
    const student = tiny(2, 'student');
    const kd = await bitFineTune(student, { x, y }, rule, {
      batchSize: 5,
      teacher: model,
      plugins: [softTargets({ temperature: 2, weight: 1 })],
    });
    expect(kd.steps).toBe(10);
    expect(kd.distiller.describe()).toContain('kd(T=2)');
    tf.dispose([x, y, validation.x, validation.y]);
    model.dispose();
    student.dispose();
  });
});
