// The operator's rack: one tile per slot, placed at the slot's row and column, readable
// from two metres. A tile says its state three ways at once: colour, an icon and words,
// so nothing depends on telling colours apart. applySlot() is the one entry point for a
// slot update, whether it came from polling or (later) from the live event stream.
import { instruction, t } from './i18n.js';

const WORKING = new Set([
  'identifying', 'interlock', 'queued', 'switching', 'waiting_download', 'flashing', 'rebooting',
  'verifying',
]);

const ICONS = {
  empty: '○', present: '●', work: '⟳', retry: '↻', pass: '✔', fail: '✖', paused: '⏸',
};

// What the operator should take from the slot at a glance: kind (colour and icon) and the
// words of the state.
export function slotView(slot) {
  const flow = slot.flow;
  if (!flow) {
    // a station without a workflow: only what is plugged in
    if (slot.state === 'empty') return { kind: 'empty', key: 'state.empty' };
    return { kind: slot.state === 'busy' ? 'work' : 'present', key: `state.${slot.state}` };
  }
  const s = flow.state;
  if (s === 'pass') return { kind: 'pass', key: 'state.pass' };
  if (s === 'fail') return { kind: 'fail', key: 'state.fail' };
  if (s === 'idle' && flow.code) return { kind: 'fail', key: 'state.removed_fail' };
  if (s === 'retry_wait') return { kind: 'retry', key: 'state.retry_wait' };
  if (WORKING.has(s)) return { kind: 'work', key: `state.${s}` };
  if (flow.paused) return { kind: 'paused', key: 'state.paused' };
  if (slot.state === 'empty') return { kind: 'empty', key: 'state.empty' };
  return { kind: 'present', key: 'state.idle' };
}

export function formatRate(bps) {
  if (bps == null) return '';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} MB/s`;
  return `${Math.max(0, Math.round(bps / 1e3))} KB/s`;
}

export function formatDuration(ms) {
  if (ms == null) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

// Sets text only when it changed: the tile is rebuilt every second and must not flicker
// or lose the keyboard focus.
function setText(node, text) {
  const v = text == null ? '' : String(text);
  if (node.textContent !== v) node.textContent = v;
}

function show(node, visible) {
  if (node.hidden === visible) node.hidden = !visible;
}

class Tile {
  constructor(label) {
    const root = el('article', 'tile');
    root.tabIndex = 0;
    root.dataset.slot = label;
    root.setAttribute('role', 'group');
    const head = el('header', 'tile-head', root);
    this.label = el('span', 'tile-label', head);
    setText(this.label, label);
    this.badge = el('span', 'badge', head);
    this.icon = el('span', 'icon', this.badge);
    this.icon.setAttribute('aria-hidden', 'true');
    this.stateText = el('span', 'state-text', this.badge);
    this.pausedNote = el('p', 'paused-note', root);
    this.phase = el('p', 'phase', root);
    this.progress = el('div', 'progress', root);
    this.progress.setAttribute('role', 'progressbar');
    this.progress.setAttribute('aria-valuemin', '0');
    this.progress.setAttribute('aria-valuemax', '100');
    const bar = el('div', 'bar', this.progress);
    this.fill = el('div', 'fill', bar);
    this.pct = el('span', 'pct', this.progress);
    this.rate = el('p', 'rate', root);
    this.speed = el('span', 'speed', this.rate);
    this.eta = el('span', 'eta', this.rate);
    const ident = el('dl', 'ident', root);
    this.rows = {};
    for (const key of ['imei', 'model', 'package']) {
      const row = el('div', `ident-${key}`, ident);
      const dt = el('dt', '', row);
      const dd = el('dd', '', row);
      this.rows[key] = { row, dt, dd };
    }
    this.failure = el('div', 'failure', root);
    this.stage = el('p', 'stage', this.failure);
    this.message = el('p', 'message', this.failure);
    this.instr = el('p', 'instruction', this.failure);
    this.instrTitle = el('strong', '', this.instr);
    this.instrText = el('span', '', this.instr);
    this.instrOrig = el('p', 'instruction-orig', this.failure);
    this.root = root;
    this.slot = null;
  }

  render(slot) {
    this.slot = slot;
    const flow = slot.flow || {};
    const view = slotView(slot);
    const root = this.root;
    if (root.dataset.kind !== view.kind) root.dataset.kind = view.kind;
    if (root.dataset.state !== (flow.state || slot.state)) root.dataset.state = flow.state || slot.state;
    root.classList.toggle('is-paused', !!flow.paused);
    setText(this.icon, ICONS[view.kind]);
    const stateWords = t(view.key);
    setText(this.stateText, stateWords);
    show(this.pausedNote, !!flow.paused);
    setText(this.pausedNote, flow.paused ? `${ICONS.paused} ${t('tile.paused_note')}` : '');

    const p = flow.progress || {};
    const working = view.kind === 'work' || view.kind === 'retry';
    const phaseBits = [];
    if (working && p.phase) phaseBits.push(`${t('tile.phase')}: ${p.phase}`);
    if (flow.try > 1) phaseBits.push(t('tile.try', { n: flow.try }));
    setText(this.phase, phaseBits.join(' · '));
    show(this.phase, phaseBits.length > 0);

    const hasBar = working && p.total > 0;
    show(this.progress, hasBar);
    let pct = 0;
    if (hasBar) {
      pct = Math.min(100, Math.floor((p.done / p.total) * 100));
      const width = `${pct}%`;
      if (this.fill.style.width !== width) this.fill.style.width = width;
      setText(this.pct, `${pct}%`);
      this.progress.setAttribute('aria-valuenow', String(pct));
    }
    const speed = working ? formatRate(p.bytes_per_s) : '';
    const eta = working && p.eta_ms != null ? `${t('tile.eta')} ${formatDuration(p.eta_ms)}` : '';
    setText(this.speed, speed);
    setText(this.eta, eta);
    show(this.rate, !!(speed || eta));

    const pkg = flow.version ? `${flow.package || ''} ${flow.version}`.trim() : flow.package;
    const values = { imei: flow.imei, model: flow.model, package: pkg };
    for (const [key, r] of Object.entries(this.rows)) {
      setText(r.dt, t(`tile.${key}`));
      setText(r.dd, values[key]);
      show(r.row, !!values[key]);
    }

    const failed = view.kind === 'fail';
    show(this.failure, failed);
    if (failed) {
      const stage = flow.stage ? t(`stage.${flow.stage}`) : '';
      setText(this.stage, t('tile.stage', { stage, code: flow.code }));
      // the station's instruction often quotes the message: say it once
      const quoted = flow.message && (flow.instruction || '').includes(flow.message);
      setText(this.message, quoted ? '' : flow.message);
      show(this.message, !!flow.message && !quoted);
      setText(this.instrTitle, `${t('tile.instruction')}: `);
      const local = instruction(flow.code, flow.stage);
      setText(this.instrText, local || flow.instruction);
      setText(this.instrOrig, local ? flow.instruction : '');
      show(this.instrOrig, !!local && !!flow.instruction);
    }

    // What a screen reader says on focus: the same facts as the tile, in one line.
    const parts = [t('tile.slot', { label: slot.label }), stateWords];
    if (hasBar) parts.push(`${pct}%`);
    if (flow.imei) parts.push(`${t('tile.imei')} ${flow.imei}`);
    if (failed && flow.code) parts.push(flow.code);
    const aria = parts.join(', ');
    if (root.getAttribute('aria-label') !== aria) root.setAttribute('aria-label', aria);
  }
}

export class Rack {
  constructor(container) {
    this.container = container;
    this.tiles = new Map();
    this.layout = '';
    container.addEventListener('keydown', (e) => this.onKey(e));
  }

  // Lays the tiles out like the rack: rows x columns from /api/v1/station, each slot at
  // its own row and column (slots without a position fill the grid in config order).
  setLayout(rows, columns, slots) {
    const key = JSON.stringify([rows, columns, slots.map((s) => [s.label, s.row, s.column])]);
    if (key === this.layout) return;
    this.layout = key;
    this.container.replaceChildren();
    this.tiles.clear();
    this.container.style.setProperty('--rack-columns', String(Math.max(1, columns || 1)));
    this.container.style.setProperty('--rack-rows', String(Math.max(1, rows || 1)));
    for (const slot of slots) {
      const tile = new Tile(slot.label);
      if (slot.row > 0 && slot.column > 0) {
        tile.root.style.gridRow = String(slot.row);
        tile.root.style.gridColumn = String(slot.column);
      }
      tile.pos = { row: slot.row, column: slot.column };
      this.tiles.set(slot.label, tile);
      this.container.appendChild(tile.root);
    }
  }

  // One slot's new state (a GET /api/v1/slots element, or later an SSE slot event).
  applySlot(slot) {
    const tile = this.tiles.get(slot.label);
    if (tile) tile.render(slot);
    return !!tile;
  }

  // Language switch: everything is rendered again from the last state seen.
  rerender() {
    for (const tile of this.tiles.values()) if (tile.slot) tile.render(tile.slot);
  }

  slots() {
    return [...this.tiles.values()].map((tile) => tile.slot).filter(Boolean);
  }

  // Arrow keys move between tiles as they sit in the rack; Home/End to the first/last.
  onKey(e) {
    const tiles = [...this.tiles.values()];
    const i = tiles.findIndex((tile) => tile.root === document.activeElement);
    if (i < 0) return;
    const here = tiles[i].pos;
    let next = null;
    const at = (r, c) => tiles.find((tile) => tile.pos.row === r && tile.pos.column === c);
    const positioned = here.row > 0 && here.column > 0;
    switch (e.key) {
      case 'ArrowRight': next = positioned ? at(here.row, here.column + 1) : tiles[i + 1]; break;
      case 'ArrowLeft': next = positioned ? at(here.row, here.column - 1) : tiles[i - 1]; break;
      case 'ArrowDown': next = positioned ? at(here.row + 1, here.column) : null; break;
      case 'ArrowUp': next = positioned ? at(here.row - 1, here.column) : null; break;
      case 'Home': next = tiles[0]; break;
      case 'End': next = tiles[tiles.length - 1]; break;
      default: return;
    }
    e.preventDefault();
    if (next) next.root.focus();
  }
}
