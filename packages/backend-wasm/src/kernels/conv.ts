import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { channelsLastPerm, type KernelArgs, type KernelRunner, WASM, withRunner } from './runner';

export type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** The geometry of a 2-D or 3-D convolution or pooling, per spatial axis (channels-last layout). */
export interface Geometry {
  inSpatial: number[];
  outSpatial: number[];
  filter: number[];
  strides: number[];
  dilations: number[];
  padBefore: number[];
}

/** The {@link Geometry} of a tfjs 2-D conv/pool info (shared by convolutions and pooling). */
export function fromInfo2d(c: tf.backend_util.Conv2DInfo): Geometry {
  return {
    inSpatial: [c.inHeight, c.inWidth],
    outSpatial: [c.outHeight, c.outWidth],
    filter: [c.filterHeight, c.filterWidth],
    strides: [c.strideHeight, c.strideWidth],
    dilations: [c.dilationHeight, c.dilationWidth],
    padBefore: [c.padInfo.top, c.padInfo.left],
  };
}

/** The sizes of a 2-D {@link Geometry} as named numbers, for the heap loops. */
export function planar(g: Geometry) {
  const [oh, ow] = g.outSpatial as [number, number];
  const [sh, sw] = g.strides as [number, number];
  const [kh, kw] = g.filter as [number, number];
  const [dh, dw] = g.dilations as [number, number];
  const [pt, pl] = g.padBefore as [number, number];
  return { oh, ow, sh, sw, kh, kw, dh, dw, pt, pl };
}

/** The {@link Geometry} of a tfjs 3-D conv/pool info. */
export function fromInfo3d(c: tf.backend_util.Conv3DInfo): Geometry {
  return {
    inSpatial: [c.inDepth, c.inHeight, c.inWidth],
    outSpatial: [c.outDepth, c.outHeight, c.outWidth],
    filter: [c.filterDepth, c.filterHeight, c.filterWidth],
    strides: [c.strideDepth, c.strideHeight, c.strideWidth],
    dilations: [c.dilationDepth, c.dilationHeight, c.dilationWidth],
    padBefore: [c.padInfo.front, c.padInfo.top, c.padInfo.left],
  };
}

export function geometry2d(
  inShape: number[],
  filterShape: number[],
  strides: number | number[],
  dilations: number | number[],
  pad: Pad,
  rounding: Rounding,
  depthwise: boolean,
): Geometry {
  const c = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as [number, number],
    dilations as [number, number],
    pad,
    rounding,
    depthwise,
  );
  return fromInfo2d(c);
}

function geometry3d(inShape: number[], filterShape: number[], strides: number | number[], pad: Pad): Geometry {
  const c = tf.backend_util.computeConv3DInfo(
    inShape as [number, number, number, number, number],
    filterShape as [number, number, number, number, number],
    strides as [number, number, number],
    1,
    pad as 'valid' | 'same' | number,
  );
  return fromInfo3d(c);
}

/** A stride-1 'valid' convolution with dilation (2-D or 3-D by the filter's rank). */
function plainConv(k: KernelRunner, x: TensorInfo, filter: TensorInfo, strides: number[], dilations: number[]): TensorInfo {
  if (strides.length === 2) {
    return k.run('Conv2D', { x, filter }, { strides, pad: 'valid', dataFormat: 'NHWC', dilations });
  }
  return k.run('Conv3D', { x, filter }, { strides, pad: 'valid', dataFormat: 'NDHWC', dilations });
}

/**
 * dy (channels-last, spatial = g.outSpatial) zero-spread by the stride and padded/cropped so that a
 * stride-1 'valid' convolution with the rotated filter and dilation `g.dilations` yields dx.
 */
function spreadAndPadForInput(k: KernelRunner, dy: TensorInfo, g: Geometry): TensorInfo {
  let t = dy;
  g.strides.forEach((s, i) => {
    t = k.spread(t, i + 1, s);
  });
  const amounts: Array<[number, number]> = [[0, 0]];
  g.strides.forEach((s, i) => {
    const before = (g.filter[i]! - 1) * g.dilations[i]! - g.padBefore[i]!;
    const needed = g.inSpatial[i]! + (g.filter[i]! - 1) * g.dilations[i]!;
    amounts.push([before, needed - before - g.outSpatial[i]! * s]);
  });
  amounts.push([0, 0]);
  return k.padOrCrop(t, amounts);
}

/** x (channels-last) padded/cropped so that every tap of every output position is inside it. */
function padForFilter(k: KernelRunner, x: TensorInfo, g: Geometry): TensorInfo {
  const amounts: Array<[number, number]> = [[0, 0]];
  g.strides.forEach((s, i) => {
    const needed = (g.outSpatial[i]! - 1) * s + (g.filter[i]! - 1) * g.dilations[i]! + 1;
    amounts.push([g.padBefore[i]!, needed - g.padBefore[i]! - g.inSpatial[i]!]);
  });
  amounts.push([0, 0]);
  return k.padOrCrop(x, amounts);
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

/** dx of a regular convolution: spread dy, then convolve with the rotated, transposed filter. */
function convBackpropInputND(k: KernelRunner, dy: TensorInfo, filter: TensorInfo, g: Geometry): TensorInfo {
  const S = g.strides.length;
  const dyp = spreadAndPadForInput(k, dy, g);
  const rotated = k.run('Reverse', { x: filter }, { dims: range(S) });
  const flipped = k.transpose(rotated, [...range(S), S + 1, S]);
  return plainConv(
    k,
    dyp,
    flipped,
    g.strides.map(() => 1),
    g.dilations,
  );
}

/**
 * dW of a regular convolution: a convolution of x (channels as batch, batch as channels) with dy
 * (batch as input channels), stride = forward dilation, dilation = forward stride.
 */
function convBackpropFilterND(k: KernelRunner, x: TensorInfo, dy: TensorInfo, g: Geometry): TensorInfo {
  const S = g.strides.length;
  const xp = padForFilter(k, x, g);
  const xT = k.transpose(xp, [S + 1, ...range(S, 1), 0]); // [ci, ...sp, b]
  const dyT = k.transpose(dy, [...range(S, 1), 0, S + 1]); // [...o, b, co]
  const out = plainConv(k, xT, dyT, g.dilations, g.strides); // [ci, ...k, co]
  return k.transpose(out, [...range(S, 1), 0, S + 1]);
}

/** Most floats one im2col buffer may hold (64 MiB); larger batches are done in chunks of images. */
const MAX_COLUMNS = 16 * 1024 * 1024;

/**
 * Input-channel counts below which Conv2DBackpropFilter uses {@link convBackpropFilterIm2col}.
 * Measured on wasm (SIMD, 1 thread), 3x3 'same', batch 64, interleaved medians, im2col vs the
 * transposed convolution: 1 -> 8 channels at 28x28: 3.8 vs 7.2 ms; 1 -> 32: 5.5 vs 34 ms;
 * 4 -> 16 at 14x14: 4.3 vs 4.6 ms; 8 -> 16: 4.9 vs 4.3 ms; 32 -> 64: 47 vs 39 ms.
 */
const IM2COL_MAX_CHANNELS = 8;

/**
 * Stride-1 Conv2DBackpropFilter with at least this many input channels uses
 * {@link convBackpropFilterShifted}. Measured on wasm (SIMD, 1 thread, fresh tensors per call,
 * interleaved, medians, a shared 2-core VM under load; `bench/kernels.mjs`), 3x3 'same':
 * against the transposed convolution, batch 64: 8 -> 16 channels at 14x14 5.7 vs 5.7 ms (the CNN
 * student's second layer: equal), 32 -> 64 at 14x14 55 vs 54 ms, and 64 -> 64 at 32x32 (batch 16)
 * 115 vs 138 ms; against im2col (direct calls, best of 40): 2 -> 8 at 28x28 4.6 vs 5.1 ms. With one
 * input channel im2col stays (1 -> 8 at 28x28: 3.2 vs 3.3-3.7 ms, 1 -> 32: 9.3 vs 12.5 ms): the
 * grid's extra positions cost more than its cheaper copies save. All forms spend most of their
 * time in XNNPACK: packing the fresh weights operand (~5 ns per element here, its shared dimension
 * is every position of the batch) and the long-K product itself.
 */
const SHIFTED_MIN_CHANNELS = 2;

/** Rows [from, from + count) of a 2-D float32 tensor, copied on the heap. */
function copyRows(k: KernelRunner, t: TensorInfo, from: number, count: number): TensorInfo {
  const cols = t.shape[1]!;
  const out = k.allocate([count, cols]);
  (k.view(out) as Float32Array).set((k.view(t) as Float32Array).subarray(from * cols, (from + count) * cols));
  return out;
}

/**
 * dW of a 2-D convolution (NHWC, float32) as im2col + one XNNPACK matmul per chunk of images:
 * columns[(fy, fx, ci), (b, oy, ox)] = x at that tap (0 in the padding), filled one tap row at a
 * time with branch-free strided reads (the in-bounds range of ox is fixed per tap), then
 * dW = columns x dy[(b, oy, ox), co], the plain `[M, K] x [K, N]` product XNNPACK runs fast.
 * For few input channels, where the transposed-convolution form has a huge, thin kernel.
 */
export function convBackpropFilterIm2col(
  k: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  g: Geometry,
  maxColumns = MAX_COLUMNS,
): TensorInfo {
  const [batch, h, w, ci] = x.shape as [number, number, number, number];
  const { oh, ow, sh, sw, kh, kw, dh, dw, pt, pl } = planar(g);
  const co = dy.shape[3]!;
  const perImage = oh * ow;
  const chunk = Math.max(1, Math.min(batch, Math.floor(maxColumns / (kh * kw * ci * perImage))));
  const dyRows = k.reshape(dy, [batch * perImage, co]);
  const stepX = sw * ci;
  let sum: TensorInfo | undefined;
  for (let b0 = 0; b0 < batch; b0 += chunk) {
    const images = Math.min(chunk, batch - b0);
    const positions = images * perImage;
    const columns = k.allocate([kh * kw * ci, positions], 'float32');
    const cols = k.view(columns);
    const xs = k.view(x);
    let d = 0;
    for (let fy = 0; fy < kh; fy++) {
      for (let fx = 0; fx < kw; fx++) {
        // The ox with 0 <= ox * sw + shift < w.
        const shift = fx * dw - pl;
        const lo = Math.min(ow, Math.max(0, Math.ceil(-shift / sw)));
        const hi = Math.max(lo, Math.min(ow, Math.ceil((w - shift) / sw)));
        for (let c = 0; c < ci; c++) {
          for (let b = 0; b < images; b++) {
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * sh - pt + fy * dh;
              let ox = 0;
              if (iy < 0 || iy >= h) {
                for (; ox < ow; ox++) cols[d++] = 0;
                continue;
              }
              for (; ox < lo; ox++) cols[d++] = 0;
              let at = (((b0 + b) * h + iy) * w + lo * sw + shift) * ci + c;
              for (; ox < hi; ox++) {
                cols[d++] = xs[at]!;
                at += stepX;
              }
              for (; ox < ow; ox++) cols[d++] = 0;
            }
          }
        }
      }
    }
    // (A heap copy, not Slice: wasm's Slice reads its whole input every call.)
    const rows = images === batch ? dyRows : copyRows(k, dyRows, b0 * perImage, positions);
    const part = k.runOriginal('BatchMatMul', { a: columns, b: rows }, { transposeA: false, transposeB: false });
    sum = sum == null ? part : k.run('Add', { a: sum, b: part });
  }
  return k.reshape(sum!, [kh, kw, ci, co]);
}

/**
 * Copies images [b0, b0 + images) of x (NHWC) into `xT` as channel rows of the zero-padded grid:
 * xT[c * L + (b * Hp + iy + pt) * Wp + ix + pl] = x[b0 + b, iy, ix, c]. Returns false when some
 * copied value is not finite. (Small functions: V8 optimises them after a call or two.)
 */
function fillChannelGrid(
  xs: Float32Array,
  xT: Float32Array,
  b0: number,
  images: number,
  s: { h: number; w: number; ci: number; Hp: number; Wp: number; pt: number; pl: number; L: number },
): boolean {
  const { h, w, ci, Hp, Wp, pt, pl, L } = s;
  const y0 = Math.max(0, -pt);
  const y1 = Math.min(h, Hp - pt);
  const x0 = Math.max(0, -pl);
  const x1 = Math.min(w, Wp - pl);
  xT.fill(0);
  let zero = 0;
  for (let b = 0; b < images; b++) {
    for (let iy = y0; iy < y1; iy++) {
      const rowIn = ((b0 + b) * h + iy) * w;
      const rowGrid = (b * Hp + iy + pt) * Wp + pl;
      if (ci === 1) {
        for (let ix = x0; ix < x1; ix++) {
          const v = xs[rowIn + ix]!;
          zero += v * 0;
          xT[rowGrid + ix] = v;
        }
        continue;
      }
      for (let ix = x0; ix < x1; ix++) {
        const from = (rowIn + ix) * ci;
        let to = rowGrid + ix;
        for (let c = 0; c < ci; c++) {
          const v = xs[from + c]!;
          zero += v * 0;
          xT[to] = v;
          to += L;
        }
      }
    }
  }
  return zero === 0;
}

/** dy rows of images [b0, b0 + images) placed on the grid: dyG[(b * Hp + oy) * Wp + ox] = dy[b0 + b, oy, ox]. */
function embedOnGrid(
  dys: Float32Array,
  dyG: Float32Array,
  b0: number,
  images: number,
  oh: number,
  ow: number,
  co: number,
  Hp: number,
  Wp: number,
): void {
  dyG.fill(0);
  const run = ow * co;
  for (let b = 0; b < images; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const from = ((b0 + b) * oh + oy) * run;
      dyG.set(dys.subarray(from, from + run), (b * Hp + oy) * Wp * co);
    }
  }
}

/**
 * dW of a stride-1 2-D convolution (NHWC, float32) as one XNNPACK matmul whose operands are built
 * with block copies. On the zero-padded input grid (Hp x Wp per image, output position (oy, ox) at
 * grid index oy * Wp + ox), tap (fy, fx) reads the grid at the constant offset fy * dh * Wp +
 * fx * dw. So with the padded input stored as channel rows, xT[c, q], row (fy, fx, c) of the
 * im2col matrix is the contiguous run xT[c, q + offset] over all grid indices q: one
 * `TypedArray.set` (a memcpy) per row, instead of one JS load and store per element. dy is placed
 * on the same grid (zero where (oy, ox) is not an output position), so the grid's extra positions
 * add nothing: dW[(fy, fx, c), co] = columns[(fy, fx, c), q] x dyGrid[q, co]. The price is
 * Hp * Wp / (oh * ow) times the multiply-adds (1.15x at 28x28, 1.3x at 14x14 for 3x3 'same').
 *
 * Returns null (use another path) when x holds a non-finite value: the grid's extra positions
 * read real inputs, and 0 * Inf there would reach taps that the reference leaves finite.
 */
export function convBackpropFilterShifted(
  k: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  g: Geometry,
  maxColumns = MAX_COLUMNS,
): TensorInfo | null {
  const [batch, h, w, ci] = x.shape as [number, number, number, number];
  const { oh, ow, kh, kw, dh, dw, pt, pl } = planar(g);
  const co = dy.shape[3]!;
  const Hp = oh + (kh - 1) * dh;
  const Wp = ow + (kw - 1) * dw;
  const G = Hp * Wp;
  const tail = (kh - 1) * dh * Wp + (kw - 1) * dw;
  const taps = kh * kw;
  const chunk = Math.max(1, Math.min(batch, Math.floor(maxColumns / (taps * ci * G))));
  let sum: TensorInfo | undefined;
  for (let b0 = 0; b0 < batch; b0 += chunk) {
    const images = Math.min(chunk, batch - b0);
    const Q = images * G;
    const L = Q + tail;
    const grid = k.allocate([ci, L]);
    const columns = k.allocate([taps * ci, Q]);
    const dyGrid = k.allocate([Q, co]);
    const xT = k.view(grid) as Float32Array;
    if (!fillChannelGrid(k.view(x) as Float32Array, xT, b0, images, { h, w, ci, Hp, Wp, pt, pl, L })) return null;
    const cols = k.view(columns) as Float32Array;
    let row = 0;
    for (let fy = 0; fy < kh; fy++) {
      for (let fx = 0; fx < kw; fx++) {
        const shift = fy * dh * Wp + fx * dw;
        for (let c = 0; c < ci; c++, row++) cols.set(xT.subarray(c * L + shift, c * L + shift + Q), row * Q);
      }
    }
    k.free(grid);
    embedOnGrid(k.view(dy) as Float32Array, k.view(dyGrid) as Float32Array, b0, images, oh, ow, co, Hp, Wp);
    const part = k.runOriginal('BatchMatMul', { a: columns, b: dyGrid }, { transposeA: false, transposeB: false });
    k.free(columns);
    k.free(dyGrid);
    sum = sum == null ? part : k.run('Add', { a: sum, b: part });
  }
  return k.reshape(sum!, [kh, kw, ci, co]);
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return withRunner(args.backend, (k) => {
    const nchw = dataFormat === 'NCHW';
    const { toLast, toFirst } = channelsLastPerm(4);
    const inShape = nchw ? toLast.map((i) => inputShape[i]!) : inputShape;
    const dyL = nchw ? k.transpose(dy, toLast) : dy;
    const g = geometry2d(inShape, filter.shape, strides, 1, pad, dimRoundingMode, false);
    const dx = convBackpropInputND(k, dyL, filter, g);
    return nchw ? k.transpose(dx, toFirst) : dx;
  });
}

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return withRunner(args.backend, (k) => {
    const nchw = dataFormat === 'NCHW';
    const { toLast } = channelsLastPerm(4);
    const xL = nchw ? k.transpose(x, toLast) : x;
    const dyL = nchw ? k.transpose(dy, toLast) : dy;
    const g = geometry2d(xL.shape, filterShape, strides, 1, pad, dimRoundingMode, false);
    const f32 = xL.dtype === 'float32' && dyL.dtype === 'float32';
    if (f32 && xL.shape[3]! >= SHIFTED_MIN_CHANNELS && g.strides.every((s) => s === 1)) {
      const shifted = convBackpropFilterShifted(k, xL, dyL, g);
      if (shifted != null) return shifted;
    }
    return f32 && xL.shape[3]! < IM2COL_MAX_CHANNELS ? convBackpropFilterIm2col(k, xL, dyL, g) : convBackpropFilterND(k, xL, dyL, g);
  });
}

function conv3DBackpropInputV2(args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, inputShape } = args.attrs as unknown as tf.Conv3DBackpropInputV2Attrs;
  return withRunner(args.backend, (k) => convBackpropInputND(k, dy, filter, geometry3d(inputShape, filter.shape, strides, pad)));
}

function conv3DBackpropFilterV2(args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, filterShape } = args.attrs as unknown as tf.Conv3DBackpropFilterV2Attrs;
  return withRunner(args.backend, (k) => convBackpropFilterND(k, x, dy, geometry3d(x.shape, filterShape, strides, pad)));
}

/** dx of a depthwise convolution: a depthwise convolution of spread dy with the rotated filter. */
function depthwiseBackpropInput(args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  return withRunner(args.backend, (k) => {
    const g = geometry2d(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    const [fh, fw, ci, m] = filter.shape as [number, number, number, number];
    const dyp = spreadAndPadForInput(k, dy, g);
    const rotated = k.reshape(k.run('Reverse', { x: filter }, { dims: [0, 1] }), [fh, fw, ci * m, 1]);
    const out = k.run(
      'DepthwiseConv2dNative',
      { x: dyp, filter: rotated },
      { strides: [1, 1], pad: 'valid', dilations: g.dilations, dataFormat: 'NHWC' },
    );
    const [b, h, w] = out.shape as [number, number, number];
    if (m === 1) return out;
    return k.run('Sum', { x: k.reshape(out, [b, h, w, ci, m]) }, { axis: [4], keepDims: false });
  });
}

/**
 * dW of a depthwise convolution: batch folded into channels (channel c, image b -> c * B + b),
 * dy as a per-channel filter, stride = forward dilation, dilation = forward stride; then summed
 * over the batch.
 */
function depthwiseBackpropFilter(args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  return withRunner(args.backend, (k) => {
    const g = geometry2d(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
    const [fh, fw, ci, m] = filterShape as [number, number, number, number];
    const b = x.shape[0]!;
    const [oh, ow] = g.outSpatial as [number, number];
    const xp = padForFilter(k, x, g);
    const [, hp, wp] = xp.shape as [number, number, number];
    const xF = k.reshape(k.transpose(xp, [1, 2, 3, 0]), [1, hp, wp, ci * b]);
    const dyF = k.reshape(k.transpose(k.reshape(dy, [b, oh, ow, ci, m]), [1, 2, 3, 0, 4]), [oh, ow, ci * b, m]);
    const out = k.run(
      'DepthwiseConv2dNative',
      { x: xF, filter: dyF },
      { strides: g.dilations, pad: 'valid', dilations: g.strides, dataFormat: 'NHWC' },
    ); // [1, fh, fw, ci * b * m]
    return k.run('Sum', { x: k.reshape(out, [fh, fw, ci, b, m]) }, { axis: [3], keepDims: false });
  });
}

/** Convolution gradient kernels, composed from wasm's (XNNPACK) forward convolutions. */
export const convKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropInput', backendName: WASM, kernelFunc: conv2DBackpropInput as KernelFunc },
  { kernelName: 'Conv2DBackpropFilter', backendName: WASM, kernelFunc: conv2DBackpropFilter as KernelFunc },
  { kernelName: 'Conv3DBackpropInputV2', backendName: WASM, kernelFunc: conv3DBackpropInputV2 as KernelFunc },
  { kernelName: 'Conv3DBackpropFilterV2', backendName: WASM, kernelFunc: conv3DBackpropFilterV2 as KernelFunc },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: WASM, kernelFunc: depthwiseBackpropInput as KernelFunc },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: WASM, kernelFunc: depthwiseBackpropFilter as KernelFunc },
];
