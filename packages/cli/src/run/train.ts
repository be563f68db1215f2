import { appendFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import {
  type EvaluationResult,
  evaluateModel,
  fitStages,
  type ProgressEvent,
  type ProgressListener,
  SharedModules,
  type TeacherLike,
} from '@kd/core';
import { atomicWriteFile, fileCheckpointStore, loadModel, saveModel } from '@kd/core/node';
import type * as tfl from '@tensorflow/tfjs-layers';
import { openConfig } from '../config/openConfig';
import { reresolveRunConfig } from '../config/reresolveRunConfig';
import type { ResolvedRunConfig } from '../config/resolveRunConfig';
import { CliError } from '../errors';
import { measureBrowserLatency } from '../latency';
import { chromiumLauncher } from '../latency/launchChromium';
import { loadRegistry } from '../registry/loadRegistry';
import { writeReport } from '../report';
import { parseRunLogs } from '../report/runLogs';
import { buildData, type RunData } from './buildData';
import { type BuiltTeacher, buildStudent, buildTeacher } from './buildModels';
import { type BuiltStage, buildStages, disposeStages } from './buildStages';
import { chooseBackend } from './chooseBackend';
import { exportStudent, type WeightForm } from './exportStudent';
import { predictSplit } from './predictions';
import { type RunPaths, runPaths } from './runPaths';
import type { StageProgress } from './terminalProgress';
import { ValidationWatch } from './validationWatch';

/** Where the run's human-readable lines and progress go. */
export interface TrainOutput {
  /** One line of text (the backend chosen, where outputs went). Default: stderr. */
  readonly log?: (line: string) => void;
  /** Progress consumer (`terminalProgress` on a terminal, `jsonProgress` otherwise); none by default. */
  readonly progress?: StageProgress;
}

/** What a finished run reports. */
export interface RunSummary {
  readonly name: string;
  readonly backend: string;
  readonly wallSeconds: number;
  readonly student: EvaluationResult;
  readonly teacher?: EvaluationResult;
  readonly evaluatedOn: 'test' | 'validation';
  readonly best?: { readonly epoch: number; readonly metric: 'accuracy' | 'loss'; readonly value: number };
  readonly stoppedEarly?: { readonly stage: string; readonly epoch: number };
  readonly exports: readonly {
    readonly form: WeightForm;
    readonly bytes: number;
    readonly accuracy: number;
    readonly latencyMs?: number;
  }[];
  /** The browser that timed the exports (`export.browserLatency`), e.g. `chromium 156.0.8078.73 (cpu backend, batch 1)`. */
  readonly latencyBrowser?: string;
}

/** The `run.json` of a run folder. */
interface RunInfo {
  readonly configFile: string;
  readonly baseDirectory: string;
  readonly name: string;
  /** The backend `backend: auto` chose when the run started: a resume uses it again, so the bits do not change with what is installed. */
  readonly backend?: string;
}

/**
 * `kd train run.yaml`: checks the whole config against the registry before any work, writes
 * the run folder (`out`, default `runs/<config name>`), trains every stage with checkpoints,
 * and writes the student, its quantised exports, predictions and summary. A folder that already
 * holds a run is refused (`run-exists`): resume it with {@link resumeRun}.
 */
export async function trainFromConfig(
  configFile: string,
  options: TrainOutput & { readonly out?: string; readonly overrides?: readonly string[] } = {},
): Promise<RunSummary> {
  const { file, baseDirectory, config, resolved } = await openConfig(configFile, options.overrides);
  const name = config.name ?? basename(file, extname(file));
  const paths = runPaths(resolve(options.out ?? resolve('runs', name)));
  if (await exists(paths.resolvedConfig)) {
    throw new CliError(
      'run-exists',
      `${paths.root} already holds a run; continue it with \`kd train --resume ${paths.root}\` or choose another --out`,
    );
  }
  const info: RunInfo = { configFile: file, baseDirectory, name };
  // The folder is written once everything is built (backend, data, models, stages, browser): a
  // config that fails on any of them leaves no run behind, so the fixed config can use the folder.
  return runTraining(paths, resolved, info, false, options, async (backend) => {
    await mkdir(paths.root, { recursive: true });
    await atomicWriteFile(paths.resolvedConfig, `${JSON.stringify(resolved, null, 2)}\n`);
    await atomicWriteFile(paths.run, `${JSON.stringify({ ...info, backend }, null, 2)}\n`);
  });
}

/**
 * `kd train --resume RUN_DIR`: continues a run from its last checkpoint with the config it was
 * started with (`config.resolved.json`); the result is bit-identical to an uninterrupted run.
 * A finished run (one with `summary.json`) is reported, not retrained.
 */
export async function resumeRun(runDirectory: string, options: TrainOutput = {}): Promise<RunSummary> {
  const paths = runPaths(resolve(runDirectory));
  if (!(await exists(paths.resolvedConfig))) {
    throw new CliError('config-not-found', `${paths.root} is not a run folder: ${paths.resolvedConfig} does not exist`);
  }
  const resolved = (await readRunJson(paths.resolvedConfig)) as ResolvedRunConfig;
  const info = (await readRunJson(paths.run)) as RunInfo;
  if (await exists(paths.summary)) {
    if (!(await exists(resolve(paths.report, 'report.html')))) await writeReport(paths.root);
    (options.log ?? stderrLine)(`${paths.root} is finished; nothing to resume`);
    return (await readRunJson(paths.summary)) as RunSummary;
  }
  await recoverInterrupted(paths);
  return runTraining(paths, resolved, info, true, options, async () => undefined);
}

async function readRunJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError('bad-run', `${path} is missing or unreadable (${(error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError('bad-run', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Repairs what a kill can leave: a last log line cut short (dropped: the resumed run logs that
 * epoch again), and a best student renamed away but not yet replaced (`best.next` is complete
 * whenever `best/` is missing, since the old one is removed only after the new one is saved).
 */
async function recoverInterrupted(paths: RunPaths): Promise<void> {
  if (await exists(paths.logs)) {
    const text = await readFile(paths.logs, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) await atomicWriteFile(paths.logs, text.slice(0, text.lastIndexOf('\n') + 1));
  }
  const next = `${paths.best}.next`;
  if (await exists(next)) {
    if (await exists(paths.best)) await rm(next, { recursive: true, force: true });
    else await rename(next, paths.best);
  }
}

async function runTraining(
  paths: RunPaths,
  config: ResolvedRunConfig,
  info: RunInfo,
  resume: boolean,
  output: TrainOutput,
  writeFolder: (backend: string) => Promise<void>,
): Promise<RunSummary> {
  const log = output.log ?? stderrLine;
  const where = basename(info.configFile);
  const started = Date.now();
  const registry = await loadRegistry(config.packages, info.baseDirectory);
  // A resumed run's config is checked again as a config file would be, and must resolve to itself.
  if (resume) reresolveRunConfig(config, registry, paths.resolvedConfig);
  const wanted = resume && config.backend === 'auto' && info.backend ? info.backend : config.backend;
  const choice = await chooseBackend(wanted, where, log);

  let data: RunData | undefined;
  let student: tfl.LayersModel | undefined;
  let teacher: BuiltTeacher | undefined;
  let stages: BuiltStage[] = [];
  const modules = new SharedModules();
  try {
    data = await buildData(config, registry, info.baseDirectory, where);
    student = await buildStudent(config.student, {
      registry,
      baseDirectory: info.baseDirectory,
      inputShape: data.inputShape,
      classes: data.classes,
      seed: config.seed,
      where,
    });
    if ((config.training.keepBest || config.training.earlyStopping) && !data.validation) {
      throw new CliError(
        'bad-config',
        `${where}: training.keepBest and training.earlyStopping need validation data, and the data has no validation split`,
      );
    }
    teacher = config.teacher ? await buildTeacher(config.teacher, info.baseDirectory, where, data.train) : undefined;
    stages = buildStages(config, student, registry, modules, where);
    const checkpoint = fileCheckpointStore(paths.checkpoint);
    // Modules methods share across stages (FT's paraphraser) are restored before any stage runs:
    // a stage finished before the kill is not run again, and the next one needs what it trained.
    if (resume) modules.restore(await checkpoint.load());
    if (config.export.browserLatency)
      await chromiumLauncher(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', `${where}: export.browserLatency`);
    await writeFolder(choice.name);
    const lastStage = config.stages.at(-1)!;
    const watch = new ValidationWatch(config.training.keepBest, config.training.earlyStopping);
    // The report's reader (the last line of an epoch wins; a torn last line was dropped by recoverInterrupted).
    const logged = resume && (await exists(paths.logs)) ? parseRunLogs(await readFile(paths.logs, 'utf8'), paths.logs) : [];
    for (const logs of logged) if ((logs.stage ?? lastStage.name) === lastStage.name) watch.observe(logs);
    // An early stop is written down when it is decided: a run killed after it (exporting, say)
    // resumes to the same last epoch instead of training on.
    let stoppedEarly = resume ? ((await readOptionalJson(paths.stopped)) as RunSummary['stoppedEarly']) : undefined;
    let stage = config.stages[0]!.name;
    const onEvent: ProgressListener = async (event: ProgressEvent) => {
      if (event.type === 'epoch-end' && stage === lastStage.name) {
        // The best student is saved before its epoch is logged: a log never names a best that was not kept.
        if (watch.observe(event.logs)) await saveBest(student!, paths.best);
        if (config.training.earlyStopping && watch.shouldStop && !stoppedEarly && event.logs.epoch + 1 < lastStage.epochs) {
          stoppedEarly = { stage: stage, epoch: event.logs.epoch };
          await atomicWriteFile(paths.stopped, `${JSON.stringify(stoppedEarly)}\n`);
        }
      }
      await appendFile(paths.logs, `${JSON.stringify({ stage, ...event })}\n`);
      await output.progress?.(event, stage);
    };
    const { batchSize, shuffle, maxSteps, checkpointEvery } = config.training;
    await fitStages(
      {
        student,
        ...(teacher ? { teacher: teacher.teacher } : {}),
        seed: config.seed,
        checkpoint,
        resume,
        ...(checkpointEvery ? { checkpointEvery } : {}),
        stages: stages.map(({ stage: s, learningRate }) => ({
          ...s,
          // A stopped last stage ends where it stopped (a resume restores it without training).
          ...(stoppedEarly && s.name === lastStage.name ? { epochs: stoppedEarly.epoch + 1 } : {}),
          fit: {
            batchSize,
            shuffle,
            onEvent,
            ...(data!.validation ? { validation: data!.validation } : {}),
            ...(learningRate !== undefined ? { learningRate } : {}),
            ...(maxSteps ? { maxSteps } : {}),
            ...(s.name === lastStage.name && config.training.earlyStopping ? { stopWhen: () => watch.shouldStop } : {}),
          },
        })),
      },
      data.train,
      {
        onStageStart: ({ stage: s }) => {
          stage = s.name;
        },
      },
    );

    if (config.training.keepBest && watch.bestEpoch) {
      if (!(await exists(paths.best))) {
        throw new CliError(
          'bad-run',
          `${paths.best} is missing, but the logs name epoch ${watch.bestEpoch.epoch} the best: the folder was changed by hand`,
        );
      }
      const best = await loadModel(paths.best);
      try {
        student.setWeights(best.getWeights());
      } finally {
        best.dispose();
      }
    }
    const evaluation = data.test ?? data.validation;
    const evaluatedOn = data.test ? 'test' : 'validation';
    const exports: { form: WeightForm; bytes: number; accuracy: number; latencyMs?: number }[] = [];
    const forms: WeightForm[] = ['float32', ...config.export.quantize];
    for (const form of forms) {
      const directory = form === 'float32' ? paths.student : resolve(paths.exports, form);
      const bytes = await exportStudent(
        student,
        directory,
        form,
        config.export.keepFloat32 ? { keepFloat32: config.export.keepFloat32 } : {},
      );
      let accuracy = Number.NaN;
      if (evaluation) {
        const loaded = await loadModel(directory);
        try {
          accuracy = (await evaluateModel(loaded, evaluation)).accuracy;
        } finally {
          loaded.dispose();
        }
      }
      exports.push({ form, bytes, accuracy });
    }
    let latencyBrowser: string | undefined;
    if (config.export.browserLatency) {
      const directory = (form: WeightForm) => (form === 'float32' ? paths.student : resolve(paths.exports, form));
      const latency = await measureBrowserLatency({ models: exports.map((e) => ({ form: e.form, directory: directory(e.form) })) });
      latency.results.forEach((r, i) => {
        exports[i]!.latencyMs = r.medianMs;
      });
      latencyBrowser = `${latency.browser} (${latency.backend} backend, batch 1, median of ${latency.results[0]?.runs ?? 0})`;
    }
    const studentResult = evaluation ? await evaluateModel(student, evaluation) : { accuracy: Number.NaN, loss: Number.NaN };
    const teacherModel: TeacherLike | undefined = teacher && config.teacher?.store === undefined ? teacher.teacher : undefined;
    const teacherResult = evaluation && teacherModel ? await evaluateModel(teacherModel, evaluation) : undefined;
    if (evaluation) {
      const [s, t] = await predictSplit([student, ...(teacherModel ? [teacherModel] : [])], evaluation, data.classes);
      const predictions = {
        classes: data.classes,
        ...(data.classNames ? { classNames: data.classNames } : {}),
        split: evaluatedOn,
        labels: s!.labels,
        student: s!.logits,
        ...(t ? { teacher: t.logits } : {}),
      };
      await atomicWriteFile(paths.predictions, JSON.stringify(predictions));
    }
    const best = watch.bestEpoch;
    const summary: RunSummary = {
      name: info.name,
      backend: choice.description,
      wallSeconds: (Date.now() - started) / 1000,
      evaluatedOn,
      student: studentResult,
      ...(teacherResult ? { teacher: teacherResult } : {}),
      ...(best ? { best } : {}),
      ...(stoppedEarly ? { stoppedEarly } : {}),
      exports,
      ...(latencyBrowser ? { latencyBrowser } : {}),
    };
    // The report reads the summary; a run killed between the two is finished by --resume (it rewrites the report).
    await atomicWriteFile(paths.summary, `${JSON.stringify(summary, null, 2)}\n`);
    const report = await writeReport(paths.root);
    log(`Student: ${paths.student} (${evaluatedOn} accuracy ${(studentResult.accuracy * 100).toFixed(2)}%); report: ${report.html}`);
    return summary;
  } finally {
    disposeStages(stages);
    modules.dispose();
    teacher?.dispose();
    student?.dispose();
    data?.dispose();
  }
}

/** Saves the best student: written beside, then renamed over the previous best. */
async function saveBest(student: tfl.LayersModel, directory: string): Promise<void> {
  const next = `${directory}.next`;
  await rm(next, { recursive: true, force: true });
  await saveModel(student, next);
  await rm(directory, { recursive: true, force: true });
  await rename(next, directory);
}

async function readOptionalJson(path: string): Promise<unknown> {
  return (await exists(path)) ? readRunJson(path) : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
