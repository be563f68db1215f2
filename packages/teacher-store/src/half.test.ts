import { util } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { toHalf } from './half';

/** Exhaustive reference: the nearest of all 2^16 halves (ties to even), by decoding every bit pattern. */
const halves = Array.from({ length: 0x7c00 }, (_, bits) => util.uint16ToFloat64(bits));
function reference(v: number): number {
  const a = Math.abs(v);
  let lo = 0;
  let hi = halves.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (halves[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const d0 = a - halves[lo]!;
  const d1 = halves[hi]! - a;
  const pick = d0 < d1 || (d0 === d1 && lo % 2 === 0) ? lo : hi;
  return (v < 0 || Object.is(v, -0) ? 0x8000 : 0) | pick;
}

describe('toHalf', () => {
  it('rounds to the nearest half (ties to even) with carries, subnormals and tiny values, like an exhaustive reference', () => {
    const f = new Float32Array(1);
    const cases = [
      0,
      -0,
      1,
      -1,
      1.9999,
      7.9995,
      0.4999,
      65504,
      -65504,
      65519,
      1e-8,
      -5e-9,
      1e-9,
      6e-8,
      5.96e-8,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      6.1e-5,
      1 / 3,
      Math.PI,
    ];
    for (let i = 0; i < 20_000; i++)
      cases.push((Math.sin(i * 12.9898) * 43758.5453) % 40, Math.exp(Math.sin(i) * 25) * (i % 2 ? 1 : -1) * 1e-4);
    for (const v of cases) {
      if (Math.abs(v) > 65504) continue;
      f[0] = v;
      expect(toHalf(f[0]!, 't'), `toHalf(${f[0]})`).toBe(reference(f[0]!));
    }
    expect(util.uint16ToFloat64(toHalf(1.9999, 't'))).toBe(2);
    expect(util.uint16ToFloat64(toHalf(7.9995, 't'))).toBe(8);
  });

  it('refuses values a half cannot hold', () => {
    for (const v of [70000, -65600, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(() => toHalf(v, 'logits')).toThrow(expect.objectContaining({ code: 'store-bad-value' }));
    }
  });
});
