import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { DataError } from './errors';
import { integer } from './schemas';
import { checkPositions, idsOf, type LabeledSource } from './sources';

/** A column of a table: its header name, or its 0-based index. */
export type Column = string | number;

/** A source of table rows: features float32 `[n, features]`, integer labels. */
export interface TabularSource extends LabeledSource {
  /** The feature columns (CSV) or keys (JSONL), in the order of x's second axis. */
  readonly featureNames: readonly string[];
}

const column = z.union([z.string().min(1), z.number().int().min(0)], {
  message: 'must be a column name (non-empty string) or a 0-based column index',
});
const nameSchema = z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' });

/** Options of {@link csvSource} (and `csvFile`). */
export interface CsvOptions {
  /** The label column: a header name, or a 0-based index. Its cells must be non-negative integers. */
  readonly label: Column;
  /** The feature columns, in order. Default: every column but the label, in file order. */
  readonly features?: readonly Column[];
  /** One character between fields. Default `,`. */
  readonly delimiter?: string;
  /** Whether the first record names the columns. Default true; without one, columns are named `0`, `1`, ... */
  readonly header?: boolean;
  /** Number of classes: every label must be below it. Default: the largest label + 1. */
  readonly classes?: number;
  /** Names the text in messages and description, and prefixes ids: `${name}:${row}`. Default: ids are row indices. */
  readonly name?: string;
}

/** Schema of {@link CsvOptions} (defaults applied). */
export const csvSourceSchema = optionsSchema<CsvOptions>()({
  label: column,
  features: z.array(column).min(1, { message: 'must name at least one column' }).optional(),
  delimiter: z
    .string()
    .length(1, { message: 'must be one character' })
    .refine((d) => d !== '"' && d !== '\n' && d !== '\r', { message: 'cannot be a quote or a line break' })
    .default(','),
  header: z.boolean().default(true),
  classes: integer(1).optional(),
  name: nameSchema.optional(),
});

/** Options of {@link jsonlSource} (and `jsonlFile`). */
export interface JsonlOptions {
  /** The key of the label. Its values must be non-negative integers (JSON numbers). */
  readonly label: string;
  /** The feature keys, in order. Default: the first object's keys but the label, in its order. */
  readonly features?: readonly string[];
  /** Number of classes: every label must be below it. Default: the largest label + 1. */
  readonly classes?: number;
  /** Names the text in messages and description, and prefixes ids: `${name}:${row}`. Default: ids are row indices. */
  readonly name?: string;
}

/** Schema of {@link JsonlOptions}. */
export const jsonlSourceSchema = optionsSchema<JsonlOptions>()({
  label: nameSchema,
  features: z.array(nameSchema).min(1, { message: 'must name at least one key' }).optional(),
  classes: integer(1).optional(),
  name: nameSchema.optional(),
});

/** One CSV record: its fields and the (1-based) line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/**
 * Splits CSV text into records (RFC 4180): fields separated by `delimiter`, records by LF or CRLF,
 * fields in double quotes may hold delimiters, line breaks and `""` (one quote). Empty lines are
 * skipped. Throws `csv-bad-quote` for an unterminated quote or text after a closing quote.
 */
export function parseCsv(text: string, delimiter = ',', where = 'parseCsv'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let lineStart = 0;
  let i = 0;
  const n = text.length;
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || field !== '' || quoted) records.push({ line: start, fields });
    fields = [];
    field = '';
    quoted = false;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '"' && field === '' && !quoted) {
      const quoteLine = line;
      const quoteColumn = i - lineStart + 1;
      quoted = true;
      i++;
      for (;;) {
        if (i >= n) {
          throw new DataError('csv-bad-quote', `${where}: line ${quoteLine}, character ${quoteColumn}: the quote is never closed`);
        }
        const q = text[i]!;
        i++;
        if (q === '"') {
          if (text[i] !== '"') break;
          i++;
        } else if (q === '\n') {
          line++;
          lineStart = i;
        }
        field += q;
      }
      const after = text[i];
      if (after !== undefined && after !== delimiter && after !== '\n' && after !== '\r') {
        throw new DataError(
          'csv-bad-quote',
          `${where}: line ${line}, character ${i - lineStart + 1}: ${JSON.stringify(after)} after a closing quote (a quote inside a quoted field is written "")`,
        );
      }
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
      quoted = false;
      i++;
    } else if (c === '\n' || c === '\r') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      lineStart = i;
      start = line;
    } else {
      field += c;
      i++;
    }
  }
  if (fields.length > 0 || field !== '' || quoted) endRecord();
  return records;
}

/** Builds the source from parsed rows (shared by CSV and JSONL). */
function tableSource(
  features: Float32Array,
  labels: Int32Array,
  featureNames: string[],
  classes: number | undefined,
  name: string | undefined,
  description: string,
  where: string,
): TabularSource {
  const size = labels.length;
  const width = featureNames.length;
  const numClasses = classes ?? labels.reduce((m, l) => Math.max(m, l + 1), 1);
  return {
    kind: 'kd-source',
    size,
    exampleShape: [width],
    labels,
    numClasses,
    featureNames,
    description,
    read(positions) {
      checkPositions(positions, size, where);
      const out = new Float32Array(positions.length * width);
      for (let b = 0; b < positions.length; b++) {
        const p = positions[b]!;
        out.set(features.subarray(p * width, (p + 1) * width), b * width);
      }
      return { x: out, y: Int32Array.from(positions, (p) => labels[p]!), ids: idsOf(positions, name) };
    },
  };
}

function checkLabel(value: number, text: string, at: string, classes: number | undefined, where: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new DataError('table-bad-label', `${where}: ${at}: label ${text} is not a non-negative integer class`);
  }
  if (classes !== undefined && value >= classes) {
    throw new DataError('table-bad-label', `${where}: ${at}: label ${value} is not a class in [0, ${classes}) (option "classes")`);
  }
  return value;
}

function checkText(text: unknown, where: string): asserts text is string {
  if (typeof text !== 'string') {
    throw new DataError('table-not-text', `${where}: expected the file contents as a string, got ${typeof text}`);
  }
}

/**
 * The rows of CSV text as a {@link TabularSource}. The `features` columns become x float32
 * `[n, features]` (each cell parsed with `Number`, which must give a finite number; no scaling),
 * the `label` column y int32 `[n]`: non-negative integers below `classes` when it is given, and
 * `numClasses` is `classes`, or else the largest label + 1. ids are row indices (0 = the first data
 * row), or `${name}:${row}`. Parsed with the package's own RFC 4180 parser ({@link parseCsv}).
 *
 * Errors name the line and column: `table-bad-feature` (a cell that is not a number),
 * `table-missing-label` (an empty label cell), `table-bad-label` (not an integer, or not below
 * `classes`), `table-ragged-row` (another number of fields than the header), `table-unknown-column`,
 * `csv-bad-quote`, `table-empty` (no data row).
 *
 * @example
 * ```ts
 * const source = csvSource('a,b,label\n0.5,1,0\n2,3,1\n', { label: 'label' });
 * source.read(Int32Array.of(1)).x; // Float32Array [2, 3]
 * ```
 */
export function csvSource(text: string, options: CsvOptions): TabularSource {
  return readCsv(text, options, 'csvSource');
}

/** {@link csvSource} for `where`; `file` (a path) names the text when `name` does not (internal). */
export function readCsv(text: string, options: CsvOptions, where: string, file?: string): TabularSource {
  const { label, features, delimiter, header, classes, name } = parseOptions(csvSourceSchema, options, where);
  checkText(text, where);
  const shown = name ?? file;
  const prefix = shown ? `${where}: ${shown}` : where;
  const records = parseCsv(text, delimiter, prefix);
  const first = records[0];
  if (first === undefined || (header && records.length === 1)) {
    throw new DataError('table-empty', `${prefix}: no data rows${header && first ? ' after the header' : ''}`);
  }
  const columns = header ? first.fields.map((f) => f.trim()) : first.fields.map((_, i) => String(i));
  const resolve = (c: Column, what: string): number => {
    const index = typeof c === 'number' ? c : columns.indexOf(c);
    if (index < 0 || index >= columns.length) {
      throw new DataError(
        'table-unknown-column',
        `${prefix}: ${what} column ${typeof c === 'number' ? c : `"${c}"`} is not one of the ${columns.length} columns (${columns.join(', ')})`,
      );
    }
    return index;
  };
  const labelIndex = resolve(label, 'label');
  const featureIndices = features ? features.map((c) => resolve(c, 'feature')) : columns.map((_, i) => i).filter((i) => i !== labelIndex);
  if (featureIndices.includes(labelIndex)) {
    throw new DistillationError('bad-option', `${where}: option "features" includes the label column "${columns[labelIndex]}"`);
  }
  if (featureIndices.length === 0) {
    throw new DistillationError('bad-option', `${where}: the label is the only column; there is no feature`);
  }
  const rows = header ? records.slice(1) : records;
  const width = featureIndices.length;
  const x = new Float32Array(rows.length * width);
  const y = new Int32Array(rows.length);
  rows.forEach(({ line, fields }, r) => {
    if (fields.length !== columns.length) {
      throw new DataError(
        'table-ragged-row',
        `${prefix}: line ${line} has ${fields.length} fields, the ${header ? 'header' : 'first row'} has ${columns.length}`,
      );
    }
    featureIndices.forEach((c, k) => {
      const cell = fields[c]!;
      const value = cell.trim() === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) {
        throw new DataError(
          'table-bad-feature',
          `${prefix}: line ${line}, column "${columns[c]}": ${JSON.stringify(cell)} is not a finite number`,
        );
      }
      x[r * width + k] = value;
    });
    const cell = fields[labelIndex]!.trim();
    const at = `line ${line}, column "${columns[labelIndex]}"`;
    if (cell === '') throw new DataError('table-missing-label', `${prefix}: ${at}: the label is missing`);
    y[r] = checkLabel(Number(cell), JSON.stringify(cell), at, classes, prefix);
  });
  return tableSource(
    x,
    y,
    featureIndices.map((c) => columns[c]!),
    classes,
    name,
    `CSV ${shown ?? 'text'}`,
    where,
  );
}

/**
 * The lines of JSON Lines text (one JSON object per line; blank lines skipped) as a
 * {@link TabularSource}. The `features` keys (JSON numbers) become x float32 `[n, features]`, no
 * scaling; the `label` key y int32 `[n]`: non-negative integer numbers below `classes` when given,
 * and `numClasses` is `classes`, or else the largest label + 1. Keys other than the label and
 * the features are ignored. ids are row indices, or `${name}:${row}`.
 *
 * Errors name the line and key: `jsonl-bad-line` (not a JSON object), `table-bad-feature` (a value
 * that is not a finite number), `table-missing-label` (no label, or null), `table-bad-label`,
 * `table-ragged-row` (a feature key missing), `table-empty`.
 *
 * @example
 * ```ts
 * const source = jsonlSource('{"a":1,"b":2,"y":0}\n{"a":3,"b":4,"y":1}\n', { label: 'y' });
 * ```
 */
export function jsonlSource(text: string, options: JsonlOptions): TabularSource {
  return readJsonl(text, options, 'jsonlSource');
}

/** {@link jsonlSource} for `where`; `file` (a path) names the text when `name` does not (internal). */
export function readJsonl(text: string, options: JsonlOptions, where: string, file?: string): TabularSource {
  const { label, features, classes, name } = parseOptions(jsonlSourceSchema, options, where);
  checkText(text, where);
  const shown = name ?? file;
  const prefix = shown ? `${where}: ${shown}` : where;
  const rows: { line: number; value: Record<string, unknown> }[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      throw new DataError('jsonl-bad-line', `${prefix}: line ${i + 1} is not valid JSON (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DataError(
        'jsonl-bad-line',
        `${prefix}: line ${i + 1} is not a JSON object, got ${Array.isArray(value) ? 'an array' : String(value)}`,
      );
    }
    rows.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  if (rows.length === 0) throw new DataError('table-empty', `${prefix}: no data rows`);
  const keys = features ?? Object.keys(rows[0]!.value).filter((k) => k !== label);
  if (keys.includes(label)) {
    throw new DistillationError('bad-option', `${where}: option "features" includes the label key "${label}"`);
  }
  if (keys.length === 0) {
    throw new DistillationError('bad-option', `${where}: line ${rows[0]!.line} has no key but the label; there is no feature`);
  }
  const width = keys.length;
  const x = new Float32Array(rows.length * width);
  const y = new Int32Array(rows.length);
  rows.forEach(({ line, value }, r) => {
    keys.forEach((key, k) => {
      if (!(key in value)) {
        throw new DataError('table-ragged-row', `${prefix}: line ${line} has no feature "${key}" (features: ${keys.join(', ')})`);
      }
      const v = value[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new DataError('table-bad-feature', `${prefix}: line ${line}, key "${key}": ${JSON.stringify(v)} is not a finite number`);
      }
      x[r * width + k] = v;
    });
    const v = value[label];
    const at = `line ${line}, key "${label}"`;
    if (v === undefined || v === null) throw new DataError('table-missing-label', `${prefix}: ${at}: the label is missing`);
    y[r] = checkLabel(typeof v === 'number' ? v : Number.NaN, JSON.stringify(v), at, classes, prefix);
  });
  return tableSource(x, y, [...keys], classes, name, `JSONL ${shown ?? 'text'}`, where);
}
