#!/usr/bin/env node
// The native half of `pnpm --filter @kd/backend-native build` (after tsup):
//   1. copies the addon's sources and install hook (src/native/{binding.gyp,kd_native.cc,install.cjs})
//      to dist/native/, so the npm tarball can build from source where no prebuilt binary fits;
//   2. compiles the addon with prebuildify (--napi --strip: one binary for every Node >= 20 of this
//      platform) into src/native/prebuilds/<platform>-<arch>/ and copies it to dist/native/prebuilds/,
//      where node-gyp-build finds it; node-gyp gets --nodedir=<prefix of this node> when that
//      prefix has the matching headers (/usr/include/node on Debian): no header download;
//   3. loads the result in a child process.
// Without a compiler or libopenblas-dev, step 2 fails with a warning and the build goes on (the
// package then falls back to the wasm kernels at run time), unless KD_REQUIRE_NATIVE=1 (CI).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'native');
const dist = join(root, 'dist', 'native');
const require = createRequire(join(root, 'package.json'));
const hook = require(join(src, 'install.cjs'));
const required = process.env.KD_REQUIRE_NATIVE === '1';
const log = (line) => console.log(`backend-native: ${line}`);

mkdirSync(dist, { recursive: true });
for (const f of ['binding.gyp', 'kd_native.cc', 'install.cjs']) copyFileSync(join(src, f), join(dist, f));

function fail(why) {
  if (required) {
    console.error(`backend-native: ${why} (KD_REQUIRE_NATIVE=1: failing the build)`);
    process.exit(1);
  }
  log(`WARNING: ${why}; dist/ has no addon, the package will fall back to the wasm kernels.`);
  process.exit(0);
}

if (process.env.KD_NATIVE_SKIP_BUILD === '1' && !required) fail('KD_NATIVE_SKIP_BUILD=1');
const gyp = hook.nodeGyp();
if (!gyp) fail('node-gyp not found');
const nodedir = hook.nodeDir();
// prebuildify spawns PREBUILD_NODE_GYP through a shell when PREBUILD_SHELL is set: "node" "node-gyp.js".
const env = { ...process.env, PREBUILD_NODE_GYP: gyp.map((p) => JSON.stringify(p)).join(' ') };
if (process.platform !== 'win32') env.PREBUILD_SHELL = '/bin/sh';
if (nodedir) env.npm_config_nodedir = nodedir;
else log(`no Node headers next to ${process.execPath} match ${process.version}: node-gyp will download them`);
const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
rmSync(join(src, 'prebuilds'), { recursive: true, force: true });
const t0 = Date.now();
const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--name', 'kd_native', '--target', process.versions.node], { cwd: src, env, encoding: 'utf8' });
if (r.status !== 0) {
  const out = `${r.stdout}\n${r.stderr}`;
  const lines = out.split('\n').filter((l) => /error|Error|ERR!/.test(l)).slice(0, 8);
  console.error(lines.join('\n'));
  const hint = /lopenblas/.test(out) ? ' (libopenblas-dev missing?)' : /not found: (make|g\+\+|c\+\+)|g\+\+: not found|c\+\+: not found/.test(out) ? ' (no C++ compiler?)' : '';
  fail(`compiling the addon failed${hint}`);
}
rmSync(join(dist, 'prebuilds'), { recursive: true, force: true });
cpSync(join(src, 'prebuilds'), join(dist, 'prebuilds'), { recursive: true });
rmSync(join(dist, 'build'), { recursive: true, force: true });
const found = hook.usableBuild(dist);
if (!found.file) fail(`the addon was built but does not load: ${found.reason}`);
log(`built ${found.file.slice(root.length + 1)} in ${((Date.now() - t0) / 1000).toFixed(1)} s${nodedir ? ` (headers: ${nodedir}/include/node)` : ''}`);
if (!existsSync(join(src, 'build'))) log('note: src/native/build is gone (prebuildify moves the binary)');
