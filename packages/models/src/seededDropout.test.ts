import { SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { liveTensors, refusal } from '../test/helpers';
import { mlp } from './mlp';
import { dropoutMask, SeededDropout } from './seededDropout';

/** A one-layer model around a SeededDropout, for `[batch, units]` inputs. */
function wrap(rate: number, seed: number, units: number): tfl.Sequential {
  return tfl.sequential({ layers: [new SeededDropout({ rate, seed, inputShape: [units], name: 'drop' })] });
}

const train = (model: tfl.LayersModel, x: tf.Tensor): Float32Array =>
  tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array);

describe('SeededDropout', () => {
  it('drops about `rate` of the units and scales the rest by 1 / (1 - rate)', () => {
    const n = 20_000;
    for (const rate of [0.2, 0.5, 0.8]) {
      const mask = dropoutMask(3, 0, rate, n);
      const dropped = mask.filter((v) => v === 0).length / n;
      // Binomial: 4 standard deviations of the dropped fraction.
      expect(Math.abs(dropped - rate)).toBeLessThan(4 * Math.sqrt((rate * (1 - rate)) / n));
      expect(new Set(mask)).toEqual(new Set([0, Math.fround(1 / (1 - rate))]));
    }
  });

  it('the mask is the keyed generator of (seed, "dropout", step) compared with the rate', () => {
    const random = SeededRandom.keyed(11, 'dropout', 4);
    const expected = Array.from({ length: 50 }, () => (random.next() >= 0.3 ? Math.fround(1 / 0.7) : 0));
    expect(Array.from(dropoutMask(11, 4, 0.3, 50))).toEqual(expected);
  });

  it('same seed -> the same masks call by call; the next call and another seed -> other masks', () => {
    const x = tf.ones([8, 64]);
    const [a, b, c] = [wrap(0.5, 1, 64), wrap(0.5, 1, 64), wrap(0.5, 2, 64)];
    const a0 = train(a, x);
    const a1 = train(a, x);
    expect(train(b, x)).toEqual(a0);
    expect(train(b, x)).toEqual(a1);
    expect(a1).not.toEqual(a0);
    expect(train(c, x)).not.toEqual(a0);
    expect(Array.from(a0)).toEqual(Array.from(dropoutMask(1, 0, 0.5, 8 * 64)));
    expect((a.getLayer('drop') as SeededDropout).step).toBe(2);
    tf.dispose(x);
    for (const m of [a, b, c]) m.dispose();
  });

  it('inference is the identity and does not advance the step', () => {
    const model = wrap(0.5, 1, 5);
    const x = tf.tensor2d([[1, -2, 3, 4.5, 0.25]]);
    const y = model.predict(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3, 4.5, 0.25]);
    expect((model.getLayer('drop') as SeededDropout).step).toBe(0);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('the gradient of sum(w * y) is w * mask / (1 - rate) (the mask as drawn)', () => {
    const model = wrap(0.4, 9, 30);
    const x = tf.randomNormal([4, 30], 0, 1, 'float32', 5);
    const w = tf.randomNormal([4, 30], 0, 1, 'float32', 6);
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(w, model.apply(input, { training: true }) as tf.Tensor)))(x);
    const mask = dropoutMask(9, 0, 0.4, 120);
    const wv = w.dataSync();
    const expected = Array.from(mask, (m, i) => Math.fround(wv[i]! * m));
    expect(Array.from(grad.dataSync())).toEqual(expected);
    // kept units are scaled by exactly 1 / (1 - rate), dropped ones get no gradient
    const kept = mask.filter((m) => m > 0);
    expect(kept[0]).toBeCloseTo(1 / 0.6, 6);
    tf.dispose([x, w, grad]);
    model.dispose();
  });

  it('saves and loads: config, seed and the step counter survive, and the loaded layer draws the next mask', async () => {
    const model = wrap(0.25, 42, 16);
    const x = tf.ones([2, 16]);
    train(model, x);
    train(model, x);
    const artifacts: tf.io.ModelArtifacts[] = [];
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts.push(a);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts[0]!));
    const layer = loaded.getLayer('drop') as SeededDropout;
    expect(layer).toBeInstanceOf(SeededDropout);
    expect([layer.rate, layer.seed, layer.step]).toEqual([0.25, 42, 2]);
    expect(layer.getClassName()).toBe('kd>SeededDropout');
    expect(train(loaded, x)).toEqual(train(model, x));
    tf.dispose(x);
    model.dispose();
    loaded.dispose();
  });

  it('refuses bad options, naming them', () => {
    expect(refusal(() => new SeededDropout({ rate: 1 }))).toEqual({
      code: 'bad-option',
      message: 'SeededDropout: option "rate" must be < 1, got 1',
    });
    expect(refusal(() => new SeededDropout({ rate: 0.1, sead: 2 } as never))?.code).toBe('unknown-option');
  });

  it('leaves no tensor behind in training, inference and under a gradient', () => {
    const model = wrap(0.5, 3, 10);
    const x = tf.ones([3, 10]);
    const before = liveTensors();
    train(model, x);
    tf.dispose(model.predict(x) as tf.Tensor);
    const g = tf.grad((input: tf.Tensor) => tf.sum(model.apply(input, { training: true }) as tf.Tensor))(x);
    g.dispose();
    expect(liveTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });
});

describe('mlp with dropout', () => {
  it('uses SeededDropout (seed + i per hidden layer): two models of one seed train with the same masks', () => {
    const [a, b] = [
      mlp({ hidden: [12, 6], dropout: 0.5, inputShape: [5], seed: 4 }),
      mlp({ hidden: [12, 6], dropout: 0.5, inputShape: [5], seed: 4 }),
    ];
    const layers = a.layers.filter((l) => l instanceof SeededDropout) as SeededDropout[];
    expect(layers.map((l) => [l.name, l.seed, l.rate])).toEqual([
      ['mlp_dropout1', 4, 0.5],
      ['mlp_dropout2', 5, 0.5],
    ]);
    const x = tf.randomNormal([6, 5], 0, 1, 'float32', 2);
    expect(train(b, x)).toEqual(train(a, x));
    expect(train(b, x)).toEqual(train(a, x));
    expect(a.trainableWeights.map((w) => w.name)).not.toContain('mlp_dropout1/step');
    x.dispose();
    a.dispose();
    b.dispose();
  });
});
