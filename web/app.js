// The flashrack dashboard: wires the live slot source, the operator's rack, the station
// counters and the supervisor's view together. No framework, no build step: the browser
// loads these ES modules as they are in web/.
import { apiGet, eventStream } from './api.js';
import { LANGUAGES, initLanguage, language, setLanguage, t, translateDocument } from './i18n.js';
import { Supervisor } from './supervisor.js';
import { Rack } from './tiles.js';

const POLL_MS = 1000;
const RETRY_MAX_MS = 5000;
const STATS_MS = 15000;
const HOUR_MS = 3600000;

// ---- station counters ---------------------------------------------------------------------

// Pass / fail / yield / modules per hour. From GET /api/v1/stats (the station's records,
// last 24 h) when the station serves it; otherwise from the verdicts this page has seen,
// each attempt counted once.
class Counters {
  constructor(root) {
    this.root = root;
    this.seen = new Map(); // attempt_id -> verdict time
    this.pass = 0;
    this.fail = 0;
    this.passTimes = [];
    this.stats = null; // last good /api/v1/stats answer
  }

  observe(slot) {
    const f = slot.flow;
    if (!f || !f.attempt_id || this.seen.has(f.attempt_id)) return false;
    const failed = f.state === 'fail' || (f.state === 'idle' && f.code);
    if (f.state !== 'pass' && !failed) return false;
    this.seen.set(f.attempt_id, Date.now());
    if (f.state === 'pass') {
      this.pass++;
      this.passTimes.push(Date.now());
    } else {
      this.fail++;
    }
    return true; // a new verdict: the station's records changed too
  }

  async loadStats() {
    const res = await apiGet('/api/v1/stats');
    if (res.ok && res.data && res.data.attempts) this.stats = res.data;
    else if (res.status === 404) this.stats = null; // not served by this station
    this.render();
  }

  render() {
    let pass = this.pass;
    let fail = this.fail;
    let yieldRatio = pass + fail ? pass / (pass + fail) : null;
    const now = Date.now();
    this.passTimes = this.passTimes.filter((ms) => now - ms < HOUR_MS);
    let perHour = this.passTimes.length;
    let source = 'count.source.local';
    const s = this.stats;
    if (s) {
      pass = s.attempts.pass;
      fail = s.attempts.fail;
      yieldRatio = s.first_pass_yield;
      const bucket = (s.throughput_per_hour || []).find(
        (h) => h.hour_start_unix_ms <= now && now < h.hour_start_unix_ms + HOUR_MS);
      perHour = bucket ? bucket.passes : 0;
      source = 'count.source.stats';
    }
    const set = (name, value) => {
      const node = this.root.querySelector(`[data-count="${name}"] .count-value`);
      if (node.textContent !== String(value)) node.textContent = String(value);
    };
    set('pass', pass);
    set('fail', fail);
    set('yield', yieldRatio == null ? '—' : `${(yieldRatio * 100).toFixed(1)}%`);
    set('per_hour', perHour);
    const note = this.root.querySelector('.count-source');
    note.textContent = t(source);
  }
}

// ---- the live source ----------------------------------------------------------------------

// The slots come from the station's live event stream (EventSource on /api/v1/events/stream):
// each stream starts with a snapshot of every slot and a `sync`, then sends a slot again
// whenever it changed (progress at most twice a second). Everything downstream takes one
// slot at a time through onSlot(slot). EventSource reconnects by itself (after the `retry`
// the station sends, with Last-Event-ID) and every reconnection starts with a fresh
// snapshot, so a restarted daemon is picked up without help; the station is read again on
// each (re)connection, so a changed rack layout is laid out again.
// Where the stream cannot be had (no EventSource, a station that wants a token for reads,
// too many streams, an older station), the slots are polled (GET /api/v1/slots about once a
// second, a growing delay after failures); the stream is tried again every STREAM_RETRY_MS.
const STREAM_RETRY_MS = 30000;
// ?live=poll in the page's URL forces polling (a proxy that buffers event streams, a test);
// anything else uses the stream where it can be had.
const USE_STREAM = new URLSearchParams(location.search).get('live') !== 'poll';

class SlotSource {
  constructor({ onStation, onSlot, onBatch, onStatus }) {
    Object.assign(this, { onStation, onSlot, onBatch, onStatus });
    this.station = null;
    this.delay = POLL_MS;
    this.es = null;
    this.pollUntil = 0; // polling instead of the stream until then (ms)
    this.timer = null;
  }

  start() {
    this.onStatus('connecting');
    this.next(0);
  }

  next(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), ms);
  }

  async tick() {
    if (USE_STREAM && Date.now() >= this.pollUntil && this.openStream()) return;
    const ok = await this.poll();
    this.delay = ok ? POLL_MS : Math.min(RETRY_MAX_MS, this.delay * 2);
    this.next(this.delay);
  }

  // ---- the stream

  openStream() {
    const es = eventStream();
    if (!es) {
      this.pollUntil = Infinity;
      return false;
    }
    this.es = es;
    let pending = null; // the snapshot being received: slots until `sync`
    let synced = false;
    es.addEventListener('open', () => {
      pending = [];
      synced = false;
    });
    es.addEventListener('slot', (e) => {
      const slot = parse(e.data);
      if (!slot) return;
      if (pending) {
        pending.push(slot);
        return;
      }
      this.onSlot(slot);
      this.onBatch();
    });
    es.addEventListener('reset', () => {
      // The station could not replay what this page missed, or its slots changed: a fresh
      // snapshot follows; collect it (and read the station again) before showing it.
      pending = [];
      this.station = null;
    });
    es.addEventListener('sync', async () => {
      const slots = pending || [];
      pending = null;
      if (!this.station || !synced) {
        const st = await apiGet('/api/v1/station');
        if (es !== this.es) return;
        if (!st.ok) {
          this.fallBack(st);
          return;
        }
        this.station = st.data;
      }
      synced = true;
      this.delay = POLL_MS;
      this.onStation(this.station, slots);
      for (const slot of slots) this.onSlot(slot);
      this.onBatch();
      this.onStatus('live', 'stream');
    });
    es.addEventListener('error', () => {
      if (es !== this.es) return;
      if (es.readyState === EventSource.CLOSED) {
        // refused (401/403/503, not an event stream): poll for a while instead
        this.fallBack(null);
        return;
      }
      // reconnecting by itself (daemon restarting): say so, keep the tiles greyed
      this.station = null;
      this.onStatus('lost', { status: 0 });
    });
    return true;
  }

  async fallBack(res) {
    if (this.es) this.es.close();
    this.es = null;
    this.pollUntil = Date.now() + STREAM_RETRY_MS;
    if (res) this.lost(res);
    this.next(0);
  }

  // ---- polling

  async poll() {
    if (!this.station) {
      const st = await apiGet('/api/v1/station');
      if (!st.ok) return this.lost(st);
      this.station = st.data;
    }
    const res = await apiGet('/api/v1/slots');
    if (!res.ok) return this.lost(res);
    this.onStation(this.station, res.data.slots);
    for (const slot of res.data.slots) this.onSlot(slot);
    this.onBatch();
    this.onStatus('live', 'poll');
    return true;
  }

  lost(res) {
    // Read the station again once it answers: it may have restarted with another layout.
    this.station = null;
    // 401/403: the station wants a token for reads ([auth] open_reads = no)
    const auth = res.status === 401 || res.status === 403;
    this.onStatus(res.status === 0 ? 'lost' : auth ? 'auth' : 'error', res);
    return false;
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// ---- the page ---------------------------------------------------------------------------

function setupLanguagePicker(onChange) {
  const select = document.getElementById('lang');
  select.replaceChildren();
  for (const [code, name] of Object.entries(LANGUAGES)) {
    const opt = document.createElement('option');
    opt.value = code;
    opt.textContent = name;
    opt.lang = code === 'zh' ? 'zh-CN' : 'en';
    select.append(opt);
  }
  select.value = language();
  select.addEventListener('change', () => {
    setLanguage(select.value);
    onChange();
  });
}

// Tabs as the WAI-ARIA pattern: arrow keys move between them, the panel follows.
function setupTabs(onShow) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      other.tabIndex = on ? 0 : -1;
      document.getElementById(other.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    onShow(tab.dataset.view);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      select(tabs[(i + step + tabs.length) % tabs.length], true);
    });
  });
  const initial = location.hash === '#supervisor' ? tabs[1] : tabs[0];
  select(initial, false);
}

function main() {
  initLanguage();
  translateDocument();
  const rack = new Rack(document.getElementById('rack'));
  const counters = new Counters(document.getElementById('counters'));
  const supervisor = new Supervisor(document.getElementById('view-supervisor'), () => rack.slots());
  const conn = document.getElementById('conn');
  let view = 'operator';
  let startedMs = null;
  let connState = 'connecting';
  let newVerdict = false;

  const showConn = () => {
    conn.dataset.state = connState;
    document.body.dataset.conn = connState; // stale tiles are greyed out meanwhile
    const key = { live: 'conn.live', connecting: 'conn.connecting', auth: 'conn.auth' }[connState] ||
      'conn.lost';
    conn.querySelector('.conn-text').textContent = t(key);
    conn.querySelector('.conn-icon').textContent = connState === 'live' ? '●' : '⚠';
  };

  const source = new SlotSource({
    onStation: (station, slots) => {
      if (startedMs !== null && startedMs !== station.started_unix_ms) counters.loadStats();
      startedMs = station.started_unix_ms;
      document.getElementById('station-id').textContent = station.station_id;
      rack.setLayout(station.rack.rows, station.rack.columns, slots);
    },
    onSlot: (slot) => {
      rack.applySlot(slot);
      if (counters.observe(slot)) newVerdict = true;
    },
    onBatch: () => {
      counters.render();
      if (newVerdict && counters.stats) counters.loadStats();
      newVerdict = false;
      if (view === 'supervisor') supervisor.renderControl();
    },
    onStatus: (state, via) => {
      connState = state;
      // how the tiles are fed while live ("stream" or "poll"): for tests and for a look in
      // the inspector when a proxy on the line buffers the stream
      if (via) conn.dataset.via = via;
      showConn();
    },
  });

  setupLanguagePicker(() => {
    translateDocument();
    showConn();
    rack.rerender();
    counters.render();
    if (view === 'supervisor') supervisor.refresh();
  });
  setupTabs((name) => {
    view = name;
    if (name === 'supervisor') supervisor.refresh();
  });
  document.getElementById('sup-refresh').addEventListener('click', () => supervisor.refresh());

  source.start();
  counters.loadStats();
  setInterval(() => counters.loadStats(), STATS_MS);
}

main();
