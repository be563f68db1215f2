import { z } from 'zod';
import { TeacherStoreError } from './errors';

/** The store format this version writes and reads. */
export const STORE_VERSION = 1;

/** One shard as the manifest lists it. */
export interface ShardEntry {
  /** File name inside the store directory, e.g. `shard-00000.arrow`. */
  readonly file: string;
  /** Rows (examples) in the shard. */
  readonly rows: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/**
 * `manifest.json` of a teacher store (format 1), written last: a store without it is
 * incomplete. See the package README for the full specification.
 */
export interface StoreManifest {
  readonly format: 'kd-teacher-store';
  readonly version: typeof STORE_VERSION;
  /** What produced the outputs: a description and a fingerprint (hex SHA-256 of architecture and weights, or given). */
  readonly teacher: { readonly description: string; readonly fingerprint: string };
  /** What they were computed on: size N, example shape, and the SHA-256 of the ids in order. */
  readonly source: {
    readonly description: string;
    readonly size: number;
    readonly exampleShape: readonly number[];
    readonly idsSha256: string;
    /** For in-memory tensors (whose ids are positions): SHA-256 of their values. */
    readonly contentSha256?: string;
  };
  /** Logits' width. */
  readonly numClasses: number;
  /** Tapped teacher layers and their shapes (batch dimension `null`). */
  readonly taps: Readonly<Record<string, readonly (number | null)[]>>;
  /** How values are stored: `float32`, or `float16` (half the bytes; read back as float32). */
  readonly dtype: 'float32' | 'float16';
  /** Ids are kept as Arrow Utf8; this says how to read them back. */
  readonly idType: 'number' | 'string';
  /** The backend the teacher ran on (bit-for-bit equality holds per backend). */
  readonly backend: string;
  /** Shards in position order; together they hold all N examples exactly once. */
  readonly shards: readonly ShardEntry[];
}

// A tap's shape: the batch dimension null, every other a positive integer.
const dims = z.tuple([z.null()], z.number().int().positive());

/** Schema of {@link StoreManifest}. */
export const storeManifestSchema = z.object({
  format: z.literal('kd-teacher-store'),
  version: z.literal(STORE_VERSION),
  teacher: z.object({ description: z.string(), fingerprint: z.string().regex(/^[0-9a-f]{64}$/) }),
  source: z.object({
    description: z.string(),
    size: z.number().int().positive(),
    exampleShape: z.array(z.number().int().positive()),
    idsSha256: z.string().regex(/^[0-9a-f]{64}$/),
    contentSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
  numClasses: z.number().int().positive(),
  taps: z.record(z.string(), dims),
  dtype: z.enum(['float32', 'float16']),
  idType: z.enum(['number', 'string']),
  backend: z.string(),
  shards: z.array(
    z.object({ file: z.string().regex(/^[\w.-]+$/), rows: z.number().int().positive(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  ),
});

/** Parses and checks `manifest.json` text; `where` names it in errors. */
export function parseManifest(text: string, where: string): StoreManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TeacherStoreError('store-bad-manifest', `${where} is not valid JSON (a torn or foreign file)`, { cause: error });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if ((json as { format?: unknown } | null)?.format === 'kd-teacher-store' && version !== STORE_VERSION) {
    throw new TeacherStoreError(
      'store-bad-manifest',
      `${where}: store format ${JSON.stringify(version)}; this kd reads format ${STORE_VERSION}`,
    );
  }
  const parsed = storeManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TeacherStoreError('store-bad-manifest', `${where}: ${issue.path.join('.') || 'manifest'}: ${issue.message}`);
  }
  const rows = parsed.data.shards.reduce((a, s) => a + s.rows, 0);
  if (rows !== parsed.data.source.size) {
    throw new TeacherStoreError(
      'store-bad-manifest',
      `${where}: its shards hold ${rows} rows, the source ${parsed.data.source.size} examples`,
    );
  }
  return parsed.data as StoreManifest;
}
