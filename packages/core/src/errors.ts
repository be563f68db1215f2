/**
 * Every code `@kd/core` throws, with what it means. Plugin packages keep their own tables (see
 * {@link DistillationError}); `docs/errors.md` lists them all.
 */
export const coreErrorCodes = {
  'bad-option': 'An option has the wrong type or a value out of range.',
  'unknown-option': 'An options object has a key the function does not know (a typo, or an option of another version).',
  'bad-student': 'The student is not a tfjs LayersModel.',
  'bad-optimizer': 'The optimizer is not a tf.Optimizer, or lacks what the run needs (a learning rate to schedule).',
  'bad-plugin': 'An object given to use() is not a valid plugin (no name, a hook that is not a function, a bad weight).',
  'plugin-name-clash': 'Two plugins in one Distiller have the same name.',
  'plugin-after-setup': 'use() was called after the first fit().',
  'no-teacher': 'A plugin needs a teacher (or taps teacher layers), but the Distiller has none.',
  'batch-too-small':
    "A plugin's loss needs batches of at least its `minimumBatch` examples (relations between examples), and the fit's batch size or its last partial batch is smaller.",
  'no-loss': 'No plugin contributes a loss term.',
  'teacher-not-declared': 'A plugin read outputs.teacher without declaring needsTeacher.',
  'bad-teacher': 'The teacher is not a model, a function or an object with predict().',
  'teacher-input-mismatch': 'The teacher cannot take the training inputs (a different input shape).',
  'ensemble-mismatch': 'The members of an ensemble predict different numbers of classes.',
  'logits-not-2d': 'A model does not output 2-D logits [batch, classes].',
  'class-count-mismatch': 'Teacher and student predict different numbers of classes.',
  'unknown-layer': 'A tapped layer name is not a layer of the model.',
  'ambiguous-layer': 'A tapped layer name matches more than one layer or output.',
  'teacher-not-tappable': 'Plugins tap teacher layers, but the teacher is a function or an ensemble without layers to tap.',
  'shape-mismatch': 'A loss function got tensors of incompatible shapes (labels and logits, teacher and student).',
  'bad-data': 'Training or validation data is not { x, y } tensors with one label per example.',
  'precomputed-teacher-transformed':
    'A precomputed (stored) teacher was used with a plugin that declares changesTeacherInput: its outputs hold for the untransformed inputs only.',
  'bad-source':
    'A DataSource has no valid size, shape or way to read (read or stream), labels of another length, a read that returned the wrong examples (or tensors), or a stream longer or shorter than its size.',
  'empty-data': 'A data set has no examples.',
  'bad-labels': 'Labels are not a 1-D tensor of integer classes.',
  'label-out-of-range': 'A label is not an integer class of the model.',
  'bad-input-shape': "The inputs' example shape differs from the model's input shape.",
  'non-finite-input': 'An input tensor holds NaN or Infinity.',
  'data-changed': 'fit() was called again with a data set of another size or class count.',
  'soft-targets-unsupported': 'A transform set soft label targets (MixUp), but a plugin reads only integer labels.',
  'bad-loss': "A plugin's loss hook returned something that is not a scalar tensor.",
  'term-name-clash': 'Two plugins return a loss term of the same name.',
  'non-finite-loss': 'A loss term became NaN or Infinity; no update was applied.',
  'bad-learning-rate': 'A learning-rate schedule returned a negative or non-finite rate.',
  'nothing-to-train': 'The trainable filter rejects every variable.',
  disposed: 'The Distiller (or optimizer) was used after dispose().',
  'fit-in-progress': 'fit() was called while another fit() of the same Distiller is running.',
  'optimizer-in-use': 'A checkpoint was restored into an optimizer that has already taken steps.',
  'optimizer-not-resumable': "The optimizer's state cannot be restored exactly (tfjs' own Adam family); use kd's optimizers.",
  'bad-checkpoint': 'A checkpoint file is not a kd checkpoint, is truncated, corrupted or of an unsupported version.',
  'checkpoint-mismatch': 'A checkpoint was saved by another run: other plugins, data size, optimizer or architecture.',
  'model-not-found': 'No model.json at the given directory.',
  'bad-model': 'A model.json is not valid JSON or not a tfjs model, or a topology kd cannot save.',
  'truncated-weights': "A model's weights file is missing or shorter than its manifest says.",
  'not-set-up': 'restore() was called before fit() set up the plugins (use fit({ resume: true })).',
  'io-error': 'Reading or writing a file failed; the message names the path and the operation.',
  'teacher-cache': 'The teacher-output cache cannot serve this run.',
  'cached-teacher-transformed':
    'A cachedTeacher was used with a plugin that declares changesTeacherInput: outputs kept per example would not hold for the transformed inputs.',
  'digest-unavailable':
    'SHA-256 is needed (a fingerprint or store key), but the runtime has neither node:crypto nor WebCrypto (browsers: secure contexts only).',
  'no-fingerprint':
    'A teacher-output store needs content fingerprints, but the teacher (a function or GraphModel without a given fingerprint) or the data source (no fingerprint()) has none.',
  'bad-teacher-cache': 'A teacher-output cache store or entry is invalid.',
  'bad-stage': 'A stage of fitStages is invalid.',
  'no-output': 'A model produced no output.',
  'bad-registry': "A package's registry (for config-file runs) has a bad name or an entry without schema, summary or create.",
  'registry-conflict': 'Two packages of one config-file run register the same name of one kind (method, model, source, ...).',
  'unknown-name': 'A config names a method, model, source, optimizer or schedule that no loaded package registers.',
  'shared-module-conflict':
    'Two method entries of one config-file run ask for the same shared module (by key) with different options, or a shared module is asked for after the run ended.',
} as const;

/** A code of `@kd/core`'s errors. */
export type CoreErrorCode = keyof typeof coreErrorCodes;

const BRAND = Symbol.for('@kd/DistillationError');

/** Options of a {@link DistillationError}. */
export interface DistillationErrorOptions {
  /** The error this one wraps (an IO error, a tfjs error). */
  readonly cause?: unknown;
}

/**
 * Base of every error kd throws on purpose. `code` is stable across versions; match on it with
 * {@link isDistillationError}, never with `instanceof` (the ESM and CommonJS builds, or two
 * installed versions, are distinct classes).
 *
 * Each plugin package extends it with its own union of codes, e.g.
 * `class CrdError extends DistillationError<CrdErrorCode> {}`; the core lists no method's codes.
 */
export class DistillationError<Code extends string = CoreErrorCode> extends Error {
  /** Stable, typed reason, e.g. `'unknown-option'`. */
  readonly code: Code;

  constructor(code: Code, message: string, options: DistillationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'DistillationError';
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * Whether `error` is a kd error (of any package, build or version), optionally of one code.
 *
 * @example
 * ```ts
 * try { softTargets({ temprature: 2 } as never); }
 * catch (e) { if (isDistillationError(e, 'unknown-option')) console.log(e.message); }
 * ```
 */
export function isDistillationError<Code extends string = string>(error: unknown, code?: Code): error is DistillationError<Code> {
  if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (error as { code?: unknown }).code === code;
}

/** A loss term became NaN or Infinity; names the term and the step. */
export class NonFiniteLossError extends DistillationError {
  constructor(
    readonly term: string,
    readonly step: number,
    readonly epoch: number,
    readonly value: number,
  ) {
    super(
      'non-finite-loss',
      `Loss term "${term}" is ${value} at step ${step} (epoch ${epoch}); no update was applied. ` +
        "Lower the learning rate or check the inputs and the term's weight.",
    );
    this.name = 'NonFiniteLossError';
  }
}

/**
 * Wraps a file-system failure with the path and the operation, keeping the original error as
 * `cause` (its `code`, e.g. `EACCES`, is repeated in the message).
 */
export function ioError(operation: string, path: string, cause: unknown): DistillationError {
  const code = (cause as { code?: unknown } | null)?.code;
  const reason =
    typeof code === 'string' ? `${code} (${(cause as Error).message})` : cause instanceof Error ? cause.message : String(cause);
  return new DistillationError('io-error', `Cannot ${operation} "${path}": ${reason}`, { cause });
}
