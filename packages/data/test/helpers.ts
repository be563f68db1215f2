import '@tensorflow/tfjs-backend-cpu';
import { expectRefused, leakedTensors } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

export { expectRefused, leakedTensors };

/** One bad input of the battery: a label, the call, the code it must throw, a fragment of the message. */
export type BadInput = readonly [label: string, call: () => unknown, code: string, fragment: string | RegExp];
