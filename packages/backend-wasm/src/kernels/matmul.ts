import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasmError } from '../errors';
import { type KernelArgs, type KernelRunner, WASM, withRunner } from './runner';

/**
 * Batched / transposed matmuls run at XNNPACK speed only as a plain `[M, K] x [K, N]` product on
 * wasm 4.22: every other form falls back to a scalar loop (right for every shape, ~1.5 GFLOPS).
 * These kernels fold batches into rows where one side is unbatched (transposing explicitly), run
 * same-batch products one XNNPACK product per batch from heap copies, and leave thin (matrix-vector)
 * and small products to the stock loop; `_FusedMatMul` keeps wasm's fused kernel only for the 2-D,
 * rank-1-bias-of-length-N case it gets right.
 */

/**
 * Same-batch products whose rows or columns are fewer than this (matrix-vector products such as
 * CRD's scores, `[64, 4096, 128] x [64, 128, 1]`, and their gradients) go to the stock kernel: its
 * blocked loop is right for every batch shape and beats one XNNPACK call per batch there.
 */
const THIN = 8;
/** Same-batch products with fewer multiply-adds per batch than this also stay on the stock loop. */
const PER_BATCH_MIN_MACS = 32 * 32 * 32;

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

/**
 * Copies the `rows x cols` block of `src` at `from` into `dst` (at 0), transposed when `transpose`
 * (then `dst` holds `cols x rows`). Tiles of 32 x 32 keep the transposed reads in cache.
 */
function copyBlock(src: Float32Array, from: number, dst: Float32Array, rows: number, cols: number, transpose: boolean): void {
  if (!transpose) {
    dst.set(src.subarray(from, from + rows * cols));
    return;
  }
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        let at = from + r * cols + c0;
        let to = c0 * rows + r;
        for (let c = c0; c < c1; c++) {
          dst[to] = src[at++]!;
          to += rows;
        }
      }
    }
  }
}

/**
 * a_i x b_i for every batch i (same batch shapes), one XNNPACK product per batch. Each operand
 * block is copied (transposed if needed) from the heap into a fresh 2-D tensor: wasm's `Slice`
 * reads its whole input every call (a per-batch `Slice` loop is quadratic in the batch: 8-12 s for
 * CRD's `[64, 4096, 128]` operands), and a `Transpose` of the whole operand costs more than the
 * product. The blocks are freed batch by batch (a fresh `b` per call also matters: the stock
 * kernel caches XNNPACK's packed weights by tensor id).
 */
function perBatchMatMul(
  k: KernelRunner,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  batch: number,
  dims: { M: number; K: number; N: number },
  mm: (a2: TensorInfo, b2: TensorInfo) => TensorInfo,
): TensorInfo {
  const { M, K, N } = dims;
  const out = k.allocate([batch, M, N]);
  for (let i = 0; i < batch; i++) {
    const ai = k.allocate([M, K]);
    const bi = k.allocate([K, N]);
    // a_i is [M, K] (or [K, M] when transposed), b_i is [K, N] (or [N, K]).
    copyBlock(k.view(a) as Float32Array, i * M * K, k.view(ai) as Float32Array, transposeA ? K : M, transposeA ? M : K, transposeA);
    copyBlock(k.view(b) as Float32Array, i * K * N, k.view(bi) as Float32Array, transposeB ? N : K, transposeB ? K : N, transposeB);
    const part = mm(ai, bi);
    (k.view(out) as Float32Array).set(k.view(part) as Float32Array, i * M * N);
    k.free(part);
    k.free(bi);
    k.free(ai);
  }
  return out;
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
  const [M, K] = (transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2)) as [number, number];
  const [KB, N] = (transposeB ? b.shape.slice(-2).reverse() : b.shape.slice(-2)) as [number, number];
  if (KB !== K) return null; // let the stock kernel raise its error
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const mm = bias2d ?? ((x, y) => k.runOriginal('BatchMatMul', { a: x, b: y }, { transposeA: false, transposeB: false }));
  if (batchB === 1) {
    // Fold a's batch into rows: [batchA * M, K] x [K, N].
    const aN = transposeA ? swapLast(k, a) : a;
    const bN = transposeB ? swapLast(k, b) : b;
    const out = mm(k.reshape(aN, [batchA * M, K]), k.reshape(bN, [K, N]));
    return k.reshape(out, [...outer, M, N]);
  }
  if (batchA === 1 && bias2d == null) {
    // (a b_i)^T = b_i^T a^T: fold b's batch into rows of b^T.
    const bT = k.reshape(transposeB ? b : swapLast(k, b), [batchB * N, K]);
    const aT = k.reshape(transposeA ? a : swapLast(k, a), [K, M]);
    const outT = k.reshape(mm(bT, aT), [batchB, N, M]);
    return k.reshape(swapLast(k, outT), [...outer, M, N]);
  }
  const sameBatch = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameBatch || Math.min(M, N) < THIN || M * N * K < PER_BATCH_MIN_MACS) return null;
  const out = perBatchMatMul(k, a, b, transposeA, transposeB, batchA, { M, K, N }, mm);
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
