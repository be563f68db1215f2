import { readFileSync } from 'node:fs';
import {
  registry as core,
  type DistillationPlugin,
  Distiller,
  hardLabel,
  isDistillationError,
  type MethodEntry,
  mergeRegistries,
  parseOptions,
  SharedModules,
} from '@kd/core';
import { fromEntry, pluginSignature } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import * as fitnetPackage from './index';
import { factorTransfer, Paraphraser, paraphraserTraining, registry } from './index';

/** The plugin factories `@kd/fitnet` exports. */
const PLUGIN_FACTORIES = [
  'fitnet',
  'attentionTransfer',
  'neuronSelectivityTransfer',
  'variationalInformation',
  'flowOfSolution',
  'activationBoundary',
  'paraphraserTraining',
  'factorTransfer',
] as const;
/** Entries whose factories take a live `Paraphraser` (the config gives its options; see `ftEntries`). */
const FT = ['paraphraserTraining', 'factorTransfer'] as const;
const REGISTERED = PLUGIN_FACTORIES.filter((n) => !(FT as readonly string[]).includes(n)) as Exclude<
  (typeof PLUGIN_FACTORIES)[number],
  (typeof FT)[number]
>[];

type Factory = (options: object) => DistillationPlugin<unknown>;
const factoryOf = (name: string): Factory => (fitnetPackage as unknown as Record<string, Factory>)[name]!;

const taps = { student: 's_map', teacher: 't_map' };
const pairs = [{ student: 's_g1', teacher: 't_g1' }];
const twoPairs = [...pairs, { student: 's_g2', teacher: 't_g2' }];
const fspPairs = [{ student: ['s_a', 's_b'], teacher: ['t_a', 't_b'] }];

/** Per entry: the factory's minimal options (its required keys), and options that change its label and weight. */
const CASES: Record<(typeof REGISTERED)[number], { minimal: object; custom: object }> = {
  fitnet: { minimal: taps, custom: { ...taps, weight: 100, relu: false, name: 'hint' } },
  attentionTransfer: { minimal: { pairs }, custom: { pairs: twoPairs, beta: 500, p: 4, name: 'at2' } },
  neuronSelectivityTransfer: { minimal: { pairs }, custom: { pairs: twoPairs, weight: 25, name: 'nst2' } },
  variationalInformation: {
    minimal: taps,
    custom: { ...taps, weight: 0.5, hiddenChannels: 8, initVariance: 2, epsilon: 1e-4, name: 'vid2' },
  },
  flowOfSolution: { minimal: { pairs: fspPairs }, custom: { pairs: fspPairs, weight: 2, name: 'fsp2' } },
  activationBoundary: { minimal: taps, custom: { ...taps, margin: 0.5, weight: 0.25, name: 'ab1' } },
};

const signature = pluginSignature;

function viaRegistry(name: keyof typeof CASES, options: object): DistillationPlugin<unknown> {
  return fromEntry<DistillationPlugin<unknown>>(registry.methods[name] as MethodEntry, options, new SharedModules());
}

describe('registry', () => {
  it('has one method entry per plugin factory of the package', () => {
    expect(Object.keys(registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
    for (const name of PLUGIN_FACTORIES) expect(typeof factoryOf(name)).toBe('function');
    for (const name of REGISTERED) expect(typeof factoryOf(name)(CASES[name].minimal).loss).toBe('function');
    expect(Object.keys(mergeRegistries([{ from: '@kd/fitnet', registry }]).registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
  });

  it('the FT entries share one Paraphraser per name through the run modules, and refuse one name with other options', () => {
    const modules = new SharedModules();
    const training = fromEntry<DistillationPlugin<Paraphraser>>(
      registry.methods.paraphraserTraining as MethodEntry,
      { teacher: 't_map', paraphraser: { rate: 0.5 } },
      modules,
    );
    const transfer = fromEntry<DistillationPlugin<unknown>>(
      registry.methods.factorTransfer as MethodEntry,
      { ...taps, paraphraser: { rate: 0.5 } },
      modules,
    );
    expect(modules.keys).toEqual(['@kd/fitnet/paraphraser/paraphraser']);
    // Same labels, weights and taps as the factories given one Paraphraser object.
    const paraphraser = new Paraphraser({ rate: 0.5 });
    expect(signature(training)).toEqual(signature(paraphraserTraining({ teacher: 't_map', paraphraser })));
    expect(signature(transfer)).toEqual(signature(factorTransfer({ ...taps, paraphraser })));
    // Another name is another paraphraser; the same name with another rate is refused.
    fromEntry(registry.methods.factorTransfer as MethodEntry, { ...taps, paraphraser: { name: 'p2' } }, modules);
    expect(modules.keys).toEqual(['@kd/fitnet/paraphraser/paraphraser', '@kd/fitnet/paraphraser/p2']);
    try {
      fromEntry(registry.methods.factorTransfer as MethodEntry, { ...taps, paraphraser: { rate: 0.25 } }, modules);
      expect.unreachable();
    } catch (error) {
      expect(isDistillationError(error, 'shared-module-conflict')).toBe(true);
    }
    // The factories themselves still need the object.
    expect(() => paraphraserTraining({ teacher: 't_map', paraphraser: { rate: 0.5 } as never })).toThrow(
      'option "paraphraser" must be a Paraphraser',
    );
    // A misspelt paraphraser key is refused with its path.
    expect(() =>
      parseOptions(registry.methods.factorTransfer.schema, { ...taps, paraphraser: { rat: 0.5 } }, 'stages[1].methods[1]'),
    ).toThrow('stages[1].methods[1]: unknown option "paraphraser.rat"; did you mean "paraphraser.rate"?');
    modules.dispose();
  });

  it.each(REGISTERED)('%s: the schema parses the minimal options and create gives the factory plugin', (name) => {
    const before = tf.memory().numTensors;
    for (const options of [CASES[name].minimal, CASES[name].custom]) {
      expect(registry.methods[name].schema.safeParse(options).success).toBe(true);
      expect(signature(viaRegistry(name, options))).toEqual(signature(factoryOf(name)(options)));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the plugins their documented names, labels and weights', () => {
    const expected: Record<string, [name: string, label: string, weight: number]> = {
      fitnet: ['fitnet', 'fitnet', 1],
      attentionTransfer: ['at', 'at', 1000],
      neuronSelectivityTransfer: ['nst', 'nst', 50],
      variationalInformation: ['vid', 'vid', 1],
      flowOfSolution: ['fsp', 'fsp', 1],
      activationBoundary: ['ab', 'ab', 1],
    };
    for (const name of REGISTERED) {
      const plugin = viaRegistry(name, CASES[name].minimal);
      expect([plugin.name, plugin.label, plugin.weight]).toEqual(expected[name]);
    }
    const at = viaRegistry('attentionTransfer', CASES.attentionTransfer.custom);
    expect([at.label, at.weight, at.taps]).toEqual(['at2(p=4)', 500, { student: ['s_g1', 's_g2'], teacher: ['t_g1', 't_g2'] }]);
    expect(viaRegistry('activationBoundary', CASES.activationBoundary.custom).label).toBe('ab1(m=0.5)');
    expect(viaRegistry('flowOfSolution', CASES.flowOfSolution.minimal).taps).toEqual({ student: ['s_a', 's_b'], teacher: ['t_a', 't_b'] });
  });

  it('a config-built fitnet trains exactly as the factory one', async () => {
    const run = async (plugin: DistillationPlugin<unknown>) => {
      const data = toyData(64, [10], 3, 1);
      const teacher = mlp(10, [24, 16], 3, 10, 't');
      const student = mlp(10, [8, 6], 3, 20, 's');
      const optimizer = tf.train.sgd(0.01);
      const distiller = new Distiller({ student, teacher, optimizer, seed: 1 }).use(hardLabel()).use(plugin);
      const history = await distiller.fit(data, { epochs: 2, batchSize: 32 });
      distiller.dispose();
      optimizer.dispose();
      teacher.dispose();
      disposeData(data);
      return history.epochs.map((e) => e.terms);
    };
    const options = { student: 's_h1', teacher: 't_h2', weight: 100 };
    const fromConfig = await run(viaRegistry('fitnet', options));
    expect(fromConfig[0]!['fitnet']).toBeGreaterThan(0);
    expect(fromConfig).toEqual(await run(factoryOf('fitnet')(options)));
  });

  it('refuses an unknown key with a "did you mean", and a bad pair with bad-option', () => {
    expect(() => parseOptions(registry.methods.fitnet.schema, { ...taps, wieght: 100 }, 'methods[1]')).toThrow(
      'methods[1]: unknown option "wieght"; did you mean "weight"? (known: student, teacher, weight, relu, name)',
    );
    expect(() =>
      parseOptions(registry.methods.attentionTransfer.schema, { pairs: [{ student: 's', teacher: 't', techer: 'u' }] }, 'methods[0]'),
    ).toThrow('methods[0]: unknown option "pairs[0].techer"; did you mean "pairs[0].teacher"? (known: student, teacher)');
    try {
      parseOptions(registry.methods.flowOfSolution.schema, { pairs: [{ student: ['s_a'], teacher: ['t_a', 't_b'] }] }, 'methods[2]');
      expect.unreachable();
    } catch (error) {
      expect(isDistillationError(error, 'bad-option')).toBe(true);
      expect((error as Error).message).toMatch(/^methods\[2\]: option "pairs\[0\]\.student/);
    }
  });

  it("the README's config section uses the entries", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## In a config file')[1]?.split('\n## ')[0] ?? '';
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(yaml).toContain("packages: ['@kd/fitnet']");
    // Every method the snippet names is one of this package's entries or of @kd/core's.
    for (const [, method] of yaml.matchAll(/method: (\w+)/g)) {
      expect(Object.keys({ ...core.methods, ...registry.methods })).toContain(method);
    }
    // Every entry is shown in the section.
    for (const name of PLUGIN_FACTORIES) expect(section).toContain(`method: ${name}`);
  });
});
