import type { BrowserBundle } from './tfjsBundles';

/** The page: loads the tfjs bundles as classic scripts (each extends the global `tf`). */
export function latencyPageHtml(bundles: readonly BrowserBundle[]): string {
  const scripts = bundles.map((b) => `<script src="${b.urlPath}"></script>`).join('\n');
  return `<!doctype html>\n<meta charset="utf-8">\n<title>kd browser latency</title>\n${scripts}\n`;
}

/** What the page measures for one model. */
export interface PageTiming {
  /** `tf.getBackend()` while predicting. */
  readonly backend: string;
  /** Milliseconds of each timed `predict` + `dataSync()`. */
  readonly durations: number[];
  /** The sum of every output value of the first timed prediction. */
  readonly checksum: number;
}

/** What {@link timeModelInPage} is called with. */
export interface PageTimingRequest {
  readonly url: string;
  readonly batchSize: number;
  readonly warmup: number;
  readonly runs: number;
}

/**
 * The page function, as source text (`page.evaluate` sends it as written, untouched by the
 * TypeScript build): sets the cpu backend, loads the model with `tf.loadLayersModel(url)`,
 * predicts a zeros batch `[batchSize, ...inputShape]` (one per input) `warmup` times, then `runs`
 * times with `performance.now()` around each `predict` + `dataSync()`. Resolves to a
 * {@link PageTiming}; rejects with the page's error (plain `Error`s in the page, which the Node
 * side wraps as `page-failed`).
 */
export const timeModelInPage = `async ({ url, batchSize, warmup, runs }) => {
  const tf = globalThis.tf;
  if (!tf || typeof tf.loadLayersModel !== 'function') throw Error('the tfjs bundles did not load (no global tf.loadLayersModel)');
  if (!(await tf.setBackend('cpu'))) throw Error('the cpu backend did not initialise');
  await tf.ready();
  const model = await tf.loadLayersModel(url);
  const inputs = [];
  try {
    for (const input of model.inputs) {
      const shape = input.shape.slice(1);
      if (shape.some((d) => d === null || d === undefined)) throw Error('input ' + input.name + ' has an unknown dimension: [' + input.shape.join(', ') + ']');
      inputs.push(tf.zeros([batchSize, ...shape], input.dtype));
    }
    const feed = inputs.length === 1 ? inputs[0] : inputs;
    const predict = () => {
      const output = model.predict(feed);
      const outputs = Array.isArray(output) ? output : [output];
      const values = outputs.map((t) => t.dataSync());
      return { outputs, values };
    };
    for (let i = 0; i < warmup; i++) tf.dispose(predict().outputs);
    const durations = [];
    let checksum = 0;
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const { outputs, values } = predict();
      durations.push(performance.now() - start);
      tf.dispose(outputs);
      if (i === 0) for (const v of values) for (let j = 0; j < v.length; j++) checksum += v[j];
    }
    return { backend: tf.getBackend(), durations, checksum };
  } finally {
    tf.dispose(inputs);
    model.dispose();
  }
}`;
