import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon says about the OpenBLAS it runs on. */
export interface BlasInfo {
  /** `openblas_get_config()`, e.g. `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64`. */
  config: string;
  /** The kernel set OpenBLAS picked for this CPU (`openblas_get_corename()`), e.g. `SkylakeX`. */
  corename: string;
  /** BLAS threads (`openblas_get_num_threads()`). */
  threads: number;
  /** `openblas_get_parallel()`: 0 sequential build, 1 pthreads, 2 OpenMP. */
  parallel: number;
  /** The Node-API version the addon was built for. */
  napi: number;
}

/** The native addon's functions (see `src/native/kd_native.cc`). Offsets are in floats. */
export interface NativeAddon {
  info(): BlasInfo;
  setThreads(n: number): number;
  gemm(
    heap: ArrayBuffer,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    aOffsets: Int32Array,
    bOffsets: Int32Array,
    cOffset: number,
    ...epilogue: number[]
  ): void;
  epilogue(
    heap: ArrayBuffer,
    offset: number,
    rows: number,
    n: number,
    biasOffset: number,
    biasMode: number,
    activation: number,
    alpha: number,
    preluOffset: number,
    preluMode: number,
  ): void;
  conv2d(heap: ArrayBuffer, xOffset: number, filterOffset: number, yOffset: number, geometry: Int32Array, ...epilogue: number[]): void;
  conv2dBackpropInput(heap: ArrayBuffer, dyOffset: number, filterOffset: number, dxOffset: number, geometry: Int32Array): void;
  conv2dBackpropFilter(heap: ArrayBuffer, xOffset: number, dyOffset: number, dwOffset: number, geometry: Int32Array): void;
  /** out [rows, columns] = a op b (op 0 add, 1 sub, 2 mul; mode 0 same shape, 1 b scalar, 2 b per column, 3 a scalar, 4 a per column). */
  binary(
    heap: ArrayBuffer,
    op: number,
    mode: number,
    aOffset: number,
    bOffset: number,
    outOffset: number,
    rows: number,
    columns: number,
  ): void;
  /** Sums of x [rows, columns]: column sums (over i, increasing) when alongColumns is 1, else row sums (over j, increasing). */
  sum(heap: ArrayBuffer, xOffset: number, outOffset: number, rows: number, columns: number, alongColumns: number): void;
  /** geometry: [batch, h, w, c, oh, ow, sh, sw, kh, kw, dh, dw, pt, pl] (NHWC). */
  maxPoolGrad(heap: ArrayBuffer, dyOffset: number, xOffset: number, yOffset: number, dxOffset: number, geometry: Int32Array): void;
  /** offsets: [w, g, m, v, outW, outM, outV]; then float32 beta1, 1 - beta1, beta2, 1 - beta2, epsilon, stepSize, correction, decay. */
  adamUpdate(heap: ArrayBuffer, offsets: Int32Array, n: number, ...scalars: number[]): void;
  /** offsets: [w, g, outW, buffer | -1, outBuffer | -1]; then learningRate, momentum, nesterov (0 | 1), weightDecay. */
  sgdUpdate(heap: ArrayBuffer, offsets: Int32Array, n: number, ...scalars: number[]): void;
  /** offsets: [w, g, square, outW, outSquare, buffer | -1, outBuffer | -1]; then learningRate, rho, 1 - rho, epsilon, momentum, weightDecay. */
  rmspropUpdate(heap: ArrayBuffer, offsets: Int32Array, n: number, ...scalars: number[]): void;
  /** out [batch, classes] = z / T - logSumExp(z / T) per row. */
  logSoftmax(heap: ArrayBuffer, zOffset: number, outOffset: number, batch: number, classes: number, temperature: number): void;
  /** out [] = T^2 / batch * sum of KL(exp(logP) || softmax(z / T)) (kl 1) or the cross-entropy (kl 0). */
  softTargetLoss(
    heap: ArrayBuffer,
    zOffset: number,
    logPOffset: number,
    outOffset: number,
    batch: number,
    classes: number,
    temperature: number,
    kl: number,
  ): void;
  /** out [batch, classes] = dy * T / batch * (softmax(z / T) * sum(p) - p), p = exp(logP). */
  softTargetLossGrad(
    heap: ArrayBuffer,
    zOffset: number,
    logPOffset: number,
    dyOffset: number,
    outOffset: number,
    batch: number,
    classes: number,
    temperature: number,
  ): void;
  /** out [] = -1 / batch * sum of y . log softmax(z); labelMode 0 int32 indices, 1 float32 indices, 2 float32 targets. */
  hardLabelLoss(
    heap: ArrayBuffer,
    zOffset: number,
    labelsOffset: number,
    outOffset: number,
    batch: number,
    classes: number,
    labelMode: number,
  ): void;
  /** out [batch, classes] = dy / batch * (softmax(z) * sum(y) - y). */
  hardLabelLossGrad(
    heap: ArrayBuffer,
    zOffset: number,
    labelsOffset: number,
    dyOffset: number,
    outOffset: number,
    batch: number,
    classes: number,
    labelMode: number,
  ): void;
}

const require = createRequire(import.meta.url);

/**
 * The folder node-gyp-build searches: `dist/native` of the installed package (its `build/Release`
 * from a from-source build, or `prebuilds/<platform>-<arch>/` shipped in the tarball), or
 * `src/native` when running from this repository's sources.
 */
export function nativeDirectory(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'native');
}

/**
 * The path of the addon node-gyp-build would load from `dir`, or an Error saying why there is
 * none. Without `dir`: {@link nativeDirectory}, then (from this repository's sources, whose
 * src/native may lack the binary when a cached build restored only dist/) the package's dist/native.
 */
export function resolveAddon(dir?: string): string | Error {
  const build = require('node-gyp-build') as { resolve(dir: string): string };
  const dirs = dir !== undefined ? [dir] : [...new Set([nativeDirectory(), join(nativeDirectory(), '..', '..', 'dist', 'native')])];
  let first: Error | undefined;
  for (const d of dirs) {
    try {
      return build.resolve(d);
    } catch (error) {
      first ??= error instanceof Error ? error : new Error(String(error));
    }
  }
  return first!;
}

/** Result of running the addon once in a child process. */
export type ProbeResult =
  | { ok: true; info: BlasInfo; ms: number; coretype?: string }
  | { ok: false; reason: string; ms: number; coretype?: string };

/**
 * The probe: loads the addon, checks a transposed/batched gemm, a strided conv2d and its two
 * gradients against plain JavaScript loops on sizes large enough to reach OpenBLAS' optimised
 * kernels (a misdetected CPU crashes there with SIGILL), prints one JSON line.
 */
const PROBE = String.raw`
const addon = require(process.argv[1]);
const threads = Number(process.env.KD_NATIVE_PROBE_THREADS || 1);
addon.setThreads(threads);
const heap = new ArrayBuffer(4 << 20);
const f = new Float32Array(heap);
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
let worst = 0;
const close = (a, b) => { const e = Math.abs(a - b) / (1 + Math.abs(b)); if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e; };
// gemm: op(A) [M, K] x op(B) [K, N], A transposed, B not, 2 batches
const M = 67, N = 45, K = 129, A = 0, B = 20000, C = 40000;
for (let i = 0; i < 2 * M * K; i++) f[A + i] = rnd();
for (let i = 0; i < 2 * K * N; i++) f[B + i] = rnd();
addon.gemm(heap, true, false, M, N, K, Int32Array.of(A, A + M * K), Int32Array.of(B, B + K * N), C);
for (let b = 0; b < 2; b++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
  let s = 0; for (let k = 0; k < K; k++) s += f[A + b * M * K + k * M + i] * f[B + b * K * N + k * N + j];
  close(f[C + b * M * N + i * N + j], s);
}
// conv2d NHWC 2x9x9x3, filter 3x3x3x5, stride 2, pad 1 -> 2x5x5x5; then both gradients
const g = Int32Array.of(2, 9, 9, 3, 5, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1);
const X = 60000, W = 61000, Y = 62000, DX = 63000, DW = 64000;
for (let i = 0; i < 486; i++) f[X + i] = rnd();
for (let i = 0; i < 135; i++) f[W + i] = rnd();
addon.conv2d(heap, X, W, Y, g);
addon.conv2dBackpropInput(heap, Y, W, DX, g);
addon.conv2dBackpropFilter(heap, X, Y, DW, g);
const y = new Float64Array(250), dx = new Float64Array(486), dw = new Float64Array(135);
for (let pass = 0; pass < 2; pass++)
for (let b = 0; b < 2; b++) for (let oy = 0; oy < 5; oy++) for (let ox = 0; ox < 5; ox++) for (let co = 0; co < 5; co++)
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
    const iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
    if (iy < 0 || iy >= 9 || ix < 0 || ix >= 9) continue;
    for (let ci = 0; ci < 3; ci++) {
      const xi = ((b * 9 + iy) * 9 + ix) * 3 + ci, wi = ((ky * 3 + kx) * 3 + ci) * 5 + co, yi = ((b * 5 + oy) * 5 + ox) * 5 + co;
      if (pass === 0) y[yi] += f[X + xi] * f[W + wi];
      else { dx[xi] += f[Y + yi] * f[W + wi]; dw[wi] += f[X + xi] * f[Y + yi]; }
    }
  }
y.forEach((v, i) => close(f[Y + i], v));
dx.forEach((v, i) => close(f[DX + i], v));
dw.forEach((v, i) => close(f[DW + i], v));
process.stdout.write(JSON.stringify({ ok: worst < 1e-4, worst, info: addon.info() }) + '\n');
`;

/** Signals that a probe crashing with them points at the CPU detection of OpenBLAS. */
const CPU_SIGNALS = new Set(['SIGILL', 'SIGSEGV', 'SIGBUS', 'SIGFPE']);

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('at ') && !/^node:internal|^\^|^Node\.js v/.test(l));
  const error = lines.find((l) => /Error\b|error:|cannot|No native build/.test(l));
  return (error ?? lines[0] ?? '').replace(/^Error: /, '').slice(0, 300);
}

/** One line for a failed probe. */
function explain(
  r: Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr'> & { error?: Error },
  path: string,
  coretype: string | undefined,
): string {
  const forced = coretype ? ` with OPENBLAS_CORETYPE=${coretype}` : '';
  if (r.error != null && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return `the addon probe${forced} timed out`;
  if (r.error != null) return `the addon probe could not start: ${r.error.message}`;
  if (r.signal != null) {
    const hint = CPU_SIGNALS.has(r.signal)
      ? ' (OpenBLAS may have misdetected this CPU: set OPENBLAS_CORETYPE, e.g. Haswell, or upgrade libopenblas0)'
      : '';
    return `the addon probe${forced} crashed with ${r.signal}${hint}`;
  }
  const stdout = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status === 0 && stdout.startsWith('{')) {
    try {
      const out = JSON.parse(stdout) as { ok: boolean; worst: number };
      if (!out.ok) return `the addon probe${forced} computed wrong results (relative error ${out.worst.toExponential(2)})`;
    } catch {
      // fall through
    }
  }
  const line = firstLine(r.stderr);
  if (/libopenblas\.so[.\d]*: cannot open shared object file/.test(line)) {
    return `the addon cannot load: libopenblas.so.0 is missing (install OpenBLAS: apt-get install libopenblas0)`;
  }
  if (/undefined symbol/.test(line)) return `the addon cannot load ${path}: ${line}`;
  return `the addon probe${forced} failed (exit ${r.status})${line ? `: ${line}` : ''}`;
}

function parse(stdout: string): BlasInfo | undefined {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const out = JSON.parse(last) as { ok?: boolean; info?: BlasInfo };
    return out.ok === true && out.info != null ? out.info : undefined;
  } catch {
    return undefined;
  }
}

function probeEnv(coretype: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  delete env.NODE_OPTIONS; // e.g. a test runner's loader: the probe is plain CommonJS
  if (coretype !== undefined) env.OPENBLAS_CORETYPE = coretype;
  return env;
}

const PROBE_TIMEOUT_MS = 60_000;

/** Runs the probe of the addon at `path` in a child process (synchronously). */
export function probeSync(path: string, coretype?: string): ProbeResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', PROBE, path], {
    env: probeEnv(coretype),
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    windowsHide: true,
  });
  const ms = performance.now() - t0;
  const info = r.status === 0 && r.signal == null ? parse(r.stdout) : undefined;
  if (info != null) return { ok: true, info, ms, coretype };
  return { ok: false, reason: explain(r, path, coretype), ms, coretype };
}

/** Runs the probe of the addon at `path` in a child process. */
export function probe(path: string, coretype?: string): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    const child = spawn(process.execPath, ['-e', PROBE, path], {
      env: probeEnv(coretype),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PROBE_TIMEOUT_MS,
      windowsHide: true,
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e) => {
      error = e;
    });
    child.on('close', (status, signal) => {
      const ms = performance.now() - t0;
      const timedOut = signal === 'SIGTERM' && performance.now() - t0 >= PROBE_TIMEOUT_MS;
      if (timedOut) error = Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
      const info = error == null && status === 0 && signal == null ? parse(stdout) : undefined;
      if (info != null) resolve({ ok: true, info, ms, coretype });
      else resolve({ ok: false, reason: explain({ status, signal, stdout, stderr, error }, path, coretype), ms, coretype });
    });
  });
}

/**
 * Core names OpenBLAS falls back to when it does not recognise a CPU (0.3.21 reports `Prescott`,
 * SSE3 kernels, on Sapphire/Emerald Rapids): a better kernel set is then worth trying.
 */
const FALLBACK_CORES = new Set([
  'prescott',
  'core2',
  'penryn',
  'dunnington',
  'nehalem',
  'atom',
  'katmai',
  'coppermine',
  'northwood',
  'banias',
  'opteron',
  'barcelona',
  'generic',
  'unknown',
]);

/** True when `corename` is one OpenBLAS uses for CPUs it does not know. */
export function isFallbackCore(corename: string): boolean {
  return FALLBACK_CORES.has(corename.toLowerCase());
}

/**
 * OpenBLAS core types worth forcing on this CPU, best first, from the flags in /proc/cpuinfo
 * (Linux x86-64 only; elsewhere none). Each is probed before it is used: a wrong one crashes only
 * the probe.
 */
export function coretypeCandidates(cpuinfo?: string): string[] {
  let text = cpuinfo;
  if (text === undefined) {
    if (process.platform !== 'linux' || process.arch !== 'x64') return [];
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return [];
    }
  }
  const flagsLine = /^flags\s*:(.*)$/m.exec(text)?.[1] ?? '';
  const flags = new Set(flagsLine.trim().split(/\s+/));
  const amd = /^vendor_id\s*:\s*AuthenticAMD/m.test(text);
  const has = (...names: string[]) => names.every((n) => flags.has(n));
  const out: string[] = [];
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd')) {
    if (amd) out.push('Zen');
    if (flags.has('avx512_bf16')) out.push('Cooperlake');
    out.push('SkylakeX');
  }
  if (has('avx2', 'fma')) out.push(...(amd ? ['Zen', 'Haswell'] : ['Haswell']));
  if (flags.has('avx')) out.push('SandyBridge');
  return [...new Set(out)];
}

/** Sets `env` while `fn` runs (OpenBLAS reads its variables once, when the library loads). */
function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const loaded = new Map<string, NativeAddon>();

/**
 * Loads the addon in this process (once per path: a shared library loads once, so a second call
 * with another core type gets the first one). Throws what `require` throws.
 */
export function loadAddon(path: string, env: { coretype?: string; threads: number }): NativeAddon {
  const cached = loaded.get(path);
  if (cached != null) return cached;
  const vars: Record<string, string | undefined> = { OPENBLAS_NUM_THREADS: String(env.threads) };
  if (env.coretype !== undefined) vars.OPENBLAS_CORETYPE = env.coretype;
  const addon = withEnv(vars, () => require(path) as NativeAddon);
  loaded.set(path, addon);
  return addon;
}

/** True when the addon at `path` is loaded in this process. */
export function isAddonLoaded(path: string): boolean {
  return loaded.has(path);
}
