import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseDocument } from 'yaml';
import { CliError } from '../errors';

/**
 * The parsed contents of a run config: JSON for `.json`, YAML (1.2, of which JSON is a subset)
 * otherwise. A syntax error is `bad-config` with the file, line and column; a missing file is
 * `config-not-found`.
 */
export async function readConfigFile(file: string): Promise<unknown> {
  const where = basename(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new CliError('config-not-found', `${file}: no such config file`, { cause: error });
    }
    throw new CliError('config-not-found', `${file}: cannot read the config file (${(error as Error).message})`, { cause: error });
  }
  if (extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new CliError('bad-config', `${where}: not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = document.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    throw new CliError(
      'bad-config',
      `${where}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      {
        cause: first,
      },
    );
  }
  return document.toJS();
}
