import type * as tf from '@tensorflow/tfjs-core';
import { EmbedHead } from './embedHead';

/** A critic's student and teacher {@link EmbedHead} and its memory (banks or queues). */
export interface CriticModules<M> {
  readonly studentHead: EmbedHead;
  readonly teacherHead: EmbedHead;
  readonly memory: M;
}

/**
 * Makes a critic's two heads (`${name}_embed_s` seeded `seed`, `${name}_embed_t` seeded `seed + 2`),
 * then its memory from `seed + 4`; a throw part-way frees what was made.
 */
export function createCriticModules<M>(
  dims: { readonly studentDim: number; readonly teacherDim: number; readonly featureDim: number },
  seed: number,
  name: string,
  createMemory: (seed: number) => M,
): CriticModules<M> {
  const made: { dispose(): void }[] = [];
  try {
    const studentHead = new EmbedHead(dims.studentDim, dims.featureDim, { seed, name: `${name}_embed_s` });
    made.push(studentHead);
    const teacherHead = new EmbedHead(dims.teacherDim, dims.featureDim, { seed: seed + 2, name: `${name}_embed_t` });
    made.push(teacherHead);
    return { studentHead, teacherHead, memory: createMemory(seed + 4) };
  } catch (error) {
    for (const m of made) m.dispose();
    throw error;
  }
}

/** The heads' live variables under their checkpoint names (read, do not dispose). */
export function headTensors(studentHead: EmbedHead, teacherHead: EmbedHead): Record<string, tf.Tensor> {
  return {
    'embed_s/kernel': studentHead.kernel,
    'embed_s/bias': studentHead.bias,
    'embed_t/kernel': teacherHead.kernel,
    'embed_t/bias': teacherHead.bias,
  };
}
