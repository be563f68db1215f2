import * as tf from '@tensorflow/tfjs-core';
import { BackendGpuError, describeValue, didYouMean } from './errors';

/** A backend `useBestBackend` can pick, named after the package that provides it. */
export type BackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'native' | 'wasm' | 'cpu';

/** Fastest first: the order `useBestBackend()` tries. */
export const BACKEND_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'];

/** The package each backend needs, and the command that installs it. */
export const BACKEND_PACKAGES: Readonly<Record<BackendName, { package: string; install: string }>> = {
  'tfjs-node-gpu': { package: '@tensorflow/tfjs-node-gpu', install: 'pnpm add @tensorflow/tfjs-node-gpu' },
  'tfjs-node': { package: '@tensorflow/tfjs-node', install: 'pnpm add @tensorflow/tfjs-node' },
  native: { package: '@kd/backend-native', install: 'pnpm add @kd/backend-native' },
  wasm: { package: '@tensorflow/tfjs-backend-wasm', install: 'pnpm add @tensorflow/tfjs-backend-wasm' },
  cpu: { package: '@tensorflow/tfjs-backend-cpu', install: 'pnpm add @tensorflow/tfjs-backend-cpu' },
};

/** A backend that was not chosen, and why. */
export interface SkippedBackend {
  name: BackendName;
  reason: string;
}

/** What `useBestBackend` chose. */
export interface BackendChoice {
  /** Which candidate won. */
  name: BackendName;
  /** The tfjs backend now active (`tensorflow`, `wasm` or `cpu`). */
  backend: string;
  /** Where tensors are computed. */
  device: 'gpu' | 'cpu';
  /** One line for logs, e.g. `wasm (SIMD, 1 thread, 17 kernels patched for training)`. */
  description: string;
  /** Candidates tried before the winner, and why they were passed over. */
  skipped: SkippedBackend[];
}

/** Options of {@link useBestBackend}. */
export interface BestBackendOptions {
  /** Threads for the wasm backend (browser threaded build; see `@kd/backend-wasm`). */
  wasmThreads?: number;
}

/**
 * Thrown (code `backend-unavailable`) when a backend asked for by name cannot be used, or when no
 * candidate could be loaded; `installCommand` fixes a missing one, `cause` is the load error.
 */
export class BackendUnavailableError extends BackendGpuError {
  override readonly code = 'backend-unavailable' as const;
  constructor(
    readonly backendName: BackendName,
    readonly installCommand: string | undefined,
    message: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super('backend-unavailable', message, options);
    this.name = 'BackendUnavailableError';
  }
}

/** Throws `bad-option` / `unknown-backend` unless `preference` is 'auto', a backend name or a non-empty list of them. */
function checkPreference(preference: unknown): readonly BackendName[] {
  const where = 'useBestBackend';
  const known = (name: unknown, at: string): BackendName => {
    if (typeof name !== 'string') {
      throw new BackendGpuError(
        'bad-option',
        `${where}: ${at} must be a backend name (${BACKEND_ORDER.join(', ')}), got ${describeValue(name)}`,
      );
    }
    if (!BACKEND_ORDER.includes(name as BackendName)) {
      throw new BackendGpuError(
        'unknown-backend',
        `${where}: unknown backend '${name}'${at === 'the preference' ? '' : ` at ${at}`}${didYouMean(name, BACKEND_ORDER)} (use one of ${BACKEND_ORDER.join(', ')}, or 'auto')`,
      );
    }
    return name as BackendName;
  };
  if (preference === 'auto') return BACKEND_ORDER;
  if (Array.isArray(preference)) {
    if (preference.length === 0)
      throw new BackendGpuError('bad-option', `${where}: the preference list is empty; name at least one backend, or pass 'auto'`);
    return preference.map((name, i) => known(name, `position ${i}`));
  }
  if (typeof preference !== 'string') {
    throw new BackendGpuError(
      'bad-option',
      `${where}: the preference must be 'auto', a backend name or a list of them, got ${describeValue(preference)}`,
    );
  }
  return [known(preference, 'the preference')];
}

/** Throws `unknown-option` / `bad-option` for bad {@link BestBackendOptions}. */
function checkOptions(options: unknown): BestBackendOptions {
  const where = 'useBestBackend';
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new BackendGpuError('bad-option', `${where}: options must be an object, got ${describeValue(options)}`);
  }
  const keys = ['wasmThreads'];
  for (const key of Object.keys(options)) {
    if (!keys.includes(key)) {
      throw new BackendGpuError('unknown-option', `${where}: unknown option "${key}"${didYouMean(key, keys)} (known: ${keys.join(', ')})`);
    }
  }
  const threads = (options as BestBackendOptions).wasmThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    throw new BackendGpuError('bad-option', `${where}: option "wasmThreads" must be a positive integer, got ${describeValue(threads)}`);
  }
  return options as BestBackendOptions;
}

interface Loaded {
  backend: string;
  device: 'gpu' | 'cpu';
  description: string;
}

const isNode = typeof process !== 'undefined' && process.versions?.node != null;

function isMissingModule(error: unknown, pkg: string): boolean {
  const e = error as { code?: string; message?: string };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(e?.message ?? '')) &&
    (e?.message ?? '').includes(pkg)
  );
}

/** The shape of `@tensorflow/tfjs-node(-gpu)` that is used here (the package is not installed in CI). */
interface TfjsNodeModule {
  version?: Record<string, string>;
}

/**
 * Loads tfjs-node(-gpu) by a computed name, so that bundlers do not try to resolve a Node-only
 * native package. Importing it registers the `tensorflow` backend.
 * NOTE: this path has not run in this project's CI (libtensorflow cannot be downloaded there).
 */
async function loadTfjsNode(name: 'tfjs-node-gpu' | 'tfjs-node'): Promise<Loaded> {
  if (!isNode) throw new BackendGpuError('backend-init-failed', 'needs Node.js');
  const specifier = BACKEND_PACKAGES[name].package;
  const mod = (await import(/* @vite-ignore */ specifier)) as TfjsNodeModule;
  if (!(await tf.setBackend('tensorflow')))
    throw new BackendGpuError('backend-init-failed', "the 'tensorflow' backend failed to initialise");
  const version = mod.version?.['tfjs-node'] ?? mod.version?.['tfjs-core'] ?? '';
  const device = name === 'tfjs-node-gpu' ? 'gpu' : 'cpu';
  return {
    backend: 'tensorflow',
    device,
    description: `tensorflow (libtensorflow via ${specifier}${version ? ` ${version}` : ''}, ${device === 'gpu' ? 'CUDA' : 'CPU'})`,
  };
}

/** The part of `@kd/backend-native` used here (an optional peer, loaded by a computed name). */
interface BackendNativeModule {
  useNativeKernels(options?: { wasmTraining?: boolean }): Promise<{ active: boolean; reason?: string; description: string }>;
  unuseNativeKernels(): unknown;
}

/** `@kd/backend-native` once `native` was loaded here, so that choosing `wasm` later removes its kernels. */
let nativeModule: BackendNativeModule | undefined;

/**
 * `wasm` patched for training, plus `@kd/backend-native`'s OpenBLAS kernels over it (Node only).
 * Loaded by a computed name so that bundlers do not resolve a Node-only addon. When the addon or
 * OpenBLAS cannot be used, `useNativeKernels` says why in one line and this candidate is skipped
 * with that line (the wasm kernels stay in place).
 */
async function loadNative(options: BestBackendOptions): Promise<Loaded> {
  if (!isNode) throw new BackendGpuError('backend-init-failed', 'needs Node.js (a Node-API addon)');
  const specifier = BACKEND_PACKAGES.native.package;
  const mod = (await import(/* @vite-ignore */ specifier)) as BackendNativeModule;
  const wasm = await loadWasm(options);
  const report = await mod.useNativeKernels({ wasmTraining: false });
  if (!report.active) throw new BackendGpuError('backend-init-failed', report.reason ?? 'the native kernels did not load');
  nativeModule = mod;
  return { backend: 'wasm', device: 'cpu', description: `${wasm.description} + ${report.description}` };
}

async function loadWasm(options: BestBackendOptions): Promise<Loaded> {
  const { useWasmTraining, PATCHED_KERNEL_NAMES } = await import('@kd/backend-wasm');
  const report = await useWasmTraining({ threads: options.wasmThreads });
  const threads = `${report.threads} thread${report.threads === 1 ? '' : 's'}`;
  return {
    backend: 'wasm',
    device: 'cpu',
    description: `wasm (${report.simd ? 'SIMD' : 'no SIMD'}, ${threads}, ${PATCHED_KERNEL_NAMES.length} kernels patched for training)`,
  };
}

async function loadCpu(): Promise<Loaded> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new BackendGpuError('backend-init-failed', "the 'cpu' backend failed to initialise");
  return { backend: 'cpu', device: 'cpu', description: 'cpu (plain JavaScript)' };
}

function load(name: BackendName, options: BestBackendOptions): Promise<Loaded> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return loadTfjsNode(name);
    case 'native':
      return loadNative(options);
    case 'wasm':
      // Plain wasm means no native kernels, even after `native` was chosen earlier in this process.
      nativeModule?.unuseNativeKernels();
      nativeModule = undefined;
      return loadWasm(options);
    case 'cpu':
      return loadCpu();
  }
}

/**
 * Picks, registers and activates the fastest TensorFlow.js backend that is installed: `tensorflow`
 * from `@tensorflow/tfjs-node-gpu`, then from `@tensorflow/tfjs-node`, then `native` (wasm patched
 * for training with `@kd/backend-native`'s OpenBLAS kernels over it, Node only), then `wasm`
 * patched for training by `@kd/backend-wasm`, then `cpu`. Each is an optional peer, imported only
 * when tried; a candidate passed over is listed in `skipped` with the reason in one line.
 *
 * @param preference - A backend name to require it (fails with the install command when it is
 *   missing), a list to try in that order, or `'auto'` (default) for {@link BACKEND_ORDER}.
 * @returns The choice, its device and why the candidates before it were skipped.
 * @throws `unknown-backend` / `bad-option` / `unknown-option` (a {@link BackendGpuError}) for a bad
 *   preference or options, before anything is loaded; {@link BackendUnavailableError}
 *   (`backend-unavailable`) when no candidate could be used.
 *
 * @example
 * ```ts
 * import { useBestBackend } from '@kd/backend-gpu';
 * const choice = await useBestBackend();
 * console.log(choice.description, choice.skipped);
 * ```
 */
export async function useBestBackend(
  preference: BackendName | readonly BackendName[] | 'auto' = 'auto',
  options: BestBackendOptions = {},
): Promise<BackendChoice> {
  const order = checkPreference(preference);
  const checked = checkOptions(options);
  const explicit = typeof preference === 'string' && preference !== 'auto';
  const skipped: SkippedBackend[] = [];
  let lastError: unknown;
  for (const name of order) {
    const { package: pkg, install } = BACKEND_PACKAGES[name];
    try {
      const loaded = await load(name, checked);
      return { name, ...loaded, skipped };
    } catch (error) {
      const missing = isMissingModule(error, pkg);
      const reason = missing
        ? `${pkg} is not installed (${install})`
        : `failed to load: ${String((error as Error)?.message ?? error).split('\n')[0]}`;
      if (explicit) {
        throw new BackendUnavailableError(
          name,
          missing ? install : undefined,
          missing ? `Backend '${name}' needs ${pkg}, which is not installed. Run: ${install}` : `Backend '${name}' ${reason}`,
          { cause: error },
        );
      }
      lastError = error;
      skipped.push({ name, reason });
    }
  }
  throw new BackendUnavailableError(
    order.at(-1) ?? 'cpu',
    BACKEND_PACKAGES.cpu.install,
    `No TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
    { cause: lastError },
  );
}
