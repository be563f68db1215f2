import { describe, expect, it } from 'vitest';
import { hyperRule } from './hyperrule';

describe('hyperRule (bit_hyperrule.py)', () => {
  it.each([
    [1, [100, 200, 300, 400, 500], 0],
    [19_999, [100, 200, 300, 400, 500], 0],
    [20_000, [500, 3000, 6000, 9000, 10_000], 0.1],
    [499_999, [500, 3000, 6000, 9000, 10_000], 0.1],
    [500_000, [500, 6000, 12_000, 18_000, 20_000], 0.1],
    [1_281_167, [500, 6000, 12_000, 18_000, 20_000], 0.1],
  ])('trainSize %i -> boundaries %j, mixup %d', (trainSize, boundaries, mixup) => {
    const rule = hyperRule({ trainSize, imageSize: 32 });
    expect(rule.boundaries).toEqual(boundaries);
    expect(rule.mixupAlpha).toBe(mixup);
    expect(rule.totalSteps).toBe(boundaries.at(-1));
    expect([rule.baseLr, rule.batchSize]).toEqual([0.003, 512]);
  });

  it.each([
    [[95, 95], 'code', 160, 128],
    [[96, 96], 'code', 512, 480],
    [[95, 95], 'paper', 160, 128],
    [[96, 96], 'paper', 448, 384],
    [[32, 32], 'code', 160, 128],
    [[28, 28], 'code', 160, 128],
    [[224, 224], 'code', 512, 480],
    [[224, 224], 'paper', 448, 384],
    [[48, 192], 'code', 512, 480], // area 9216 = 96*96: not smaller
    [[95, 97], 'code', 160, 128], // area 9215
  ] as const)('image %j (%s) -> resize %i, crop %i', (imageSize, resolution, resize, crop) => {
    const rule = hyperRule({ trainSize: 1000, imageSize: imageSize as unknown as [number, number], resolution });
    expect([rule.resize, rule.crop]).toEqual([resize, crop]);
  });

  it('lr at, just before and just after every boundary (small data)', () => {
    const { schedule } = hyperRule({ trainSize: 19_999, imageSize: 28 });
    const table: [number, number | null][] = [
      [0, 0],
      [1, 0.003 / 100],
      [50, 0.0015],
      [99, (0.003 * 99) / 100],
      [100, 0.003],
      [101, 0.003],
      [199, 0.003],
      [200, 0.003],
      [201, 0.0003],
      [299, 0.0003],
      [300, 0.0003],
      [301, 0.003 / 10 / 10],
      [400, 0.003 / 10 / 10],
      [401, 0.003 / 10 / 10 / 10],
      [499, 0.003 / 10 / 10 / 10],
      [500, null],
      [501, null],
    ];
    for (const [step, lr] of table) {
      if (lr === null) expect(schedule(step), `step ${step}`).toBeNull();
      else expect(schedule(step), `step ${step}`).toBeCloseTo(lr, 15);
    }
  });

  it('lr around the boundaries of the medium and large schedules', () => {
    const medium = hyperRule({ trainSize: 20_000, imageSize: 32 }).schedule;
    expect([medium(499), medium(500), medium(501)]).toEqual([(0.003 * 499) / 500, 0.003, 0.003]);
    expect([medium(3000), medium(3001), medium(6000), medium(6001)]).toEqual([0.003, 0.003 / 10, 0.003 / 10, 0.003 / 10 / 10]);
    expect([medium(9000), medium(9001), medium(9999), medium(10_000)]).toEqual([
      0.003 / 10 / 10,
      0.003 / 10 / 10 / 10,
      0.003 / 10 / 10 / 10,
      null,
    ]);
    const large = hyperRule({ trainSize: 500_000, imageSize: 224 }).schedule;
    expect([large(6000), large(6001), large(12_000), large(12_001), large(18_000), large(18_001)]).toEqual([
      0.003,
      0.003 / 10,
      0.003 / 10,
      0.003 / 10 / 10,
      0.003 / 10 / 10,
      0.003 / 10 / 10 / 10,
    ]);
    expect([large(19_999), large(20_000)]).toEqual([0.003 / 10 / 10 / 10, null]);
  });

  it('stepsScale scales the boundaries (rounded, strictly increasing) and learningRate is a core schedule', () => {
    const rule = hyperRule({ trainSize: 2000, imageSize: 28, stepsScale: 0.1 });
    expect(rule.boundaries).toEqual([10, 20, 30, 40, 50]);
    expect(hyperRule({ trainSize: 2000, imageSize: 28, stepsScale: 0.001 }).boundaries).toEqual([1, 2, 3, 4, 5]);
    expect(rule.learningRate({ step: 5, epoch: 0, stepsPerEpoch: 10, totalSteps: 50 })).toBeCloseTo(0.0015, 12);
    expect(rule.learningRate({ step: 60, epoch: 0, stepsPerEpoch: 10, totalSteps: 50 })).toBe(0);
    expect(() => hyperRule({ trainSize: 0, imageSize: 28 })).toThrow(/trainSize/);
    expect(() => hyperRule({ trainSize: 10, imageSize: 28, stepsScale: 0 })).toThrow(/stepsScale/);
  });
});
