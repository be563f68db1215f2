import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DistillationError } from '../errors';
import type { ExampleId } from '../source';
import type { TeacherCacheStore, TeacherOutputRecord } from '../teacherCache/stores';
import { atomicWriteFile } from './atomicWriteFile';
import { readFileIfExists } from './readFileIfExists';

const MAGIC = 'KDTC';
const FORMAT = 'kd-teacher-outputs';

interface Header {
  format: string;
  version: number;
  key: string;
  size: number;
  ids: ExampleId[];
  mean?: TeacherOutputRecord['mean'];
  fields: { name: string; rowShape: number[]; length: number }[];
}

/**
 * A {@link TeacherCacheStore} of files in `dir`, one per content key (`<sha256 of the key>.kdtc`:
 * `KDTC`, a JSON header with the example ids of the rows, then float32 rows), each written atomically (temp file + fsync + rename).
 * Teacher outputs computed once are reused by later runs — other seeds' students, other methods,
 * a restarted benchmark — for as long as the teacher's weights and the data are unchanged.
 */
export function fileTeacherCacheStore(dir: string): TeacherCacheStore {
  const pathOf = (key: string) => join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.kdtc`);
  return {
    async save(key, record) {
      const fields = Object.entries(record.fields).map(([name, f]) => ({ name, rowShape: [...f.rowShape], length: f.values.length }));
      const header: Header = {
        format: FORMAT,
        version: 2,
        key,
        size: record.size,
        ids: [...record.ids],
        ...(record.mean ? { mean: record.mean } : {}),
        fields,
      };
      const json = new TextEncoder().encode(JSON.stringify(header));
      const start = Math.ceil((8 + json.length) / 4) * 4;
      const floats = fields.reduce((a, f) => a + f.length, 0);
      const bytes = new Uint8Array(start + floats * 4);
      bytes.set(new TextEncoder().encode(MAGIC), 0);
      new DataView(bytes.buffer).setUint32(4, json.length, true);
      bytes.set(json, 8);
      const body = new Float32Array(bytes.buffer, start, floats);
      let at = 0;
      for (const f of Object.values(record.fields)) {
        body.set(f.values, at);
        at += f.values.length;
      }
      await atomicWriteFile(pathOf(key), bytes);
    },
    async load(key) {
      const path = pathOf(key);
      const file = await readFileIfExists(path);
      if (!file) return undefined;
      const bad = (why: string) => new DistillationError('bad-teacher-cache', `teacher cache file ${path}: ${why}; delete it to recompute`);
      if (file.length < 8 || new TextDecoder().decode(file.subarray(0, 4)) !== MAGIC) throw bad('not a kd teacher-output file');
      const length = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(4, true);
      if (8 + length > file.length) throw bad('truncated header');
      let header: Header;
      try {
        header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) as Header;
      } catch {
        throw bad('unreadable header');
      }
      if (header.format !== FORMAT || header.version !== 2) throw bad(`format ${header.format} v${header.version} is not ${FORMAT} v2`);
      if (header.key !== key) return undefined; // another key with the same file name: a miss
      const start = Math.ceil((8 + length) / 4) * 4;
      const floats = header.fields.reduce((a, f) => a + f.length, 0);
      if (file.length !== start + floats * 4) throw bad(`${file.length} bytes, expected ${start + floats * 4} (truncated or padded)`);
      const body = new Float32Array(floats);
      new Uint8Array(body.buffer).set(file.subarray(start)); // a copy: Node's Buffer may be a view into a shared pool
      const fields: Record<string, { rowShape: number[]; values: Float32Array }> = {};
      let at = 0;
      for (const f of header.fields) {
        fields[f.name] = { rowShape: f.rowShape, values: body.subarray(at, at + f.length) };
        at += f.length;
      }
      if (!Array.isArray(header.ids) || header.ids.length !== header.size)
        throw bad(`${header.ids?.length} ids for ${header.size} examples`);
      return { size: header.size, ids: header.ids, fields, ...(header.mean ? { mean: header.mean } : {}) };
    },
  };
}
