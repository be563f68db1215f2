import { describeValue, didYouMean, optionChecks } from '@kd/backend-wasm';
import { BackendNativeError } from './errors';

export { describeValue, didYouMean };

/** This package's option checks: `@kd/backend-wasm`'s, throwing {@link BackendNativeError}s. */
export const { checkKeys, badOption } = optionChecks((code, message) => new BackendNativeError(code, message));
