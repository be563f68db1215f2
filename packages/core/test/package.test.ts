import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

// The built package (pnpm build) must load both as ESM (import) and CommonJS (require), with
// the same API, in a plain Node process outside vitest's transform.
describe.skipIf(!existsSync(`${root}/dist/index.cjs`))('built @kd/core', () => {
  const program = (load: string) => `
    ${load}
    require('@tensorflow/tfjs-backend-cpu');
    const names = ['Distiller', 'softTargets', 'hardLabel', 'logitMatching', 'ensembleTeacher', 'softTargetLoss'];
    const missing = names.filter((n) => typeof core[n] !== 'function');
    if (missing.length) throw new Error('missing exports: ' + missing);
    if (typeof node.saveModel !== 'function' || typeof node.fileCheckpointStore !== 'function') throw new Error('node exports');
    console.log(new core.Distiller({ student: model(), optimizer: tf.train.sgd(0.1) }).use(core.hardLabel()).describe());
    function model() {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ inputShape: [2], units: 3 }));
      return m;
    }`;

  it('loads with require()', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        program(
          "const core = require('@kd/core'); const node = require('@kd/core/node'); const tf = require('@tensorflow/tfjs-core'); const tfl = require('@tensorflow/tfjs-layers');",
        ),
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Loss = 1*ce');
  });

  it('loads with import', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/'); import * as core from '@kd/core'; import * as node from '@kd/core/node'; import * as tf from '@tensorflow/tfjs-core'; import * as tfl from '@tensorflow/tfjs-layers'; ${program('')}`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Loss = 1*ce');
  });
});
