/**
 * Browser latency of a model's exported forms (float32, float16, uint8) for `kd`'s report:
 * headless Chromium via the optional peer `playwright-core`, tfjs' cpu backend.
 * @packageDocumentation
 */

export { LatencyError, type LatencyErrorCode, latencyErrorCodes } from './errors';
export { type BrowserLatencyOptions, browserLatencyOptionsSchema, type LatencyModel, latencyModelSchema } from './latencyOptions';
export { type BrowserLatency, type FormLatency, measureBrowserLatency } from './measureBrowserLatency';
export { summarizeTimings, type TimingSummary } from './timingSummary';
