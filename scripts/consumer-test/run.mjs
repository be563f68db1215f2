#!/usr/bin/env node
// Consumer test: the proof that users can install one @kd package at a time.
//   1. pack every package under packages/ (pnpm pack: workspace: ranges rewritten)
//   2. one fresh npm project per package, in the OS temp dir (outside the workspace): npm installs
//      the package's tarball, ONLY the tarballs of the @kd packages it needs (its dependencies
//      and required peerDependencies on @kd/*, transitively, read from the packed manifests) and
//      its required tfjs peers at 4.22.0 from the registry. The install fails if a needed @kd
//      tarball is missing (npm would look for it on the registry, where nothing is published) or
//      if a packed range does not accept the sibling tarball's version. Then, in each project:
//        - node_modules/@kd holds exactly the needed packages, each from its tarball
//        - tsc (module nodenext, strict) compiles an ESM and a CommonJS file importing every entry
//          point of the package (its .d.ts and .d.cts) and fails if any module named by them,
//          the package's own declaration files included, does not resolve (--traceResolution:
//          skipLibCheck would hide that; tfjs' own .d.ts do not pass skipLibCheck false)
//        - smoke.mjs imports every entry point (ESM; same export names as the CJS build) and
//          smoke.cjs requires them, and each constructs one thing (fixtures/smoke-cases.cjs)
//      Project core-crd (@kd/crd) also compiles fixtures/kd-crd.ts with tsc and runs it (ESM),
//      then kd-crd.cjs (CommonJS): both distil a tiny teacher with KD + CRD and save the student.
//      Project core (@kd/core alone) also runs core-only.mjs; no other @kd/* may appear there.
// All projects share one npm cache ($KD_NPM_CACHE, default node_modules/.cache/kd-consumer-npm)
// and install with --prefer-offline, so tfjs is downloaded once. Projects run $KD_CONSUMER_JOBS
// (default 2) at a time; each one's log is printed when it is done.
// Usage: node scripts/consumer-test/run.mjs [--keep] [--only crd,backend-gpu]   (needs `pnpm build`)
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, ROOT, seconds, tarManifest } from '../release/lib.mjs';

const TFJS = '4.22.0';
const FIXTURES = join(ROOT, 'scripts', 'consumer-test', 'fixtures');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CACHE = process.env.KD_NPM_CACHE ?? join(ROOT, 'node_modules', '.cache', 'kd-consumer-npm');
const JOBS = Math.max(1, Number(process.env.KD_CONSUMER_JOBS ?? 2));
const CPU = '@tensorflow/tfjs-backend-cpu';
/** tfjs-core's "install our node backend" banner, left out of the logs. */
const TFJS_BANNER = /^=+$|looks like you are running TensorFlow\.js in Node\.js/;
/**
 * Registry packages a smoke case or fixture uses beyond the required peers: the cpu backend to
 * run on; tfjs-layers for @kd/backend-wasm, whose README has users import it (it registers the
 * gradients that training on wasm needs) though it is not a peer of that package.
 */
const EXTRA_PEERS = { '@kd/core': [CPU], '@kd/crd': [CPU], '@kd/models': [CPU], '@kd/backend-wasm': ['@tensorflow/tfjs-layers'] };
const keep = process.argv.includes('--keep');
const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1].split(',')) : undefined;
})();

const t0 = Date.now();
const { packages } = packAll();
const byName = new Map(packages.map((p) => [p.name, { ...p, packed: tarManifest(p.tarball) }]));
const work = mkdtempSync(join(tmpdir(), 'kd-consumer-'));
mkdirSync(CACHE, { recursive: true });

/** The package and the @kd packages it needs (dependencies + required peers), transitively. */
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  const p = byName.get(name);
  if (!p) throw new Error(`${[...seen].at(-1) ?? name} needs ${name}, which is not a package under packages/`);
  seen.add(name);
  for (const dep of Object.keys(requiredDeps(p.packed))) if (dep.startsWith('@kd/')) closure(dep, seen);
  return seen;
}

/** dependencies + peerDependencies not marked optional. */
function requiredDeps(m) {
  const peers = Object.entries(m.peerDependencies ?? {}).filter(([d]) => !m.peerDependenciesMeta?.[d]?.optional);
  return { ...Object.fromEntries(peers), ...(m.dependencies ?? {}) };
}

/** Registry packages to install next to the tarballs: required non-@kd peers of the closure + extras of `name`. */
function registryPeers(names, name) {
  const out = new Map();
  for (const n of names) {
    const m = byName.get(n).packed;
    for (const [d, range] of Object.entries(m.peerDependencies ?? {})) if (!d.startsWith('@kd/') && !m.peerDependenciesMeta?.[d]?.optional) out.set(d, range);
  }
  for (const d of EXTRA_PEERS[name] ?? []) out.set(d, TFJS);
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([d, range]) => `${d}@${d.startsWith('@tensorflow/') ? TFJS : range}`);
}

const projects = [...byName.keys()]
  .filter((n) => !only || only.has(n) || only.has(n.replace('@kd/', '')))
  .sort((a, b) => order(a) - order(b) || a.localeCompare(b));
function order(n) {
  return n === '@kd/crd' ? 0 : n === '@kd/core' ? 1 : 2; // the historical projects A and B first
}

let ok = false;
try {
  const results = await pool(projects, JOBS, testPackage);
  const failed = results.filter((r) => !r.ok);
  console.log('\nconsumer-test summary:');
  for (const r of results) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'}  ${seconds(r.ms).padStart(7)}  ${r.name.padEnd(16)} installs ${r.installed}`);
  ok = failed.length === 0;
  console.log(`consumer-test: ${ok ? 'ok' : `${failed.length} project(s) FAILED`} in ${seconds(Date.now() - t0)} (${results.length} projects, ${JOBS} at a time, npm cache ${CACHE})`);
  process.exitCode = ok ? 0 : 1;
} finally {
  if (keep || !ok) console.log(`consumer projects kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

async function testPackage(name) {
  const start = Date.now();
  const log = [];
  const short = name.replace('@kd/', '');
  const needed = closure(name);
  const projectName = name === '@kd/crd' ? 'core-crd' : short;
  const dir = join(work, projectName);
  const tarballs = [...needed].map((n) => byName.get(n).tarball);
  const peers = registryPeers(needed, name);
  const installed = [...needed].sort().join(' + ') + ` + ${peers.map((p) => p.replace('@tensorflow/', '').replace(`@${TFJS}`, '')).join(', ')} ${TFJS}`;
  log.push(`::: ${name} (project ${projectName}): ${installed}`);
  const step = async (label, fn) => {
    const t = Date.now();
    await fn();
    log.push(`  ${label}: ${seconds(Date.now() - t)}`);
  };
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `kd-consumer-${projectName}`, private: true, type: 'module' }, null, 2)}\n`);
    await step(`npm install (${tarballs.map((t) => t.split('/').pop()).join(', ')} + ${peers.length} registry peers)`, () =>
      run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', '--cache', CACHE, ...tarballs, ...peers], dir, log),
    );
    log.push(`  ${expectKdPackages(dir, [...needed])}`);

    const entries = entryPoints(byName.get(name).packed, name);
    // An ESM-only package (no "require" condition, e.g. @kd/cli: vega is ESM only) gets no CommonJS checks.
    const esmOnly = !JSON.stringify(byName.get(name).packed.exports ?? {}).includes('"require"');
    writeTypeCheck(dir, entries, esmOnly);
    await step(`tsc: types of ${entries.join(', ')} (ESM .d.ts + CJS .d.cts; every import resolves)`, async () => {
      const trace = await run(process.execPath, [TSC, '-p', 'tsconfig.types.json', '--traceResolution'], dir, log, { filter: /error TS|Module name '(?!@typescript\/lib-)[^']+' was not resolved/ });
      const unresolved = new Set();
      let from = '';
      for (const line of trace.split('\n')) {
        const r = /^======== Resolving module '[^']+' from '([^']+)'/.exec(line);
        if (r) from = r[1].replace(`${dir}/`, '');
        const m = /^======== Module name '([^']+)' was not resolved/.exec(line);
        if (m && !m[1].startsWith('@typescript/lib-')) unresolved.add(`'${m[1]}' (imported by ${from})`);
      }
      if (unresolved.size) throw new Error(`types: unresolved module(s) ${[...unresolved].join(', ')}`);
    });
    for (const f of ['smoke.mjs', 'smoke.cjs', 'smoke-cases.cjs']) copyFileSync(join(FIXTURES, f), join(dir, f));
    await step('node smoke.mjs (ESM)', () => run(process.execPath, ['smoke.mjs', name], dir, log, { show: true }));
    if (esmOnly) log.push('  ESM only: no CommonJS require or .d.cts to check');
    else await step('node smoke.cjs (CommonJS)', () => run(process.execPath, ['smoke.cjs', name], dir, log, { show: true }));

    if (name === '@kd/crd') {
      mkdirSync(join(dir, 'src'));
      copyFileSync(join(FIXTURES, 'kd-crd.ts'), join(dir, 'src', 'kd-crd.ts'));
      copyFileSync(join(FIXTURES, 'tsconfig.json'), join(dir, 'tsconfig.json'));
      copyFileSync(join(FIXTURES, 'kd-crd.cjs'), join(dir, 'kd-crd.cjs'));
      await step('tsc fixtures/kd-crd.ts (ESM, nodenext)', () => run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir, log));
      await step('node dist/kd-crd.js (ESM, KD + CRD fit)', () => run(process.execPath, ['dist/kd-crd.js', 'out'], dir, log, { show: true }));
      await step('node kd-crd.cjs (CommonJS, KD + CRD fit)', () => run(process.execPath, ['kd-crd.cjs', 'out'], dir, log, { show: true }));
      for (const f of ['student/model.json', 'student/weights.bin', 'student-cjs/model.json']) {
        if (!existsSync(join(dir, 'out', f))) throw new Error(`project core-crd: out/${f} was not written`);
      }
    }
    if (name === '@kd/core') {
      copyFileSync(join(FIXTURES, 'core-only.mjs'), join(dir, 'core-only.mjs'));
      await step('node core-only.mjs (KD fit)', () => run(process.execPath, ['core-only.mjs'], dir, log, { show: true }));
    }
    log.push(`  ${name}: ok in ${seconds(Date.now() - start)}`);
    console.log(log.join('\n'));
    return { name, ok: true, ms: Date.now() - start, installed };
  } catch (e) {
    log.push(`  FAIL ${name}: ${e.message}`);
    console.log(log.join('\n'));
    return { name, ok: false, ms: Date.now() - start, installed };
  }
}

/** Specifiers of a package's entry points (its exports map, without ./package.json). */
function entryPoints(manifest, name) {
  return Object.keys(manifest.exports ?? { '.': null })
    .filter((k) => k !== './package.json' && !k.includes('*'))
    .map((k) => (k === '.' ? name : `${name}/${k.slice(2)}`));
}

/** types/esm.ts (import) and types/cjs.cts (import = require) of every entry point + tsconfig. */
function writeTypeCheck(dir, entries, esmOnly) {
  mkdirSync(join(dir, 'types'));
  const esm = entries.map((e, i) => `import * as e${i} from '${e}';`);
  const cjs = entries.map((e, i) => `import e${i} = require('${e}');`);
  const names = entries.map((_, i) => `e${i}`).join(', ');
  writeFileSync(join(dir, 'types', 'esm.ts'), `${esm.join('\n')}\nexport const entries: object[] = [${names}];\n`);
  if (!esmOnly) writeFileSync(join(dir, 'types', 'cjs.cts'), `${cjs.join('\n')}\nexport const entries: object[] = [${names}];\n`);
  const tsconfig = {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['es2022', 'dom'],
      types: [],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['types'],
  };
  writeFileSync(join(dir, 'tsconfig.types.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
}

/** node_modules/@kd holds exactly `expected`, each installed from a local tarball. */
function expectKdPackages(dir, expected) {
  const want = expected.map((n) => n.replace('@kd/', '')).sort();
  const kdDir = join(dir, 'node_modules', '@kd');
  const found = existsSync(kdDir) ? readdirSync(kdDir).sort() : [];
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const inLock = Object.keys(lock.packages ?? {})
    .filter((k) => /(^|\/)node_modules\/@kd\//.test(k))
    .map((k) => k.replace(/^.*node_modules\/@kd\//, ''))
    .sort();
  if (found.join() !== want.join() || inLock.join() !== want.join()) {
    throw new Error(`${dir}: expected @kd/{${want}} only, node_modules has [${found}], lockfile has [${inLock}] (a nested copy?)`);
  }
  for (const name of want) {
    const entry = lock.packages[`node_modules/@kd/${name}`];
    if (!entry?.resolved?.startsWith('file:')) throw new Error(`@kd/${name} was not installed from the local tarball: ${entry?.resolved}`);
    const manifest = JSON.parse(readFileSync(join(kdDir, name, 'package.json'), 'utf8'));
    if (JSON.stringify(manifest).includes('workspace:')) throw new Error(`@kd/${name}: installed manifest contains workspace:`);
  }
  return `@kd packages installed: ${found.map((n) => `@kd/${n}`).join(', ')} (from tarballs; nothing else)`;
}

/** Runs `items` through `fn`, `n` at a time; results in the order of `items`. */
async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

/**
 * Runs a command; resolves with its output. Appends the output to `log` (indented; only lines
 * matching `filter` when given) when the command fails or `show` is set.
 */
function run(cmd, args, cwd, log, { show = false, filter } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out
        .trim()
        .split('\n')
        .filter((l) => l && !TFJS_BANNER.test(l) && (!filter || filter.test(l)));
      if (lines.length && (show || code !== 0)) log.push(lines.map((l) => `    ${l}`).join('\n'));
      if (code === 0) resolve(out);
      else reject(new Error(`${[cmd.split('/').pop(), ...args.filter((a) => !a.includes('/'))].join(' ')} exited with ${code}`));
    });
  });
}
