import type { TopLevelSpec } from 'vega-lite';
import { accuracyChart } from './accuracyChart';
import { topOneAgreement } from './agreement';
import { agreementChart } from './agreementChart';
import { reliabilityBins } from './calibration';
import { classCorrelationDifference } from './classCorrelation';
import { classCorrelationChart } from './classCorrelationChart';
import { lossesChart, lossTermNames } from './lossesChart';
import { type ModelCalibration, reliabilityChart } from './reliabilityChart';
import { byteSize, duration, percent } from './reportFormat';
import { RUN_FILES, type RunFolder } from './runFolder';
import type { ModelMetrics } from './runSummary';

/** The charts of a report. */
export type ChartName = 'losses' | 'accuracy' | 'class-correlation' | 'reliability' | 'agreement';

/** Each chart's SVG file in `<run>/report/`. */
export const CHART_FILES: Readonly<Record<ChartName, string>> = {
  losses: 'losses.svg',
  accuracy: 'accuracy.svg',
  'class-correlation': 'class-correlation.svg',
  reliability: 'reliability.svg',
  agreement: 'agreement.svg',
};

/** Number of confidence bins of the reliability diagram and the ECE. */
export const CALIBRATION_BINS = 15;

/** A chart the run's files allow, with its vega-lite spec. */
export interface PlannedChart {
  readonly name: ChartName;
  /** Heading of the chart on the page. */
  readonly heading: string;
  readonly spec: TopLevelSpec;
}

/** A chart the run's files do not allow, and why. */
export interface OmittedChart {
  readonly name: ChartName;
  readonly reason: string;
}

/** One row of a label/value table. */
export interface ReportRow {
  readonly label: string;
  readonly value: string;
}

/** One row of the exports table. */
export interface ExportRow {
  readonly form: string;
  readonly size: string;
  readonly accuracy: string;
  readonly latency: string;
}

/** Everything the report page shows, computed from a run folder (no files written). */
export interface ReportContent {
  readonly runName: string;
  /** Backend, wall time, epochs, stages: what is known. */
  readonly header: readonly ReportRow[];
  /** The split the metrics and predictions are of. */
  readonly split: 'test' | 'validation';
  /** The final table: metrics on `split`, best epoch, ECE, agreement, class-correlation difference. */
  readonly results: readonly ReportRow[];
  /** Each export form's size, accuracy and latency; empty when none were recorded. */
  readonly exports: readonly ExportRow[];
  readonly charts: readonly PlannedChart[];
  readonly omitted: readonly OmittedChart[];
  /** Table rows and sections left out, and why. */
  readonly notes: readonly string[];
}

const fixed = (value: number): string => value.toFixed(4);

/** Works out the report of a run: the table rows, which charts the files allow (with their specs) and what is left out. */
export function reportContent(run: RunFolder): ReportContent {
  const header: ReportRow[] = [];
  const results: ReportRow[] = [];
  const charts: PlannedChart[] = [];
  const omitted: OmittedChart[] = [];
  const notes: string[] = [];
  const { epochs, predictions, summary } = run;

  // ---- header and metrics (summary.json) -----------------------------------------------------
  const split = summary?.evaluatedOn ?? predictions?.split ?? 'test';
  if (summary) {
    header.push({ label: 'backend', value: summary.backend }, { label: 'wall time', value: duration(summary.wallSeconds) });
    const models: [string, ModelMetrics | undefined][] = [
      ['student', summary.student],
      ['teacher', summary.teacher],
    ];
    for (const [model, metrics] of models) {
      if (!metrics) {
        notes.push(`No ${model} metrics: ${RUN_FILES.summary} has no ${model} (the run had none).`);
        continue;
      }
      if (metrics.accuracy !== null) results.push({ label: `${model} ${split} accuracy`, value: percent(metrics.accuracy) });
      if (metrics.loss !== null) results.push({ label: `${model} ${split} loss`, value: fixed(metrics.loss) });
      if (metrics.accuracy === null || metrics.loss === null) {
        notes.push(`No ${model} ${split} accuracy or loss: ${RUN_FILES.summary} has none (the run had no split to evaluate on).`);
      }
    }
    if (summary.best) {
      const { epoch, metric, value } = summary.best;
      results.push({ label: 'best epoch', value: `${epoch} (${metric} ${/accuracy/.test(metric) ? percent(value) : fixed(value)})` });
    } else notes.push(`No best epoch: ${RUN_FILES.summary} records none (the run kept no best checkpoint).`);
    if (summary.stoppedEarly) {
      results.push({ label: 'stopped early', value: `stage ${summary.stoppedEarly.stage}, epoch ${summary.stoppedEarly.epoch}` });
    }
  } else {
    notes.push(`No backend, wall time, ${split} metrics or best epoch: ${RUN_FILES.summary} is missing (the run did not finish).`);
  }
  if (epochs && epochs.length > 0) {
    header.push({ label: 'epochs', value: String(epochs.length) });
    const stages = [...new Set(epochs.flatMap((e) => (e.stage !== undefined ? [e.stage] : [])))];
    if (stages.length > 1) header.push({ label: 'stages', value: stages.join(' → ') });
  }

  // ---- training curves (logs.jsonl) ----------------------------------------------------------
  if (!epochs) {
    const reason = `${RUN_FILES.logs} is missing.`;
    omitted.push({ name: 'losses', reason }, { name: 'accuracy', reason });
  } else if (epochs.length === 0) {
    const reason = `${RUN_FILES.logs} has no epoch-end events (the run finished no epoch).`;
    omitted.push({ name: 'losses', reason }, { name: 'accuracy', reason });
  } else {
    charts.push({ name: 'losses', heading: `Losses: ${['total', ...lossTermNames(epochs)].join(', ')}`, spec: lossesChart(epochs) });
    if (epochs.some((e) => e.validation)) {
      charts.push({
        name: 'accuracy',
        heading: 'Validation accuracy and loss',
        spec: accuracyChart(epochs, summary?.teacher?.accuracy ?? undefined, split),
      });
    } else {
      omitted.push({ name: 'accuracy', reason: `No epoch of ${RUN_FILES.logs} has validation metrics (the run had no validation data).` });
    }
  }

  // ---- analysis of the evaluation split's predictions (predictions.json) ------------------------------------
  if (!predictions) {
    const reason = `${RUN_FILES.predictions} is missing.`;
    omitted.push({ name: 'class-correlation', reason }, { name: 'reliability', reason }, { name: 'agreement', reason });
    notes.push(`No ECE or agreement: ${reason}`);
  } else {
    const { labels, student, teacher, classes, classNames } = predictions;
    const models: ModelCalibration[] = [{ model: 'student', calibration: reliabilityBins(student, labels, CALIBRATION_BINS) }];
    if (teacher) models.push({ model: 'teacher', calibration: reliabilityBins(teacher, labels, CALIBRATION_BINS) });
    for (const { model, calibration } of models)
      results.push({ label: `${model} ECE (${CALIBRATION_BINS} bins)`, value: percent(calibration.ece) });
    charts.push({
      name: 'reliability',
      heading: `Reliability: ${models.map((m) => m.model).join(' and ')}`,
      spec: reliabilityChart(models),
    });
    if (!teacher) {
      const reason = `${RUN_FILES.predictions} has no teacher logits (the run had no teacher).`;
      omitted.push({ name: 'class-correlation', reason }, { name: 'agreement', reason });
      notes.push(`No teacher ECE, agreement or class-correlation difference: ${reason}`);
    } else {
      const agreement = topOneAgreement(teacher, student, labels, classes);
      results.push({ label: 'teacher-student top-1 agreement', value: percent(agreement.overall) });
      charts.push({ name: 'agreement', heading: 'Teacher-student agreement', spec: agreementChart(agreement, classNames, split) });
      if (labels.length < 2 || classes < 2) {
        omitted.push({
          name: 'class-correlation',
          reason: `Class correlations need at least 2 examples and 2 classes; ${RUN_FILES.predictions} has ${labels.length} and ${classes}.`,
        });
      } else {
        const correlation = classCorrelationDifference(teacher, student);
        results.push({ label: 'class-correlation mean |teacher − student|', value: fixed(correlation.meanAbsoluteDifference) });
        charts.push({
          name: 'class-correlation',
          heading: 'Class correlation: teacher − student',
          spec: classCorrelationChart(correlation, classNames, split),
        });
      }
    }
  }

  // ---- exports (summary.json) ----------------------------------------------------------------
  const exports: ExportRow[] = (summary?.exports ?? []).map((e) => ({
    form: e.form,
    size: byteSize(e.bytes),
    accuracy: e.accuracy === null ? 'not measured' : percent(e.accuracy),
    latency: e.latencyMs === undefined ? 'not measured' : `${e.latencyMs.toFixed(2)} ms`,
  }));
  if (summary && exports.length === 0) notes.push(`No exports: ${RUN_FILES.summary} records no exported forms of the student.`);

  const order: readonly ChartName[] = ['losses', 'accuracy', 'class-correlation', 'reliability', 'agreement'];
  charts.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  omitted.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { runName: summary?.name ?? run.name, split, header, results, exports, charts, omitted, notes };
}
