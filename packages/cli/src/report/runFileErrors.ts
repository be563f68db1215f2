import { formatPath } from '@kd/core';
import type { z } from 'zod';
import { CliError } from '../errors';

/** The line (1-based) and column of a character offset of a text. */
export function lineAndColumn(text: string, offset: number): { readonly line: number; readonly column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < Math.min(offset, text.length); i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parses the JSON text of a run file; a syntax error is a `bad-run` error naming the file and,
 * where the parser says where it stopped, the line and column.
 *
 * @param where How the message names the text, e.g. `"run/summary.json"` or `"run/logs.jsonl line 4"`.
 */
export function parseRunJson(text: string, where: string, locate = true): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const position = /at position (\d+)/.exec(reason)?.[1];
    const offset = position !== undefined ? Number(position) : /end of JSON input/.test(reason) ? text.length : undefined;
    let at = '';
    if (locate && offset !== undefined) {
      const { line, column } = lineAndColumn(text, offset);
      at = ` line ${line} column ${column}`;
    }
    throw new CliError('bad-run', `${where}${at} is not valid JSON: ${reason}.`, { cause: error });
  }
}

/** A `bad-run` error for a value of a run file that a schema rejected: names the file and the first bad field. */
export function schemaError(error: z.ZodError, where: string): CliError {
  const issue = error.issues[0];
  const path = issue ? formatPath(issue.path) : '';
  const field = path ? `: ${path}` : '';
  return new CliError('bad-run', `${where}${field}: ${issue?.message ?? 'invalid'}.`, { cause: error });
}
