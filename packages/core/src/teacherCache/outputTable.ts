import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';
import type { EnsembleMean, TeacherPrediction } from '../plugin';
import type { ExampleId } from '../source';
import { ensembleDetail, ensembleOutputs } from '../teacherOutputs';
import type { TeacherOutputRecord } from './stores';

interface Field {
  /** Per-example shape (for `members`: `[members, classes]`, stored example-major). */
  readonly rowShape: readonly number[];
  readonly rowSize: number;
  readonly values: Float32Array;
}

/** The values of one prediction, read from its tensors (members as `[members, batch, classes]`). */
export interface PredictionValues {
  readonly logits: Float32Array;
  readonly features: Readonly<Record<string, Float32Array>>;
  readonly members?: Float32Array;
}

/** Largest table kept as backend tensors while a fit runs (see `OutputTable.read`). */
const RESIDENT_MAX_BYTES = 256 * 2 ** 20;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const field = (rowShape: readonly number[], rows: number): Field => ({
  rowShape: [...rowShape],
  rowSize: sizeOf(rowShape),
  values: new Float32Array(sizeOf(rowShape) * rows),
});

/** A complete table kept as backend tensors, in row order or (every id a position) in position order. */
interface Resident {
  readonly logits: tf.Tensor;
  readonly features: Readonly<Record<string, tf.Tensor>>;
  readonly byPosition: boolean;
}

/** One gather per field of `resident` at `index`. */
function gatherResident(resident: Resident, index: tf.Tensor1D): TeacherPrediction {
  const features: Record<string, tf.Tensor> = {};
  for (const k in resident.features) features[k] = tf.gather(resident.features[k]!, index);
  return { logits: tf.gather(resident.logits, index) as tf.Tensor2D, features };
}

/**
 * Teacher outputs of up to `size` examples, one row per example id, in plain `Float32Array`s (no
 * tensors: nothing to leak, and dropping the table frees it). Rows are given to ids in the order
 * they are first written.
 */
export class OutputTable {
  /** Rows of the ids that are not positions (see {@link rowOfPosition}). */
  private readonly rowOf = new Map<ExampleId, number>();
  /**
   * The rows of integer ids in [0, size) (tensor data's positions, most sources' ids), -1 where
   * none: a typed-array read per example and step instead of a hash lookup.
   */
  private readonly rowOfPosition: Int32Array;
  private readonly ids: ExampleId[] = [];
  private readonly filled: Uint8Array;
  private filledRows = 0;
  private resident?: Resident;

  private constructor(
    readonly size: number,
    private readonly logits: Field,
    private readonly features: Readonly<Record<string, Field>>,
    private readonly members: Field | undefined,
    private readonly mean: EnsembleMean | undefined,
  ) {
    this.filled = new Uint8Array(size);
    this.rowOfPosition = new Int32Array(size).fill(-1);
  }

  /** Whether `id` is an integer in [0, size), kept in {@link rowOfPosition}. */
  private isPosition(id: ExampleId): id is number {
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.size;
  }

  private rowFor(id: ExampleId): number | undefined {
    if (this.isPosition(id)) {
      const row = this.rowOfPosition[id]!;
      return row < 0 ? undefined : row;
    }
    return this.rowOf.get(id);
  }

  private setRow(id: ExampleId, row: number): void {
    if (this.isPosition(id)) this.rowOfPosition[id] = row;
    else this.rowOf.set(id, row);
  }

  /** Bytes a table of `size` examples for outputs shaped like `out` takes (float32 rows + a flag each). */
  static bytesFor(out: TeacherPrediction, size: number): number {
    const detail = ensembleDetail(out);
    const rows = [out.logits, ...Object.values(out.features)].map((t) => sizeOf(t.shape.slice(1)));
    if (detail) rows.push(detail.members.shape[0]! * detail.members.shape[2]!);
    return rows.reduce((a, b) => a + b, 0) * 4 * size + size;
  }

  /** An empty table for outputs shaped like `out`. */
  static for(out: TeacherPrediction, size: number): OutputTable {
    const detail = ensembleDetail(out);
    return new OutputTable(
      size,
      field(out.logits.shape.slice(1), size),
      Object.fromEntries(Object.entries(out.features).map(([k, t]) => [k, field(t.shape.slice(1), size)])),
      detail ? field([detail.members.shape[0]!, detail.members.shape[2]!], size) : undefined,
      detail?.mean,
    );
  }

  /** A full table from a stored record; throws `teacher-cache` naming `where` when it does not fit. */
  static fromRecord(record: TeacherOutputRecord, size: number, taps: readonly string[], where: string): OutputTable {
    const bad = (why: string) => new DistillationError('teacher-cache', `teacher cache store: the record ${where} ${why}`);
    if (record.size !== size || record.ids.length !== size) {
      throw bad(`has ${record.size} examples and ${record.ids.length} ids; the data has ${size}`);
    }
    const toField = (name: string): Field => {
      const f = record.fields[name];
      if (!f) throw bad(`has no field "${name}" (fields ${Object.keys(record.fields).join(', ')})`);
      if (f.values.length !== sizeOf(f.rowShape) * size) {
        throw bad(`field "${name}" holds ${f.values.length} values, expected ${sizeOf(f.rowShape) * size}`);
      }
      return { rowShape: [...f.rowShape], rowSize: sizeOf(f.rowShape), values: f.values };
    };
    const table = new OutputTable(
      size,
      toField('logits'),
      Object.fromEntries(taps.map((name) => [name, toField(`feature:${name}`)])),
      record.fields.members ? toField('members') : undefined,
      record.mean,
    );
    record.ids.forEach((id, row) => {
      if (table.rowFor(id) !== undefined) throw bad(`repeats example id ${JSON.stringify(id)}`);
      table.setRow(id, row);
      table.ids.push(id);
    });
    table.filled.fill(1);
    table.filledRows = size;
    return table;
  }

  /** Examples held. */
  get filledCount(): number {
    return this.filledRows;
  }

  /** Whether every example is held. */
  get complete(): boolean {
    return this.filledRows === this.size;
  }

  /** Bytes held (allocated for all examples). */
  get bytes(): number {
    const fields = [this.logits, ...Object.values(this.features), ...(this.members ? [this.members] : [])];
    return fields.reduce((a, f) => a + f.rowSize, 0) * 4 * this.size + this.size;
  }

  /** The tapped layers the table holds. */
  get taps(): string[] {
    return Object.keys(this.features);
  }

  /** Whether `out` has the fields and row shapes this table holds. */
  fits(out: TeacherPrediction): string | undefined {
    const same = (f: Field, t: tf.Tensor) => t.shape.slice(1).join('x') === f.rowShape.join('x');
    if (!same(this.logits, out.logits)) return `logits of shape [${out.logits.shape}], the cache holds rows of [${this.logits.rowShape}]`;
    const names = Object.keys(out.features).sort().join(',');
    if (names !== this.taps.sort().join(',')) return `features [${names}], the cache holds [${this.taps.join(', ')}]`;
    for (const [k, f] of Object.entries(this.features)) {
      if (!same(f, out.features[k]!)) return `feature "${k}" of shape [${out.features[k]!.shape}], the cache holds rows of [${f.rowShape}]`;
    }
    if (Boolean(ensembleDetail(out)) !== Boolean(this.members)) return 'outputs that changed between an ensemble and a single teacher';
    return undefined;
  }

  /** The row of each id, or -1 where the table does not hold it. */
  rowsOf(ids: readonly ExampleId[]): Int32Array {
    const rows = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const row = this.rowFor(ids[i]!);
      rows[i] = row !== undefined && this.filled[row] ? row : -1;
    }
    return rows;
  }

  /**
   * Stores rows `positions` of `values`, the values of a batch whose row `r` is example `ids[r]`
   * (default: every row).
   */
  write(ids: readonly ExampleId[], values: PredictionValues, positions: readonly number[] = ids.map((_, i) => i)): void {
    this.release(); // a backend copy would no longer match
    const n = ids.length;
    const rows = positions.map((r) => {
      const id = ids[r]!;
      let row = this.rowFor(id);
      if (row === undefined) {
        if (this.ids.length >= this.size) {
          throw new DistillationError(
            'teacher-cache',
            `teacher cache: example id ${JSON.stringify(id)} is beyond the ${this.size} examples the data declared`,
          );
        }
        row = this.ids.length;
        this.setRow(id, row);
        this.ids.push(id);
      }
      return row;
    });
    const copy = (f: Field, from: Float32Array) => {
      positions.forEach((r, i) => f.values.set(from.subarray(r * f.rowSize, (r + 1) * f.rowSize), rows[i]! * f.rowSize));
    };
    copy(this.logits, values.logits);
    for (const [k, f] of Object.entries(this.features)) copy(f, values.features[k]!);
    if (this.members && values.members) {
      // [members, batch, classes] -> example-major rows of [members, classes].
      const [m, c] = this.members.rowShape as [number, number];
      positions.forEach((r, i) => {
        for (let j = 0; j < m; j++) {
          this.members!.values.set(values.members!.subarray((j * n + r) * c, (j * n + r + 1) * c), rows[i]! * m * c + j * c);
        }
      });
    }
    for (const row of rows) {
      if (!this.filled[row]) this.filledRows++;
      this.filled[row] = 1;
    }
  }

  /** Tensors of the outputs at `rows` (all held), in that order. */
  read(rows: Int32Array): TeacherPrediction {
    const resident = this.residentCopy();
    if (resident) {
      // One gather kernel per field from the backend copy: the same values as the copies below.
      // A copy in position order is gathered at the rows' positions.
      const index = tf.tensor1d(resident.byPosition ? rows.map((row) => this.ids[row] as number) : rows, 'int32');
      const out = gatherResident(resident, index);
      index.dispose();
      return out;
    }
    const n = rows.length;
    const build = (f: Field): tf.Tensor => {
      const values = new Float32Array(n * f.rowSize);
      rows.forEach((row, r) => values.set(f.values.subarray(row * f.rowSize, (row + 1) * f.rowSize), r * f.rowSize));
      return tf.tensor(values, [n, ...f.rowShape], 'float32');
    };
    const features: Record<string, tf.Tensor> = {};
    for (const [k, f] of Object.entries(this.features)) features[k] = build(f);
    if (this.members) {
      const exampleMajor = build(this.members);
      const members = tf.transpose(exampleMajor, [1, 0, 2]) as tf.Tensor3D;
      exampleMajor.dispose();
      return ensembleOutputs(members, this.mean ?? 'arithmetic', features);
    }
    return { logits: build(this.logits) as tf.Tensor2D, features };
  }

  /**
   * Tensors of the outputs of the examples at `positions` (int32 `[batch]`), when every id of the
   * table is a position (in-memory tensors) and a backend copy can be kept: one gather per field
   * by the caller's own index tensor, no lookup, nothing uploaded. Undefined otherwise (use
   * {@link rowsOf} and {@link read}).
   */
  readPositions(positions: tf.Tensor1D): TeacherPrediction | undefined {
    const resident = this.residentCopy();
    return resident?.byPosition ? gatherResident(resident, positions) : undefined;
  }

  /**
   * The complete table as kept backend tensors (made on first use, until {@link OutputTable.release}),
   * so a read is a gather kernel instead of a copy into a new tensor; none for ensembles, an
   * incomplete table or one over {@link RESIDENT_MAX_BYTES}. When every id is a position, the copy
   * is in position order (row `p` holds example `p`), so {@link readPositions} can gather by a
   * batch's own positions.
   */
  private residentCopy(): Resident | undefined {
    if (this.resident) return this.resident;
    if (this.members || !this.complete || this.bytes > RESIDENT_MAX_BYTES) return undefined;
    const byPosition = this.rowOf.size === 0;
    const upload = (f: Field) => {
      let values = f.values;
      if (byPosition) {
        values = new Float32Array(f.values.length);
        for (let p = 0; p < this.size; p++) {
          const row = this.rowOfPosition[p]!;
          values.set(f.values.subarray(row * f.rowSize, (row + 1) * f.rowSize), p * f.rowSize);
        }
      }
      return tf.keep(tf.tensor(values, [this.size, ...f.rowShape], 'float32'));
    };
    this.resident = {
      logits: upload(this.logits),
      features: Object.fromEntries(Object.entries(this.features).map(([k, f]) => [k, upload(f)])),
      byPosition,
    };
    return this.resident;
  }

  /** Frees the backend copy of the table, if any (the cache does at the end of each fit). */
  release(): void {
    if (!this.resident) return;
    tf.dispose([this.resident.logits, ...Object.values(this.resident.features)]);
    this.resident = undefined;
  }

  toRecord(): TeacherOutputRecord {
    const fields: Record<string, Field> = { logits: this.logits };
    for (const [k, f] of Object.entries(this.features)) fields[`feature:${k}`] = f;
    if (this.members) fields.members = this.members;
    return { size: this.size, ids: [...this.ids], fields, ...(this.mean ? { mean: this.mean } : {}) };
  }
}
