import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IdxFormatError, readIdx, writeIdx } from './idx';
import { readIdx as readIdxNode } from './node';

function header(code: number, dims: number[]): number[] {
  const out = [0, 0, code, dims.length];
  for (const d of dims) out.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return out;
}

describe('readIdx', () => {
  it('decodes a hand-written uint8 [2, 2, 3] file', () => {
    const bytes = new Uint8Array([...header(0x08, [2, 2, 3]), ...Array.from({ length: 12 }, (_, i) => i * 20)]);
    const a = readIdx(bytes, { name: 'x.idx' });
    expect(a.dtype).toBe('uint8');
    expect(a.shape).toEqual([2, 2, 3]);
    expect(Array.from(a.data)).toEqual(Array.from({ length: 12 }, (_, i) => i * 20));
  });

  it('decodes big-endian int32 / float32 / int16 / float64 / int8', () => {
    const int32 = new Uint8Array([...header(0x0c, [2]), 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe]);
    expect(Array.from(readIdx(int32).data)).toEqual([256, -2]);
    const float32 = new Uint8Array([...header(0x0d, [1]), 0x3f, 0xc0, 0, 0]);
    expect(Array.from(readIdx(float32).data)).toEqual([1.5]);
    const int16 = new Uint8Array([...header(0x0b, [1]), 0xff, 0x00]);
    expect(Array.from(readIdx(int16).data)).toEqual([-256]);
    const int8 = new Uint8Array([...header(0x09, [1]), 0xff]);
    expect(Array.from(readIdx(int8).data)).toEqual([-1]);
    for (const dtype of ['uint8', 'int8', 'int16', 'int32', 'float32', 'float64'] as const) {
      const data = [1, 2, 3, 4, 5, 6];
      const back = readIdx(writeIdx({ dtype, shape: [3, 2], data }));
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([3, 2]);
      expect(Array.from(back.data)).toEqual(data);
    }
  });

  it('rejects a wrong magic number, naming the file', () => {
    const bytes = new Uint8Array([...header(0x08, [1]), 7]);
    bytes[0] = 0x50;
    expect(() => readIdx(bytes, { name: 'bad.idx' })).toThrow(IdxFormatError);
    expect(() => readIdx(bytes, { name: 'bad.idx' })).toThrow(/bad\.idx: is not an IDX file: magic number 50 00 08 01/);
  });

  it('rejects an unknown type code', () => {
    const bytes = new Uint8Array([...header(0x0a, [1]), 7]);
    expect(() => readIdx(bytes, { name: 'f' })).toThrow(/f: has unknown IDX type code 0x0a/);
  });

  it('rejects truncated files: magic, header and data', () => {
    expect(() => readIdx(new Uint8Array([0, 0]), { name: 'a' })).toThrow(/a: is truncated: 2 bytes/);
    expect(() => readIdx(new Uint8Array(header(0x08, [5, 5]).slice(0, 9)), { name: 'b' })).toThrow(
      /b: is truncated: the header declares 2 dimensions \(12 header bytes\) but the file has 9 bytes/,
    );
    const short = new Uint8Array([...header(0x08, [2, 3]), 1, 2, 3, 4, 5]);
    expect(() => readIdx(short, { name: 'c' })).toThrow(/c: is truncated: shape \[2, 3\] of uint8 needs 6 data bytes, found 5/);
    const long = new Uint8Array([...header(0x08, [2]), 1, 2, 3]);
    expect(() => readIdx(long, { name: 'd' })).toThrow(/d: has 1 unexpected trailing bytes/);
    expect(() => readIdx(new Uint8Array([0, 0, 8, 0]), { name: 'e' })).toThrow(/e: declares 0 dimensions/);
  });

  it('gzip: the browser entry asks for a decompressor, the Node entry decompresses', () => {
    const raw = writeIdx({ dtype: 'uint8', shape: [4], data: [9, 8, 7, 6] });
    const gz = new Uint8Array(gzipSync(raw));
    expect(() => readIdx(gz, { name: 'g.gz' })).toThrow(/g\.gz: is gzip-compressed/);
    expect(Array.from(readIdxNode(gz, { name: 'g.gz' }).data)).toEqual([9, 8, 7, 6]);
    expect(Array.from(readIdxNode(raw).data)).toEqual([9, 8, 7, 6]);
    expect(() => readIdxNode(gz.subarray(0, gz.length - 6), { name: 'cut.gz' })).toThrow(/cut\.gz: is not valid gzip data/);
  });
});
