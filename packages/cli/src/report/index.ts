export { type Agreement, type ClassAgreement, topOneAgreement } from './agreement';
export { type Calibration, expectedCalibrationError, type ReliabilityBin, reliabilityBins } from './calibration';
export { type ClassCorrelationDifference, classCorrelationDifference, classCorrelationMatrix } from './classCorrelation';
export { CALIBRATION_BINS, CHART_FILES, type ChartName } from './reportContent';
export { RUN_FILES, type RunFolder, readRunFolder } from './runFolder';
export type { EpochRecord } from './runLogs';
export type { PredictionsFile } from './runPredictions';
export type { ExportedForm, ModelMetrics, SummaryFile } from './runSummary';
export { REPORT_FOLDER, type ReportChart, type ReportFiles, writeReport } from './writeReport';
