// The flashrack dashboard: wires the live slot source, the operator's rack, the station
// counters and the supervisor's view together. No framework, no build step: the browser
// loads these ES modules as they are in web/.
import { apiGet } from './api.js';
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

// Today the slots are polled (GET /api/v1/slots about once a second). Everything downstream
// takes one slot at a time through onSlot(slot), so an EventSource on the station's live
// events can replace poll() later without touching the views. After a failed poll it waits
// longer each time (up to RETRY_MAX_MS) and keeps trying for ever: a restarted daemon is
// picked up by itself, and a changed rack layout is laid out again.
class SlotSource {
  constructor({ onStation, onSlot, onBatch, onStatus }) {
    Object.assign(this, { onStation, onSlot, onBatch, onStatus });
    this.station = null;
    this.delay = POLL_MS;
  }

  start() {
    this.onStatus('connecting');
    this.tick();
  }

  async tick() {
    const ok = await this.poll();
    this.delay = ok ? POLL_MS : Math.min(RETRY_MAX_MS, this.delay * 2);
    setTimeout(() => this.tick(), this.delay);
  }

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
    this.onStatus('live');
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
    onStatus: (state) => {
      connState = state;
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
