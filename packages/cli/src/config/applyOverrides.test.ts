import { isDistillationError } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { applyOverrides } from './applyOverrides';

describe('applyOverrides', () => {
  const config = { training: { epochs: 10 }, methods: [{ method: 'hardLabel' }, { method: 'softTargets', weight: 0.9 }] };

  it('sets key paths to YAML values, creating missing mappings, without touching the input', () => {
    const out = applyOverrides(
      config,
      ['training.epochs=2', 'methods[1].weight=0.5', 'data.limit.train=300', 'export.quantize=[float16]'],
      'run.yaml',
    );
    expect(out).toEqual({
      training: { epochs: 2 },
      methods: [{ method: 'hardLabel' }, { method: 'softTargets', weight: 0.5 }],
      data: { limit: { train: 300 } },
      export: { quantize: ['float16'] },
    });
    expect(config.training.epochs).toBe(10);
    expect(applyOverrides(config, ['name=digits kd'], 'run.yaml')).toMatchObject({ name: 'digits kd' });
  });

  it.each([
    ['training.epochs', '--set "training.epochs": write path=value, e.g. training.epochs=3'],
    ['methods[5].weight=1', 'run.yaml: --set methods[5].weight: methods has no item [5]'],
    ['training.epochs.x=1', 'run.yaml: --set training.epochs.x: epochs is 10, not a mapping'],
    ['a..b=1', '--set "a..b=1": "a..b" is not a key path (e.g. methods[1].weight)'],
    ['x=[1', '--set x: the value is not valid YAML'],
  ])('%s is refused', (override, message) => {
    let error: unknown;
    try {
      applyOverrides(config, [override], 'run.yaml');
    } catch (e) {
      error = e;
    }
    expect(isDistillationError(error, 'bad-config')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
