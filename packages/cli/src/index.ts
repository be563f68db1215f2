/**
 * `@kd/cli`: config-file distillation runs. `kd train run.yaml` checks the config against the
 * registries of the packages it names, trains (resumably) into a run folder and writes the
 * student, its quantised exports, predictions, a summary and an HTML report. The same steps are
 * functions here for programs and tests.
 * @packageDocumentation
 */

export { describeRun } from './commands/describe';
export { parseRunConfig } from './config/parseRunConfig';
export { readConfigFile } from './config/readConfigFile';
export { type ResolvedRunConfig, type ResolvedStage, resolveRunConfig } from './config/resolveRunConfig';
export { type RunConfig, runConfigSchema } from './config/runConfigSchema';
export { CliError, type CliErrorCode, cliErrorCodes } from './errors';
export {
  type BrowserLatency,
  type BrowserLatencyOptions,
  browserLatencyOptionsSchema,
  type FormLatency,
  LatencyError,
  latencyErrorCodes,
  measureBrowserLatency,
} from './latency';
export { DEFAULT_PACKAGES, importPackage, loadRegistry } from './registry/loadRegistry';
export { type ReportFiles, writeReport } from './report';
export { type ClassCorrelationDifference, classCorrelationDifference, classCorrelationMatrix } from './report/classCorrelation';
export { type RenderedChart, renderSvg } from './report/renderSvg';
export {
  DEFAULT_KEEP_FLOAT32,
  exportStudent,
  matchesWeight,
  type QuantizeOptions,
  quantizeArtifacts,
  type WeightForm,
} from './run/exportStudent';
export { runPaths } from './run/runPaths';
export { jsonProgress, type StageProgress, terminalProgress } from './run/terminalProgress';
export { type RunSummary, resumeRun, type TrainOutput, trainFromConfig } from './run/train';
export { ValidationWatch } from './run/validationWatch';
