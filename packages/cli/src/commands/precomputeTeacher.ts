import { resolve } from 'node:path';
import { type PluginTaps, SharedModules } from '@kd/core';
import { precomputeTeacher as precompute } from '@kd/teacher-store/node';
import { openConfig } from '../config/openConfig';
import { stagePath } from '../config/resolveRunConfig';
import { CliError } from '../errors';
import { buildData } from '../run/buildData';
import { buildTeacher } from '../run/buildModels';
import { buildPlugins } from '../run/buildStages';
import { chooseBackend } from '../run/chooseBackend';

/** Options of `kd precompute-teacher`. */
export interface PrecomputeTeacherOptions {
  /** Store directory. */
  readonly out: string;
  readonly dtype?: 'float32' | 'float16';
  readonly shardSize?: number;
  readonly log?: (line: string) => void;
}

/**
 * `kd precompute-teacher run.yaml --out STORE`: runs the config's teacher once over its training
 * split and writes a teacher store (`@kd/teacher-store`'s Arrow shards), with every teacher layer
 * the config's methods tap, so `teacher: { store: STORE }` trains without the teacher.
 */
export async function precomputeTeacherFromConfig(
  configFile: string,
  options: PrecomputeTeacherOptions,
): Promise<{ shards: number; examples: number }> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { where, resolved, registry, baseDirectory } = await openConfig(configFile);
  if (!resolved.teacher || resolved.teacher.store !== undefined) {
    throw new CliError('bad-config', `${where}: kd precompute-teacher needs a "teacher" model or ensemble (not a store)`);
  }
  // The plugins are built for their taps only (nothing is set up, so the shared modules hold nothing to free).
  const modules = new SharedModules();
  let taps: string[];
  try {
    taps = [
      ...new Set(
        resolved.stages.flatMap((stage, i) =>
          buildPlugins(stage, registry, modules, where, stagePath(resolved, i)).flatMap((p) => [
            ...((p.taps as PluginTaps | undefined)?.teacher ?? []),
          ]),
        ),
      ),
    ];
  } finally {
    modules.dispose();
  }
  await chooseBackend(resolved.backend, where, log);
  const data = await buildData(resolved, registry, baseDirectory, where);
  let teacher: Awaited<ReturnType<typeof buildTeacher>> | undefined;
  try {
    teacher = await buildTeacher(resolved.teacher, baseDirectory, where);
    const manifest = await precompute(teacher.teacher, data.train, resolve(options.out), {
      taps,
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(options.shardSize ? { shardSize: options.shardSize, batchSize: Math.min(256, options.shardSize) } : {}),
    });
    log(`Teacher store: ${resolve(options.out)} (${manifest.shards.length} shards, ${manifest.source.size} examples)`);
    return { shards: manifest.shards.length, examples: manifest.source.size };
  } finally {
    teacher?.dispose();
    data.dispose();
  }
}
