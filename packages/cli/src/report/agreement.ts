import { argmax } from './argmax';

/** The teacher-student agreement of one class. */
export interface ClassAgreement {
  /** Class index. */
  readonly classIndex: number;
  /** Examples whose true label is this class. */
  readonly count: number;
  /** Fraction of them on which the student's top-1 class is the teacher's; `null` with no examples. */
  readonly rate: number | null;
}

/** What {@link topOneAgreement} returns. */
export interface Agreement {
  /** Fraction of all examples on which the student's top-1 class is the teacher's (0 with none). */
  readonly overall: number;
  /** One entry per class `0..classes-1`, grouped by the examples' true label. */
  readonly perClass: readonly ClassAgreement[];
}

/**
 * How often the student predicts the teacher's top-1 class (right or wrong), overall and per true
 * class.
 *
 * @param teacherLogits One row of teacher logits per example.
 * @param studentLogits One row of student logits per example (same examples, same order).
 * @param labels The true class of each example (groups the per-class rates).
 * @param classes Number of classes.
 */
export function topOneAgreement(
  teacherLogits: readonly (readonly number[])[],
  studentLogits: readonly (readonly number[])[],
  labels: readonly number[],
  classes: number,
): Agreement {
  const counts = new Array<number>(classes).fill(0);
  const agreeing = new Array<number>(classes).fill(0);
  let total = 0;
  labels.forEach((label, i) => {
    const agrees = argmax(teacherLogits[i]!) === argmax(studentLogits[i]!);
    counts[label]! += 1;
    if (agrees) {
      agreeing[label]! += 1;
      total += 1;
    }
  });
  return {
    overall: labels.length > 0 ? total / labels.length : 0,
    perClass: counts.map((count, classIndex) => ({ classIndex, count, rate: count > 0 ? agreeing[classIndex]! / count : null })),
  };
}
