import { type DataSource, type ExampleId, isDataSource, isRandomAccess, type LabeledData, tensorsFingerprint } from '@kd/core';
import { TeacherStoreError } from './errors';

/** What a store says of its source, to compare with the source at hand. */
export interface SourceIdentity {
  readonly description: string;
  readonly size: number;
  readonly exampleShape: readonly number[];
  readonly contentSha256?: string;
}

/** The identity of `source` (the source of `data`): description, size, shape, and the values of in-memory tensors. */
export async function identityOf(data: DataSource | LabeledData, source: DataSource): Promise<SourceIdentity> {
  return {
    description: source.description ?? 'a DataSource',
    size: source.size,
    exampleShape: [...source.exampleShape],
    ...(isDataSource(data) ? {} : { contentSha256: await tensorsFingerprint([data.x, data.y, data.teacherX]) }),
  };
}

/** Why two source identities differ, or undefined. */
export function sourceDifference(stored: SourceIdentity, given: SourceIdentity): string | undefined {
  for (const key of ['description', 'size', 'exampleShape', 'contentSha256'] as const) {
    const a = JSON.stringify(stored[key] ?? null);
    const b = JSON.stringify(given[key] ?? null);
    if (a !== b) return `${key} ${a} (store) vs ${b} (given)`;
  }
  return undefined;
}

/**
 * Spot-checks that a random-access source holds `ids[0]` of every shard at the shard's first
 * position (one example read per shard), naming the first difference.
 */
export async function spotCheck(source: DataSource, firsts: readonly { position: number; id: ExampleId }[], where: string): Promise<void> {
  if (!isRandomAccess(source) || firsts.length === 0) return;
  const positions = Int32Array.from(firsts, (f) => f.position);
  const read = await source.read(positions);
  firsts.forEach((f, i) => {
    if (read.ids[i] !== f.id) {
      throw new TeacherStoreError(
        'store-source-mismatch',
        `${where}: position ${f.position} of ${source.description ?? 'the source'} is example ${JSON.stringify(read.ids[i])}, the store has ${JSON.stringify(f.id)} there`,
      );
    }
  });
}
