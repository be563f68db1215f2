import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFromConfig } from '../src/run/train';

// The registry's imports register custom layer classes before a model loads: a BiT ResNet
// (GroupNormalization, StandardizedConv2D) saved by one run loads in a fresh `kd` process only
// when the config lists @kd/bit.
const run = promisify(execFile);
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
const base = `seed: 1
backend: wasm
data: { source: mnistDigits, limit: { train: 200, test: 100 } }
methods: [{ method: hardLabel }]
training: { epochs: 1, batchSize: 50 }
`;

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build @kd/cli first (pnpm build; pnpm test builds)`);
  dir = await mkdtemp(join(tmpdir(), 'kd-layers-'));
  await writeFile(
    join(dir, 'bit.yaml'),
    `${base}packages: ['@kd/bit']\nstudent: { builder: bitResNetSmall, options: { width: 1, units: [1, 1, 1] } }\n`,
  );
  await writeFile(join(dir, 'plain.yaml'), `${base}student: { builder: mlp, options: { hidden: [8] } }\n`);
  await trainFromConfig(join(dir, 'bit.yaml'), { log: () => undefined, out: join(dir, 'bit-run') });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('custom layers of a saved model', () => {
  it('load in a fresh process when the config lists their package, and name the class when it does not', async () => {
    const summary = JSON.parse(readFileSync(join(dir, 'bit-run', 'summary.json'), 'utf8'));
    const { stdout } = await run(process.execPath, [bin, 'evaluate', join(dir, 'bit.yaml'), '--model', join(dir, 'bit-run', 'student')]);
    expect(JSON.parse(stdout)).toEqual({ split: 'test', ...summary.student, examples: 100 });
    const failed = await run(process.execPath, [bin, 'evaluate', join(dir, 'plain.yaml'), '--model', join(dir, 'bit-run', 'student')]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(
      /uses the layer class kd>(StandardizedConv2D|GroupNormalization), which no loaded package registers; add the package that defines it to "packages"/,
    );
    expect(failed?.stderr).toContain('[unknown-layer-class]');
  }, 120_000);
});
