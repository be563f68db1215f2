#!/usr/bin/env node
// Browser check: a student saved in Node (@kd/core/node saveModel: model.json + weights.bin) must
// load and predict the same values in a browser. For each case of cases.mjs:
//   1. Node: import the case's register modules, build/distil the model, save it, predict `input`
//   2. bundle page.mjs (+ the register modules) with esbuild for the browser
//      (@tensorflow/tfjs-core + tfjs-layers + tfjs-backend-cpu)
//   3. serve the files from a localhost static server, open them in headless Chromium
//      (Debian `chromium`, driven by playwright-core; no browser download) and compare the
//      predictions with Node's (max abs difference <= 1e-5)
// A case of kind 'store' writes a teacher store instead (@kd/teacher-store/node precomputeTeacher);
// the page reads it with fetchStoredTeacher over HTTP and its outputs must be storedTeacher's in
// Node bit for bit; the page also checks that a store that is not there (404) is store-not-found.
// Usage: node scripts/browser-test/run.mjs [--register mod1,mod2] [--chromium /usr/bin/chromium] [--keep]
// Needs `pnpm build` first (imports packages/core/dist and packages/teacher-store/dist).
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, isAbsolute, join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { ROOT, seconds } from '../release/lib.mjs';
import { cases as allCases } from './cases.mjs';

const TOLERANCE = 1e-5;
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const extraRegister = (arg('--register') ?? process.env.KD_BROWSER_REGISTER ?? '').split(',').filter(Boolean);
const executablePath = arg('--chromium') ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const keep = process.argv.includes('--keep');
const HERE = join(ROOT, 'scripts', 'browser-test');

/** A register entry as an absolute path (repo-relative paths) or a bare specifier (kept). */
const registerTarget = (m) => (isAbsolute(m) || m.startsWith('.') || m.includes('/dist/') || m.startsWith('scripts/') || m.startsWith('packages/') ? resolve(ROOT, m) : m);
const registerExists = (m) => {
  const t = registerTarget(m);
  if (!isAbsolute(t)) return true; // package specifier: let the import fail loudly
  return existsSync(t);
};

const t0 = Date.now();
if (!existsSync(executablePath)) {
  console.error(`browser-test: no Chromium at ${executablePath} (Debian: apt-get install -y chromium; or --chromium PATH)`);
  process.exit(1);
}
const corePath = join(ROOT, 'packages', 'core', 'dist', 'index.js');
if (!existsSync(corePath)) {
  console.error('browser-test: packages/core/dist missing — run `pnpm build` first');
  process.exit(1);
}

const storeNodePath = join(ROOT, 'packages', 'teacher-store', 'dist', 'node.js');
if (!existsSync(storeNodePath) || !existsSync(join(ROOT, 'packages', 'teacher-store', 'dist', 'index.js'))) {
  console.error('browser-test: packages/teacher-store/dist missing — run `pnpm build` first');
  process.exit(1);
}

const site = mkdtempSync(join(tmpdir(), 'kd-browser-'));
let ok = false;
let browser;
let server;
try {
  // ---- 1. Node: build, save, predict ----------------------------------------------------------
  await import('@tensorflow/tfjs-backend-cpu');
  const tf = await import('@tensorflow/tfjs-core');
  const tfl = await import('@tensorflow/tfjs-layers');
  const core = await import(pathToFileURL(corePath).href);
  const { saveModel, loadModel } = await import(pathToFileURL(join(ROOT, 'packages', 'core', 'dist', 'node.js')).href);
  const store = await import(pathToFileURL(storeNodePath).href);
  await tf.setBackend('cpu');

  const cases = [];
  for (const c of allCases) {
    const register = [...c.register, ...extraRegister];
    const missing = register.filter((m) => !registerExists(m));
    if (missing.length) {
      if (c.optional) {
        console.log(`  skip ${c.name}: register module(s) not built: ${missing.join(', ')}`);
        continue;
      }
      throw new Error(`case ${c.name}: register module(s) missing: ${missing.join(', ')}`);
    }
    cases.push({ ...c, register });
  }
  const allRegister = [...new Set(cases.flatMap((c) => c.register))];
  const registered = {};
  for (const m of allRegister) {
    const t = registerTarget(m);
    registered[m] = await import(isAbsolute(t) ? pathToFileURL(t).href : t);
  }

  const manifest = [];
  const expected = {};
  for (const c of cases) {
    const t = Date.now();
    if (c.kind === 'store') {
      const dir = join(site, c.name);
      const written = await c.precompute({ tf, tfl, store, dir });
      const before = tf.memory().numTensors;
      const stored = await store.storedTeacher(dir);
      stored.tap(c.taps);
      const p = stored.predict(tf.zeros([c.ids.length, ...written.source.exampleShape]), { ids: c.ids });
      const values = [...(await p.logits.data()), ...(await Promise.all(c.taps.map((n) => p.features[n].data()))).flatMap((v) => [...v])];
      tf.dispose([p.logits, ...Object.values(p.features)]);
      if (tf.memory().numTensors !== before + 1) throw new Error(`case ${c.name}: Node storedTeacher left tensors behind`); // + the zeros input
      expected[c.name] = values;
      manifest.push({ name: c.name, kind: 'store', ids: c.ids, taps: c.taps, exampleShape: written.source.exampleShape });
      console.log(
        `  node: ${c.name} precomputed (${written.shards.length} shards, ${written.source.size} examples, taps ${c.taps.join(', ')}), storedTeacher gave ${values.length} values for ${c.ids.length} shuffled ids: ${seconds(Date.now() - t)}`,
      );
      continue;
    }
    const { model, metadata } = await c.build({ tf, tfl, core, registered });
    const dir = join(site, c.name);
    await saveModel(model, dir, metadata);
    const input = tf.randomUniform(c.inputShape, -2, 2, 'float32', 11);
    const reloaded = await loadModel(dir); // the file round trip in Node first
    const nodeOut = model.predict(input);
    const reloadedOut = reloaded.predict(input);
    const values = Array.from(await (Array.isArray(nodeOut) ? nodeOut[0] : nodeOut).data());
    const reloadedValues = Array.from(await (Array.isArray(reloadedOut) ? reloadedOut[0] : reloadedOut).data());
    const d = maxAbsDiff(values, reloadedValues);
    if (!(d <= TOLERANCE)) throw new Error(`case ${c.name}: Node predictions change after saveModel/loadModel (max |diff| ${d})`);
    expected[c.name] = values;
    manifest.push({ name: c.name, input: { shape: c.inputShape, values: Array.from(await input.data()) } });
    console.log(`  node: ${c.name} built, saved (${['model.json', 'weights.bin'].filter((f) => existsSync(join(dir, f))).join(' + ')}), predicted ${values.length} values: ${seconds(Date.now() - t)}`);
  }
  writeFileSync(join(site, 'cases.json'), JSON.stringify(manifest));

  // ---- 2. bundle ------------------------------------------------------------------------------
  const tb = Date.now();
  const imports = allRegister.map((m) => `import ${JSON.stringify(registerTarget(m))};`).join('\n');
  await esbuild.build({
    stdin: { contents: `${imports}\nimport './page.mjs';\n`, resolveDir: HERE, sourcefile: 'kd-browser-entry.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    outfile: join(site, 'bundle.js'),
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  writeFileSync(join(site, 'index.html'), '<!doctype html><meta charset="utf-8"><title>kd browser check</title><script type="module" src="./bundle.js"></script>\n');
  const kib = (readFileSync(join(site, 'bundle.js')).length / 1024).toFixed(0);
  console.log(`  esbuild bundle (${allRegister.length} register module(s), ${kib} KiB): ${seconds(Date.now() - tb)}`);

  // ---- 3. serve + headless Chromium -----------------------------------------------------------
  server = await serve(site);
  const url = `http://127.0.0.1:${server.address().port}/index.html`;
  const tc = Date.now();
  const profile = join(site, '.chromium-profile');
  mkdirSync(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => window.__kdResult !== undefined, null, { timeout: 120_000 });
  const result = await page.evaluate(() => window.__kdResult);
  if (result.error) throw new Error(`browser: ${result.error}\n${pageErrors.join('\n')}`);
  console.log(`  chromium: ${result.userAgent.match(/(Headless)?Chrome\/[\d.]+/)?.[0]}, tfjs ${result.tfjs}, backend ${result.backend}: ${seconds(Date.now() - tc)}`);

  let failures = 0;
  for (const c of cases) {
    const r = result.results[c.name] ?? {};
    const got = r.values ?? [];
    const d = maxAbsDiff(expected[c.name], got);
    if (c.kind === 'store') {
      // Stored float32 values read back as they were written: the same bits, not merely close.
      const same = got.length === expected[c.name].length && got.every((v, i) => Object.is(v, expected[c.name][i]));
      const pass = same && r.missing === 'store-not-found' && r.leaked === 0;
      if (!pass) failures++;
      console.log(
        `  ${pass ? 'ok  ' : 'FAIL'} ${c.name}: fetchStoredTeacher (${r.description}) gave ${got.length} values, ${same ? 'bit-identical to' : `max |browser - node| = ${d.toExponential(2)} against`} storedTeacher in Node; a missing store: ${r.missing}; tensors left: ${r.leaked}`,
      );
      continue;
    }
    const pass = got.length === expected[c.name].length && d <= TOLERANCE;
    if (!pass) failures++;
    console.log(`  ${pass ? 'ok  ' : 'FAIL'} ${c.name}: ${got.length} values, max |browser - node| = ${d.toExponential(2)} (tolerance ${TOLERANCE})`);
  }
  if (failures) throw new Error(`${failures} case(s) differ between Node and Chromium`);
  ok = true;
  console.log(`browser-test: ok in ${seconds(Date.now() - t0)}`);
} finally {
  await browser?.close().catch(() => {});
  server?.close();
  if (keep || !ok) console.log(`browser site kept in ${site}`);
  else rmSync(site, { recursive: true, force: true });
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

function serve(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream', '.arrow': 'application/vnd.apache.arrow.file' };
  const srv = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok_) => srv.listen(0, '127.0.0.1', () => ok_(srv)));
}
