import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { epilogue, epilogueArgs, isFusedActivation } from './epilogue';
import { addon, call, Heap, type KernelArgs, previous, state, WASM } from './heap';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/**
 * The addon's geometry vector `[B, H, W, CI, OH, OW, CO, KH, KW, SH, SW, DH, DW, padTop, padLeft]`
 * of an NHWC convolution, from tfjs' own `computeConv2DInfo` (so 'same' / 'valid' / explicit
 * padding and the rounding mode mean what they mean on every backend).
 */
function geometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  rounding: Rounding,
): { info: tf.backend_util.Conv2DInfo; g: Int32Array } {
  const c = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    rounding,
    false,
    'channelsLast',
  );
  const g = Int32Array.of(
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  );
  return { info: c, g };
}

/** True for what the native convolutions handle: float32 NHWC of rank 4 (and a matching filter). */
function handled(dataFormat: string | undefined, ...ts: (TensorInfo | undefined)[]): boolean {
  if (dataFormat != null && dataFormat !== 'NHWC') return false;
  return ts.every((t) => t == null || t.dtype === 'float32');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A geometry, or null when tfjs' checks reject the shapes (the previous kernel then raises). */
function tryGeometry(...args: Parameters<typeof geometry>): ReturnType<typeof geometry> | null {
  if (args[0].length !== 4 || args[1].length !== 4 || args[0][3] !== args[1][2]) return null;
  try {
    return geometry(...args);
  } catch {
    return null;
  }
}

function forward(kernel: 'Conv2D' | 'FusedConv2D', args: KernelArgs): TensorInfo | TensorInfo[] {
  const { x, filter, bias, preluActivationWeights } = args.inputs as {
    x: TensorInfo;
    filter: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
  if (
    !handled(attrs.dataFormat, x, filter, bias, preluActivationWeights) ||
    (kernel === 'FusedConv2D' && !isFusedActivation(attrs.activation))
  ) {
    return previous(kernel, args);
  }
  const geo = tryGeometry(x.shape, filter.shape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode);
  if (geo == null) return previous(kernel, args);
  const c = geo.info;
  if (state.smallConvToWasm && c.outChannels <= 8 && c.inChannels <= 4 && state.previous.has(kernel)) return previous(kernel, args);
  const heap = new Heap(args.backend);
  const outShape = [c.batchSize, c.outHeight, c.outWidth, c.outChannels];
  const fused = kernel === 'Conv2D' ? [] : epilogueArgs(heap, outShape, bias, preluActivationWeights, attrs);
  const out = heap.allocate(outShape);
  try {
    const xOff = heap.offset(x);
    const fOff = heap.offset(filter);
    const yOff = heap.offset(out);
    call(kernel, () => addon().conv2d(heap.buffer(), xOff, fOff, yOff, geo.g, ...(fused ?? [])));
    if (fused != null) return out;
    return epilogue(heap, kernel, out, bias, preluActivationWeights, attrs);
  } catch (error) {
    heap.dispose(out);
    throw error;
  }
}

function backpropInput(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (!handled(attrs.dataFormat, dy, filter)) return previous('Conv2DBackpropInput', args);
  const geo = tryGeometry(attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  if (geo == null) return previous('Conv2DBackpropInput', args);
  const c = geo.info;
  if (!sameShape(dy.shape, [c.batchSize, c.outHeight, c.outWidth, c.outChannels])) return previous('Conv2DBackpropInput', args);
  const heap = new Heap(args.backend);
  const dx = heap.allocate([...attrs.inputShape]);
  try {
    const dyOff = heap.offset(dy);
    const fOff = heap.offset(filter);
    const dxOff = heap.offset(dx);
    call('Conv2DBackpropInput', () => addon().conv2dBackpropInput(heap.buffer(), dyOff, fOff, dxOff, geo.g));
    return dx;
  } catch (error) {
    heap.dispose(dx);
    throw error;
  }
}

function backpropFilter(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (!handled(attrs.dataFormat, x, dy)) return previous('Conv2DBackpropFilter', args);
  const geo = tryGeometry(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  if (geo == null) return previous('Conv2DBackpropFilter', args);
  const c = geo.info;
  if (!sameShape(dy.shape, [c.batchSize, c.outHeight, c.outWidth, c.outChannels])) return previous('Conv2DBackpropFilter', args);
  const heap = new Heap(args.backend);
  const dw = heap.allocate([...attrs.filterShape]);
  try {
    const xOff = heap.offset(x);
    const dyOff = heap.offset(dy);
    const dwOff = heap.offset(dw);
    call('Conv2DBackpropFilter', () => addon().conv2dBackpropFilter(heap.buffer(), xOff, dyOff, dwOff, geo.g));
    return dw;
  } catch (error) {
    heap.dispose(dw);
    throw error;
  }
}

/**
 * `Conv2D`, `FusedConv2D` (what tfjs-layers' conv2d runs), `Conv2DBackpropInput` and
 * `Conv2DBackpropFilter` for float32 NHWC, by im2col + OpenBLAS sgemm (a plain sgemm for 1x1,
 * stride-1 convolutions). NCHW and other dtypes go to the kernel registered before.
 */
export const convKernels: KernelConfig[] = [
  { kernelName: 'Conv2D', backendName: WASM, kernelFunc: ((args: KernelArgs) => forward('Conv2D', args)) as KernelFunc },
  { kernelName: 'FusedConv2D', backendName: WASM, kernelFunc: ((args: KernelArgs) => forward('FusedConv2D', args)) as KernelFunc },
  { kernelName: 'Conv2DBackpropInput', backendName: WASM, kernelFunc: backpropInput as KernelFunc },
  { kernelName: 'Conv2DBackpropFilter', backendName: WASM, kernelFunc: backpropFilter as KernelFunc },
];
