// Install hook of @kd/backend-native, shipped as dist/native/install.cjs and run by the package's
// "install" script (npm, yarn; pnpm 10 only for packages in onlyBuiltDependencies or approved with
// `pnpm approve-builds`). It never fails the install: without a usable addon the package leaves
// the wasm kernels in place at run time and says why.
//   1. a prebuilt (prebuilds/<platform>-<arch>/, from prebuildify) or earlier build that loads and
//      runs in a child process: done;
//   2. otherwise build from source with node-gyp (needs a C++ compiler, make, python3 and
//      libopenblas-dev), using the Node headers next to the running node when they are there
//      (--nodedir: no download), else node-gyp's usual header download.
// KD_NATIVE_SKIP_INSTALL=1 skips both; KD_NATIVE_FORCE_BUILD=1 skips 1.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const here = __dirname;

/** The install prefix of the running node whose headers match it (e.g. /usr), or undefined. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.dirname(path.dirname(process.execPath));
  const header = path.join(prefix, 'include', 'node', 'node_version.h');
  if (!existsSync(header) || !existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return undefined;
  const text = readFileSync(header, 'utf8');
  const v = ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(text)?.[1]);
  return v.join('.') === process.versions.node ? prefix : undefined;
}

/** [command, ...args] that runs node-gyp: the package manager's, one on PATH, or npm's bundled one. */
function nodeGyp() {
  const fromManager = process.env.npm_config_node_gyp;
  if (fromManager && existsSync(fromManager)) return [process.execPath, fromManager];
  const prefix = path.dirname(path.dirname(process.execPath));
  for (const candidate of [
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ]) {
    if (existsSync(candidate)) return [process.execPath, candidate];
  }
  const onPath = spawnSync('node-gyp', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 ? ['node-gyp'] : undefined;
}

/** Path of a build that loads and answers in a child process, or undefined (with why). */
function usableBuild(dir) {
  let file;
  try {
    file = require('node-gyp-build').resolve(dir);
  } catch (error) {
    return { reason: String(error.message || error).split('\n')[0] };
  }
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).info()', file], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status === 0) return { file };
  const line = (r.stderr || '').split('\n').find((l) => /Error|error|cannot/.test(l)) || '';
  return { reason: r.signal ? `it crashed with ${r.signal}` : `it does not load: ${line.trim().slice(0, 200)}` };
}

/** Builds with node-gyp in `dir`; returns undefined on success or why it failed. */
function build(dir, { quiet = false } = {}) {
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found (install npm, or node-gyp globally)';
  const args = [...gyp.slice(1), 'rebuild'];
  const nodedir = nodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(gyp[0], args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const out = `${r.stdout || ''}\n${r.stderr || ''}`;
  if (r.status === 0) return undefined;
  if (!quiet) {
    const errors = out.split('\n').filter((l) => /error|ERR!|not found/i.test(l) && !/^gyp ERR! (cwd|node -v|node-gyp -v|command|System|not ok)/.test(l));
    for (const line of errors.slice(0, 6)) console.log(`  ${line}`);
  }
  const hint = /lopenblas|openblas/i.test(out)
    ? ' (libopenblas-dev missing?)'
    : /not found: (make|g\+\+|c\+\+|cc)|(g\+\+|c\+\+|cc): (command )?not found|Can't find Python|find Python/i.test(out)
      ? ' (no C++ compiler, make or python3?)'
      : '';
  return `node-gyp rebuild failed${r.signal ? ` (${r.signal})` : ` (exit ${r.status})`}${hint}`;
}

function install() {
  const log = (line) => console.log(`@kd/backend-native: ${line}`);
  if (process.env.KD_NATIVE_SKIP_INSTALL === '1') return log('KD_NATIVE_SKIP_INSTALL=1: skipped');
  if (process.env.KD_NATIVE_FORCE_BUILD !== '1') {
    const found = usableBuild(here);
    if (found.file) return log(`using ${path.relative(here, found.file)}`);
    log(`no usable prebuilt addon (${found.reason}); building from source`);
  }
  const failed = build(here);
  if (failed === undefined) {
    const found = usableBuild(here);
    if (found.file) return log(`built ${path.relative(here, found.file)}`);
    return log(`built, but the addon does not load (${found.reason}); the wasm kernels will be used`);
  }
  log(`${failed}; the wasm kernels will be used (useNativeKernels() reports why)`);
}

module.exports = { install, build, nodeDir, nodeGyp, usableBuild };
