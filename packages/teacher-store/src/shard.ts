import type { ExampleId } from '@kd/core';
import {
  Field,
  FixedSizeList,
  Float16,
  Float32,
  makeData,
  makeVector,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  util,
  vectorFromArray,
} from 'apache-arrow';
import { TeacherStoreError } from './errors';
import { toHalf } from './half';
import type { StoreManifest } from './manifest';

/** The outputs of a shard's examples, row-major. */
export interface ShardRows {
  readonly ids: readonly ExampleId[];
  /** `rows * numClasses` logits. */
  readonly logits: Float32Array;
  /** Per tap, `rows * prod(shape without batch)` values. */
  readonly taps: Readonly<Record<string, Float32Array>>;
}

/** Column of a tap: `tap/<layer name>`. */
export const tapColumn = (name: string) => `tap/${name}`;

/** Values per example of a tap of `shape` (batch dimension first). */
export const tapWidth = (shape: readonly (number | null)[]) => shape.slice(1).reduce<number>((a, b) => a * (b ?? 0), 1);

function column(values: Float32Array, width: number, rows: number, dtype: StoreManifest['dtype'], where: string) {
  const type = dtype === 'float16' ? new Float16() : new Float32();
  const data = dtype === 'float16' ? Uint16Array.from(values, (v) => toHalf(v, where)) : values;
  const child = makeData({ type, length: rows * width, data } as never);
  return makeVector(
    makeData({ type: new FixedSizeList(width, new Field('value', type, false)), length: rows, nullCount: 0, child } as never),
  );
}

/** One shard as Arrow IPC (file format): `id` Utf8, `logits` and `tap/<name>` fixed-size lists. */
export function encodeShard(rows: ShardRows, layout: Pick<StoreManifest, 'numClasses' | 'taps' | 'dtype'>): Uint8Array {
  const n = rows.ids.length;
  const columns: Record<string, ReturnType<typeof makeVector>> = {
    id: vectorFromArray(rows.ids.map(String), new Utf8()) as never,
    logits: column(rows.logits, layout.numClasses, n, layout.dtype, 'logits'),
  };
  for (const [name, shape] of Object.entries(layout.taps))
    columns[tapColumn(name)] = column(rows.taps[name]!, tapWidth(shape), n, layout.dtype, `tap ${name}`);
  return tableToIPC(new Table(columns), 'file');
}

/** Reads a shard written by {@link encodeShard} (or any writer following the spec); checks its columns against the manifest. */
export function decodeShard(
  bytes: Uint8Array,
  manifest: Pick<StoreManifest, 'numClasses' | 'taps' | 'dtype' | 'idType'>,
  file: string,
  expectedRows: number,
): ShardRows {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (error) {
    throw new TeacherStoreError('store-bad-shard', `${file}: not an Arrow IPC file (${(error as Error).message})`, { cause: error });
  }
  if (table.numRows !== expectedRows) {
    throw new TeacherStoreError('store-bad-shard', `${file}: holds ${table.numRows} rows, the manifest says ${expectedRows}`);
  }
  const read = (name: string, width: number): Float32Array => {
    const vector = table.getChild(name);
    const want = manifest.dtype === 'float16' ? 'Float16' : 'Float32';
    if (
      !vector ||
      !(vector.type instanceof FixedSizeList) ||
      vector.type.listSize !== width ||
      String(vector.type.children[0]!.type) !== want
    ) {
      throw new TeacherStoreError(
        'store-bad-shard',
        `${file}: column "${name}" must be FixedSizeList[${width}]<${want}>, got ${vector ? String(vector.type) : 'none'}`,
      );
    }
    const out = new Float32Array(table.numRows * width);
    let at = 0;
    for (const chunk of vector.data) {
      const child = chunk.children[0]!;
      if (chunk.nullCount > 0 || child.nullCount > 0) {
        throw new TeacherStoreError('store-bad-shard', `${file}: column "${name}" holds nulls; the format says not null`);
      }
      // arrow slices a list's child with the list: index the child's own values from its offset.
      const values = child.values.subarray(child.offset, child.offset + chunk.length * width);
      if (manifest.dtype === 'float16') for (let i = 0; i < values.length; i++) out[at + i] = util.uint16ToFloat64(values[i] as number);
      else out.set(values as Float32Array, at);
      at += chunk.length * width;
    }
    return out;
  };
  const idVector = table.getChild('id');
  if (!idVector || String(idVector.type) !== 'Utf8') {
    throw new TeacherStoreError('store-bad-shard', `${file}: column "id" must be Utf8, got ${idVector ? String(idVector.type) : 'none'}`);
  }
  if (idVector.nullCount > 0) throw new TeacherStoreError('store-bad-shard', `${file}: column "id" holds nulls`);
  const ids = (idVector.toArray() as string[]).map((id) => {
    if (manifest.idType === 'string') return id;
    const number = Number(id);
    if (String(number) !== id)
      throw new TeacherStoreError(
        'store-bad-shard',
        `${file}: id ${JSON.stringify(id)} is not a number written as String(number) (idType "number")`,
      );
    return number;
  });
  const taps: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(manifest.taps)) taps[name] = read(tapColumn(name), tapWidth(shape));
  return { ids, logits: read('logits', manifest.numClasses), taps };
}
