import '@tensorflow/tfjs-layers'; // registers the gradients
import { join } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, scriptArguments, usageExit } from '@kd/cli/flags';
import { Argument, Command, Option } from 'commander';
import type { Size } from './common';
import { EXPERIMENTS } from './experiments';

interface Flags {
  readonly size: Size;
  readonly out: string;
  readonly backend: BackendName | 'auto';
  readonly fashionDir?: string;
}

const program = new Command('pnpm --filter kd-papers start')
  .usage('[--] <experiment...> [options]')
  .description("The papers' experiments in small: each trains its arms over seeds 1, 2, 3 and writes a markdown table and JSON.")
  .addArgument(new Argument('<experiment...>', 'experiments to run, or all').choices([...EXPERIMENTS.map((e) => e.name), 'all']))
  .addOption(
    new Option('--size <size>', 'small (seconds, as in the tests) or full (the README tables)').choices(['small', 'full']).default('full'),
  )
  .option('--out <dir>', 'results folder (one sub-folder per experiment and size; a rerun resumes from it)', 'out/papers')
  .addOption(backendOption())
  .option('--fashion-dir <dir>', "Fashion-MNIST's IDX files (default: /usr/share/datasets/fashion-mnist)")
  .addHelpText('after', `\nExperiments:\n${EXPERIMENTS.map((e) => `  ${e.name.padEnd(12)} ${e.title}`).join('\n')}`)
  .exitOverride(usageExit)
  .parse(scriptArguments());

const flags = program.opts<Flags>();
const names = program.args.includes('all') ? EXPERIMENTS.map((e) => e.name) : program.args;
const choice = await useBestBackend(flags.backend);
console.log(`Backend: ${choice.description}`);
for (const experiment of EXPERIMENTS.filter((e) => names.includes(e.name))) {
  const dir = join(flags.out, `${experiment.name}-${flags.size}`);
  console.log(`\n## ${experiment.name}: ${experiment.title}\n(results in ${dir})`);
  const result = await experiment.run(flags.size, dir, {
    log: (line) => console.log(line),
    ...(flags.fashionDir ? { directory: flags.fashionDir } : {}),
  });
  console.log(`\n${result.table}`);
}
