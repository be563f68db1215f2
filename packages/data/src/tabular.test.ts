import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectOneEpochTrains, leakedTensors } from '../test/helpers';
import { csvSource, jsonlSource, parseCsv } from './tabular';

describe('parseCsv (RFC 4180)', () => {
  it('splits fields and records; quotes hold delimiters, line breaks and escaped quotes', () => {
    const text = 'a,b,c\r\n1,"x, y",3\n"say ""hi""","two\nlines",""\n\n4,,6';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', '3'] },
      { line: 3, fields: ['say "hi"', 'two\nlines', ''] },
      { line: 6, fields: ['4', '', '6'] },
    ]);
    expect(parseCsv('a;b\n1;2\n', ';')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });
});

describe('csvSource', () => {
  const text = 'id,x1,x2,label\n7,0.5,1,0\n8,2,-3e1,2\n9," 4 ",5,1\n';

  it('reads features, labels and ids at any positions', async () => {
    const source = csvSource(text, { label: 'label', features: ['x1', 'x2'] });
    expect(source).toMatchObject({ kind: 'kd-source', size: 3, numClasses: 3, featureNames: ['x1', 'x2'] });
    expect(Array.from(source.labels)).toEqual([0, 2, 1]);
    const leaked = await leakedTensors(async () => {
      const { x, y, ids } = await source.read(Int32Array.of(2, 0, 2));
      expect(source.exampleShape).toEqual([2]);
      expect(x).toEqual(Float32Array.of(4, 5, 0.5, 1, 4, 5));
      expect(y).toEqual(Int32Array.of(1, 0, 1));
      expect(ids).toEqual([2, 0, 2]);
    });
    expect(leaked).toBe(0);
  });

  it('defaults to every other column; classes option; name prefixes ids', async () => {
    const source = csvSource(text, { label: 3, classes: 5, name: 'rows' });
    expect(source.featureNames).toEqual(['id', 'x1', 'x2']);
    expect(source.numClasses).toBe(5);
    expect(source.description).toBe('CSV rows');
    const { x, ids } = await source.read(Int32Array.of(1));
    expect(x).toEqual(Float32Array.of(8, 2, -30));
    expect(ids).toEqual(['rows:1']);
  });

  it('without a header, columns are 0-based indices', () => {
    const source = csvSource('1\t2\t1\n3\t4\t0', { label: 2, header: false, delimiter: '\t', features: ['1', 0] });
    expect(source.featureNames).toEqual(['1', '0']);
    expect(source.size).toBe(2);
    expect(Array.from(source.labels)).toEqual([1, 0]);
    expect(source.numClasses).toBe(2);
  });

  it('trains one epoch with the Distiller, leaking nothing', async () => {
    const lines = ['a,b,y', ...Array.from({ length: 12 }, (_, i) => `${i / 12},${(i % 3) - 1},${i % 3}`)];
    const source = csvSource(lines.join('\n'), { label: 'y' });
    const student = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [2], units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })],
    });
    await expectOneEpochTrains(student, source);
    student.dispose();
  });
});

describe('jsonlSource', () => {
  it('reads one object per line; features default to the first object keys', async () => {
    const source = jsonlSource('{"a":1,"b":2,"y":0,"note":"x"}\n\n{"b":4,"a":3,"y":3,"extra":1}\r\n', {
      label: 'y',
      features: ['a', 'b'],
      name: 'j',
    });
    expect(source).toMatchObject({ size: 2, numClasses: 4, featureNames: ['a', 'b'], description: 'JSONL j' });
    const { x, y, ids } = await source.read(Int32Array.of(1, 0));
    expect(x).toEqual(Float32Array.of(3, 4, 1, 2));
    expect(y).toEqual(Int32Array.of(3, 0));
    expect(ids).toEqual(['j:1', 'j:0']);
    const derived = jsonlSource('{"b":1,"y":1,"a":2}\n{"a":0,"b":0,"y":0}', { label: 'y', classes: 2 });
    expect(derived.featureNames).toEqual(['b', 'a']);
    expect(derived.numClasses).toBe(2);
  });
});
