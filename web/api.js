// The station's REST API (docs/http.md), as the dashboard uses it. Every call resolves to
// {ok, status, data, error}: network failures and timeouts are status 0, the station's own
// errors carry its {"error":{"code","message"}}. Nothing here throws.

const TOKEN_KEY = 'flashrack.token';
const TIMEOUT_MS = 5000;

// The bearer token lives in sessionStorage: a tablet left on the line forgets it when the
// tab closes, and it is never put in a URL.
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: nothing to remember
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: 'no-store',
    });
    let data = null;
    const type = resp.headers.get('Content-Type') || '';
    if (type.startsWith('application/json')) {
      try {
        data = await resp.json();
      } catch {
        data = null;
      }
    }
    if (resp.ok) return { ok: true, status: resp.status, data, error: null };
    const error = (data && data.error) || { code: `http_${resp.status}`, message: resp.statusText };
    return { ok: false, status: resp.status, data, error };
  } catch (e) {
    const message = e && e.name === 'AbortError' ? 'timed out' : String((e && e.message) || e);
    return { ok: false, status: 0, data: null, error: { code: 'network', message } };
  } finally {
    clearTimeout(timer);
  }
}

export const apiGet = (path) => call('GET', path);
export const apiPost = (path, body) => call('POST', path, body);
export const apiPut = (path, body) => call('PUT', path, body);
export const apiDelete = (path) => call('DELETE', path);

// A path segment from user input (a slot label, an IMEI), never spliced in raw.
export const seg = (s) => encodeURIComponent(String(s));

// The station's live events (docs/http.md "Live events"): an EventSource on
// /api/v1/events/stream, or null where the browser has none. EventSource cannot send an
// Authorization header, so a station that wants a token for reads ([auth] open_reads = no)
// refuses it; the caller then polls with apiGet, which can.
export function eventStream() {
  if (typeof EventSource === 'undefined') return null;
  try {
    return new EventSource('/api/v1/events/stream');
  } catch {
    return null;
  }
}
