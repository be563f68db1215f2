/**
 * Bad-input battery of `@kd/backend-wasm` (issue 13). This file must not import `./helpers`
 * (which loads the wasm backend): the first cases run before `@tensorflow/tfjs-backend-wasm` is
 * imported, and prove that bad options are refused before it is.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  BackendWasmError,
  type BackendWasmErrorCode,
  backendWasmErrorCodes,
  isWasmPatched,
  patchWasmKernels,
  useWasmTraining,
} from '../src';

const BRAND = Symbol.for('@kd/DistillationError');

/** `@kd/core`'s `isDistillationError`, as it reads an error (brand + code); no dependency on core. */
function isDistillationError(error: unknown, code?: string): boolean {
  if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (error as { code?: unknown }).code === code;
}

type Case = readonly [what: string, run: () => unknown, code: BackendWasmErrorCode, fragment: string | RegExp];

async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

const live = () => ({ tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() });

/** Runs a case: a branded error of the code, the message fragment, nothing left behind. */
async function expectRefused(run: () => unknown, code: string, fragment: string | RegExp): Promise<void> {
  const before = live();
  const error = await caught(run);
  expect(isDistillationError(error, code), `expected code ${code}, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(fragment);
  expect(live()).toEqual(before);
}

const optionCases: Case[] = [
  ['useWasmTraining: misspelt "threads"', () => useWasmTraining({ thread: 2 } as never), 'unknown-option', 'did you mean "threads"'],
  [
    'useWasmTraining: misspelt "setBackend"',
    () => useWasmTraining({ setbackend: false } as never),
    'unknown-option',
    'did you mean "setBackend"',
  ],
  [
    'useWasmTraining: misspelt "kernels"',
    () => useWasmTraining({ kernel: ['GatherV2'] } as never),
    'unknown-option',
    'did you mean "kernels"',
  ],
  [
    'useWasmTraining: misspelt "wasmPaths"',
    () => useWasmTraining({ wasmPath: '/wasm/' } as never),
    'unknown-option',
    'did you mean "wasmPaths"',
  ],
  [
    'useWasmTraining: misspelt wasm file name',
    () => useWasmTraining({ wasmPaths: { 'tfjs-backend-wasm-simd.wasn': '/x' } as never }),
    'unknown-option',
    'did you mean "wasmPaths.tfjs-backend-wasm-simd.wasm"',
  ],
  ['useWasmTraining: an unrelated key', () => useWasmTraining({ backend: 'wasm' } as never), 'unknown-option', 'unknown option "backend"'],
  [
    'useWasmTraining: null options',
    () => useWasmTraining(null as never),
    'bad-option',
    'useWasmTraining: options must be an object, got null',
  ],
  ['useWasmTraining: options a string', () => useWasmTraining('wasm' as never), 'bad-option', "options must be an object, got 'wasm'"],
  [
    'useWasmTraining: setBackend a string',
    () => useWasmTraining({ setBackend: 'yes' as never }),
    'bad-option',
    'option "setBackend" must be a boolean',
  ],
  ['useWasmTraining: threads 0', () => useWasmTraining({ threads: 0 }), 'bad-option', 'option "threads" must be a positive integer, got 0'],
  ['useWasmTraining: fractional threads', () => useWasmTraining({ threads: 1.5 }), 'bad-option', 'option "threads"'],
  [
    'useWasmTraining: wasmPaths a number',
    () => useWasmTraining({ wasmPaths: 5 as never }),
    'bad-option',
    'option "wasmPaths" must be an object',
  ],
  [
    'useWasmTraining: a wasm path that is not a string',
    () => useWasmTraining({ wasmPaths: { 'tfjs-backend-wasm.wasm': 5 as never } }),
    'bad-option',
    'option "wasmPaths.tfjs-backend-wasm.wasm" must be a string',
  ],
  [
    'useWasmTraining: kernels a string',
    () => useWasmTraining({ kernels: 'GatherV2' as never }),
    'bad-option',
    'option "kernels" must be a list of kernel names',
  ],
  ['useWasmTraining: kernels of numbers', () => useWasmTraining({ kernels: [1] as never }), 'bad-option', 'option "kernels"'],
  [
    'useWasmTraining: a misspelt kernel',
    () => useWasmTraining({ kernels: ['Conv2DBackpropFiltr'] }),
    'unknown-kernel',
    'did you mean "Conv2DBackpropFilter"',
  ],
  [
    'useWasmTraining: a kernel it does not patch',
    () => useWasmTraining({ kernels: ['Tile'] }),
    'unknown-kernel',
    'names the kernel "Tile", which this package does not patch',
  ],
  ['patchWasmKernels: a misspelt kernel', () => patchWasmKernels(['MaxPoolGard']), 'unknown-kernel', 'did you mean "MaxPoolGrad"'],
  [
    'patchWasmKernels: a string instead of a list',
    () => patchWasmKernels('GatherV2' as never),
    'bad-option',
    'the kernel list must be a list of kernel names',
  ],
];

describe('before @tensorflow/tfjs-backend-wasm is imported', () => {
  it('no wasm kernel is registered yet (precondition of this file)', () => {
    expect(tf.getKernelsForBackend('wasm').length).toBe(0);
  });

  it('patchWasmKernels: wasm-kernels-missing', async () => {
    await expectRefused(() => patchWasmKernels(), 'wasm-kernels-missing', "Import '@tensorflow/tfjs-backend-wasm' first");
  });

  it.each(optionCases)('%s', async (_what, run, code, fragment) => {
    await expectRefused(run, code, fragment);
  });

  it('the refused calls did no work: wasm not imported, nothing patched, the backend unchanged', () => {
    expect(tf.getKernelsForBackend('wasm').length).toBe(0);
    expect(isWasmPatched()).toBe(false);
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('kernel errors on the patched wasm backend', () => {
  it('loads and patches', async () => {
    const report = await useWasmTraining();
    expect(report.backend).toBe('wasm');
  });

  const kernelCases: Case[] = [
    [
      'GatherV2: an index past the axis',
      () => tf.tidy(() => tf.gather(tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 5], 'int32'))),
      'index-out-of-range',
      'GatherV2: index 5 at position 1 is not in [0, 2]',
    ],
    [
      'GatherV2: a negative index on axis 1',
      () => tf.tidy(() => tf.gather(tf.ones([2, 3]), tf.tensor1d([-1], 'int32'), 1)),
      'index-out-of-range',
      'index -1 at position 0',
    ],
    [
      '_FusedMatMul: an unknown activation (stock path)',
      () => tf.tidy(() => tf.fused.matMul({ a: tf.ones([2, 3]), b: tf.ones([3, 4]), activation: 'swish' as never })),
      'unsupported-activation',
      "unsupported fused activation 'swish'",
    ],
    [
      '_FusedMatMul: an unknown activation (transposed, full bias)',
      () =>
        tf.tidy(() =>
          tf.fused.matMul({ a: tf.ones([3, 2]), b: tf.ones([3, 4]), transposeA: true, bias: tf.ones([2, 4]), activation: 'gelu' as never }),
        ),
      'unsupported-activation',
      "unsupported fused activation 'gelu'",
    ],
  ];

  it.each(kernelCases)('%s', async (_what, run, code, fragment) => {
    await expectRefused(run, code, fragment);
  });

  it('a patched kernel whose building block was unregistered: kernel-not-registered', async () => {
    const transpose = tf.getKernel('Transpose', 'wasm')!;
    tf.unregisterKernel('Transpose', 'wasm');
    try {
      await expectRefused(
        () => tf.tidy(() => tf.matMul(tf.ones([3, 2]), tf.ones([3, 4]), true, false)),
        'kernel-not-registered',
        "kernel 'Transpose' is not registered for wasm",
      );
    } finally {
      tf.registerKernel(transpose);
    }
    expect(tf.tidy(() => tf.matMul(tf.ones([3, 2]), tf.ones([3, 4]), true, false).shape)).toEqual([2, 4]);
  });
});

describe('BackendWasmError', () => {
  it("is recognised by @kd/core's isDistillationError (brand and code) and keeps the cause", () => {
    const cause = new Error('inner');
    const error = new BackendWasmError('wasm-init-failed', 'no wasm', { cause });
    expect(isDistillationError(error)).toBe(true);
    expect(isDistillationError(error, 'wasm-init-failed')).toBe(true);
    expect(isDistillationError(error, 'bad-option')).toBe(false);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('BackendWasmError');
    expect(error.cause).toBe(cause);
    expect(Object.keys(error)).not.toContain(BRAND.toString()); // the brand is not enumerable
  });

  it('every code of the table means something, and the cases above trigger all but the two that need a broken install', () => {
    for (const meaning of Object.values(backendWasmErrorCodes)) expect(meaning.length).toBeGreaterThan(10);
    const covered = new Set<string>([
      ...optionCases.map((c) => c[2]),
      'wasm-kernels-missing',
      'index-out-of-range',
      'unsupported-activation',
      'kernel-not-registered',
    ]);
    expect(
      Object.keys(backendWasmErrorCodes)
        .filter((c) => !covered.has(c))
        .sort(),
    ).toEqual(['wasm-init-failed', 'wasm-not-installed']);
  });
});
