#!/usr/bin/env node
import { isDistillationError } from '@kd/core';
import { Command, Option } from 'commander';
import { describeRun } from './commands/describe';
import { type EvaluatedSplit, evaluateSaved } from './commands/evaluate';
import { precomputeTeacherFromConfig } from './commands/precomputeTeacher';
import { CliError } from './errors';
import { integerFlag, usageExit } from './flags';
import { writeReport } from './report';
import { jsonProgress, type StageProgress, terminalProgress } from './run/terminalProgress';
import { resumeRun, trainFromConfig } from './run/train';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function progress(mode: string): StageProgress | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'bar' || (mode === 'auto' && process.stderr.isTTY)) return terminalProgress(process.stderr);
  return jsonProgress(process.stdout);
}

const program = new Command('kd')
  .description('Knowledge distillation on TensorFlow.js from a config file (YAML or JSON).')
  .showHelpAfterError()
  .exitOverride(usageExit);

program
  .command('train')
  .description('train the run a config describes into a run folder, or --resume one')
  .argument('[config]', 'run config (.yaml, .yml or .json)')
  .option('--out <dir>', 'run folder (default: runs/<config name>)')
  .option('--resume <dir>', 'continue the run in this folder from its last checkpoint')
  .option('--set <path=value>', 'override a config key, e.g. --set training.epochs=3 --set methods[1].weight=0.5', collect, [])
  .option('--progress <mode>', 'auto (a bar on a terminal, JSON lines otherwise), bar, json or none', 'auto')
  .action(async (config: string | undefined, options: { out?: string; resume?: string; progress: string; set: string[] }) => {
    if (!['auto', 'bar', 'json', 'none'].includes(options.progress)) {
      throw new CliError('bad-config', `--progress must be auto, bar, json or none, got "${options.progress}"`);
    }
    if (options.resume !== undefined) {
      if (config !== undefined || options.out !== undefined || options.set.length > 0)
        throw new CliError(
          'bad-config',
          '--resume takes the run folder only: its config is inside it, and --set, a config file or --out would change the run halfway',
        );
      await resumeRun(options.resume, { progress: progress(options.progress) });
      return;
    }
    if (config === undefined) throw new CliError('bad-config', 'kd train: give a config file, or --resume RUN_DIR');
    await trainFromConfig(config, {
      ...(options.out ? { out: options.out } : {}),
      overrides: options.set,
      progress: progress(options.progress),
    });
  });

program
  .command('describe')
  .description('print the loss formula and hook order of a config, without training')
  .argument('<config>', 'run config')
  .option('--set <path=value>', 'override a config key', collect, [])
  .action(async (config: string, options: { set: string[] }) => {
    process.stdout.write(`${await describeRun(config, options.set)}\n`);
  });

program
  .command('evaluate')
  .description("accuracy and cross-entropy of a saved model on a split of a config's data")
  .argument('<config>', 'run config (its data and backend are used)')
  .requiredOption('--model <path>', 'model.json (or its folder): a student, teacher or quantised export')
  .addOption(new Option('--split <split>', 'which split').choices(['train', 'validation', 'test']).default('test'))
  .action(async (config: string, options: { model: string; split: EvaluatedSplit }) => {
    const result = await evaluateSaved(config, options.model, options.split);
    process.stdout.write(`${JSON.stringify({ split: options.split, ...result })}\n`);
  });

program
  .command('precompute-teacher')
  .description("run a config's teacher once over its training data into a teacher store")
  .argument('<config>', 'run config with a teacher model or ensemble')
  .requiredOption('--out <dir>', 'store folder')
  .addOption(new Option('--dtype <dtype>', 'stored precision').choices(['float32', 'float16']).default('float32'))
  .option('--shard-size <n>', 'examples per shard', integerFlag('--shard-size', { min: 1 }))
  .action(async (config: string, options: { out: string; dtype: 'float32' | 'float16'; shardSize?: number }) => {
    await precomputeTeacherFromConfig(config, options);
  });

program
  .command('report')
  .description("(re)write a run folder's report.html and charts from its logs, predictions and summary")
  .argument('<run>', 'run folder')
  .action(async (run: string) => {
    const report = await writeReport(run);
    process.stdout.write(`${report.html}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // kd's own errors, and the backends' (same shape, no @kd/core dependency): the message and its code.
  const code = (error as { code?: unknown } | null)?.code;
  if (isDistillationError(error) || (error instanceof Error && typeof code === 'string' && /^[a-z]+(-[a-z0-9]+)+$/.test(code))) {
    process.stderr.write(`kd: ${(error as Error).message} [${String(code)}]\n`);
    process.exit(2);
  }
  throw error;
}
