import { readFileSync } from 'node:fs';
import { lookupEntry, mergeRegistries } from '@kd/core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import * as specialists from './index';
import { registry } from './index';

/** The plugin factories `@kd/specialists` exports: none. A new one needs a registry entry. */
const PLUGIN_FACTORIES: readonly string[] = [];

/**
 * Every function (and class) the package exports that is NOT a plugin factory: a new export must
 * be added here or to {@link PLUGIN_FACTORIES}, so a new plugin cannot be left out unnoticed.
 */
const NOT_PLUGIN_FACTORIES = [
  'activeSpecialists',
  'combine',
  'combineDistributions',
  'confusableSubsets',
  'coverageCounts',
  'dustbinShift',
  'foldDistribution',
  'generalistProbabilities',
  'kMeans',
  'sampleSpecialistData',
  'shiftDustbin',
  'SpecialistEnsemble',
  'SpecialistsError',
  'specialistLabels',
  'specialistModel',
  'specialistTrainingSet',
  'trainSpecialist',
];

describe('registry', () => {
  it('has one method entry per plugin factory of the package: none', () => {
    expect(Object.keys(registry.methods).sort()).toEqual([...PLUGIN_FACTORIES].sort());
    const functions = Object.entries(specialists)
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name);
    expect(functions.sort()).toEqual([...PLUGIN_FACTORIES, ...NOT_PLUGIN_FACTORIES].sort());
  });

  it('merges into a config run as a package that adds no method', () => {
    const merged = mergeRegistries([{ from: '@kd/specialists', registry }]);
    expect(Object.values(merged.registry).every((entries) => Object.keys(entries).length === 0)).toBe(true);
    expect(() => lookupEntry(merged, 'methods', 'specialists', 'methods[0].method')).toThrow(
      'methods[0].method: unknown method "specialists" (known: none)',
    );
  });

  it("the README's config section says why there is no entry", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## In a config file')[1]?.split('\n## ')[0] ?? '';
    expect(section).toContain('no method entry');
    expect(section).toContain('`SpecialistEnsemble`');
  });
});
