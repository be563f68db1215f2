import { basename } from 'node:path';
import { type DistillationPlugin, describeWeighted, lookupEntry, type MergedRegistry, SharedModules } from '@kd/core';
import { openConfig } from '../config/openConfig';
import { type ResolvedRunConfig, stagePath } from '../config/resolveRunConfig';
import { buildPlugins } from '../run/buildStages';

const HOOKS: readonly { readonly hook: keyof DistillationPlugin<unknown>; readonly order: 'use' | 'reverse' }[] = [
  { hook: 'setup', order: 'use' },
  { hook: 'onEpochStart', order: 'use' },
  { hook: 'transformBatch', order: 'use' },
  { hook: 'loss', order: 'use' },
  { hook: 'afterStep', order: 'reverse' },
  { hook: 'onEpochEnd', order: 'reverse' },
];

/**
 * `kd describe run.yaml`: the run's loss formula per stage (weighted terms, then each method's
 * formula from its registry entry) and the order in which the plugins' hooks run, without
 * loading data or models or training. The config is checked exactly as `kd train` checks it.
 */
export async function describeRun(configFile: string, overrides: readonly string[] = []): Promise<string> {
  const { file, where, config, resolved, registry } = await openConfig(configFile, overrides);
  const lines: string[] = [`Run ${config.name ?? basename(file)}: seed ${resolved.seed}, backend ${resolved.backend}`];
  lines.push(`Data: ${resolved.data.source} (${lookupEntry(registry, 'sources', resolved.data.source, where).summary})`);
  lines.push(
    `Student: ${resolved.student.builder ? `${resolved.student.builder} (${lookupEntry(registry, 'models', resolved.student.builder, where).summary})` : resolved.student.model}`,
  );
  if (resolved.teacher) {
    const t = resolved.teacher;
    lines.push(
      `Teacher: ${t.store ? `stored outputs ${t.store}` : t.ensemble ? `ensemble (${t.mean ?? 'arithmetic'} mean) of ${t.ensemble.map((m) => m.model).join(', ')}` : t.model}`,
    );
  }
  // Plugins and shared modules hold nothing before setup (a Distiller's fit sets them up); dispose frees nothing but is the contract.
  const modules = new SharedModules();
  try {
    describeStages(lines, resolved, registry, modules, where);
  } finally {
    modules.dispose();
  }
  return lines.join('\n');
}

function describeStages(
  lines: string[],
  resolved: ResolvedRunConfig,
  registry: MergedRegistry,
  modules: SharedModules,
  where: string,
): void {
  resolved.stages.forEach((stage, i) => {
    const plugins = buildPlugins(stage, registry, modules, where, stagePath(resolved, i));
    const terms = plugins.filter((p) => p.loss).map((p) => describeWeighted(p.weight ?? 1, p.label ?? p.name));
    lines.push('');
    lines.push(
      `Stage ${i + 1} "${stage.name}": ${stage.epochs} epochs, trains ${describeTrainable(stage.trainable)}, optimizer ${describeObject(stage.optimizer, 'name')}${stage.learningRate !== undefined ? `, learning rate ${typeof stage.learningRate === 'number' ? stage.learningRate : describeObject(stage.learningRate, 'schedule')}` : ''}`,
    );
    lines.push(`  Loss = ${terms.join(' + ') || '0'}`);
    for (const spec of stage.methods) lines.push(`    ${spec.method}: ${lookupEntry(registry, 'methods', spec.method, where).summary}`);
    lines.push('  Hook order:');
    for (const { hook, order } of HOOKS) {
      const names = plugins.filter((p) => typeof p[hook] === 'function').map((p) => p.name);
      if (names.length)
        lines.push(
          `    ${hook}: ${(order === 'reverse' ? names.reverse() : names).join(' -> ')}${order === 'reverse' ? ' (reverse use order)' : ''}`,
        );
    }
  });
}

function describeTrainable(rule: 'all' | 'plugins' | { upTo: string } | { layers: string[] }): string {
  if (rule === 'all') return 'everything';
  if (rule === 'plugins') return "the methods' own variables only (the student frozen)";
  return 'upTo' in rule ? `the student up to ${rule.upTo}` : `layers ${rule.layers.join(', ')}`;
}

function describeObject(value: object, nameKey: string): string {
  const { [nameKey]: name, ...rest } = value as Record<string, unknown>;
  const options = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${String(name)}${options.length ? `(${options.join(', ')})` : ''}`;
}
