#!/usr/bin/env node
import { isDistillationError } from '@kd/core';
import { Command } from 'commander';
import { describeRun } from './commands/describe';
import { CliError } from './errors';
import { jsonProgress, type StageProgress, terminalProgress } from './run/terminalProgress';
import { resumeRun, trainFromConfig } from './run/train';

function progress(mode: string): StageProgress | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'bar' || (mode === 'auto' && process.stderr.isTTY)) return terminalProgress(process.stderr);
  return jsonProgress(process.stdout);
}

const program = new Command('kd')
  .description('Knowledge distillation on TensorFlow.js from a config file (YAML or JSON).')
  .showHelpAfterError();

program
  .command('train')
  .description('train the run a config describes into a run folder, or --resume one')
  .argument('[config]', 'run config (.yaml, .yml or .json)')
  .option('--out <dir>', 'run folder (default: runs/<config name>)')
  .option('--resume <dir>', 'continue the run in this folder from its last checkpoint')
  .option('--progress <mode>', 'auto (a bar on a terminal, JSON lines otherwise), bar, json or none', 'auto')
  .action(async (config: string | undefined, options: { out?: string; resume?: string; progress: string }) => {
    if (!['auto', 'bar', 'json', 'none'].includes(options.progress)) {
      throw new CliError('bad-config', `--progress must be auto, bar, json or none, got "${options.progress}"`);
    }
    if (options.resume !== undefined) {
      if (config !== undefined || options.out !== undefined) throw new CliError('bad-config', '--resume takes the run folder only (its config is inside it)');
      await resumeRun(options.resume, { progress: progress(options.progress) });
      return;
    }
    if (config === undefined) throw new CliError('bad-config', 'kd train: give a config file, or --resume RUN_DIR');
    await trainFromConfig(config, { ...(options.out ? { out: options.out } : {}), progress: progress(options.progress) });
  });

program
  .command('describe')
  .description('print the loss formula and hook order of a config, without training')
  .argument('<config>', 'run config')
  .action(async (config: string) => {
    process.stdout.write(`${await describeRun(config)}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isDistillationError(error)) {
    process.stderr.write(`kd: ${error.message} [${error.code}]\n`);
    process.exit(2);
  }
  throw error;
}
