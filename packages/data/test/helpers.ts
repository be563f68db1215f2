import '@tensorflow/tfjs-backend-cpu';
import { expectRefused, leakedTensors } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

export { expectRefused, leakedTensors };

/** One bad input of the battery: a label, the call, the code it must throw, a fragment of the message. */
export type BadInput = readonly [label: string, call: () => unknown, code: string, fragment: string | RegExp];

const PLANE = 1024;
/** The pixel byte of image `k`, channel `c` (0 R, 1 G, 2 B) at row `h`, column `w`. */
export const cifarPixel = (k: number, c: number, h: number, w: number) => (k * 31 + c * 85 + h * 7 + w * 3) % 256;

/** CIFAR records: per image, its label bytes then the R, G and B planes (row by row). */
export function cifarBytes(labels: readonly (readonly number[])[]): Uint8Array {
  const record = labels[0]!.length + 3 * PLANE;
  const out = new Uint8Array(labels.length * record);
  labels.forEach((l, k) => {
    const base = k * record;
    out.set(l, base);
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < 32; h++) {
        for (let w = 0; w < 32; w++) out[base + l.length + c * PLANE + h * 32 + w] = cifarPixel(k, c, h, w);
      }
    }
  });
  return out;
}
