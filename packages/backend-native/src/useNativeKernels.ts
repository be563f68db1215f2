import { patchWasmKernels, useWasmTraining, type WasmTrainingReport } from '@kd/backend-wasm';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import {
  type BlasInfo,
  coretypeCandidates,
  isFallbackCore,
  loadAddon,
  type NativeAddon,
  type ProbeResult,
  probe,
  probeSync,
  resolveAddon,
} from './addon';
import { BackendNativeError } from './errors';
import { convKernels } from './kernels/conv';
import { elementwiseKernels } from './kernels/elementwise';
import { state, WASM } from './kernels/heap';
import { lossKernels } from './kernels/losses';
import { matMulKernels } from './kernels/matmul';
import { optimizerKernels } from './kernels/optimizers';
import { poolKernels } from './kernels/pool';
import { reduceKernels } from './kernels/reduce';
import { badOption, checkKeys, describeValue, didYouMean } from './options';

/** Every kernel this package computes natively, in registration order. */
const KERNELS: readonly KernelConfig[] = [
  ...matMulKernels,
  ...convKernels,
  ...poolKernels,
  ...reduceKernels,
  ...elementwiseKernels,
  ...optimizerKernels,
  ...lossKernels,
];

/**
 * Names of the kernels `useNativeKernels` registers on `wasm`. (tfjs 4.22 has no separate
 * `MatMul` kernel: `tf.matMul` runs `BatchMatMul`; `tf.fused.matMul` and dense layers run
 * `_FusedMatMul`; tfjs-layers' conv2d runs `FusedConv2D`, plain `tf.conv2d` runs `Conv2D`.)
 */
export const NATIVE_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k.kernelName);

/** Options of {@link useNativeKernels} and {@link useNativeKernelsSync}. */
export interface NativeKernelOptions {
  /**
   * BLAS threads (default 1: tfjs runs one kernel at a time and OpenBLAS' threads would compete
   * with the rest of the process; `openblas_set_num_threads`).
   */
  threads?: number;
  /** Register only these kernels (default: all of {@link NATIVE_KERNEL_NAMES}). */
  kernels?: readonly string[];
  /**
   * First make wasm able to train with `@kd/backend-wasm` (default `true`): `useWasmTraining()`
   * (async variant: loads the wasm backend and makes it active) or `patchWasmKernels()` (sync
   * variant: the wasm backend must be imported). The native kernels are registered after, so they
   * override the patched ones; `false` registers over whatever wasm has now.
   */
  wasmTraining?: boolean;
  /** Async variant only: make `wasm` the active backend (default `true`; passed to `useWasmTraining`). */
  setBackend?: boolean;
  /**
   * OpenBLAS' kernel set (`OPENBLAS_CORETYPE`). `'auto'` (default): keep what OpenBLAS detects,
   * unless it fell back to an old core (e.g. `Prescott` on CPUs newer than the library) while the
   * CPU has AVX2 / AVX-512; then the best core type the CPU's flags allow that passes the probe.
   * A name (e.g. `'Haswell'`) forces it (probed first); `null` never forces one. An
   * `OPENBLAS_CORETYPE` already in the environment is left alone with `'auto'`.
   */
  coretype?: 'auto' | string | null;
  /** Probe the addon in a child process before loading it here (default `true`). */
  probe?: boolean;
  /** The addon file to load (default: the one node-gyp-build finds in the package). */
  addonPath?: string;
  /** Throw `native-unavailable` instead of reporting why when the addon cannot be used (default `false`). */
  required?: boolean;
}

/** One kernel registered by {@link useNativeKernels}. */
export interface NativeKernel {
  /** tfjs kernel name, e.g. `Conv2DBackpropFilter`. */
  kernel: string;
  /** `replaced`: the wasm kernel registered before (stock or kd's patch) is kept for unuse; `added`: there was none. */
  action: 'replaced' | 'added';
}

/** What {@link useNativeKernels} did. */
export interface NativeReport {
  /** True when the native kernels are registered on wasm. */
  active: boolean;
  /** Why not, in one line (only when `active` is false); the wasm kernels stay in place. */
  reason?: string;
  /** One line for logs, e.g. `native: OpenBLAS 0.3.21 (SkylakeX, 1 thread), 19 kernels on wasm`. */
  description: string;
  /** The addon file (when one was found). */
  addonPath?: string;
  /** OpenBLAS as the addon sees it (when it loaded). */
  blas?: BlasInfo;
  /** The `OPENBLAS_CORETYPE` used when one was forced, and what OpenBLAS had detected. */
  coretype?: { forced: string; detected: string };
  /** The kernels registered by this call (empty when none, or already registered). */
  kernels: NativeKernel[];
  /** What `useWasmTraining` / `patchWasmKernels` reported (when `wasmTraining` was on). */
  wasm?: WasmTrainingReport;
  /** Milliseconds spent probing in child processes. */
  probeMs: number;
}

/** Kernel names of other tfjs versions / TensorFlow, and what tfjs 4.22 runs instead. */
const ALIASES: Readonly<Record<string, string>> = { MatMul: 'BatchMatMul', FusedMatMul: '_FusedMatMul', BatchMatMulV2: 'BatchMatMul' };

const OPTION_KEYS = ['threads', 'kernels', 'wasmTraining', 'setBackend', 'coretype', 'probe', 'addonPath', 'required'] as const;

function checkOptions(input: unknown, where: string): NativeKernelOptions {
  const o = checkKeys(input, OPTION_KEYS, where) as NativeKernelOptions;
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads > 0 && o.threads <= 1024)) {
    badOption(where, 'threads', 'must be an integer from 1 to 1024', o.threads);
  }
  for (const key of ['wasmTraining', 'setBackend', 'probe', 'required'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') badOption(where, key, 'must be a boolean', o[key]);
  }
  if (o.coretype !== undefined && o.coretype !== null && (typeof o.coretype !== 'string' || !/^[A-Za-z0-9_]+$/.test(o.coretype))) {
    badOption(where, 'coretype', "must be 'auto', null or an OpenBLAS core name such as 'Haswell'", o.coretype);
  }
  if (o.addonPath !== undefined && (typeof o.addonPath !== 'string' || o.addonPath.length === 0)) {
    badOption(where, 'addonPath', 'must be a path', o.addonPath);
  }
  if (o.kernels !== undefined) {
    if (!Array.isArray(o.kernels) || o.kernels.some((k) => typeof k !== 'string')) {
      throw new BackendNativeError(
        'bad-option',
        `${where}: option "kernels" must be a list of kernel names, got ${describeValue(o.kernels)}`,
      );
    }
    for (const name of o.kernels) {
      if (!NATIVE_KERNEL_NAMES.includes(name)) {
        throw new BackendNativeError(
          'unknown-kernel',
          `${where}: option "kernels" names "${name}", which this package does not implement natively` +
            `${ALIASES[name] ? `; did you mean "${ALIASES[name]}"? (${ALIASES[name]} is what tfjs 4.22 runs for it)` : didYouMean(name, NATIVE_KERNEL_NAMES)}` +
            ` (native: ${NATIVE_KERNEL_NAMES.join(', ')})`,
        );
      }
    }
  }
  return o;
}

/** Registered native kernels: name -> the config registered (to recognise it on unuse). */
const installed = new Map<string, KernelConfig>();
let current: { addonPath: string; info: BlasInfo; coretype?: { forced: string; detected: string } } | null = null;

/** A choice of core type and the probes that led to it. */
interface Probed {
  path: string;
  result: ProbeResult;
  /** Set when a core type is to be forced while loading. */
  coretype?: string;
  detected?: string;
  ms: number;
}

/** Probing is the same code, sync or async: a generator yielding the probes it needs. */
function* probePlan(path: string, o: NativeKernelOptions): Generator<[string, string | undefined], Probed, ProbeResult> {
  let ms = 0;
  const userForced = typeof o.coretype === 'string' && o.coretype !== 'auto';
  const envForced = process.env.OPENBLAS_CORETYPE;
  if (userForced) {
    const r = yield [path, o.coretype as string];
    ms += r.ms;
    return { path, result: r, coretype: o.coretype as string, ms };
  }
  const first = yield [path, undefined];
  ms += first.ms;
  if (!first.ok || o.coretype === null || (envForced !== undefined && envForced !== '') || !isFallbackCore(first.info.corename)) {
    return { path, result: first, ms };
  }
  for (const candidate of coretypeCandidates()) {
    const r = yield [path, candidate];
    ms += r.ms;
    if (r.ok && r.info.corename.toLowerCase() === candidate.toLowerCase()) {
      return { path, result: r, coretype: candidate, detected: first.info.corename, ms };
    }
  }
  return { path, result: first, ms };
}

function runPlanSync(path: string, o: NativeKernelOptions): Probed {
  const plan = probePlan(path, o);
  let step = plan.next();
  while (!step.done) step = plan.next(probeSync(...step.value));
  return step.value;
}

async function runPlan(path: string, o: NativeKernelOptions): Promise<Probed> {
  const plan = probePlan(path, o);
  let step = plan.next();
  while (!step.done) step = plan.next(await probe(...step.value));
  return step.value;
}

/** Results of earlier probes in this process, by addon path and options that change them. */
const probeCache = new Map<string, Probed>();

function cacheKey(path: string, o: NativeKernelOptions): string {
  return JSON.stringify([path, o.coretype ?? 'auto', process.env.OPENBLAS_CORETYPE ?? '']);
}

function unavailable(o: NativeKernelOptions, reason: string, extra: Partial<NativeReport>, cause?: unknown): NativeReport {
  if (o.required === true) {
    throw new BackendNativeError('native-unavailable', `@kd/backend-native: native kernels unavailable: ${reason}`, { cause });
  }
  return {
    active: false,
    reason,
    description: `native kernels off (${reason}); the wasm kernels stay in place`,
    kernels: [],
    probeMs: 0,
    ...extra,
  };
}

function threadsOf(o: NativeKernelOptions): number {
  return o.threads ?? 1;
}

function describe(info: BlasInfo, kernels: number, coretype?: { forced: string; detected: string }): string {
  const version = /OpenBLAS\s+([\d.]+)/.exec(info.config)?.[1];
  const core = coretype ? `${info.corename}, forced over misdetected ${coretype.detected}` : info.corename;
  return `native: OpenBLAS${version ? ` ${version}` : ''} (${core}, ${info.threads} thread${info.threads === 1 ? '' : 's'}), ${kernels} kernels on wasm`;
}

/** Registers the kernels (after the addon loaded). */
function register(addon: NativeAddon, o: NativeKernelOptions): NativeKernel[] {
  state.addon = addon;
  const out: NativeKernel[] = [];
  for (const config of KERNELS) {
    const name = config.kernelName;
    if (o.kernels != null && !o.kernels.includes(name)) continue;
    if (installed.has(name)) continue;
    const before = tf.getKernel(name, WASM);
    if (before != null) {
      state.previous.set(name, before);
      tf.unregisterKernel(name, WASM);
    } else {
      state.previous.delete(name);
    }
    const mine: KernelConfig = { ...config };
    // Keep the set-up of the kernel replaced (cwraps of its C++ entry points): the native kernel
    // hands it the inputs it does not handle, and the backend runs set-ups when it initialises.
    if (before?.setupFunc != null) mine.setupFunc = before.setupFunc;
    if (before?.disposeFunc != null) mine.disposeFunc = before.disposeFunc;
    tf.registerKernel(mine);
    installed.set(name, mine);
    out.push({ kernel: name, action: before == null ? 'added' : 'replaced' });
  }
  return out;
}

/** The part after the probes, shared by both variants. */
function finish(o: NativeKernelOptions, probed: Probed, wasm: WasmTrainingReport | undefined): NativeReport {
  const extra: Partial<NativeReport> = { addonPath: probed.path, probeMs: probed.ms, ...(wasm ? { wasm } : {}) };
  if (!probed.result.ok) return unavailable(o, probed.result.reason, extra);
  const heap = (tf.findBackend(WASM) as unknown as { wasm?: { HEAPU8?: Uint8Array } } | undefined)?.wasm?.HEAPU8?.buffer;
  if (heap != null && !(heap instanceof ArrayBuffer)) {
    return unavailable(o, 'the wasm backend runs its threaded build (a SharedArrayBuffer heap), which the addon does not read', extra);
  }
  let addon: NativeAddon;
  try {
    addon = loadAddon(probed.path, { coretype: probed.coretype, threads: threadsOf(o) });
    addon.setThreads(threadsOf(o));
  } catch (error) {
    return unavailable(o, `the addon cannot load: ${String((error as Error).message ?? error).split('\n')[0]}`, extra, error);
  }
  const info = addon.info();
  const coretype =
    probed.coretype !== undefined ? { forced: probed.coretype, detected: probed.detected ?? '(forced by option)' } : undefined;
  const kernels = register(addon, o);
  current = { addonPath: probed.path, info, ...(coretype ? { coretype } : {}) };
  return {
    active: true,
    description: describe(info, installed.size, coretype),
    addonPath: probed.path,
    blas: info,
    ...(coretype ? { coretype } : {}),
    kernels,
    ...(wasm ? { wasm } : {}),
    probeMs: probed.ms,
  };
}

/** Resolves the addon or says why there is none. */
function locate(o: NativeKernelOptions): string | { reason: string; cause: Error } {
  if (o.addonPath !== undefined) return o.addonPath;
  const found = resolveAddon();
  if (typeof found === 'string') return found;
  const platform = `${process.platform}-${process.arch}`;
  return {
    reason:
      `no native build for ${platform} (no prebuilt binary for it in the package and none compiled: ` +
      'rebuild it with `pnpm rebuild @kd/backend-native`, which needs a C++ compiler and libopenblas-dev)',
    cause: found,
  };
}

function checkWasmKernels(where: string): void {
  if (tf.getKernelsForBackend(WASM).length === 0) {
    throw new BackendNativeError(
      'wasm-kernels-missing',
      `${where}: no wasm kernels are registered. Import '@tensorflow/tfjs-backend-wasm' first (or leave wasmTraining on).`,
    );
  }
}

/**
 * Computes tfjs' heaviest training kernels on the `wasm` backend with OpenBLAS: `BatchMatMul`,
 * `_FusedMatMul`, `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter`
 * (float32, NHWC) by sgemm, reading and writing the wasm heap in place. By default it first runs
 * `@kd/backend-wasm`'s `useWasmTraining()` (wasm loaded, patched for training, active), then
 * probes the addon in a child process (an OpenBLAS that misdetects the CPU crashes with SIGILL,
 * which no `try` catches), loads it with one BLAS thread and registers the kernels over the
 * patched ones. When the addon or OpenBLAS cannot be used, nothing native is registered and the
 * report says why in one line (`reason`); the wasm kernels keep working.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-layers';
 * import { useNativeKernels } from '@kd/backend-native';
 *
 * const report = await useNativeKernels();
 * console.log(report.description); // native: OpenBLAS 0.3.21 (SkylakeX, 1 thread), 19 kernels on wasm
 * ```
 * @throws `unknown-option` / `bad-option` / `unknown-kernel` for bad options (before anything is
 *   loaded); `native-unavailable` only with `required: true`; `@kd/backend-wasm`'s errors when
 *   the wasm backend cannot start.
 */
export async function useNativeKernels(input: NativeKernelOptions = {}): Promise<NativeReport> {
  const where = 'useNativeKernels';
  const o = checkOptions(input, where);
  let wasm: WasmTrainingReport | undefined;
  if (o.wasmTraining !== false) wasm = await useWasmTraining({ setBackend: o.setBackend ?? true });
  else checkWasmKernels(where);
  const path = locate(o);
  if (typeof path !== 'string') return unavailable(o, path.reason, wasm ? { wasm } : {}, path.cause);
  const key = cacheKey(path, o);
  let probed = probeCache.get(key);
  if (probed == null) {
    probed = o.probe === false ? { path, result: { ok: true, info: NO_PROBE, ms: 0 }, ms: 0 } : await runPlan(path, o);
    if (o.probe !== false) probeCache.set(key, probed);
  }
  return finish(o, probed, wasm);
}

const NO_PROBE: BlasInfo = { config: '', corename: '', threads: 0, parallel: 0, napi: 0 };

/**
 * {@link useNativeKernels}, synchronously: the probe runs with `spawnSync`, and with
 * `wasmTraining` on (default) `@kd/backend-wasm`'s `patchWasmKernels()` runs first. The wasm
 * backend must already be imported (`import '@tensorflow/tfjs-backend-wasm'`); this does not
 * switch backends (`setBackend` is ignored).
 */
export function useNativeKernelsSync(input: NativeKernelOptions = {}): NativeReport {
  const where = 'useNativeKernelsSync';
  const o = checkOptions(input, where);
  checkWasmKernels(where);
  if (o.wasmTraining !== false) patchWasmKernels();
  const path = locate(o);
  if (typeof path !== 'string') return unavailable(o, path.reason, {}, path.cause);
  const key = cacheKey(path, o);
  let probed = probeCache.get(key);
  if (probed == null) {
    probed = o.probe === false ? { path, result: { ok: true, info: NO_PROBE, ms: 0 }, ms: 0 } : runPlanSync(path, o);
    if (o.probe !== false) probeCache.set(key, probed);
  }
  return finish(o, probed, undefined);
}

/**
 * Removes the native kernels and registers again the wasm kernels they replaced (kd's patched ones
 * or wasm's own). A kernel that someone else registered over a native one since is left alone.
 * The addon stays loaded (a shared library cannot be unloaded); `useNativeKernels` again re-registers.
 *
 * @returns The kernels restored.
 */
export function unuseNativeKernels(): string[] {
  const restored: string[] = [];
  for (const [name, mine] of installed) {
    const now = tf.getKernel(name, WASM);
    if (now != null && now.kernelFunc === mine.kernelFunc) {
      tf.unregisterKernel(name, WASM);
      const before = state.previous.get(name);
      if (before != null) tf.registerKernel(before);
      restored.push(name);
    }
    state.previous.delete(name);
  }
  installed.clear();
  current = null;
  return restored;
}

/** What is active now: the addon and OpenBLAS in use and the native kernels registered (none when off). */
export function nativeStatus(): { active: boolean; kernels: string[]; addonPath?: string; blas?: BlasInfo } {
  if (current == null || installed.size === 0) return { active: false, kernels: [] };
  return { active: true, kernels: [...installed.keys()], addonPath: current.addonPath, blas: current.info };
}

/**
 * Finds and probes the addon without registering anything: `ok` with what OpenBLAS reports, or
 * the one-line reason it cannot be used (e.g. for `useBestBackend` to report). Cached per process.
 */
export async function probeNative(
  input: Pick<NativeKernelOptions, 'addonPath' | 'coretype'> = {},
): Promise<{ ok: true; addonPath: string; blas: BlasInfo; coretype?: string } | { ok: false; reason: string }> {
  const o = checkOptions(input, 'probeNative');
  const path = locate(o);
  if (typeof path !== 'string') return { ok: false, reason: path.reason };
  const key = cacheKey(path, o);
  let probed = probeCache.get(key);
  if (probed == null) {
    probed = await runPlan(path, o);
    probeCache.set(key, probed);
  }
  if (!probed.result.ok) return { ok: false, reason: probed.result.reason };
  return { ok: true, addonPath: path, blas: probed.result.info, ...(probed.coretype ? { coretype: probed.coretype } : {}) };
}
