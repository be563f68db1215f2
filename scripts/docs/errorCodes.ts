import { backendGpuErrorCodes } from '@kd/backend-gpu';
import { backendNativeErrorCodes } from '@kd/backend-native';
import { backendWasmErrorCodes } from '@kd/backend-wasm';
import { bitErrorCodes } from '@kd/bit';
import { cliErrorCodes } from '@kd/cli';
import { coreErrorCodes } from '@kd/core';
import { crdErrorCodes } from '@kd/crd';
import { dataErrorCodes } from '@kd/data';
import { fitnetErrorCodes } from '@kd/fitnet';
import { fleetErrorCodes } from '@kd/fleet';
import { logitsErrorCodes } from '@kd/logits';
import { relationalErrorCodes } from '@kd/relational';
import { specialistsErrorCodes } from '@kd/specialists';
import { teacherStoreErrorCodes } from '@kd/teacher-store';

/** Every package's table of error codes, keyed by package name (source folder in `folder`). */
export const errorTables: readonly { name: string; folder: string; codes: Readonly<Record<string, string>> }[] = [
  { name: '@kd/core', folder: 'core', codes: coreErrorCodes },
  { name: '@kd/crd', folder: 'crd', codes: crdErrorCodes },
  { name: '@kd/fitnet', folder: 'fitnet', codes: fitnetErrorCodes },
  { name: '@kd/logits', folder: 'logits', codes: logitsErrorCodes },
  { name: '@kd/relational', folder: 'relational', codes: relationalErrorCodes },
  { name: '@kd/bit', folder: 'bit', codes: bitErrorCodes },
  { name: '@kd/data', folder: 'data', codes: dataErrorCodes },
  { name: '@kd/specialists', folder: 'specialists', codes: specialistsErrorCodes },
  { name: '@kd/teacher-store', folder: 'teacher-store', codes: teacherStoreErrorCodes },
  { name: '@kd/fleet', folder: 'fleet', codes: fleetErrorCodes },
  { name: '@kd/cli', folder: 'cli', codes: cliErrorCodes },
  { name: '@kd/backend-wasm', folder: 'backend-wasm', codes: backendWasmErrorCodes },
  { name: '@kd/backend-gpu', folder: 'backend-gpu', codes: backendGpuErrorCodes },
  { name: '@kd/backend-native', folder: 'backend-native', codes: backendNativeErrorCodes },
];

/** docs/errors.md: one table of every code, generated from the packages' own tables. */
export function renderErrorTable(): string {
  const lines = [
    '# Error codes',
    '',
    "<!-- Generated from each package's `src/errors.ts` by scripts/docs/errorCodes.ts; do not edit.",
    '     Regenerate: KD_WRITE_DOCS=1 pnpm exec vitest run --project docs -->',
    '',
    "Every error kd throws on purpose is a `DistillationError` (or a package's subclass of it; the",
    'backends, which do not depend on `@kd/core`, throw errors of the same shape) with a stable',
    '`code`. Match on the code with `isDistillationError(error, code)` from `@kd/core`, never with',
    '`instanceof`: the ESM and CommonJS builds, or two installed versions, are different classes.',
    'The message names what is wrong (the option path, the tensor and example, the layer, the file);',
    '`cause` holds the underlying error where there is one (file-system and tfjs errors).',
    '',
  ];
  for (const table of errorTables) {
    lines.push(`## ${table.name}`, '', '| code | meaning |', '|---|---|');
    for (const [code, meaning] of Object.entries(table.codes)) lines.push(`| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}
