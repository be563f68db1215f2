import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { DistillationError } from './errors';
import type { EpochLogs } from './events';

/** A tensor's value copied out of the backend: independent of tfjs memory management. */
export interface TensorRecord {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly values: Float32Array | Int32Array | Uint8Array;
}

/**
 * Everything needed to resume a run exactly: student weights, optimizer state, plugin states,
 * completed epochs, global step and history (randomness is keyed by the seed, epoch and step, so it needs no state). Holds plain typed arrays (no tensors),
 * so it can be kept, encoded and dropped without disposal.
 */
export interface Checkpoint {
  readonly format: 'kd-checkpoint';
  readonly version: typeof CHECKPOINT_VERSION;
  /** What the run was: a resume with other plugins, data or optimizer is refused, naming the difference. */
  readonly run: CheckpointRun;
  /** Set when the checkpoint was taken inside an epoch (`checkpointEvery`): where to continue. */
  readonly position?: EpochPosition;
  /** Set by `fitStages`: the stage the checkpoint belongs to. */
  readonly stage?: { readonly index: number; readonly name: string };
  /** Number of completed epochs. */
  readonly epoch: number;
  /** Global step count. */
  readonly step: number;
  readonly history: readonly EpochLogs[];
  readonly student: readonly TensorRecord[];
  readonly optimizer: readonly TensorRecord[];
  readonly plugins: Readonly<Record<string, { readonly tensors: readonly TensorRecord[]; readonly json?: unknown }>>;
}

/** The checkpoint format this version writes; older ones are refused (their runs drew randomness from one shared stream). */
export const CHECKPOINT_VERSION = 3;

/** The identity of a run, checked on resume. */
export interface CheckpointRun {
  /** Plugin names in `use()` order. */
  readonly plugins: readonly string[];
  /** Training examples N. */
  readonly dataSize: number;
  readonly numClasses: number;
  /** The optimizer's class name, e.g. `kd.Adam`. */
  readonly optimizer: string;
  /** kd optimizers: the hyper-parameters a resume must share (all but the learning rate). */
  readonly optimizerSettings?: Readonly<Record<string, number | boolean>>;
  /** The run's seed: every generator is keyed by it, so a resume must use the same. */
  readonly seed: number;
}

/** Where inside an epoch a checkpoint was taken, with the epoch's running sums. */
export interface EpochPosition {
  /** Steps of the epoch already taken. */
  readonly stepInEpoch: number;
  /** The batch size of the epoch (a resume inside it must use the same). */
  readonly batchSize: number;
  /** The epoch's example order (drawn at its start). */
  readonly order: Int32Array;
  readonly lossSum: number;
  readonly termSums: Readonly<Record<string, number>>;
  readonly learningRate: number;
  /** Seconds the epoch had run. */
  readonly seconds: number;
}

/** Where a run keeps its checkpoint. `@kd/core/node` has a file store with atomic writes. */
export interface CheckpointStore {
  save(checkpoint: Checkpoint): Promise<void>;
  /** The last saved checkpoint, or undefined when there is none. */
  load(): Promise<Checkpoint | undefined>;
  /**
   * Called by `fit` before the first step: fails (with the path and the cause) when saving will
   * not work, and may clean up after a killed save. Optional.
   */
  probe?(): Promise<void>;
  /** Where the checkpoint lives, for messages (a file path). */
  readonly description?: string;
}

/** Copies a tensor's value out of the backend. */
export function toRecord(name: string, tensor: tf.Tensor): TensorRecord {
  const dtype = tensor.dtype;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new DistillationError('bad-checkpoint', `Cannot checkpoint tensor "${name}" of dtype ${dtype}`);
  }
  const data = tensor.dataSync();
  const values = dtype === 'bool' ? Uint8Array.from(data as Uint8Array) : data.slice();
  return { name, shape: [...tensor.shape], dtype, values: values as TensorRecord['values'] };
}

/** Creates a tensor from a record (the caller owns it). */
export function fromRecord(record: TensorRecord): tf.Tensor {
  return tf.tensor(record.values, [...record.shape], record.dtype);
}

/** An in-memory checkpoint store (browser, tests). */
export function memoryCheckpointStore(): CheckpointStore & { readonly saves: number } {
  let last: Checkpoint | undefined;
  let saves = 0;
  return {
    get saves() {
      return saves;
    },
    async save(checkpoint) {
      last = structuredClone(checkpoint);
      saves++;
    },
    async load() {
      return last && structuredClone(last);
    },
  };
}

const MAGIC = 'KDCKPT01';

/**
 * Encodes a checkpoint into one byte array: 8-byte magic, uint32 header length, JSON header,
 * then every tensor's bytes (little-endian, 4-byte aligned).
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const describe = (records: readonly TensorRecord[]) =>
    records.map((r) => {
      const bytes = new Uint8Array(r.values.buffer, r.values.byteOffset, r.values.byteLength);
      const entry = { name: r.name, shape: r.shape, dtype: r.dtype, offset, length: r.values.length };
      const padded = Math.ceil(bytes.byteLength / 4) * 4;
      blobs.push(bytes);
      if (padded > bytes.byteLength) blobs.push(new Uint8Array(padded - bytes.byteLength));
      offset += padded;
      return entry;
    });
  const header = {
    format: checkpoint.format,
    version: checkpoint.version,
    run: checkpoint.run,
    ...(checkpoint.stage ? { stage: checkpoint.stage } : {}),
    ...(checkpoint.position
      ? {
          position: {
            ...checkpoint.position,
            order: describe([
              { name: 'order', shape: [checkpoint.position.order.length], dtype: 'int32', values: checkpoint.position.order },
            ])[0],
          },
        }
      : {}),
    epoch: checkpoint.epoch,
    step: checkpoint.step,
    history: checkpoint.history,
    student: describe(checkpoint.student),
    optimizer: describe(checkpoint.optimizer),
    plugins: Object.fromEntries(Object.entries(checkpoint.plugins).map(([k, v]) => [k, { tensors: describe(v.tensors), json: v.json }])),
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const headerPadded = Math.ceil((12 + json.byteLength) / 4) * 4 - 12;
  if (headerPadded > json.byteLength) {
    const p = new Uint8Array(headerPadded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(12 + json.byteLength + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.byteLength, true);
  out.set(json, 12);
  let at = 12 + json.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

const encodedRecord = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32', 'bool']),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});
type EncodedRecord = z.infer<typeof encodedRecord>;
const count = z.number().int().nonnegative();
const headerSchema = z.object({
  format: z.literal('kd-checkpoint'),
  version: z.literal(CHECKPOINT_VERSION),
  run: z.object({
    plugins: z.array(z.string()),
    dataSize: count,
    numClasses: count,
    optimizer: z.string(),
    optimizerSettings: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
    seed: z.number().int(),
  }),
  stage: z.object({ index: count, name: z.string() }).optional(),
  position: z
    .object({
      stepInEpoch: count,
      batchSize: count,
      order: encodedRecord,
      lossSum: z.number(),
      termSums: z.record(z.string(), z.number()),
      learningRate: z
        .number()
        .or(z.null())
        .transform((v) => v ?? Number.NaN),
      seconds: z.number(),
    })
    .optional(),
  epoch: count,
  step: count,
  history: z.array(z.unknown()),
  student: z.array(encodedRecord),
  optimizer: z.array(encodedRecord),
  plugins: z.record(z.string(), z.object({ tensors: z.array(encodedRecord), json: z.unknown().optional() })),
});

/** Decodes {@link encodeCheckpoint}'s bytes; fails clearly on a truncated or foreign file. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new DistillationError('bad-checkpoint', `${source} is not a kd checkpoint (missing ${MAGIC} header)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.byteLength) {
    throw new DistillationError('bad-checkpoint', `${source} is truncated (header needs ${headerLength} bytes)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch (error) {
    throw new DistillationError('bad-checkpoint', `${source}: the header is not valid JSON (the file is corrupted)`, { cause: error });
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version < CHECKPOINT_VERSION) {
    throw new DistillationError(
      'bad-checkpoint',
      `${source} has checkpoint format ${version}, written by an earlier kd; format ${CHECKPOINT_VERSION} draws each purpose's randomness from its own keyed generator, ` +
        'so an older run cannot continue exactly. Start the run again (or move the file away).',
    );
  }
  if (version !== CHECKPOINT_VERSION) {
    throw new DistillationError(
      'bad-checkpoint',
      `${source}: unsupported checkpoint format ${JSON.stringify(version)} (this kd reads ${CHECKPOINT_VERSION})`,
    );
  }
  const checked = headerSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new DistillationError(
      'bad-checkpoint',
      `${source}: header field "${issue.path.join('.')}" ${issue.message} (the file is corrupted)`,
    );
  }
  const header = checked.data;
  const base = 12 + headerLength;
  const read = (records: EncodedRecord[]): TensorRecord[] =>
    records.map((r) => {
      const width = r.dtype === 'bool' ? 1 : 4;
      const elements = r.shape.reduce((a, b) => a * b, 1);
      if (elements !== r.length) {
        throw new DistillationError(
          'bad-checkpoint',
          `${source}: tensor "${r.name}" has shape [${r.shape}] but ${r.length} values (the file is corrupted)`,
        );
      }
      const start = base + r.offset;
      if (start + r.length * width > bytes.byteLength) {
        throw new DistillationError('bad-checkpoint', `${source} is truncated (tensor "${r.name}")`);
      }
      // Copy into a fresh buffer (a Node Buffer's slice() shares its pool, and offsets must align).
      const copy = new Uint8Array(r.length * width);
      copy.set(bytes.subarray(start, start + r.length * width));
      const values =
        r.dtype === 'float32'
          ? new Float32Array(copy.buffer)
          : r.dtype === 'int32'
            ? new Int32Array(copy.buffer)
            : new Uint8Array(copy.buffer);
      return { name: r.name, shape: r.shape, dtype: r.dtype, values };
    });
  if (header.position && (header.position.order.dtype !== 'int32' || header.position.order.length !== header.run.dataSize)) {
    throw new DistillationError(
      'bad-checkpoint',
      `${source}: the saved epoch order is not ${header.run.dataSize} int32 positions (the file is corrupted)`,
    );
  }
  const position = header.position && { ...header.position, order: read([header.position.order])[0]!.values as Int32Array };
  return {
    format: 'kd-checkpoint',
    version: CHECKPOINT_VERSION,
    run: header.run,
    ...(header.stage ? { stage: header.stage } : {}),
    ...(position ? { position } : {}),
    epoch: header.epoch,
    step: header.step,
    history: header.history as EpochLogs[],
    student: read(header.student),
    optimizer: read(header.optimizer),
    plugins: Object.fromEntries(Object.entries(header.plugins).map(([k, v]) => [k, { tensors: read(v.tensors), json: v.json }])),
  };
}
