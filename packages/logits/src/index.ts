/**
 * `@kd/logits`: logit distillation methods for `@kd/core` — decoupled knowledge distillation
 * (DKD, Zhao et al. 2022) and DIST (Huang et al. 2022), each as a pure loss on logits and as a
 * plugin.
 * @packageDocumentation
 */
export { type DistLossOptions, distLoss, distLossSchema } from './dist';
export { type DistOptions, dist, distSchema } from './distPlugin';
export { type DkdLossOptions, dkdLoss, dkdLossSchema } from './dkd';
export { type DkdOptions, dkd, dkdSchema } from './dkdPlugin';
export { LogitsError, type LogitsErrorCode, logitsErrorCodes } from './errors';
export { registry } from './registry';
