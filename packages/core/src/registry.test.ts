import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registry as coreRegistry } from './coreRegistry';
import { isDistillationError } from './errors';
import { Adam } from './optimizers/adam';
import { parseOptions } from './options';
import { defineRegistry, lookupEntry, mergeRegistries, registryEntry } from './registry';
import { SharedModules } from './sharedModules';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isDistillationError(error) ? error.code : 'not-a-distillation-error';
  }
  return undefined;
}

describe('registry', () => {
  it('core registers its methods, optimizers and schedules under the factories names', () => {
    expect(Object.keys(coreRegistry.methods).sort()).toEqual(['hardLabel', 'logitMatching', 'softTargets']);
    expect(Object.keys(coreRegistry.optimizers).sort()).toEqual(['adam', 'adamW', 'rmsprop', 'sgd']);
    const kd = coreRegistry.methods.softTargets;
    const plugin = kd.create(kd.schema.parse({ temperature: 2, weight: 0.9 }), new SharedModules());
    expect(plugin.name).toBe('kd');
    expect(plugin.label).toBe('kd(T=2)');
    expect(plugin.weight).toBe(0.9);
    const adamW = coreRegistry.optimizers.adamW;
    const optimizer = adamW.create(adamW.schema.parse({ learningRate: 0.01 }), {});
    expect(optimizer).toBeInstanceOf(Adam);
    expect((optimizer as Adam).weightDecay).toBe(0.01);
    optimizer.dispose();
    const cosine = coreRegistry.schedules.cosineDecay;
    const schedule = cosine.create(cosine.schema.parse({ initial: 1 }), {});
    expect(schedule({ step: 0, epoch: 0, stepsPerEpoch: 5, totalSteps: 11 })).toBe(1);
    expect(schedule({ step: 5, epoch: 1, stepsPerEpoch: 5, totalSteps: 11 })).toBeCloseTo(0.5, 12);
  });

  it('lookupEntry suggests the closest name and lists the known ones', () => {
    const merged = mergeRegistries([{ from: '@kd/core', registry: coreRegistry }]);
    expect(lookupEntry(merged, 'methods', 'softTargets', 'methods[0].method')).toBe(coreRegistry.methods.softTargets);
    expect(() => lookupEntry(merged, 'methods', 'softTarget', 'methods[2].method')).toThrow(
      'methods[2].method: unknown method "softTarget"; did you mean "softTargets"? (known: hardLabel, logitMatching, softTargets)',
    );
    expect(() => lookupEntry(merged, 'optimizers', 'lion', 'optimizer.name')).toThrow(
      'optimizer.name: unknown optimizer "lion" (known: adam, adamW, rmsprop, sgd)',
    );
    expect(codeOf(() => lookupEntry(merged, 'models', 'mlp', 'student.builder'))).toBe('unknown-name');
    // Object.prototype's keys are not entries.
    expect(codeOf(() => lookupEntry(merged, 'methods', 'toString', 'methods[0].method'))).toBe('unknown-name');
  });

  it('mergeRegistries refuses one name from two packages, and defineRegistry bad entries', () => {
    const entry = registryEntry({ schema: z.strictObject({}), summary: 'x', create: () => 1 });
    const a = defineRegistry({ models: { tiny: entry as never } });
    expect(() =>
      mergeRegistries([
        { from: 'a', registry: a },
        { from: 'b', registry: a },
      ]),
    ).toThrow('models "tiny" is registered by both a and b');
    expect(codeOf(() => defineRegistry({ models: { '1x': entry as never } }))).toBe('bad-registry');
    expect(codeOf(() => defineRegistry({ models: { tiny: { summary: 'x' } as never } }))).toBe('bad-registry');
    expect(codeOf(() => defineRegistry({ layers: {} } as never))).toBe('bad-registry');
  });

  it('parseOptions prefixes the path of the value inside its document (a config file)', () => {
    const { schema } = coreRegistry.methods.softTargets;
    expect(() => parseOptions(schema, { temprature: 2 }, 'run.yaml', ['methods', 2])).toThrow(
      'run.yaml: unknown option "methods[2].temprature"; did you mean "methods[2].temperature"? (known: temperature, weight, form)',
    );
    expect(() => parseOptions(schema, { weight: -1 }, 'run.yaml', ['methods', 2])).toThrow(
      'run.yaml: option "methods[2].weight" must be >= 0, got -1',
    );
  });
});
