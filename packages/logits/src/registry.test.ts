import { readFileSync } from 'node:fs';
import { registry as core, type DistillationPlugin, isDistillationError, type MethodEntry, mergeRegistries, parseOptions } from '@kd/core';
import { fromEntry, pluginSignature } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import * as logits from './index';
import { registry } from './index';

/** The plugin factories `@kd/logits` exports: each must have a registry entry of its name. */
const PLUGIN_FACTORIES = ['dkd', 'dist'] as const;

type Factory = (options: object) => DistillationPlugin<unknown>;

/** Per entry: the factory's minimal options, and options that change its label and weight. */
const CASES: Record<(typeof PLUGIN_FACTORIES)[number], { minimal: object; custom: object }> = {
  dkd: { minimal: {}, custom: { alpha: 2, beta: 4, temperature: 2, warmupEpochs: 5, weight: 0.5, name: 'dkd2' } },
  dist: { minimal: {}, custom: { beta: 2, gamma: 0.5, temperature: 4, weight: { kind: 'linear-warmup', value: 2, epochs: 3 }, name: 'd' } },
};

const signature = pluginSignature;

function viaRegistry(name: keyof typeof CASES, options: object): DistillationPlugin<unknown> {
  return fromEntry<DistillationPlugin<unknown>>(registry.methods[name] as MethodEntry, options);
}

describe('registry', () => {
  it('has one method entry per plugin factory of the package, under its name', () => {
    expect(Object.keys(registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
    for (const name of PLUGIN_FACTORIES) {
      const factory = (logits as unknown as Record<string, Factory>)[name];
      expect(typeof factory).toBe('function');
      expect(typeof factory!(CASES[name].minimal).loss).toBe('function');
    }
    expect(Object.keys(mergeRegistries([{ from: '@kd/logits', registry }]).registry.methods).sort()).toEqual(['dist', 'dkd']);
  });

  it.each(PLUGIN_FACTORIES)('%s: the schema parses the minimal options and create gives the factory plugin', (name) => {
    const factory = (logits as unknown as Record<string, Factory>)[name]!;
    const before = tf.memory().numTensors;
    for (const options of [CASES[name].minimal, CASES[name].custom]) {
      expect(registry.methods[name].schema.safeParse(options).success).toBe(true);
      expect(signature(viaRegistry(name, options))).toEqual(signature(factory(options)));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the plugins their documented names, labels and weights', () => {
    expect(signature(viaRegistry('dkd', {}))).toMatchObject({
      name: 'dkd',
      label: 'dkd(T=4)',
      weight: { kind: 'linear-warmup', value: 1, epochs: 20 },
      labels: 'hard',
    });
    expect(signature(viaRegistry('dkd', CASES.dkd.custom))).toMatchObject({
      name: 'dkd2',
      label: 'dkd2(T=2, alpha=2, beta=4)',
      weight: { kind: 'linear-warmup', value: 0.5, epochs: 5 },
    });
    expect(viaRegistry('dkd', { warmupEpochs: 0, weight: 3 }).weight).toBe(3);
    expect(signature(viaRegistry('dist', CASES.dist.custom))).toMatchObject({
      name: 'd',
      label: 'd(T=4, beta=2, gamma=0.5)',
      weight: { kind: 'linear-warmup', value: 2, epochs: 3 },
    });
  });

  it('refuses an unknown key with a "did you mean"', () => {
    expect(() => parseOptions(registry.methods.dkd.schema, { warmupEpoch: 5 }, 'methods[1]')).toThrow(
      'methods[1]: unknown option "warmupEpoch"; did you mean "warmupEpochs"? (known: alpha, beta, temperature, warmupEpochs, weight, name)',
    );
    expect(() => parseOptions(registry.methods.dist.schema, { gama: 2 }, 'methods[0]')).toThrow(
      'methods[0]: unknown option "gama"; did you mean "gamma"? (known: beta, gamma, temperature, weight, name)',
    );
    try {
      parseOptions(registry.methods.dist.schema, { temperature: 0 }, 'methods[0]');
      expect.unreachable();
    } catch (error) {
      expect(isDistillationError(error, 'bad-option')).toBe(true);
      expect((error as Error).message).toBe('methods[0]: option "temperature" must be > 0, got 0');
    }
  });

  it("the README's config section uses the entries", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## In a config file')[1]?.split('\n## ')[0] ?? '';
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(yaml).toContain("packages: ['@kd/logits']");
    // Every method the snippet names is one of this package's entries or of @kd/core's.
    for (const [, method] of yaml.matchAll(/method: (\w+)/g))
      expect(Object.keys({ ...core.methods, ...registry.methods })).toContain(method);
    // Every entry is shown in the section.
    for (const name of PLUGIN_FACTORIES) expect(section).toContain(`method: ${name}`);
  });
});
