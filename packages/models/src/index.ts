/**
 * `@kd/models`: small classifier architectures for `@kd/core` on TensorFlow.js (the benchmark's
 * CNN and MLP), as builders (`smallCnn`, `mlp`) and as registry entries for config-file runs
 * (`registry`). Layer names are stable, so feature methods (FitNet, CRD) can tap them.
 * @packageDocumentation
 */
export { type MlpOptions, mlp, mlpSchema } from './mlp';
export { registry } from './registry';
export { classesSchema, exampleShapeSchema, imageShapeSchema } from './schemas';
export { dropoutMask, SeededDropout, type SeededDropoutArgs, seededDropoutSchema } from './seededDropout';
export { type SmallCnnOptions, smallCnn, smallCnnSchema } from './smallCnn';
