import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Batch, LabeledData } from './batch';
import { DistillationError } from './errors';
import type { EnsembleMean, TeacherOutputs, TeacherPrediction } from './plugin';
import type { Teacher, TeacherLike } from './teacher';
import { ensembleDetail, ensembleOutputs, predictionTensors, toTeacherOutputs } from './teacherOutputs';

/**
 * Whether the {@link Distiller} keeps teacher outputs across epochs.
 *
 * - `'memory'` (default): teacher logits and tapped features are computed once per training
 *   example (keyed by `batch.index`), kept in memory (plain `Float32Array`s, no tensors) and
 *   reused in later epochs. A step is served from the cache ONLY when the teacher's input is
 *   provably the untransformed example: after every plugin's `transformBatch`, `batch.x`,
 *   `batch.teacherX` and `batch.index` must still be the very tensors the Distiller gathered.
 *   A plugin that augments (returns a new `x`) makes that step bypass the cache, so the default
 *   can never change results; it only saves work. The teacher is assumed to be a deterministic
 *   function of its input (true for any model in inference mode).
 * - `'off'`: the teacher runs on every step (use it for a stochastic or stateful teacher).
 */
export type TeacherCacheMode = 'memory' | 'off';

/**
 * Teacher outputs of a whole data set, as plain arrays: what a {@link TeacherCacheStore} keeps.
 * Fields are named `logits`, `feature:<layer>` and `members`; rows are example-major.
 */
export interface TeacherOutputRecord {
  /** Examples (rows of every field). */
  readonly size: number;
  readonly fields: Readonly<Record<string, { readonly rowShape: readonly number[]; readonly values: Float32Array }>>;
  readonly mean?: EnsembleMean;
}

/**
 * Keeps complete teacher outputs beyond one Distiller (`teacherCache: store`): other Distillers
 * in the process ({@link memoryTeacherCacheStore}) or later processes (`fileTeacherCacheStore`
 * from `@kd/core/node`). Keys are content fingerprints — a hash of the teacher's architecture and
 * weights, of the data's values and of the tapped layer names — so a changed teacher or data set
 * never reads stale outputs. Only LayersModel teachers have such a fingerprint; with other teachers
 * the cache works in memory only (`stats().reason` says so).
 */
export interface TeacherCacheStore {
  /** The record saved under `key`, or undefined. */
  load(key: string): Promise<TeacherOutputRecord | undefined>;
  /** Saves a complete record (every example filled). */
  save(key: string, record: TeacherOutputRecord): Promise<void>;
}

/** A {@link TeacherCacheStore} in this process's memory, to share between Distillers (e.g. the methods of a benchmark). */
export function memoryTeacherCacheStore(): TeacherCacheStore & { readonly keys: () => string[]; clear(): void } {
  const records = new Map<string, TeacherOutputRecord>();
  return {
    async load(key) {
      return records.get(key);
    },
    async save(key, record) {
      records.set(key, record);
    },
    keys: () => [...records.keys()],
    clear: () => records.clear(),
  };
}

/** Counters of a {@link TeacherCache}, from {@link Distiller.teacherCacheStats}. */
export interface TeacherCacheStats {
  /** Whether the cache may serve steps (false when disabled, e.g. too large). */
  readonly active: boolean;
  /** Why the cache is inactive, when it is. */
  readonly reason?: string;
  /** Examples served from the cache. */
  readonly hits: number;
  /** Examples the teacher computed and the cache stored. */
  readonly misses: number;
  /** Examples the teacher computed because a plugin transformed the step's inputs. */
  readonly bypassed: number;
  /** Times the cache was emptied because the teacher or the data changed. */
  readonly invalidations: number;
  /** Examples held / examples in the data. */
  readonly filled: number;
  readonly size: number;
  /** Bytes held (allocated for all N examples once the first step has run). */
  readonly bytes: number;
  /** Examples loaded from the {@link TeacherCacheStore} instead of computed. */
  readonly restored: number;
  /** Complete records written to the store. */
  readonly saved: number;
}

/** Options of {@link TeacherCache}. */
export interface TeacherCacheOptions {
  /** Largest store allowed; a larger one disables the cache (reason given in the stats). Default 1 GiB. */
  readonly maxBytes?: number;
  /** Where complete outputs are also kept and looked up (see {@link TeacherCacheStore}). */
  readonly store?: TeacherCacheStore;
}

interface Field {
  /** Per-example shape (for `members`: `[members, classes]`, stored example-major). */
  readonly rowShape: number[];
  readonly rowSize: number;
  readonly values: Float32Array;
}

interface Store {
  readonly size: number;
  readonly filled: Uint8Array;
  readonly logits: Field;
  readonly features: Record<string, Field>;
  readonly members?: Field;
  readonly mean?: EnsembleMean;
  readonly bytes: number;
}

let nextIdentity = 1;
const identities = new WeakMap<object, number>();
function identityOf(value: object): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(value, id);
  }
  return id;
}

/** Two independent 32-bit FNV-1a style hashes of 32-bit words (a 64-bit content hash). */
class ContentHash {
  private a = 0x811c9dc5;
  private b = 0x9747b28c;

  /** Hashes every `stride`-th word (a sampled fingerprint when stride > 1). */
  words(words: Uint32Array | Int32Array, stride = 1): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < words.length; i += stride) {
      const w = words[i]! >>> 0;
      a = Math.imul(a ^ w, 0x01000193) >>> 0;
      b = Math.imul(b ^ w, 0x5bd1e995) >>> 0;
      b = (b ^ (b >>> 15)) >>> 0;
    }
    this.a = a;
    this.b = b;
    return this;
  }

  /** Hashes the bit patterns of every `stride`-th value. */
  floats(values: Float32Array | Int32Array | Uint8Array, stride = 1): this {
    if (values instanceof Uint8Array) return this.words(Int32Array.from(values), stride);
    return this.words(new Uint32Array(values.buffer, values.byteOffset, values.length), stride);
  }

  text(value: string): this {
    return this.words(Uint32Array.from(value, (c) => c.codePointAt(0)!));
  }

  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

/**
 * Content key of a teacher's outputs on a data set, for a {@link TeacherCacheStore}: hashes the
 * teacher's architecture (its JSON) and every weight value, every input value of `x` and
 * `teacherX`, and the tapped layer names. Undefined for teachers that are not a LayersModel (no
 * content to hash: functions, GraphModels, ensembles).
 */
export async function teacherOutputKey(
  source: TeacherLike | Teacher,
  data: LabeledData,
  taps: readonly string[],
): Promise<string | undefined> {
  if (!(source instanceof tfl.LayersModel)) return undefined;
  const teacher = new ContentHash().text(JSON.stringify(source.toJSON(null, false)));
  for (const w of source.weights) teacher.text(`${w.originalName}[${w.shape}]`).floats(w.read().dataSync() as Float32Array);
  const inputs = new ContentHash();
  for (const t of [data.x, data.teacherX]) {
    if (!t) continue;
    inputs.text(`[${t.shape}]${t.dtype}`).floats((await t.data()) as Float32Array);
  }
  return `kd-teacher-outputs/v1/${teacher.hex()}/${inputs.hex()}/${data.x.shape[0]}/${[...taps].sort().join(',')}`;
}

/**
 * Fingerprint of a teacher: its identity, plus a hash of its weights when it is a LayersModel
 * (so re-training the teacher between two `fit` calls invalidates the cache). Other teachers
 * (functions, GraphModels, ensembles) are fingerprinted by identity only.
 */
export function teacherFingerprint(source: TeacherLike | Teacher): string {
  const id = identityOf(source as object);
  if (!(source instanceof tfl.LayersModel)) return `teacher#${id}`;
  const hash = new ContentHash();
  for (const w of source.weights) {
    const values = w.read().dataSync() as Float32Array;
    hash.floats(values, Math.max(1, Math.floor(values.length / 65536))).words(Uint32Array.of(values.length));
  }
  return `teacher#${id}:${hash.hex()}`;
}

/**
 * Fingerprint of a data set: tensor ids and shapes of `x` / `teacherX`, plus a cheap content
 * hash (the sum of the whole input and of 16 evenly spaced examples).
 */
export async function dataFingerprint(data: LabeledData): Promise<string> {
  const parts: string[] = [];
  for (const t of [data.x, data.teacherX]) {
    if (!t) continue;
    const n = t.shape[0]!;
    const rows = Array.from(new Set(Array.from({ length: Math.min(16, n) }, (_, i) => Math.floor((i * n) / Math.min(16, n)))));
    const sums = tf.tidy(() => {
      const flat = tf.reshape(tf.cast(t, 'float32'), [n, -1]);
      const picked = tf.sum(tf.gather(flat, tf.tensor1d(rows, 'int32')), 1);
      return tf.concat([tf.reshape(tf.sum(flat), [1]), picked]);
    });
    const values = await sums.data();
    sums.dispose();
    parts.push(`${t.id}[${t.shape}]:${new ContentHash().floats(values as Float32Array).hex()}`);
  }
  return parts.join('|');
}

/** Bytes of a store of `size` examples with these fields (float32 rows + one filled flag each). */
function storeBytes(fields: readonly Field[], size: number): number {
  return fields.reduce((a, f) => a + f.rowSize, 0) * 4 * size + size;
}

function field(rowShape: number[], size: number): Field {
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  return { rowShape, rowSize, values: new Float32Array(rowSize * size) };
}

/**
 * The teacher-output cache of a {@link Distiller} (see {@link TeacherCacheMode}). Holds no
 * tensors between steps: the store is plain typed arrays, so it cannot leak tensors and
 * `clear()` frees it.
 */
export class TeacherCache {
  private readonly maxBytes: number;
  private store?: Store;
  private fingerprint?: string;
  private disabled?: string;
  private hits = 0;
  private misses = 0;
  private bypassed = 0;
  private invalidations = 0;
  private size = 0;
  private filledCount = 0;
  private restored = 0;
  private saved = 0;
  private key?: string;
  private keyReason?: string;
  private savedKey?: string;

  private readonly persistent?: TeacherCacheStore;

  constructor(
    private readonly teacher: Teacher,
    private readonly source: TeacherLike | Teacher = teacher,
    options: TeacherCacheOptions = {},
  ) {
    this.persistent = options.store;
    const maxBytes = options.maxBytes ?? 2 ** 30;
    if (!(typeof maxBytes === 'number' && maxBytes >= 0)) {
      throw new DistillationError('bad-option', `teacherCacheMaxBytes must be a number >= 0, got ${maxBytes}`);
    }
    this.maxBytes = maxBytes;
  }

  /**
   * Called at the start of every `fit`: fingerprints the teacher and the data and empties the
   * cache when either changed since the last call.
   */
  async begin(data: LabeledData, taps: readonly string[] = []): Promise<void> {
    const fingerprint = `${teacherFingerprint(this.source)}|${await dataFingerprint(data)}`;
    const changed = this.fingerprint !== undefined && fingerprint !== this.fingerprint;
    if (changed) {
      this.invalidations++;
      this.clear();
    }
    this.fingerprint = fingerprint;
    this.size = data.x.shape[0]!;
    if (!this.persistent || (this.key !== undefined && !changed) || this.disabled) return;
    this.key = await teacherOutputKey(this.source, data, taps);
    this.keyReason = this.key ? undefined : 'the teacher is not a LayersModel: outputs are cached in memory only, not in the store';
    if (!this.key || this.store) return;
    const record = await this.persistent.load(this.key);
    if (record) {
      this.restore(record);
      this.savedKey = this.key;
    }
  }

  /** Fills the cache from a stored record (all examples). */
  private restore(record: TeacherOutputRecord): void {
    if (record.size !== this.size || !record.fields.logits) {
      throw new DistillationError(
        'teacher-cache',
        `teacher cache store: the record under "${this.key}" has ${record.size} examples (fields ${Object.keys(record.fields)}), the data ${this.size}`,
      );
    }
    const toField = (f: { rowShape: readonly number[]; values: Float32Array }): Field => {
      const rowSize = f.rowShape.reduce((a, b) => a * b, 1);
      if (f.values.length !== rowSize * record.size) {
        throw new DistillationError(
          'teacher-cache',
          `teacher cache store: a field of "${this.key}" holds ${f.values.length} values, expected ${rowSize * record.size}`,
        );
      }
      return { rowShape: [...f.rowShape], rowSize, values: f.values };
    };
    const features: Record<string, Field> = {};
    for (const [name, f] of Object.entries(record.fields)) if (name.startsWith('feature:')) features[name.slice(8)] = toField(f);
    const logits = toField(record.fields.logits);
    const members = record.fields.members ? toField(record.fields.members) : undefined;
    this.store = {
      size: record.size,
      filled: new Uint8Array(record.size).fill(1),
      logits,
      features,
      ...(members ? { members } : {}),
      ...(record.mean ? { mean: record.mean } : {}),
      bytes: storeBytes([logits, ...Object.values(features), ...(members ? [members] : [])], record.size),
    };
    this.filledCount = record.size;
    this.restored += record.size;
  }

  /** Saves the complete store under the content key, once. */
  private async persist(): Promise<void> {
    const store = this.store;
    if (!this.persistent || !this.key || this.savedKey === this.key || !store || this.filledCount < store.size) return;
    const fields: Record<string, { rowShape: number[]; values: Float32Array }> = { logits: store.logits };
    for (const [name, f] of Object.entries(store.features)) fields[`feature:${name}`] = f;
    if (store.members) fields.members = store.members;
    await this.persistent.save(this.key, { size: store.size, fields, ...(store.mean ? { mean: store.mean } : {}) });
    this.saved++;
    this.savedKey = this.key;
  }

  /**
   * Teacher outputs for `batch`: from the cache when the step's inputs are the untransformed
   * `gathered` batch, else (and for examples not yet seen) from the teacher. The returned
   * tensors belong to the caller's scope.
   */
  async predict(batch: Batch, gathered: Batch): Promise<TeacherOutputs> {
    const input = batch.teacherX ?? batch.x;
    const ids = { ids: batch.ids ?? [] };
    const untouched = batch.x === gathered.x && batch.teacherX === gathered.teacherX && batch.index === gathered.index;
    const n = input.shape[0]!;
    if (!untouched || this.disabled) {
      this.bypassed += n;
      return toTeacherOutputs(this.teacher.predict(input, ids));
    }
    const indices = (await batch.index.data()) as Int32Array;
    const missing: number[] = [];
    for (let i = 0; i < n; i++) if (!this.store?.filled[indices[i]!]) missing.push(i);
    if (missing.length === n) {
      // Nothing cached: the teacher runs on the whole batch exactly as without a cache.
      const out = this.teacher.predict(input, ids);
      if (!(await this.write(out, indices, missing))) this.bypassed += n;
      return toTeacherOutputs(out);
    }
    if (missing.length > 0) {
      const positions = tf.tensor1d(missing, 'int32');
      const part = tf.gather(input, positions);
      const out = this.teacher.predict(part, { ids: missing.map((i) => ids.ids[i]!) });
      await this.write(out, indices, missing);
      tf.dispose([positions, part, ...predictionTensors(out)]);
      if (this.disabled) {
        this.bypassed += n;
        return toTeacherOutputs(this.teacher.predict(input, ids));
      }
    }
    this.hits += n - missing.length;
    return this.read(indices);
  }

  /** Counters and size of the cache. */
  stats(): TeacherCacheStats {
    return {
      active: this.disabled === undefined,
      ...(this.disabled || this.keyReason ? { reason: this.disabled ?? this.keyReason } : {}),
      hits: this.hits,
      misses: this.misses,
      bypassed: this.bypassed,
      invalidations: this.invalidations,
      filled: this.store ? this.store.filled.reduce((a, b) => a + b, 0) : 0,
      size: this.size,
      bytes: this.store?.bytes ?? 0,
      restored: this.restored,
      saved: this.saved,
    };
  }

  /** Drops every stored output (the next epoch recomputes them). */
  clear(): void {
    this.store = undefined;
    this.filledCount = 0;
    this.key = undefined;
    if (this.disabled?.startsWith('too large')) this.disabled = undefined;
  }

  private allocate(out: TeacherPrediction): Store | undefined {
    const size = this.size;
    const detail = ensembleDetail(out);
    if (!detail && typeof out.logProbabilities === 'function') {
      // A teacher with its own distribution at T: the cache stores logits only, and replaying
      // them would give plugins logSoftmax(logits / T) instead. Run it every step.
      this.disabled = 'the teacher defines its own logProbabilities, which the cache cannot store';
      return undefined;
    }
    const tensors: tf.Tensor[] = predictionTensors(out);
    if (tensors.some((t) => t.dtype !== 'float32')) {
      this.disabled = 'teacher outputs are not all float32';
      return undefined;
    }
    const logits = field(out.logits.shape.slice(1), 0);
    const features = Object.fromEntries(Object.entries(out.features).map(([k, t]) => [k, field(t.shape.slice(1), 0)]));
    const members = detail ? field([detail.members.shape[0]!, detail.members.shape[2]!], 0) : undefined;
    const bytes = storeBytes([logits, ...Object.values(features), ...(members ? [members] : [])], size);
    if (bytes > this.maxBytes) {
      this.disabled = `too large: ${bytes} bytes for ${size} examples exceeds teacherCacheMaxBytes ${this.maxBytes}`;
      return undefined;
    }
    const grow = (f: Field): Field => field(f.rowShape, size);
    return {
      size,
      filled: new Uint8Array(size),
      logits: grow(logits),
      features: Object.fromEntries(Object.entries(features).map(([k, f]) => [k, grow(f)])),
      ...(members ? { members: grow(members) } : {}),
      ...(detail ? { mean: detail.mean } : {}),
      bytes,
    };
  }

  /** Stores rows `rows` of `out` (row r holds example `indices[missing[r]]`). */
  private async write(out: TeacherPrediction, indices: Int32Array, missing: number[]): Promise<boolean> {
    this.store ??= this.allocate(out);
    const store = this.store;
    if (!store) return false;
    const copy = async (f: Field, t: tf.Tensor) => {
      const values = (await t.data()) as Float32Array;
      missing.forEach((position, r) => {
        f.values.set(values.subarray(r * f.rowSize, (r + 1) * f.rowSize), indices[position]! * f.rowSize);
      });
    };
    await copy(store.logits, out.logits);
    for (const [k, f] of Object.entries(store.features)) {
      const t = out.features[k];
      if (!t) throw new DistillationError('teacher-cache', `teacher cache: the teacher stopped returning feature "${k}"`);
      await copy(f, t);
    }
    const detail = ensembleDetail(out);
    if (store.members && detail) {
      const exampleMajor = tf.transpose(detail.members, [1, 0, 2]);
      await copy(store.members, exampleMajor);
      exampleMajor.dispose();
    }
    for (const position of missing) {
      const example = indices[position]!;
      if (!store.filled[example]) this.filledCount++;
      store.filled[example] = 1;
    }
    this.misses += missing.length;
    await this.persist();
    return true;
  }

  private read(indices: Int32Array): TeacherOutputs {
    const store = this.store!;
    const n = indices.length;
    const build = (f: Field): tf.Tensor => {
      const values = new Float32Array(n * f.rowSize);
      for (let r = 0; r < n; r++) {
        const at = indices[r]! * f.rowSize;
        values.set(f.values.subarray(at, at + f.rowSize), r * f.rowSize);
      }
      return tf.tensor(values, [n, ...f.rowShape], 'float32');
    };
    const features: Record<string, tf.Tensor> = {};
    for (const [k, f] of Object.entries(store.features)) features[k] = build(f);
    if (store.members) {
      const exampleMajor = build(store.members);
      const members = tf.transpose(exampleMajor, [1, 0, 2]) as tf.Tensor3D;
      exampleMajor.dispose();
      return ensembleOutputs(members, store.mean ?? 'arithmetic', features);
    }
    return toTeacherOutputs({ logits: build(store.logits) as tf.Tensor2D, features });
  }
}
