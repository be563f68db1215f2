import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasmError } from '../errors';
import { type KernelArgs, type KernelRunner, WASM, withRunner } from './runner';

/**
 * Batched / transposed matmuls run at XNNPACK speed only as a plain `[M, K] x [K, N]` product on
 * wasm 4.22: every other form falls back to a scalar loop. These kernels transpose explicitly
 * (XNNPACK transposes are cheap), fold batches into rows where one side is unbatched, and loop
 * over the batch otherwise; `_FusedMatMul` keeps wasm's fused kernel only for the 2-D,
 * rank-1-bias-of-length-N case it gets right.
 */

/** Per-batch products above this size are looped over one by one (else the stock loop wins). */
const LOOP_MIN_FLOPS = 32 * 32 * 32;
const LOOP_MAX_BATCH = 256;

function swapLast(k: KernelRunner, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return k.transpose(x, perm);
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** a x b for float32 a, b: returns the product in the broadcast output shape, or null to defer. */
function fastMatMul(
  k: KernelRunner,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias2d?: (a2: TensorInfo, b2: TensorInfo) => TensorInfo,
): TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  if (
    bias2d == null &&
    transposeB &&
    !transposeA &&
    a.shape.length === 2 &&
    b.shape.length === 2 &&
    b.shape[0]! > a.shape[0]! &&
    b.shape[1] === a.shape[1]
  ) {
    // a [M, K] x b[N, K]^T with N > M (e.g. CRD's scores against K negatives): (b a^T)^T moves and
    // packs the small a instead of the large b (XNNPACK packs the second operand every call).
    // 64 x 128 against 4096 x 128: ~1.8x faster.
    const outT = k.runOriginal('BatchMatMul', { a: b, b: swapLast(k, a) }, { transposeA: false, transposeB: false });
    return swapLast(k, outT);
  }
  const aN = transposeA ? swapLast(k, a) : a; // [..., M, K]
  const bN = transposeB ? swapLast(k, b) : b; // [..., K, N]
  const [M, K] = aN.shape.slice(-2) as [number, number];
  const N = bN.shape.at(-1)!;
  if (bN.shape.at(-2) !== K) return null; // let the stock kernel raise its error
  const outerA = aN.shape.slice(0, -2);
  const outerB = bN.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const mm = bias2d ?? ((x, y) => k.runOriginal('BatchMatMul', { a: x, b: y }, { transposeA: false, transposeB: false }));
  if (batchB === 1) {
    // Fold a's batch into rows: [batchA * M, K] x [K, N].
    const out = mm(k.reshape(aN, [batchA * M, K]), k.reshape(bN, [K, N]));
    return k.reshape(out, [...outer, M, N]);
  }
  if (batchA === 1 && bias2d == null) {
    // (a b_i)^T = b_i^T a^T: fold b's batch into rows of b^T.
    const bT = k.reshape(swapLast(k, bN), [batchB * N, K]);
    const aT = k.reshape(swapLast(k, aN), [K, M]);
    const outT = k.reshape(mm(bT, aT), [batchB, N, M]);
    return k.reshape(swapLast(k, outT), [...outer, M, N]);
  }
  const sameBatch = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameBatch || batchA > LOOP_MAX_BATCH || M * N * K < LOOP_MIN_FLOPS) return null;
  const a3 = k.reshape(aN, [batchA, M, K]);
  const b3 = k.reshape(bN, [batchA, K, N]);
  const parts: TensorInfo[] = [];
  for (let i = 0; i < batchA; i++) {
    const ai = k.run('Slice', { x: a3 }, { begin: [i, 0, 0], size: [1, M, K] });
    const bi = k.run('Slice', { x: b3 }, { begin: [i, 0, 0], size: [1, K, N] });
    parts.push(mm(k.reshape(ai, [M, K]), k.reshape(bi, [K, N])));
  }
  const out = k.run('Concat', parts, { axis: 0 });
  return k.reshape(out, [...outer, M, N]);
}

function batchMatMul(args: KernelArgs): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  return withRunner(
    args.backend,
    (k) => fastMatMul(k, a, b, transposeA, transposeB) ?? k.runOriginal('BatchMatMul', { a, b }, { transposeA, transposeB }),
  );
}

/** Activations of tfjs' fused ops (`undefined` = linear). */
const FUSED_ACTIVATIONS: readonly (string | undefined)[] = [undefined, 'linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'];

function activate(k: KernelRunner, x: TensorInfo, attrs: tf._FusedMatMulAttrs, prelu: TensorInfo | undefined): TensorInfo {
  switch (attrs.activation) {
    case undefined:
    case 'linear':
      return x;
    case 'relu':
      return k.run('Relu', { x });
    case 'relu6':
      return k.run('Relu6', { x });
    case 'elu':
      return k.run('Elu', { x });
    case 'sigmoid':
      return k.run('Sigmoid', { x });
    case 'leakyrelu':
      return k.run('LeakyRelu', { x }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      return k.run('Prelu', { x, alpha: prelu });
    default:
      throw new BackendWasmError('unsupported-activation', `@kd/backend-wasm: unsupported fused activation '${String(attrs.activation)}'.`); // unreachable: checked first
  }
}

function fusedMatMul(args: KernelArgs): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as {
    a: TensorInfo;
    b: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
  const { transposeA, transposeB } = attrs;
  if (!FUSED_ACTIVATIONS.includes(attrs.activation)) {
    throw new BackendWasmError(
      'unsupported-activation',
      `@kd/backend-wasm: unsupported fused activation '${String(attrs.activation)}' (known: ${FUSED_ACTIVATIONS.slice(1).join(', ')}).`,
    );
  }
  return withRunner(args.backend, (k) => {
    const N = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
    const simpleBias = bias == null || (bias.shape.length === 1 && bias.shape[0] === N);
    const simplePrelu =
      preluActivationWeights == null || (preluActivationWeights.shape.length === 1 && preluActivationWeights.shape[0] === N);
    if (simpleBias && simplePrelu) {
      // wasm's fused kernel is right for 2-D, untransposed operands with a length-N bias.
      // (The stock kernel reads its operands as rank 3.)
      const fused = (a2: TensorInfo, b2: TensorInfo) => {
        const [m, kk] = a2.shape as [number, number];
        const out3 = k.runOriginal(
          '_FusedMatMul',
          { a: k.reshape(a2, [1, m, kk]), b: k.reshape(b2, [1, kk, N]), bias, preluActivationWeights },
          { ...attrs, transposeA: false, transposeB: false },
        );
        return k.reshape(out3, [m, N]);
      };
      const out = fastMatMul(k, a, b, transposeA, transposeB, fused);
      if (out != null) return out;
    }
    let out = k.run('BatchMatMul', { a, b }, { transposeA, transposeB });
    if (bias != null) out = k.run('Add', { a: out, b: bias });
    return activate(k, out, attrs, preluActivationWeights);
  });
}

/** Matmul kernels: fast paths for transposes and batches, and a fused matmul with correct bias. */
export const matMulKernels: KernelConfig[] = [
  { kernelName: 'BatchMatMul', backendName: WASM, kernelFunc: batchMatMul as KernelFunc },
  { kernelName: '_FusedMatMul', backendName: WASM, kernelFunc: fusedMatMul as KernelFunc },
];
