import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDistillationError } from '@kd/core';
import { loadModel, saveModel } from '@kd/core/node';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BrowserLatencyOptions, latencyErrorCodes, measureBrowserLatency, summarizeTimings } from '../src/latency';
import { latencySiteRoute } from '../src/latency/latencySite';
import { serveStatic } from '../src/latency/staticServer';
import { tfjsBrowserBundles } from '../src/latency/tfjsBundles';

// The real node:http, with createServer counted: "no server before the browser check" is a call count.
vi.mock('node:http', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:http')>();
  return { ...actual, createServer: vi.fn(actual.createServer) };
});

const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const INPUT = 24;

let dir: string;
let float32Dir: string;
let uint8Dir: string;
/** Node's sums of the outputs for one zeros example: the float32 model, and the uint8 files as tfjs dequantises them. */
let nodeSum: { float32: number; uint8: number };

/** Sum of all outputs of `model` for a zeros batch of `batch` examples. */
function zerosSum(model: tfl.LayersModel, batch: number): number {
  return tf.tidy(() => tf.sum(model.predict(tf.zeros([batch, INPUT])) as tf.Tensor).dataSync()[0]!);
}

/**
 * Writes the uint8 form of the float32 files in `from` to `to` by hand: each float32 weight
 * tensor mapped affinely to 0..255 (`value = min + scale * q`) with the manifest's
 * `quantization: { dtype: 'uint8', scale, min }`, the form `tf.loadLayersModel` dequantises.
 */
async function writeUint8Copy(from: string, to: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(from, 'model.json'), 'utf8'));
  const [group] = manifest.weightsManifest as { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  const bytes = await readFile(join(from, group!.paths[0]!));
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const quantised: number[] = [];
  let at = 0;
  const weights = group!.weights.map((spec) => {
    expect(spec.dtype).toBe('float32');
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const values = floats.subarray(at, at + count);
    at += count;
    const min = Math.min(...values);
    const max = Math.max(...values);
    const scale = max > min ? (max - min) / 255 : 1;
    for (const v of values) quantised.push(Math.round((v - min) / scale));
    return { ...spec, quantization: { dtype: 'uint8', scale, min } };
  });
  expect(at).toBe(floats.length);
  await mkdir(to, { recursive: true });
  await writeFile(join(to, 'weights.bin'), Uint8Array.from(quantised));
  await writeFile(join(to, 'model.json'), JSON.stringify({ ...manifest, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'kd-latency-'));
  float32Dir = join(dir, 'student');
  uint8Dir = join(dir, 'exports', 'uint8');
  // Random biases: a zeros input then gives outputs that depend on every layer's weights.
  const init = (seed: number) => ({
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    biasInitializer: tfl.initializers.randomNormal({ mean: 0.2, stddev: 0.5, seed: seed + 1 }),
  });
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [INPUT], units: 48, activation: 'relu', ...init(1) }),
      tfl.layers.dense({ units: 10, ...init(3) }),
    ],
  });
  await saveModel(model, float32Dir);
  await writeUint8Copy(float32Dir, uint8Dir);
  const uint8Model = await loadModel(uint8Dir);
  nodeSum = { float32: zerosSum(model, 1), uint8: zerosSum(uint8Model, 1) };
  model.dispose();
  uint8Model.dispose();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('measureBrowserLatency in headless Chromium', () => {
  it('times each form with runs predictions and predicts with the real weights', async () => {
    // The hand-quantised weights change the outputs: the two forms are told apart by their checksums.
    expect(Math.abs(nodeSum.float32 - nodeSum.uint8)).toBeGreaterThan(1e-6);
    const before = tf.memory().numTensors;
    const options: BrowserLatencyOptions = {
      models: [
        { form: 'float32', directory: float32Dir },
        { form: 'uint8', directory: uint8Dir },
      ],
      runs: 9,
      warmup: 2,
      executablePath,
    };
    const latency = await measureBrowserLatency(options);
    expect(tf.memory().numTensors).toBe(before);
    expect(latency.backend).toBe('cpu');
    expect(latency.browser).toMatch(/^chromium \d+\.\d+/);
    expect(latency.results.map((r) => r.form)).toEqual(['float32', 'uint8']);
    for (const r of latency.results) {
      expect(r.runs).toBe(options.runs);
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.p90Ms).toBeGreaterThanOrEqual(r.medianMs);
    }
    expect(Math.abs(latency.results[0]!.checksum - nodeSum.float32)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(latency.results[1]!.checksum - nodeSum.uint8)).toBeLessThanOrEqual(1e-4);
  }, 30_000);

  it('predicts a zeros batch of batchSize examples (the checksum scales with it) and defaults runs to 30', async () => {
    const latency = await measureBrowserLatency({
      models: [{ form: 'float32', directory: float32Dir }],
      batchSize: 3,
      warmup: 0,
      executablePath,
    });
    const [r] = latency.results;
    expect(r!.runs).toBe(30);
    expect(Math.abs(r!.checksum - 3 * nodeSum.float32)).toBeLessThanOrEqual(3e-4);
  }, 30_000);
});

describe('measureBrowserLatency when a model fails in the page', () => {
  it('is page-failed naming the form, and closes the server and the browser', async () => {
    const truncated = join(dir, 'truncated');
    await mkdir(truncated, { recursive: true });
    await copyFile(join(float32Dir, 'model.json'), join(truncated, 'model.json'));
    const weights = await readFile(join(float32Dir, 'weights.bin'));
    await writeFile(join(truncated, 'weights.bin'), weights.subarray(0, weights.byteLength / 2));
    // Node's handles of the kinds the server (TCPServerWrap) and the browser's pipes (PipeWrap) hold.
    const handles = () => {
      const active = process.getActiveResourcesInfo();
      return { servers: active.filter((r) => r === 'TCPServerWrap').length, pipes: active.filter((r) => r === 'PipeWrap').length };
    };
    const before = handles();
    const error = await measureBrowserLatency({
      models: [
        { form: 'float32', directory: float32Dir },
        { form: 'half-weights', directory: truncated },
      ],
      runs: 2,
      warmup: 0,
      executablePath,
    }).catch((e: unknown) => e);
    expect(isDistillationError(error, 'page-failed'), String(error)).toBe(true);
    expect((error as Error).message).toContain("models[1] ('half-weights'");
    // Closed handles leave Node's list a moment after close() resolves.
    await vi.waitFor(() => expect(handles()).toEqual(before), { timeout: 2000 });
  }, 30_000);
});

describe('measureBrowserLatency refuses before starting anything', () => {
  const models = () => [{ form: 'float32', directory: float32Dir }];

  it('a missing executablePath is browser-unavailable before any server starts', async () => {
    const createServer = vi.mocked(http.createServer);
    createServer.mockClear();
    const missing = join(dir, 'no-such-chromium');
    const error = await measureBrowserLatency({ models: models(), executablePath: missing }).catch((e: unknown) => e);
    expect(isDistillationError(error, 'browser-unavailable')).toBe(true);
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toMatch(/executablePath/);
    expect(createServer).not.toHaveBeenCalled();
  });

  it('bad options are bad-option or unknown-option naming the option', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ models: models(), runz: 3 }, 'unknown-option', /"runz".*did you mean "runs"/],
      [{ models: models(), runs: 0 }, 'bad-option', /"runs"/],
      [{ models: models(), warmup: 1.5 }, 'bad-option', /"warmup" must be an integer/],
      [{ models: [] }, 'bad-option', /"models"/],
      [{ models: [{ form: 'float32', directory: float32Dir, dtype: 'x' }] }, 'unknown-option', /"models\[0\]\.dtype"/],
      [
        {
          models: [
            { form: 'a', directory: float32Dir },
            { form: 'a', directory: uint8Dir },
          ],
        },
        'bad-option',
        /"models\[1\]\.form" must be unique.*models\[0\]/,
      ],
    ];
    for (const [options, code, message] of cases) {
      const error = await measureBrowserLatency(options as BrowserLatencyOptions).catch((e: unknown) => e);
      expect(isDistillationError(error, code), `${JSON.stringify(options)} -> ${String(error)}`).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('a folder without model.json or a weights file is model-not-found / truncated-weights naming the file, before the browser check', async () => {
    const noBrowser = join(dir, 'no-such-chromium');
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    let error = await measureBrowserLatency({ models: [{ form: 'x', directory: empty }], executablePath: noBrowser }).catch(
      (e: unknown) => e,
    );
    expect(isDistillationError(error, 'model-not-found')).toBe(true);
    expect((error as Error).message).toContain(empty);

    const noWeights = join(dir, 'no-weights');
    await mkdir(noWeights, { recursive: true });
    await copyFile(join(float32Dir, 'model.json'), join(noWeights, 'model.json'));
    error = await measureBrowserLatency({ models: [{ form: 'x', directory: noWeights }], executablePath: noBrowser }).catch(
      (e: unknown) => e,
    );
    expect(isDistillationError(error, 'truncated-weights')).toBe(true);
    expect((error as Error).message).toMatch(/weights\.bin/);
  });

  it('a playwright-core that cannot be imported is browser-unavailable saying what to install', async () => {
    vi.doMock('playwright-core', () => {
      throw new Error('Cannot find package playwright-core');
    });
    try {
      const error = await measureBrowserLatency({ models: models(), executablePath: process.execPath }).catch((e: unknown) => e);
      expect(isDistillationError(error, 'browser-unavailable')).toBe(true);
      expect((error as Error).message).toMatch(/playwright-core cannot be imported; install .*playwright-core/);
    } finally {
      vi.doUnmock('playwright-core');
    }
  });

  it('the codes table describes each code', () => {
    expect(Object.keys(latencyErrorCodes).sort()).toEqual(['browser-unavailable', 'page-failed']);
  });
});

describe('the latency site', () => {
  it('serves the model folders and the tfjs bundles, nothing outside them, cross-origin isolated', async () => {
    const bundles = tfjsBrowserBundles();
    for (const b of bundles) expect(existsSync(b.file), b.file).toBe(true);
    const site = await serveStatic(latencySiteRoute([{ form: 'float32', directory: float32Dir }], bundles));
    try {
      const get = (path: string) => fetch(site.origin + path);
      const manifest = await get('/models/0/model.json');
      expect(manifest.status).toBe(200);
      expect(await manifest.text()).toBe(await readFile(join(float32Dir, 'model.json'), 'utf8'));
      expect(manifest.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(manifest.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      const page = await (await get('/index.html')).text();
      // tfjs-core first: the backend and layers bundles extend its global tf.
      const positions = ['tf-core', 'tf-backend-cpu', 'tf-layers'].map((name) => page.indexOf(`/tfjs/${name}.min.js`));
      expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!))).toBe(true);
      expect((await get(bundles[0]!.urlPath)).status).toBe(200);
      for (const path of [
        '/models/1/model.json',
        '/models/0/%2e%2e%2fexports%2fuint8%2fmodel.json',
        '/models/0/nothing.bin',
        '/etc/passwd',
      ])
        expect((await get(path)).status, path).toBe(404);
    } finally {
      await site.close();
    }
  });

  it('summarizeTimings: median (mean of the middle two for an even count) and nearest-rank p90', () => {
    expect(summarizeTimings([5, 1, 3])).toEqual({ medianMs: 3, p90Ms: 5 });
    expect(summarizeTimings([4, 1, 3, 2])).toEqual({ medianMs: 2.5, p90Ms: 4 });
    expect(summarizeTimings(Array.from({ length: 20 }, (_, i) => 20 - i))).toEqual({ medianMs: 10.5, p90Ms: 18 });
    expect(summarizeTimings([7])).toEqual({ medianMs: 7, p90Ms: 7 });
    expect(() => summarizeTimings([])).toThrow('summarizeTimings: durations must hold at least one timing, got none');
  });
});
