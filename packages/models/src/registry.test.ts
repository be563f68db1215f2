import { type ModelContext, type ModelEntry, mergeRegistries, parseOptions } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { liveTensors, refusal, weightValues } from '../test/helpers';
import { mlp } from './mlp';
import { registry } from './registry';
import { smallCnn } from './smallCnn';

const context: ModelContext = { inputShape: [16, 12, 3], classes: 5, seed: 21, name: 'student' };

/** What the config-file runner does: parse the config's options with the entry's schema, then create. */
function fromConfig(entry: 'smallCnn' | 'mlp', options: unknown, run: ModelContext = context) {
  const e: ModelEntry = registry.models[entry];
  return e.create(parseOptions(e.schema, options, `student.options`), run);
}

describe('registry', () => {
  it('registers one model per builder, under the builders names, with a summary', () => {
    expect(Object.keys(registry.models).sort()).toEqual(['mlp', 'smallCnn']);
    expect(mergeRegistries([{ from: '@kd/models', registry }]).origins.models).toEqual({ smallCnn: '@kd/models', mlp: '@kd/models' });
    for (const entry of Object.values(registry.models)) expect(entry.summary).toMatch(/dense\(classes\)/);
  });

  it('the context supplies name, seed, input shape and classes the config leaves out', () => {
    const model = fromConfig('smallCnn', { filters: [4, 8], dense: 16 });
    const direct = smallCnn({ name: 'student', filters: [4, 8], dense: 16, seed: 21, inputShape: [16, 12, 3], classes: 5 });
    expect(model.name).toBe('student');
    expect(model.inputs[0]!.shape).toEqual([null, 16, 12, 3]);
    expect(model.outputs[0]!.shape).toEqual([null, 5]);
    expect(model.layers.map((l) => l.name)).toEqual(direct.layers.map((l) => l.name));
    expect(weightValues(model)).toEqual(weightValues(direct));
    for (const m of [model, direct]) m.dispose();
  });

  it("the config's options win over the context", () => {
    const model = fromConfig('mlp', { hidden: [6, 4], name: 'tiny', seed: 3, inputShape: [9], classes: 2, dropout: 0.25 });
    const direct = mlp({ name: 'tiny', hidden: [6, 4], seed: 3, inputShape: [9], classes: 2, dropout: 0.25 });
    expect(model.name).toBe('tiny');
    expect(model.layers.map((l) => l.name)).toEqual(['tiny_hidden', 'tiny_dropout1', 'tiny_pool', 'tiny_dropout2', 'tiny_logits']);
    expect(model.outputs[0]!.shape).toEqual([null, 2]);
    expect(weightValues(model)).toEqual(weightValues(direct));
    const seeded = fromConfig('mlp', { hidden: [6, 4] });
    expect(weightValues(seeded)).toEqual(weightValues(mlp({ hidden: [6, 4], seed: 21, inputShape: [16, 12, 3], classes: 5 })));
    for (const m of [model, direct, seeded]) m.dispose();
  });

  it('a CNN on data that is not an image says so, unless the config sets the input shape', () => {
    const tabular: ModelContext = { ...context, inputShape: [20] };
    expect(refusal(() => fromConfig('smallCnn', { filters: [4, 8], dense: 16 }, tabular))).toEqual({
      code: 'bad-option',
      message:
        "smallCnn: the data's example shape [20] is not an image [height, width, channels] with height and width >= 4; " +
        'set the option "inputShape" or use the model mlp',
    });
    const model = fromConfig('smallCnn', { filters: [4, 8], dense: 16, inputShape: [8, 8, 1] }, tabular);
    expect(model.inputs[0]!.shape).toEqual([null, 8, 8, 1]);
    model.dispose();
  });

  it('refuses a misspelt key with a suggestion and bad values naming the key, building nothing', () => {
    const before = liveTensors();
    expect(refusal(() => fromConfig('smallCnn', { filters: [4, 8], dense: 16, dens: 3 }))).toEqual({
      code: 'unknown-option',
      message: 'student.options: unknown option "dens"; did you mean "dense"? (known: name, filters, dense, seed, inputShape, classes)',
    });
    expect(refusal(() => fromConfig('mlp', { hiden: [4] }))?.message).toBe(
      'student.options: unknown option "hiden"; did you mean "hidden"? (known: name, hidden, seed, inputShape, classes, dropout)',
    );
    expect(refusal(() => fromConfig('mlp', { hidden: [4], classes: 1 }))).toEqual({
      code: 'bad-option',
      message: 'student.options: option "classes" must be >= 2, got 1',
    });
    expect(refusal(() => fromConfig('smallCnn', { filters: [8], dense: 16 }))?.message).toBe(
      'student.options: option "filters" must be a list of >= 2 items, got an array of 1',
    );
    expect(liveTensors()).toBe(before);
  });
});
