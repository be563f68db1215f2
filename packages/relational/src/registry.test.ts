import { readFileSync } from 'node:fs';
import { registry as core, type DistillationPlugin, isDistillationError, type MethodEntry, mergeRegistries, parseOptions } from '@kd/core';
import { fromEntry, pluginSignature } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import * as relational from './index';
import { registry } from './index';

/** The plugin factories `@kd/relational` exports: each must have a registry entry of its name. */
const PLUGIN_FACTORIES = ['similarityPreserving', 'rkd', 'pkt', 'correlationCongruence'] as const;

type Factory = (options: object) => DistillationPlugin<unknown>;

const taps = { student: 's_pool', teacher: 't_pool' };

/** Per entry: the factory's minimal options (its required keys), and options that change its label and weight. */
const CASES: Record<(typeof PLUGIN_FACTORIES)[number], { minimal: object; custom: object }> = {
  similarityPreserving: { minimal: taps, custom: { ...taps, weight: 10, name: 'sp2' } },
  rkd: { minimal: taps, custom: { ...taps, distanceWeight: 1, angleWeight: 0, weight: 2, name: 'rkdD' } },
  pkt: { minimal: taps, custom: { ...taps, weight: 5, name: 'pkt2' } },
  correlationCongruence: { minimal: taps, custom: { ...taps, embeddingSize: 16, normalize: true, weight: 1, name: 'cc2' } },
};

const signature = pluginSignature;

function viaRegistry(name: keyof typeof CASES, options: object): DistillationPlugin<unknown> {
  return fromEntry<DistillationPlugin<unknown>>(registry.methods[name] as MethodEntry, options);
}

describe('registry', () => {
  it('has one method entry per plugin factory of the package, under its name', () => {
    expect(Object.keys(registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
    for (const name of PLUGIN_FACTORIES) {
      const factory = (relational as unknown as Record<string, Factory>)[name];
      expect(typeof factory).toBe('function');
      expect(typeof factory!(CASES[name].minimal).loss).toBe('function');
    }
    expect(Object.keys(mergeRegistries([{ from: '@kd/relational', registry }]).registry.methods).sort()).toEqual(
      [...PLUGIN_FACTORIES].sort(),
    );
  });

  it.each(PLUGIN_FACTORIES)('%s: the schema parses the minimal options and create gives the factory plugin', (name) => {
    const factory = (relational as unknown as Record<string, Factory>)[name]!;
    const before = tf.memory().numTensors;
    for (const options of [CASES[name].minimal, CASES[name].custom]) {
      expect(registry.methods[name].schema.safeParse(options).success).toBe(true);
      expect(signature(viaRegistry(name, options))).toEqual(signature(factory(options)));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the plugins their documented names, labels, weights and minimum batches', () => {
    const expected: Record<string, [name: string, label: string, weight: number, minimumBatch: number]> = {
      similarityPreserving: ['sp', 'sp', 3000, 2],
      rkd: ['rkd', 'rkd', 1, 3],
      pkt: ['pkt', 'pkt', 30000, 2],
      correlationCongruence: ['cc', 'cc', 0.02, 2],
    };
    for (const name of PLUGIN_FACTORIES) {
      const plugin = viaRegistry(name, taps);
      expect([plugin.name, plugin.label, plugin.weight, plugin.minimumBatch]).toEqual(expected[name]);
      expect(plugin.taps).toEqual({ student: ['s_pool'], teacher: ['t_pool'] });
    }
    const distanceOnly = viaRegistry('rkd', CASES.rkd.custom);
    expect([distanceOnly.label, distanceOnly.weight, distanceOnly.minimumBatch]).toEqual(['rkdD(distance=1,angle=0)', 2, 2]);
  });

  it('refuses an unknown key with a "did you mean", and a missing layer with bad-option', () => {
    expect(() => parseOptions(registry.methods.rkd.schema, { ...taps, angelWeight: 5 }, 'methods[1]')).toThrow(
      'methods[1]: unknown option "angelWeight"; did you mean "angleWeight"? (known: student, teacher, distanceWeight, angleWeight, weight, name)',
    );
    expect(() => parseOptions(registry.methods.correlationCongruence.schema, { ...taps, embedingSize: 8 }, 'methods[0]')).toThrow(
      'methods[0]: unknown option "embedingSize"; did you mean "embeddingSize"? (known: student, teacher, embeddingSize, normalize, weight, name)',
    );
    try {
      parseOptions(registry.methods.pkt.schema, { student: 's_pool' }, 'methods[2]');
      expect.unreachable();
    } catch (error) {
      expect(isDistillationError(error, 'bad-option')).toBe(true);
      expect((error as Error).message).toBe('methods[2]: option "teacher" must name a tapped teacher layer, got undefined');
    }
  });

  it("the README's config section uses the entries", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## In a config file')[1]?.split('\n## ')[0] ?? '';
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(yaml).toContain("packages: ['@kd/relational']");
    // Every method the snippet names is one of this package's entries or of @kd/core's.
    for (const [, method] of yaml.matchAll(/method: (\w+)/g)) {
      expect(Object.keys({ ...core.methods, ...registry.methods })).toContain(method);
    }
    // Every entry is shown in the section.
    for (const name of PLUGIN_FACTORIES) expect(section).toContain(`method: ${name}`);
  });
});
