/** Base class of every error kd throws on purpose; `code` is stable across versions. */
export class DistillationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DistillationError';
  }
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
        'Lower the learning rate or check the inputs and the term\'s weight.',
    );
    this.name = 'NonFiniteLossError';
  }
}
