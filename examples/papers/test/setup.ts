import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-layers';

/** The example's backend (wasm) unless KD_EXAMPLE_BACKEND names another (CI reruns the examples on `native`). */
export async function exampleBackend(): Promise<void> {
  await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'wasm') as BackendName);
}

/** Whether Debian's Fashion-MNIST is installed (`apt-get install -y dataset-fashion-mnist`). */
export const hasFashion = existsSync('/usr/share/datasets/fashion-mnist');

/** A fresh results folder. */
export function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'kd-papers-'));
}
