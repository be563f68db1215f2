import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { fromInfo2d, fromInfo3d, type Geometry, type Pad, planar, type Rounding } from './conv';
import { type KernelArgs, type KernelRunner, WASM, withRunner } from './runner';

/** Padding value for max pooling: below every finite float32 (NaN and -Infinity upset PadV2's cache). */
const LOWEST = -3.4028234663852886e38;

type PoolGeometry = Geometry;

function pool2d(inShape: number[], filterSize: number | number[], strides: number | number[], pad: Pad, rounding: Rounding): PoolGeometry {
  const c = tf.backend_util.computePool2DInfo(
    inShape as [number, number, number, number],
    filterSize as [number, number],
    strides as [number, number],
    1,
    pad,
    rounding,
  );
  return fromInfo2d(c);
}

function pool3d(inShape: number[], filterSize: number | number[], strides: number | number[], pad: Pad, rounding: Rounding): PoolGeometry {
  const c = tf.backend_util.computePool3DInfo(
    inShape as [number, number, number, number, number],
    filterSize as [number, number, number],
    strides as [number, number, number],
    1,
    pad as 'valid' | 'same' | number,
    rounding,
  );
  return fromInfo3d(c);
}

/** Pad/crop amounts that make every window of every output position lie inside the input. */
function windowAmounts(g: PoolGeometry): Array<[number, number]> {
  const amounts: Array<[number, number]> = [[0, 0]];
  g.strides.forEach((s, i) => {
    const needed = (g.outSpatial[i]! - 1) * s + (g.filter[i]! - 1) * g.dilations[i]! + 1;
    amounts.push([g.padBefore[i]!, needed - g.padBefore[i]! - g.inSpatial[i]!]);
  });
  amounts.push([0, 0]);
  return amounts;
}

/** Every window offset, row-major (the order in which tfjs' reference picks the first maximum). */
function offsets(filter: number[]): number[][] {
  let all: number[][] = [[]];
  for (const f of filter) all = all.flatMap((o) => Array.from({ length: f }, (_, i) => [...o, i]));
  return all;
}

/** The strided view of the padded input that window offset `o` sees for every output position. */
function view(k: KernelRunner, xp: TensorInfo, g: PoolGeometry, o: number[]): TensorInfo {
  const begin = [0, ...o.map((v, i) => v * g.dilations[i]!), 0];
  const end = [xp.shape[0]!, ...o.map((v, i) => v * g.dilations[i]! + (g.outSpatial[i]! - 1) * g.strides[i]! + 1), xp.shape.at(-1)!];
  const strides = [1, ...g.strides, 1];
  return k.run(
    'StridedSlice',
    { x: xp },
    { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
  );
}

/** Max pooling as the maximum of strided views (used where the wasm kernel is wrong). */
function maxPoolND(k: KernelRunner, x: TensorInfo, g: PoolGeometry): TensorInfo {
  const xp = k.padOrCrop(x, windowAmounts(g), LOWEST);
  let acc: TensorInfo | undefined;
  for (const o of offsets(g.filter)) {
    const v = view(k, xp, g, o);
    acc = acc == null ? v : k.run('Maximum', { a: acc, b: v });
  }
  return acc!;
}

/**
 * Gradient of max pooling: dy goes to the first position (row-major within the window) whose value
 * equals the pooled maximum, as in tfjs' cpu backend. Exact for any sign of the inputs.
 */
function maxPoolGradND(k: KernelRunner, dy: TensorInfo, x: TensorInfo, y: TensorInfo, g: PoolGeometry): TensorInfo {
  const amounts = windowAmounts(g);
  const xp = k.padOrCrop(x, amounts, LOWEST);
  const zeros = k.run('ZerosLike', { x: dy });
  const S = g.strides.length;
  const nonOverlapping = g.strides.every((s, i) => s === g.filter[i] && g.dilations[i] === 1);
  const parts: TensorInfo[] = [];
  let acc: TensorInfo | undefined;
  let remaining = dy;
  for (const o of offsets(g.filter)) {
    const eq = k.run('Equal', { a: view(k, xp, g, o), b: y });
    const part = k.run('Select', { condition: eq, t: remaining, e: zeros });
    remaining = k.run('Select', { condition: eq, t: zeros, e: remaining });
    if (nonOverlapping) {
      parts.push(part);
      continue;
    }
    // Place the part at offset o of the stride grid over the padded input, and add it up.
    let placed = part;
    for (let i = 0; i < S; i++) placed = k.spread(placed, i + 1, g.strides[i]!);
    const place: Array<[number, number]> = [[0, 0]];
    for (let i = 0; i < S; i++) {
      const before = o[i]! * g.dilations[i]!;
      place.push([before, xp.shape[i + 1]! - before - placed.shape[i + 1]!]);
    }
    place.push([0, 0]);
    placed = k.padOrCrop(placed, place);
    acc = acc == null ? placed : k.run('Add', { a: acc, b: placed });
  }
  if (nonOverlapping) {
    // Windows tile the padded input: interleave the parts instead of adding shifted copies.
    const [b, ...rest] = dy.shape;
    const c = rest.pop()!;
    const stacked = k.run('Pack', parts, { axis: 0 });
    const split = k.reshape(stacked, [...g.filter, b!, ...rest, c]);
    // [f_0..f_{S-1}, b, o_0..o_{S-1}, c] -> [b, o_0, f_0, o_1, f_1, ..., c]
    const perm = [S, ...Array.from({ length: S }, (_, i) => [S + 1 + i, i]).flat(), 2 * S + 1];
    const interleaved = k.transpose(split, perm);
    acc = k.reshape(interleaved, [b!, ...rest.map((r, i) => r * g.filter[i]!), c]);
  }
  return k.padOrCrop(
    acc!,
    amounts.map(([a, b2]) => [-a, -b2] as [number, number]),
  );
}

/**
 * 2-D max-pool gradient (NHWC) as one pass over the windows on the heap: each dy goes to the first
 * in-bounds position (row-major within the window) whose value equals the pooled maximum, as in
 * tfjs' cpu backend. Windows that lie inside the input (all of them for 'valid' pooling) run
 * without bounds checks, with the tap offsets hoisted, and 2x2 windows unrolled; the windows that
 * cross the border (padding) take the checked loop. 2.2x faster than the checked loop alone for
 * 2x2 pools (measured on plain arrays, bench/kernels.mjs for the kernel).
 */
function maxPoolGrad2D(k: KernelRunner, dy: TensorInfo, x: TensorInfo, y: TensorInfo, g: PoolGeometry): TensorInfo {
  const [batch, h, w, c] = x.shape as [number, number, number, number];
  const out = k.allocate(x.shape, 'float32');
  const dx = k.view(out) as Float32Array;
  maxPoolGradLoop(dx, k.view(x) as Float32Array, k.view(y) as Float32Array, k.view(dy) as Float32Array, { batch, h, w, c, ...planar(g) });
  return out;
}

type PoolLoop = { batch: number; h: number; w: number; c: number } & ReturnType<typeof planar>;

/** The loop of {@link maxPoolGrad2D} on plain arrays (small functions: V8 optimises them early). */
function maxPoolGradLoop(dx: Float32Array, xs: Float32Array, ys: Float32Array, dys: Float32Array, d: PoolLoop): void {
  const { batch, h, w, c, oh, ow, sh, sw, kh, kw, dh, dw, pt, pl } = d;
  dx.fill(0);
  // Output columns whose windows lie inside the input: 0 <= ox * sw - pl and ox * sw - pl + (kw - 1) * dw < w.
  const oxLo = Math.min(ow, Math.ceil(pl / sw));
  const oxHi = Math.max(oxLo, Math.min(ow, Math.floor((w - 1 - (kw - 1) * dw + pl) / sw) + 1));
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const top = oy * sh - pt;
      const o = (b * oh + oy) * ow * c;
      if (top < 0 || top + (kh - 1) * dh >= h) {
        for (let ox = 0; ox < ow; ox++) borderWindow(dx, xs, ys, dys, d, b, top, ox, o + ox * c);
        continue;
      }
      for (let ox = 0; ox < oxLo; ox++) borderWindow(dx, xs, ys, dys, d, b, top, ox, o + ox * c);
      const at = ((b * h + top) * w + oxLo * sw - pl) * c;
      if (kh === 2 && kw === 2) innerWindows2x2(dx, xs, ys, dys, o + oxLo * c, at, oxHi - oxLo, d);
      else innerWindows(dx, xs, ys, dys, o + oxLo * c, at, oxHi - oxLo, d);
      for (let ox = oxHi; ox < ow; ox++) borderWindow(dx, xs, ys, dys, d, b, top, ox, o + ox * c);
    }
  }
}

/** `count` windows in a row, all inside the input; the first starts at x offset `at`, output offset `o`. */
function innerWindows(
  dx: Float32Array,
  xs: Float32Array,
  ys: Float32Array,
  dys: Float32Array,
  o: number,
  at: number,
  count: number,
  d: PoolLoop,
): void {
  const { w, c, sw, kh, kw, dh, dw } = d;
  const tapY = dh * w * c;
  const tapX = dw * c;
  const step = sw * c;
  for (let i = 0; i < count; i++, at += step) {
    for (let ch = 0; ch < c; ch++, o++) {
      const m = ys[o];
      let found = -1;
      taps: for (let fy = 0, ay = at + ch; fy < kh; fy++, ay += tapY) {
        for (let fx = 0, a = ay; fx < kw; fx++, a += tapX) {
          if (xs[a] === m) {
            found = a;
            break taps;
          }
        }
      }
      if (found >= 0) dx[found] = dx[found]! + dys[o]!;
    }
  }
}

/** {@link innerWindows} for 2x2 windows, unrolled. */
function innerWindows2x2(
  dx: Float32Array,
  xs: Float32Array,
  ys: Float32Array,
  dys: Float32Array,
  o: number,
  at: number,
  count: number,
  d: PoolLoop,
): void {
  const { w, c, sw, dh, dw } = d;
  const tapY = dh * w * c;
  const tapX = dw * c;
  const step = sw * c;
  for (let i = 0; i < count; i++, at += step) {
    for (let ch = 0; ch < c; ch++, o++) {
      const m = ys[o];
      const g = dys[o]!;
      const i0 = at + ch;
      const i1 = i0 + tapX;
      const i2 = i0 + tapY;
      const i3 = i2 + tapX;
      if (xs[i0] === m) dx[i0] = dx[i0]! + g;
      else if (xs[i1] === m) dx[i1] = dx[i1]! + g;
      else if (xs[i2] === m) dx[i2] = dx[i2]! + g;
      else if (xs[i3] === m) dx[i3] = dx[i3]! + g;
    }
  }
}

/** One window that crosses the border: only its in-bounds taps are candidates. */
function borderWindow(
  dx: Float32Array,
  xs: Float32Array,
  ys: Float32Array,
  dys: Float32Array,
  d: PoolLoop,
  b: number,
  top: number,
  ox: number,
  o: number,
): void {
  const { h, w, c, sw, kh, kw, dh, dw, pl } = d;
  const left = ox * sw - pl;
  for (let ch = 0; ch < c; ch++) {
    const m = ys[o + ch];
    let found = -1;
    taps: for (let fy = 0; fy < kh; fy++) {
      const iy = top + fy * dh;
      if (iy < 0 || iy >= h) continue;
      for (let fx = 0; fx < kw; fx++) {
        const ix = left + fx * dw;
        if (ix < 0 || ix >= w) continue;
        const a = ((b * h + iy) * w + ix) * c + ch;
        if (xs[a] === m) {
          found = a;
          break taps;
        }
      }
    }
    if (found >= 0) dx[found] = dx[found]! + dys[o + ch]!;
  }
}

function maxPoolGrad(args: KernelArgs): TensorInfo {
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  return withRunner(args.backend, (k) =>
    maxPoolGrad2D(k, dy, input, output, pool2d(input.shape, filterSize, strides, pad, dimRoundingMode)),
  );
}

function maxPool3D(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPool3DAttrs;
  return withRunner(args.backend, (k) => maxPoolND(k, x, pool3d(x.shape, filterSize, strides, pad, dimRoundingMode)));
}

function maxPool3DGrad(args: KernelArgs): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPool3DGradAttrs;
  return withRunner(args.backend, (k) => {
    const g = pool3d(input.shape, filterSize, strides, pad, dimRoundingMode);
    return maxPoolGradND(k, dy, input, maxPoolND(k, input, g), g);
  });
}

/** Max-pooling kernels, replacing wasm's (which start the running max at FLT_MIN > 0). */
export const poolKernels: KernelConfig[] = [
  { kernelName: 'MaxPoolGrad', backendName: WASM, kernelFunc: maxPoolGrad as KernelFunc },
  { kernelName: 'MaxPool3D', backendName: WASM, kernelFunc: maxPool3D as KernelFunc },
  { kernelName: 'MaxPool3DGrad', backendName: WASM, kernelFunc: maxPool3DGrad as KernelFunc },
];
