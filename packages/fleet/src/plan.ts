import { DistillationError } from '@kd/core';

/** One shard job: positions `[start, end)` of the source, written as `shard-<index>.arrow`. */
export interface ShardRange {
  /** Shard index (`shard-00003.arrow` is index 3). */
  readonly shard: number;
  /** First position (inclusive). */
  readonly start: number;
  /** Last position (exclusive). */
  readonly end: number;
}

/**
 * The shards `precomputeTeacher` writes for a source of `size` examples: consecutive position
 * ranges of `shardSize` (the last one shorter). The fleet uses the same split, so its store
 * equals a single-process one file for file.
 */
export function planShards(size: number, shardSize: number): ShardRange[] {
  for (const [name, v] of [
    ['size', size],
    ['shardSize', shardSize],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0)
      throw new DistillationError('bad-option', `planShards: ${name} must be a positive integer, got ${v}`);
  }
  const out: ShardRange[] = [];
  for (let start = 0, shard = 0; start < size; start += shardSize, shard++)
    out.push({ shard, start, end: Math.min(size, start + shardSize) });
  return out;
}

/** `shard-00003.arrow`: the file name of a shard, as `precomputeTeacher` names it. */
export const shardFile = (shard: number) => `shard-${String(shard).padStart(5, '0')}.arrow`;
