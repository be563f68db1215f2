import { TeacherStoreError } from './errors';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE 754 half-precision bits of `value`, rounded to nearest (ties to even), subnormals kept,
 * the carry of a rounded-up mantissa propagated into the exponent. Values beyond the half range
 * (|v| > 65504) and non-finite values are refused: a store must not hold an Infinity or NaN the
 * teacher never produced. (apache-arrow's `float64ToUint16` neither rounds nor carries correctly.)
 */
export function toHalf(value: number, where: string): number {
  if (!Number.isFinite(value) || Math.abs(value) > 65504) {
    throw new TeacherStoreError(
      'store-bad-value',
      `${where}: ${value} cannot be stored as float16 (finite, |v| <= 65504); use dtype "float32"`,
    );
  }
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0 && mantissa === 0) return sign;
  const e = exponent - 127 + 15;
  if (e >= 1) {
    // Normal half: keep 10 mantissa bits, round the 13 dropped ones to nearest even.
    let half = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // a carry moves into the exponent
    return sign | half;
  }
  // Subnormal half (or zero after rounding): the value in units of 2^-24.
  const full = mantissa | 0x800000;
  const shift = 14 - e; // 13 dropped bits + (1 - e) more
  if (shift > 24) return sign;
  let half = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const midpoint = 1 << (shift - 1);
  if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half += 1;
  return sign | half;
}
