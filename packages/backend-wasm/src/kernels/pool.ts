import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { fromInfo2d, fromInfo3d, type Geometry, type Pad, type Rounding } from './conv';
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
 * 2-D max-pool gradient without strided slices or rank-6 transposes (both slow on wasm): the padded
 * input is split into its stride phases with rank-3 slices, each window offset's view is a phase
 * (shifted by whole strides), and the per-offset gradients are interleaved back with concats.
 */
function maxPoolGrad2D(k: KernelRunner, dy: TensorInfo, x: TensorInfo, y: TensorInfo, g: PoolGeometry): TensorInfo {
  const [b, , , c] = x.shape as [number, number, number, number];
  const [oh, ow] = g.outSpatial as [number, number];
  const [sh, sw] = g.strides as [number, number];
  const [kh, kw] = g.filter as [number, number];
  const qh = Math.ceil(kh / sh);
  const qw = Math.ceil(kw / sw);
  const Qh = oh + qh - 1;
  const Qw = ow + qw - 1;
  const amounts: Array<[number, number]> = [
    [0, 0],
    [g.padBefore[0]!, Qh * sh - g.padBefore[0]! - g.inSpatial[0]!],
    [g.padBefore[1]!, Qw * sw - g.padBefore[1]! - g.inSpatial[1]!],
    [0, 0],
  ];
  const xp = k.padOrCrop(x, amounts, LOWEST); // [b, Qh * sh, Qw * sw, c]
  // phase[rh][rw][i, j] = xp[i * sh + rh, j * sw + rw]
  const rows = k.reshape(xp, [b * Qh, sh, Qw * sw * c]);
  const phase: TensorInfo[][] = [];
  for (let rh = 0; rh < sh; rh++) {
    const row = sh === 1 ? rows : k.run('Slice', { x: rows }, { begin: [0, rh, 0], size: [b * Qh, 1, Qw * sw * c] });
    const cols = k.reshape(row, [b * Qh * Qw, sw, c]);
    phase.push([]);
    for (let rw = 0; rw < sw; rw++) {
      const col = sw === 1 ? cols : k.run('Slice', { x: cols }, { begin: [0, rw, 0], size: [b * Qh * Qw, 1, c] });
      phase[rh]!.push(k.reshape(col, [b, Qh, Qw, c]));
    }
  }
  const viewAt = (i: number, j: number): TensorInfo => {
    const p = phase[i % sh]![j % sw]!;
    const [di, dj] = [Math.floor(i / sh), Math.floor(j / sw)];
    if (di === 0 && dj === 0 && Qh === oh && Qw === ow) return p;
    return k.run('Slice', { x: p }, { begin: [0, di, dj, 0], size: [b, oh, ow, c] });
  };
  const zeros = k.run('ZerosLike', { x: dy });
  const parts = new Map<string, TensorInfo>();
  // dy not yet handed out: the first matching offset takes it, later ones get zeros.
  let remaining = dy;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const eq = k.run('Equal', { a: viewAt(i, j), b: y });
      parts.set(`${i},${j}`, k.run('Select', { condition: eq, t: remaining, e: zeros }));
      if (i < kh - 1 || j < kw - 1) remaining = k.run('Select', { condition: eq, t: zeros, e: remaining });
    }
  }
  let acc: TensorInfo | undefined;
  for (let gi = 0; gi < qh; gi++) {
    for (let gj = 0; gj < qw; gj++) {
      const rowParts: TensorInfo[] = [];
      for (let rh = 0; rh < sh; rh++) {
        const colParts: TensorInfo[] = [];
        for (let rw = 0; rw < sw; rw++) {
          const part = parts.get(`${gi * sh + rh},${gj * sw + rw}`) ?? zeros;
          colParts.push(k.reshape(part, [b, oh, ow, 1, c]));
        }
        const row = colParts.length === 1 ? colParts[0]! : k.run('Concat', colParts, { axis: 3 });
        rowParts.push(k.reshape(row, [b, oh, 1, ow * sw, c]));
      }
      const group = rowParts.length === 1 ? rowParts[0]! : k.run('Concat', rowParts, { axis: 2 });
      const placed = k.padOrCrop(k.reshape(group, [b, oh * sh, ow * sw, c]), [
        [0, 0],
        [gi * sh, (Qh - oh - gi) * sh],
        [gj * sw, (Qw - ow - gj) * sw],
        [0, 0],
      ]);
      acc = acc == null ? placed : k.run('Add', { a: acc, b: placed });
    }
  }
  return k.padOrCrop(
    acc!,
    amounts.map(([a, b2]) => [-a, -b2] as [number, number]),
  );
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
