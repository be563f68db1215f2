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
} from '@kd/core';
import { fromEntry, pluginSignature } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import * as crdPackage from './index';
import { registry } from './index';

/** The plugin factories `@kd/crd` exports (cross-modal CRD is `crd` on data with `teacherX`). */
const PLUGIN_FACTORIES = ['crd', 'crdEnsemble'] as const;

const taps = { student: 's_pool', teacher: 't_pool' };
const members = [
  { student: 's_pool', teacher: '0/pool' },
  { student: 's_pool', teacher: '1/pool' },
];
const queue = { memory: 'queue', queueSize: 64, featureDim: 16, temperature: 0.1, weight: 0.8 };

/** Per entry: the factory's minimal options, options that change its label and weight, and the factory's call. */
const CASES: Record<
  (typeof PLUGIN_FACTORIES)[number],
  { minimal: object; custom: object[]; direct: (options: Record<string, unknown>) => DistillationPlugin<unknown> }
> = {
  crd: {
    minimal: taps,
    custom: [
      { ...taps, ...queue, name: 'crdq' },
      { ...taps, sampling: 'shared', negatives: 32, momentum: 0.9, classAware: false, studentDim: 12, name: 'crds' },
    ],
    direct: (options) => crdPackage.crd(options as never),
  },
  crdEnsemble: {
    minimal: { members },
    custom: [
      { members, ...queue },
      { members, negatives: 128, weight: 0.8, name: 'en' },
    ],
    direct: ({ members: m, ...options }) => crdPackage.crdEnsemble(m as never, options as never),
  },
};

const signature = pluginSignature;

function viaRegistry(name: keyof typeof CASES, options: object): DistillationPlugin<unknown> {
  return fromEntry<DistillationPlugin<unknown>>(registry.methods[name] as MethodEntry, options);
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isDistillationError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return expect.unreachable('expected a DistillationError');
}

describe('registry', () => {
  it('has one method entry per plugin factory of the package, under its name', () => {
    expect(Object.keys(registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
    for (const name of PLUGIN_FACTORIES) {
      expect(typeof (crdPackage as unknown as Record<string, unknown>)[name]).toBe('function');
      expect(typeof CASES[name].direct(CASES[name].minimal as Record<string, unknown>).loss).toBe('function');
    }
    expect(Object.keys(mergeRegistries([{ from: '@kd/crd', registry }]).registry.methods).sort()).toEqual(['crd', 'crdEnsemble']);
  });

  it.each(PLUGIN_FACTORIES)('%s: the schema parses the minimal options and create gives the factory plugin', (name) => {
    const before = tf.memory().numTensors;
    for (const options of [CASES[name].minimal, ...CASES[name].custom]) {
      expect(registry.methods[name].schema.safeParse(options).success).toBe(true);
      expect(signature(viaRegistry(name, options))).toEqual(signature(CASES[name].direct(options as Record<string, unknown>)));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the plugins their documented names, labels and weights', () => {
    const plain = viaRegistry('crd', taps);
    expect([plain.name, plain.label, plain.weight, plain.taps]).toEqual(['crd', 'crd', 1, { student: ['s_pool'], teacher: ['t_pool'] }]);
    const [queued, shared] = CASES.crd.custom.map((o) => viaRegistry('crd', o));
    expect([queued!.name, queued!.label, queued!.weight]).toEqual(['crdq', 'crdq(queue)', 0.8]);
    expect([shared!.name, shared!.label, shared!.weight]).toEqual(['crds', 'crds(shared)', 1]);
    const ensemble = viaRegistry('crdEnsemble', { members, weight: 0.8 });
    expect([ensemble.name, ensemble.label, ensemble.weight, ensemble.taps]).toEqual([
      'crd-en',
      'crd-en',
      0.8,
      { student: ['s_pool'], teacher: ['0/pool', '1/pool'] },
    ]);
  });

  it('queue memory: the defaults are the factory’s, so a config gives the queue as crd() takes it, and refuses what crd() refuses', () => {
    // The factory's own schema fills in the banks' defaults; the entry's leaves them to the factory.
    expect(crdPackage.crdSchema.parse({ ...taps, ...queue }).negatives).toBe(16384);
    expect(parseOptions(registry.methods.crd.schema, { ...taps, ...queue }, 'methods[0]')).toEqual({ ...taps, ...queue });
    expect(viaRegistry('crd', { ...taps, ...queue }).label).toBe('crd(queue)');
    for (const [name, options] of [
      ['crd', { ...taps, ...queue, negatives: 16384 }],
      ['crdEnsemble', { members, ...queue, momentum: 0.5 }],
    ] as const) {
      const direct = refusal(() => CASES[name].direct(options as Record<string, unknown>));
      expect(direct.code).toBe('queue-incompatible');
      expect(refusal(() => viaRegistry(name, options))).toEqual(direct);
    }
    const noSize = refusal(() => viaRegistry('crd', { ...taps, memory: 'queue' }));
    expect(noSize).toEqual({
      code: 'bad-option',
      message: `crd: option "queueSize" (K, the entries per queue) is required with memory: 'queue'`,
    });
  });

  it('a config-built crd trains exactly as the factory one', async () => {
    const run = async (plugin: DistillationPlugin<unknown>) => {
      const data = toyData(96, 8, 3, 3);
      const teacher = mlp(8, 24, 3, 10, 't');
      const student = mlp(8, 12, 3, 20, 's');
      const optimizer = tf.train.sgd(0.1);
      const distiller = new Distiller({ student, teacher, optimizer, seed: 4 }).use(hardLabel()).use(plugin);
      const history = await distiller.fit(data, { epochs: 2, batchSize: 32 });
      distiller.dispose();
      optimizer.dispose();
      teacher.dispose();
      disposeData(data);
      return history.epochs.map((e) => e.terms);
    };
    const options = { ...taps, featureDim: 8, negatives: 16, weight: 0.8 };
    const fromConfig = await run(viaRegistry('crd', options));
    expect(fromConfig[0]!['crd']).toBeGreaterThan(0);
    expect(fromConfig).toEqual(await run(crdPackage.crd(options)));
  });

  it('refuses an unknown key with a "did you mean"', () => {
    expect(() => parseOptions(registry.methods.crd.schema, { ...taps, negative: 4096 }, 'methods[1]')).toThrow(
      'methods[1]: unknown option "negative"; did you mean "negatives"? (known: featureDim, negatives, temperature, momentum, weight, ' +
        'sampling, positive, classAware, scoring, name, memory, queueSize, student, teacher, studentDim, teacherDim)',
    );
    expect(() => parseOptions(registry.methods.crdEnsemble.schema, { member: members }, 'methods[2]')).toThrow(
      'methods[2]: unknown option "member"; did you mean "members"? (known: members, featureDim, negatives, temperature, momentum, ' +
        'weight, sampling, positive, classAware, scoring, name, memory, queueSize)',
    );
    expect(() =>
      parseOptions(registry.methods.crdEnsemble.schema, { members: [{ student: 's', teacher: 't', studentDims: 4 }] }, 'm'),
    ).toThrow(
      'm: unknown option "members[0].studentDims"; did you mean "members[0].studentDim"? (known: student, teacher, studentDim, teacherDim)',
    );
    expect(refusal(() => parseOptions(registry.methods.crd.schema, { ...taps, momentum: 1.5 }, 'm')).code).toBe('bad-option');
  });

  it("the README's config section uses the entries", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## In a config file')[1]?.split('\n## ')[0] ?? '';
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(yaml).toContain("packages: ['@kd/crd']");
    // Every method the snippet names is one of this package's entries or of @kd/core's.
    for (const [, method] of yaml.matchAll(/method: (\w+)/g)) {
      expect(Object.keys({ ...core.methods, ...registry.methods })).toContain(method);
    }
    for (const name of PLUGIN_FACTORIES) expect(section).toContain(`method: ${name}`);
  });
});
