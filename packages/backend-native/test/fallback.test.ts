/**
 * The fallback path: an addon that is missing, cannot load, crashes or computes wrong results in
 * the probe leaves kd's wasm kernels in place and says why in one line. This file does not import
 * `./helpers` (which registers the native kernels): it starts from patched wasm only.
 */
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useWasmTraining } from '@kd/backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  BackendNativeError,
  type BackendNativeErrorCode,
  backendNativeErrorCodes,
  coretypeCandidates,
  isFallbackCore,
  NATIVE_KERNEL_NAMES,
  nativeStatus,
  probeNative,
  resolveAddon,
  unuseNativeKernels,
  useNativeKernels,
  useNativeKernelsSync,
} from '../src';

const BRAND = Symbol.for('@kd/DistillationError');
const dir = mkdtempSync(join(tmpdir(), 'kd-native-fallback-'));

/** A stand-in "addon" (a CommonJS file the probe requires like the real .node file). */
function fakeAddon(name: string, body: string): string {
  const path = join(dir, `${name}.js`);
  writeFileSync(path, body);
  return path;
}

const crashesWith = (signal: string, tag = '') => fakeAddon(`crash-${signal}${tag}`, `process.kill(process.pid, '${signal}');`);
const noBlas = (tag = '') =>
  fakeAddon(
    `no-blas${tag}`,
    "throw new Error('/x/kd_native.glibc.node: libopenblas.so.0: cannot open shared object file: No such file or directory');",
  );
const wrong = (tag = '') =>
  fakeAddon(
    `wrong${tag}`,
    `module.exports = { setThreads() { return 1 }, info() { return { config: 'fake', corename: 'Fake', threads: 1, parallel: 0, napi: 8 } },
       gemm() {}, epilogue() {}, conv2d() {}, conv2dBackpropInput() {}, conv2dBackpropFilter() {} };`,
  );

await useWasmTraining();
/** The wasm kernels before any native attempt (kd's patched ones, or wasm's own). */
const before = new Map(NATIVE_KERNEL_NAMES.map((name) => [name, tf.getKernel(name, 'wasm')?.kernelFunc]));

function expectWasmKernelsInPlace(): void {
  for (const name of NATIVE_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).toBe(before.get(name));
  expect(nativeStatus()).toEqual({ active: false, kernels: [] });
}

function isDistillationError(error: unknown, code?: string): boolean {
  if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (error as { code?: unknown }).code === code;
}

describe('fallback: the wasm kernels stay when the addon cannot be used', () => {
  /** The failures, each with its own file per tag (probe results are cached by path). */
  const failures = (tag: string): Array<[string, string, RegExp]> => [
    ['a missing addon file', join(dir, `missing${tag}.node`), /the addon probe failed \(exit 1\): Cannot find module/],
    ['a probe crashing with SIGILL (OpenBLAS misdetecting the CPU)', crashesWith('SIGILL', tag), /crashed with SIGILL .*OPENBLAS_CORETYPE/],
    ['a probe crashing with SIGSEGV', crashesWith('SIGSEGV', tag), /crashed with SIGSEGV/],
    ['libopenblas.so.0 missing', noBlas(tag), /libopenblas\.so\.0 is missing \(install OpenBLAS: apt-get install libopenblas0\)/],
    ['an addon computing wrong results', wrong(tag), /computed wrong results/],
  ];

  it.each(failures('-async'))('%s: not active, the reason in one line, nothing registered', async (_what, addonPath, reason) => {
    const report = await useNativeKernels({ addonPath });
    expect(report.active).toBe(false);
    expect(report.reason).toMatch(reason);
    expect(report.reason).not.toContain('\n');
    expect(report.description).toBe(`native kernels off (${report.reason}); the wasm kernels stay in place`);
    expect(report.kernels).toEqual([]);
    expect(report.wasm?.backend).toBe('wasm');
    expectWasmKernelsInPlace();
  });

  it.each(failures('-sync'))('%s: the sync variant says the same', (_what, addonPath, reason) => {
    const report = useNativeKernelsSync({ addonPath });
    expect(report.active).toBe(false);
    expect(report.reason).toMatch(reason);
    expectWasmKernelsInPlace();
  });

  it('a forced core type is named in the reason', async () => {
    const report = await useNativeKernels({ addonPath: crashesWith('SIGILL'), coretype: 'SkylakeX' });
    expect(report.reason).toMatch(/with OPENBLAS_CORETYPE=SkylakeX crashed with SIGILL/);
  });

  it('required: true throws native-unavailable (branded, with the reason)', async () => {
    const error = await useNativeKernels({ addonPath: crashesWith('SIGILL'), required: true }).catch((e: unknown) => e);
    expect(isDistillationError(error, 'native-unavailable')).toBe(true);
    expect((error as Error).message).toMatch(/native kernels unavailable: the addon probe crashed with SIGILL/);
    expect(() => useNativeKernelsSync({ addonPath: noBlas('-required'), required: true })).toThrow(BackendNativeError);
    expectWasmKernelsInPlace();
  });

  it('probeNative reports without registering', async () => {
    expect(await probeNative({ addonPath: crashesWith('SIGBUS') })).toEqual({ ok: false, reason: expect.stringMatching(/SIGBUS/) });
    expectWasmKernelsInPlace();
  });

  it('no build in a folder: node-gyp-build says so', () => {
    const r = resolveAddon(mkdtempSync(join(tmpdir(), 'kd-native-empty-')));
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toMatch(/No native build was found/);
  });
});

describe('options are checked before anything is probed', () => {
  type Case = readonly [string, () => unknown, BackendNativeErrorCode, RegExp];
  const cases: Case[] = [
    ['unknown key', () => useNativeKernels({ thread: 2 } as never), 'unknown-option', /unknown option "thread"; did you mean "threads"\?/],
    ['threads 0', () => useNativeKernels({ threads: 0 }), 'bad-option', /option "threads" must be an integer from 1 to 1024, got 0/],
    ['threads 1.5', () => useNativeKernelsSync({ threads: 1.5 }), 'bad-option', /"threads"/],
    ['probe not boolean', () => useNativeKernels({ probe: 'yes' as never }), 'bad-option', /option "probe" must be a boolean, got 'yes'/],
    ['coretype with a space', () => useNativeKernels({ coretype: 'Sky lake' }), 'bad-option', /option "coretype"/],
    [
      'kernel name',
      () => useNativeKernels({ kernels: ['MatMul'] }),
      'unknown-kernel',
      /"MatMul".*did you mean "BatchMatMul"\? \(BatchMatMul is what tfjs 4.22 runs for it\)/,
    ],
    ['kernels not a list', () => useNativeKernels({ kernels: 'Conv2D' as never }), 'bad-option', /option "kernels" must be a list/],
    ['options not an object', () => useNativeKernels(3 as never), 'bad-option', /options must be an object, got 3/],
  ];
  it.each(cases)('%s', async (_what, run, code, message) => {
    const error = await Promise.resolve()
      .then(run)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isDistillationError(error, code), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect(Object.keys(backendNativeErrorCodes)).toContain(code);
    expectWasmKernelsInPlace();
  });
});

describe('core type selection', () => {
  it('knows the cores OpenBLAS falls back to', () => {
    expect(isFallbackCore('Prescott')).toBe(true);
    expect(isFallbackCore('SkylakeX')).toBe(false);
  });

  it('suggests core types from the CPU flags, best first', () => {
    const intel = 'vendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16\n';
    expect(coretypeCandidates(intel)).toEqual(['Cooperlake', 'SkylakeX', 'Haswell', 'SandyBridge']);
    expect(coretypeCandidates('vendor_id\t: AuthenticAMD\nflags\t\t: avx avx2 fma\n')).toEqual(['Zen', 'Haswell', 'SandyBridge']);
    expect(coretypeCandidates('flags\t\t: sse2 sse3\n')).toEqual([]);
  });
});

const real = resolveAddon();
describe.skipIf(typeof real !== 'string')('unuseNativeKernels restores the kernels it replaced', () => {
  it('use, then unuse: the patched wasm kernels are back, the same functions', async () => {
    const report = await useNativeKernels();
    if (!report.active) throw new Error(`native kernels off: ${report.reason}`);
    for (const name of NATIVE_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).not.toBe(before.get(name));
    expect(nativeStatus().kernels).toEqual([...NATIVE_KERNEL_NAMES]);
    const again = await useNativeKernels();
    expect(again.active).toBe(true);
    expect(again.kernels).toEqual([]); // already registered
    expect(unuseNativeKernels().sort()).toEqual([...NATIVE_KERNEL_NAMES].sort());
    expectWasmKernelsInPlace();
    // a subset, then unuse again
    const some = await useNativeKernels({ kernels: ['Conv2D'] });
    expect(some.kernels.map((k) => k.kernel)).toEqual(['Conv2D']);
    expect(unuseNativeKernels()).toEqual(['Conv2D']);
    expectWasmKernelsInPlace();
  });

  it('a kernel registered over a native one since is left alone by unuse', async () => {
    await useNativeKernels({ kernels: ['BatchMatMul'] });
    const mine = tf.getKernel('BatchMatMul', 'wasm')!;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    const other = { ...mine, kernelFunc: mine.kernelFunc.bind(null) };
    tf.registerKernel(other);
    expect(unuseNativeKernels()).toEqual([]);
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(other.kernelFunc);
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: before.get('BatchMatMul')! });
    expectWasmKernelsInPlace();
  });
});
