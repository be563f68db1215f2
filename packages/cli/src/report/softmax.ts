/**
 * The softmax of one row of logits, `exp(z_i - max z) / sum_j exp(z_j - max z)` (the max is
 * subtracted so large logits do not overflow).
 */
export function softmax(logits: readonly number[]): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (const z of logits) if (z > max) max = z;
  const exps = logits.map((z) => Math.exp(z - max));
  let sum = 0;
  for (const e of exps) sum += e;
  return exps.map((e) => e / sum);
}
