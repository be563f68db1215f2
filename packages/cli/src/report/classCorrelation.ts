/**
 * The class-correlation matrix of a set of logits: entry (i, j) is the Pearson correlation, across
 * the examples, of logit column i with logit column j (a `classes x classes` symmetric matrix with
 * ones on the diagonal). A column that is constant over the examples correlates with nothing: its
 * off-diagonal entries are 0.
 *
 * @param logits One row per example, one column per class (at least two examples).
 */
export function classCorrelationMatrix(logits: readonly (readonly number[])[]): number[][] {
  const n = logits.length;
  const classes = logits[0]?.length ?? 0;
  const means = new Array<number>(classes).fill(0);
  for (const row of logits) for (let c = 0; c < classes; c++) means[c]! += row[c]! / n;
  const covariance = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (const row of logits) {
    for (let i = 0; i < classes; i++) {
      const di = row[i]! - means[i]!;
      for (let j = i; j < classes; j++) covariance[i]![j]! += di * (row[j]! - means[j]!);
    }
  }
  const deviation = covariance.map((r, i) => Math.sqrt(r[i]!));
  const correlation = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < classes; i++) {
    correlation[i]![i] = 1;
    for (let j = i + 1; j < classes; j++) {
      const scale = deviation[i]! * deviation[j]!;
      // A constant column has no correlation; clamp rounding that would leave [-1, 1].
      const r = scale > 0 ? Math.max(-1, Math.min(1, covariance[i]![j]! / scale)) : 0;
      correlation[i]![j] = r;
      correlation[j]![i] = r;
    }
  }
  return correlation;
}

/** What {@link classCorrelationDifference} returns. */
export interface ClassCorrelationDifference {
  /** `teacher - student`, entry by entry (a `classes x classes` matrix, zero on the diagonal). */
  readonly difference: number[][];
  /**
   * Mean of `|teacher - student|` over the `classes * (classes - 1)` off-diagonal entries (the
   * diagonal is 1 in both, hence left out); 0 with a single class.
   */
  readonly meanAbsoluteDifference: number;
}

/**
 * The CRD paper's analysis of what a student learned of the teacher's class structure: the
 * difference between the teacher's and the student's class-correlation matrices
 * ({@link classCorrelationMatrix}) of their logits on the same examples.
 */
export function classCorrelationDifference(
  teacherLogits: readonly (readonly number[])[],
  studentLogits: readonly (readonly number[])[],
): ClassCorrelationDifference {
  const teacher = classCorrelationMatrix(teacherLogits);
  const student = classCorrelationMatrix(studentLogits);
  const classes = teacher.length;
  let sum = 0;
  const difference = teacher.map((row, i) =>
    row.map((t, j) => {
      const d = t - student[i]![j]!;
      if (i !== j) sum += Math.abs(d);
      return d;
    }),
  );
  return { difference, meanAbsoluteDifference: classes > 1 ? sum / (classes * (classes - 1)) : 0 };
}
