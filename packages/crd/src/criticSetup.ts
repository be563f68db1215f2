import { DistillationError, type SetupContext } from '@kd/core';
import { CrdError } from './errors';
import type { CrdEnsembleMember } from './plugin';

/** One critic of a CRD plugin: the tapped layers it pairs and the name of its loss term. */
export interface CriticSpec extends CrdEnsembleMember {
  readonly label: string;
}

/** The layers the specs tap, each once (first use order). */
export function criticTaps(specs: readonly CriticSpec[]): { student: string[]; teacher: string[] } {
  return {
    student: [...new Set(specs.map((s) => s.student))],
    teacher: [...new Set(specs.map((s) => s.teacher))],
  };
}

/** What a critic of one spec is made from: the sizes of its tapped features, its seed and name. */
export interface CriticBasis {
  readonly studentDim: number;
  readonly teacherDim: number;
  readonly seed: number;
  readonly name: string;
}

/**
 * One critic per spec, in order: the feature sizes from the tapped shapes, then a seed from
 * `context.random`, and the name `${plugin}_${i}`. A throw part-way frees the critics made.
 */
export function createCritics<C extends { dispose(): void }>(
  specs: readonly CriticSpec[],
  context: SetupContext,
  plugin: string,
  create: (basis: CriticBasis) => C,
): C[] {
  const critics: C[] = [];
  try {
    for (const spec of specs) {
      const studentDim = featureSize(context.studentShapes[spec.student], spec.student, 'student', spec.studentDim, plugin);
      const teacherDim = featureSize(context.teacherShapes[spec.teacher], spec.teacher, 'teacher', spec.teacherDim, plugin);
      critics.push(create({ studentDim, teacherDim, seed: context.random.seed(), name: `${plugin}_${critics.length}` }));
    }
  } catch (error) {
    for (const c of critics) c.dispose();
    throw error;
  }
  return critics;
}

function featureSize(
  shape: readonly (number | null)[] | undefined,
  layer: string,
  role: 'student' | 'teacher',
  expected: number | undefined,
  plugin: string,
): number {
  if (!shape) {
    throw new DistillationError('unknown-layer', `Plugin "${plugin}": the ${role} layer "${layer}" was not tapped`);
  }
  const rest = shape.slice(1);
  if (rest.length === 0 || rest.some((d) => d == null)) {
    if (expected !== undefined) return expected;
    throw new CrdError(
      'feature-dim-mismatch',
      `Plugin "${plugin}": the ${role} layer "${layer}" has shape [${shape.map(String)}]; CRD needs a fixed-size (pooled) feature, or pass ${role}Dim`,
    );
  }
  const size = (rest as number[]).reduce((a, d) => a * d, 1);
  if (expected !== undefined && expected !== size) {
    throw new CrdError(
      'feature-dim-mismatch',
      `Plugin "${plugin}": ${role}Dim = ${expected} disagrees with the tapped ${role} layer "${layer}" of shape [${shape.map(String)}] (${size} values per example)`,
    );
  }
  return size;
}
