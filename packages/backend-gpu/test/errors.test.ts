/**
 * Bad-input battery of `@kd/backend-gpu` (issue 13). The first cases run before any backend
 * package is loaded, and prove that a bad preference or bad options are refused before one is.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendGpuError, type BackendGpuErrorCode, BackendUnavailableError, backendGpuErrorCodes, useBestBackend } from '../src';

const BRAND = Symbol.for('@kd/DistillationError');

/** `@kd/core`'s `isDistillationError`, as it reads an error (brand + code); no dependency on core. */
function isDistillationError(error: unknown, code?: string): boolean {
  if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (error as { code?: unknown }).code === code;
}

async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

type Case = readonly [what: string, run: () => unknown, code: BackendGpuErrorCode, fragment: string | RegExp];

const refusedCases: Case[] = [
  [
    'a misspelt backend name',
    () => useBestBackend('tfjs-nod' as never),
    'unknown-backend',
    `unknown backend 'tfjs-nod'; did you mean "tfjs-node"?`,
  ],
  ['a backend name of another library', () => useBestBackend('webgl' as never), 'unknown-backend', "unknown backend 'webgl'"],
  [
    'a misspelt name late in a list (nothing is loaded first)',
    () => useBestBackend(['cpu', 'wams' as never]),
    'unknown-backend',
    `at position 1; did you mean "wasm"?`,
  ],
  ['an empty list', () => useBestBackend([]), 'bad-option', 'the preference list is empty'],
  ['a number', () => useBestBackend(42 as never), 'bad-option', "the preference must be 'auto', a backend name or a list of them, got 42"],
  ['null', () => useBestBackend(null as never), 'bad-option', 'got null'],
  ['a list holding a number', () => useBestBackend([1] as never), 'bad-option', 'position 0 must be a backend name'],
  ['misspelt "wasmThreads"', () => useBestBackend('auto', { wasmThread: 2 } as never), 'unknown-option', 'did you mean "wasmThreads"'],
  ['an unrelated option', () => useBestBackend('auto', { device: 'gpu' } as never), 'unknown-option', 'unknown option "device"'],
  [
    'wasmThreads 0',
    () => useBestBackend('auto', { wasmThreads: 0 }),
    'bad-option',
    'option "wasmThreads" must be a positive integer, got 0',
  ],
  [
    'wasmThreads a string',
    () => useBestBackend('auto', { wasmThreads: '4' as never }),
    'bad-option',
    `option "wasmThreads" must be a positive integer, got '4'`,
  ],
  ['options null', () => useBestBackend('cpu', null as never), 'bad-option', 'options must be an object, got null'],
];

describe('useBestBackend refuses a bad preference or bad options before loading anything', () => {
  const registered = tf.engine().backendNames();

  it.each(refusedCases)('%s', async (_what, run, code, fragment) => {
    const error = await caught(run);
    expect(isDistillationError(error, code), `expected code ${code}, got ${String(error)}`).toBe(true);
    expect((error as Error).message).toContain(fragment);
  });

  it('no backend package was loaded by the refused calls', () => {
    expect(tf.engine().backendNames()).toEqual(registered);
    expect(registered).not.toContain('wasm');
  });
});

describe('backend-unavailable and backend-init-failed', () => {
  it('a missing package: backend-unavailable with the install command and the import error as cause', async () => {
    const error = await caught(() => useBestBackend('tfjs-node-gpu'));
    expect(isDistillationError(error, 'backend-unavailable')).toBe(true);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).installCommand).toBe('pnpm add @tensorflow/tfjs-node-gpu');
    expect(String(((error as Error).cause as Error)?.message)).toContain('@tensorflow/tfjs-node-gpu');
  });

  it('a backend whose factory fails: backend-unavailable caused by backend-init-failed', async () => {
    const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
    tf.removeBackend('cpu');
    tf.registerBackend('cpu', () => {
      throw new Error('broken on purpose');
    });
    const warn = console.warn;
    console.warn = () => {}; // tfjs logs the failed initialisation
    try {
      const error = await caught(() => useBestBackend('cpu'));
      expect(isDistillationError(error, 'backend-unavailable')).toBe(true);
      expect((error as Error).message).toContain("the 'cpu' backend failed to initialise");
      expect(isDistillationError((error as Error).cause, 'backend-init-failed')).toBe(true);
    } finally {
      console.warn = warn;
      tf.removeBackend('cpu');
      tf.registerBackend('cpu', () => new MathBackendCPU(), 1);
    }
    expect((await useBestBackend('cpu')).backend).toBe('cpu');
  });

  it("BackendGpuError and BackendUnavailableError are recognised by @kd/core's isDistillationError", () => {
    const cause = new Error('inner');
    const error = new BackendGpuError('unknown-backend', 'no such backend', { cause });
    expect(isDistillationError(error, 'unknown-backend')).toBe(true);
    expect(isDistillationError(error, 'bad-option')).toBe(false);
    expect(error.name).toBe('BackendGpuError');
    expect(error.cause).toBe(cause);
    const unavailable = new BackendUnavailableError('wasm', undefined, 'no wasm');
    expect(isDistillationError(unavailable, 'backend-unavailable')).toBe(true);
    expect(unavailable.name).toBe('BackendUnavailableError');
  });

  it('every code of the table is triggered here', () => {
    const covered = new Set<string>([...refusedCases.map((c) => c[2]), 'backend-unavailable', 'backend-init-failed']);
    expect(Object.keys(backendGpuErrorCodes).filter((c) => !covered.has(c))).toEqual([]);
  });
});
