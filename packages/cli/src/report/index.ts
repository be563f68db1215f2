export { type Agreement, type ClassAgreement, topOneAgreement } from './agreement';
export { type Calibration, expectedCalibrationError, type ReliabilityBin, reliabilityBins } from './calibration';
export { type ClassCorrelationDifference, classCorrelationDifference, classCorrelationMatrix } from './classCorrelation';
export { CALIBRATION_BINS, CHART_FILES, type ChartName } from './reportContent';
export { ReportError, type ReportErrorCode, reportErrorCodes } from './reportError';
export type { EpochRecord } from './runLogs';
export type { RunPredictions } from './runPredictions';
export type { ExportedForm, ModelMetrics, RunSummary } from './runSummary';
export { REPORT_FOLDER, type ReportChart, type ReportFiles, writeReport } from './writeReport';
