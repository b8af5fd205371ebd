// docs/openapi.yaml as a validator of live answers: finds the operation a request hit, the
// response the spec declares for its status, and checks the status, the Content-Type, the
// declared headers and the body (JSON Schema 2020-12 through ajv, strict mode, so a typo in a
// schema keyword fails the test instead of validating nothing).
// The spec is split (the root names the files under docs/openapi/): it is validated as one
// document, the one Redocly's own bundler makes of it, so the tests see exactly what the
// linter and every other OpenAPI tool resolve, with the component names of the root.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const ROOT_ID = 'urn:flashrack:openapi';
const here = dirname(fileURLToPath(import.meta.url));
const redoclyCli = join(here, 'node_modules/@redocly/cli/bin/cli.js');
// no usage data sent and no update check: CI has no business with the network
const redoclyEnv = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' };

// The root file and the files it refers to as one JSON document with local refs only
// (`redocly bundle`; an unresolved ref fails it).
export function bundle(rootPath) {
  const dir = mkdtempSync(join(tmpdir(), 'flashrack-oas-'));
  try {
    const out = join(dir, 'openapi.json');
    const r = spawnSync(process.execPath, [redoclyCli, 'bundle', '--config', join(here, 'redocly.yaml'), '--ext', 'json', '-o', out, rootPath],
      { encoding: 'utf8', env: redoclyEnv });
    if (r.status !== 0) {
      const why = `${r.stdout}${r.stderr}`.split('\n').filter((l) => !/[║╔╚]/.test(l)).join('\n').trim();
      throw new Error(`redocly bundle ${rootPath} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}:\n${why}`);
    }
    return JSON.parse(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// "#/a/b" -> the node; "~1" is "/" and "~0" is "~" (RFC 6901).
function pointer(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error(`the bundle has only local refs, not ${ref}`);
  return ref.slice(2).split('/').reduce((node, part) => {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === undefined || !(key in node)) throw new Error(`unresolved ref ${ref}`);
    return node[key];
  }, doc);
}

const escapePointer = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class Spec {
  constructor(path) {
    this.doc = bundle(path);
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(this.ajv);
    // The schemas live inside the OpenAPI document: its other members are containers, not
    // schema keywords, so they are declared as such to keep strict mode on for the schemas.
    for (const k of ['openapi', 'info', 'servers', 'security', 'tags', 'paths', 'components']) {
      this.ajv.addKeyword({ keyword: k });
    }
    this.ajv.addSchema({ ...this.doc, $id: ROOT_ID });
    this.validators = new Map();
    // (METHOD template) -> statuses seen, for the coverage report
    this.seen = new Map();
  }

  deref(node) {
    let n = node;
    while (n && typeof n === 'object' && typeof n.$ref === 'string') n = pointer(this.doc, n.$ref);
    return n;
  }

  // The validator of the schema at JSON pointer ptr ("#/components/schemas/Error").
  validator(ptr) {
    let v = this.validators.get(ptr);
    if (!v) {
      v = this.ajv.getSchema(`${ROOT_ID}${ptr}`);
      if (!v) throw new Error(`no schema at ${ptr}`);
      this.validators.set(ptr, v);
    }
    return v;
  }

  schema(name) {
    return this.doc.components.schemas[name];
  }

  // The path template a concrete path matches: literal templates win over ones with
  // parameters ("/api/v1/slots/{label}" must not take "/api/v1/slots").
  template(path) {
    const segs = path.split('/');
    let best = null;
    for (const t of Object.keys(this.doc.paths)) {
      const ts = t.split('/');
      if (ts.length !== segs.length) continue;
      let params = 0;
      const ok = ts.every((s, i) => {
        if (/^\{[a-z_0-9]+\}$/.test(s)) {
          params++;
          return segs[i].length > 0;
        }
        return s === segs[i];
      });
      if (ok && (!best || params < best.params)) best = { t, params };
    }
    return best ? best.t : null;
  }

  operations() {
    const ops = [];
    for (const [t, item] of Object.entries(this.doc.paths)) {
      for (const m of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
        if (item[m]) ops.push({ method: m.toUpperCase(), template: t, op: item[m] });
      }
    }
    return ops;
  }

  // Checks one answer against the spec; throws an Error that quotes the request, the
  // answer and what the spec wanted. res: a fetch Response-like {status, headers.get()};
  // text: its body. Returns the parsed JSON body (or the text).
  check(method, url, res, text) {
    const path = new URL(url, 'http://x').pathname;
    const where = `${method} ${path} -> ${res.status}`;
    const fail = (why) => {
      throw new Error(`${where}: ${why}\n  Content-Type: ${res.headers.get('content-type')}\n  body: ${String(text).slice(0, 600)}`);
    };
    const template = this.template(path);
    const getMethod = method === 'HEAD' ? 'GET' : method;
    const item = template ? this.doc.paths[template] : null;
    const op = item ? item[getMethod.toLowerCase()] : null;
    let response;
    let ptr;
    if (!template) {
      // Not in the spec: the server must say 404 in the one error shape.
      if (res.status !== 404) fail('a path the spec does not have must be 404');
      ptr = '#/components/responses/NotFound';
      response = this.deref({ $ref: ptr });
    } else if (!op) {
      // A path of the spec with a method it does not list: 405 with Allow.
      if (res.status !== 405) fail(`${template} has no ${method} in the spec: want 405`);
      const allow = res.headers.get('allow');
      const want = Object.keys(item).filter((k) => k !== 'parameters').map((k) => k.toUpperCase());
      if (want.includes('GET')) want.push('HEAD');
      const got = (allow || '').split(',').map((s) => s.trim()).filter(Boolean);
      if (got.sort().join() !== want.sort().join()) fail(`Allow is '${allow}', the spec has ${want.join(', ')}`);
      const body = this.json(text, fail);
      this.validate('#/components/schemas/Error', body, fail);
      if (body.error.code !== 'method_not_allowed') fail('405 must say method_not_allowed');
      this.note(`${method} ${template}`, 405);
      return body;
    } else {
      const r = op.responses[String(res.status)];
      if (!r) fail(`status ${res.status} is not among the responses the spec lists (${Object.keys(op.responses).join(', ')})`);
      ptr = r.$ref || `#/paths/${escapePointer(template)}/${getMethod.toLowerCase()}/responses/${res.status}`;
      response = this.deref(r);
      this.note(`${getMethod} ${template}`, res.status);
    }
    // Every answer of the daemon carries these (docs/http.md; info.description of the spec).
    if (res.headers.get('x-content-type-options') !== 'nosniff') fail('X-Content-Type-Options is not nosniff');
    for (const [name, h] of Object.entries(response.headers || {})) {
      const header = this.deref(h);
      const value = res.headers.get(name);
      if (value === null) {
        if (header.required) fail(`header ${name} is missing`);
        continue;
      }
      const hp = h.$ref || null;
      const v = hp ? this.validator(`${hp}/schema`) : this.ajv.compile(header.schema);
      if (!v(value)) fail(`header ${name}: '${value}' ${this.ajv.errorsText(v.errors)}`);
    }
    const ctype = res.headers.get('content-type');
    const media = Object.keys(response.content || {});
    if (!media.length) { // 204: nothing at all
      if (ctype !== null || String(text).length) fail('an answer without content must have no body and no Content-Type');
      return null;
    }
    const norm = (s) => s.toLowerCase().replace(/\s*;\s*/g, '; ');
    const hit = media.find((m) => ctype && norm(m) === norm(ctype));
    if (!hit) fail(`Content-Type '${ctype}' is not one the spec lists (${media.join(' | ')})`);
    if (method === 'HEAD') {
      if (text !== '') fail('HEAD answered with a body');
      return null;
    }
    const schemaPtr = `${ptr}/content/${escapePointer(hit)}/schema`;
    if (hit === 'application/json') {
      const body = this.json(text, fail);
      this.validate(schemaPtr, body, fail);
      return body;
    }
    this.validate(schemaPtr, text, fail);
    return text;
  }

  json(text, fail) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return fail(`body is not JSON: ${e.message}`);
    }
  }

  validate(ptr, value, fail) {
    const v = this.validator(ptr);
    if (v(value)) return;
    // each error with the value it is about, so the report shows what the daemon sent
    const at = (path) => path.split('/').slice(1).reduce((n, k) => (n == null ? n : n[k.replace(/~1/g, '/').replace(/~0/g, '~')]), value);
    const lines = v.errors.slice(0, 12).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && e.params.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}: got ${JSON.stringify(at(e.instancePath))?.slice(0, 200)}`);
    fail(`does not match ${ptr}:\n    ${lines.join('\n    ')}`);
  }

  note(key, status) {
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key).add(status);
  }
}
