// ctest contract_openapi_lint: docs/openapi.yaml must pass Redocly CLI's lint (the
// recommended rules, every warning an error: redocly.yaml), compile as strict JSON Schema
// 2020-12, and describe exactly the routes the daemon serves (the route tables in
// daemon/api_*.c), so a new endpoint cannot go undocumented. The spec is split: the root
// docs/openapi.yaml names every path item and component, which live in docs/openapi/**.yaml;
// lint follows the refs, the other checks see Redocly's bundle of the root (oas.mjs).
//   node lint.mjs            (FLASHRACK_SOURCE_DIR from ctest, else the tree this file is in)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const source = process.env.FLASHRACK_SOURCE_DIR || join(here, '../..');
const specPath = join(source, 'docs/openapi.yaml');
const cli = join(here, 'node_modules/@redocly/cli/bin/cli.js');
if (!existsSync(cli)) {
  console.error('FAIL: @redocly/cli is not installed (scripts/setup runs npm ci in tests/contract)');
  process.exit(1);
}

let failed = 0;
function step(what, fn) {
  try {
    fn();
    console.log(`ok: ${what}`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${what}\n${e.message}`);
  }
}

step('redocly lint (recommended-strict) finds no problem', () => {
  const r = spawnSync(process.execPath, [cli, 'lint', '--config', join(here, 'redocly.yaml'), '--format', 'stylish', specPath], {
    encoding: 'utf8',
    // no usage data sent and no update check: CI has no business with the network
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' },
  });
  const out = `${r.stdout}${r.stderr}`.split('\n').filter((l) => !/[║╔╚]/.test(l)).join('\n').trim();
  console.log(out);
  assert.equal(r.status, 0, `redocly lint exited ${r.status}`);
});

// Lint sees only what the root reaches: an entry of a split file the root does not name would
// be neither linted nor part of the API, so it fails here, as does a file grown past the
// project's 1000-line limit (the reason for the split).
step('docs/openapi/**.yaml: every entry is named by the root, no file reaches 1000 lines', () => {
  const root = parse(readFileSync(specPath, 'utf8'));
  const named = new Set();
  const collect = (map) => {
    for (const v of Object.values(map || {})) {
      if (v && typeof v.$ref === 'string' && !v.$ref.startsWith('#')) {
        const [file, ptr] = v.$ref.split('#');
        named.add(`${posix.normalize(file)}#${ptr}`);
      }
    }
  };
  collect(root.paths);
  for (const group of Object.values(root.components || {})) collect(group);
  const splitDir = join(dirname(specPath), 'openapi');
  const files = readdirSync(splitDir, { recursive: true }).filter((n) => n.endsWith('.yaml')).sort();
  assert.ok(files.length > 0, `no .yaml files under ${splitDir}`);
  const orphans = [];
  const long = [];
  for (const f of [specPath, ...files.map((n) => join(splitDir, n))]) {
    const text = readFileSync(f, 'utf8');
    const rel = relative(dirname(specPath), f).split(sep).join('/');
    const lines = text.split('\n').length - 1;
    if (lines >= 1000) long.push(`${rel}: ${lines} lines`);
    if (f === specPath) continue;
    for (const key of Object.keys(parse(text) || {})) {
      const ref = `${rel}#/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (!named.has(ref)) orphans.push(ref);
    }
  }
  assert.deepEqual({ orphans, long }, { orphans: [], long: [] },
    'orphans: entries docs/openapi.yaml does not name by a $ref; long: files to split further');
  console.log(`   root + ${files.length} files, ${named.size} entries named by the root`);
});

const { Spec } = await import('./oas.mjs');
let spec;
step('the bundle (redocly bundle) has every schema compile as strict JSON Schema 2020-12 (ajv)', () => {
  spec = new Spec(specPath);
  for (const name of Object.keys(spec.doc.components.schemas)) spec.validator(`#/components/schemas/${name}`);
});

step('the spec lists exactly the routes of daemon/api_*.c, with their methods', () => {
  const routes = new Set();
  const dir = join(source, 'daemon');
  for (const f of readdirSync(dir).filter((n) => /^api_.*\.c$/.test(n))) {
    const text = readFileSync(join(dir, f), 'utf8');
    // {.methods = HTTP_GET | HTTP_PUT, .pattern = "/api/v1/x", ...}: one initializer per route
    for (const m of text.matchAll(/\{\s*\.methods\s*=\s*([A-Z_|\s]+?),\s*\.pattern\s*=\s*"([^"]+)"/g)) {
      for (const method of m[1].split('|').map((s) => s.trim().replace(/^HTTP_/, ''))) routes.add(`${method} ${m[2]}`);
    }
  }
  assert.ok(routes.size > 10, `found only ${routes.size} routes in daemon/api_*.c: has the table style changed?`);
  const documented = new Set(spec.operations().map((o) => `${o.method} ${o.template}`));
  const missing = [...routes].filter((r) => !documented.has(r));
  const extra = [...documented].filter((r) => !routes.has(r));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
    'missing: served but not in docs/openapi.yaml; extra: in the spec but not served');
  console.log(`   ${routes.size} routes: ${[...routes].sort().join(', ')}`);
});

step('every path of the spec appears in docs/http.md (the contract)', () => {
  const http = readFileSync(join(source, 'docs/http.md'), 'utf8');
  const absent = Object.keys(spec.doc.paths).filter((p) => !http.includes(p === '/' ? 'GET /`' : p));
  assert.deepEqual(absent, []);
});

console.log(`${failed ? 'contract lint: FAILED' : 'contract lint: ok'}`);
process.exit(failed ? 1 : 0);
