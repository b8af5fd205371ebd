// The supervisor's view: yield and throughput, records by IMEI with CSV export, the job
// context, slot pause / resume / abort, and packages and recipes (packages.js). Each panel
// uses only the endpoints docs/http.md lists; a station that answers one of them 404 (an
// older flashrackd) gets a plain "not available" in that panel instead of an error.
import { apiGet, apiPost, apiPut, seg, setToken, token } from './api.js';
import { t } from './i18n.js';
import { slotView } from './tiles.js';
import { el, failed, unavailable, when } from './dom.js';
import { Packages } from './packages.js';

const pct = (r) => (r == null ? '—' : `${(r * 100).toFixed(1)}%`);

// Bars in plain SVG: one per entry, labelled, with the value written on it so the chart
// reads without colour and without hovering.
function barChart(entries, label) {
  const w = 640;
  const rowH = 28;
  const h = Math.max(1, entries.length) * rowH + 8;
  const max = Math.max(1, ...entries.map((e) => e.value));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('chart');
  entries.forEach((e, i) => {
    const y = 4 + i * rowH;
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', '0');
    text.setAttribute('y', String(y + 19));
    text.textContent = e.label;
    const bar = document.createElementNS(ns, 'rect');
    bar.setAttribute('x', '180');
    bar.setAttribute('y', String(y + 3));
    bar.setAttribute('height', String(rowH - 8));
    bar.setAttribute('width', String(Math.max(2, ((w - 240) * e.value) / max)));
    const value = document.createElementNS(ns, 'text');
    value.setAttribute('x', String(186 + ((w - 240) * e.value) / max));
    value.setAttribute('y', String(y + 19));
    value.textContent = String(e.value);
    svg.append(text, bar, value);
  });
  return svg;
}

export class Supervisor {
  constructor(root, getSlots) {
    this.root = root;
    this.getSlots = getSlots;
    this.panels = {};
    for (const name of ['token', 'control', 'context', 'stats', 'search', 'packages']) {
      this.panels[name] = root.querySelector(`[data-panel="${name}"] .panel-body`);
    }
    this.search = { filters: null, shown: null };
    this.packages = new Packages(this.panels.packages);
    this.status = '';
  }

  render() {
    this.renderToken();
    this.renderControl();
    this.renderSearchForm();
  }

  // Everything that is read from the station, again (on opening the tab, on Refresh).
  async refresh() {
    this.render();
    await Promise.all([this.loadStats(), this.loadContext(), this.packages.load()]);
    if (this.search.filters) await this.runSearch(this.search.filters);
  }

  renderToken() {
    const input = el('input', {
      id: 'token-input', type: 'password', autocomplete: 'off', 'aria-describedby': 'token-hint',
    });
    const form = el('form', { class: 'row', onsubmit: (e) => {
      e.preventDefault();
      setToken(input.value.trim());
      input.value = '';
      this.renderToken();
    } },
    el('label', { for: 'token-input' }, t('sup.token')), input,
    el('button', { type: 'submit' }, t('sup.token_save')),
    el('button', { type: 'button', onclick: () => { setToken(''); this.renderToken(); } }, t('sup.token_clear')));
    this.panels.token.replaceChildren(form,
      el('p', { id: 'token-hint', class: 'hint' }, t('sup.token_hint')),
      el('p', { class: 'token-state', role: 'status' }, token() ? t('sup.token_set') : t('sup.token_none')));
  }

  // Called on every slot update while the tab is open: rows are rebuilt only when what
  // they show changed, so a focused button keeps its focus.
  renderControl() {
    const slots = this.getSlots();
    const key = JSON.stringify(slots.map((s) => [s.label, s.flow && s.flow.state, s.flow && s.flow.paused,
      s.flow && s.flow.imei, s.state])) + this.status + document.documentElement.lang;
    if (key === this.controlKey) return;
    this.controlKey = key;
    const focusedId = document.activeElement && document.activeElement.id;
    const rows = slots.map((s) => {
      const view = slotView(s);
      const flow = s.flow || {};
      const act = (action) => el('button', {
        type: 'button', id: `ctl-${action}-${s.label}`, 'data-action': action, 'data-slot': s.label,
        onclick: () => this.control(action, s.label),
      }, t(`sup.${action}`));
      return el('tr', { 'data-slot': s.label },
        el('th', { scope: 'row' }, s.label),
        el('td', { 'data-kind': view.kind }, `${t(view.key)}${flow.paused ? ` (${t('state.paused')})` : ''}`),
        el('td', {}, flow.imei || ''),
        el('td', { class: 'actions' }, flow.paused ? act('resume') : act('pause'), act('abort')));
    });
    const table = el('table', { class: 'control' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('sup.col.slot')), el('th', { scope: 'col' }, t('sup.col.state')),
        el('th', { scope: 'col' }, t('sup.col.imei')), el('th', { scope: 'col' }, t('sup.col.actions')))),
      el('tbody', {}, ...rows));
    this.panels.control.replaceChildren(table,
      el('p', { class: 'control-status', role: 'status', 'aria-live': 'polite' }, this.status));
    if (focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus();
    }
  }

  async control(action, label) {
    if (action === 'abort' && !window.confirm(t('sup.abort_confirm', { label }))) return;
    const res = await apiPost(`/api/v1/slots/${seg(label)}/${action}`);
    let result;
    if (res.ok) result = action === 'abort' ? (res.data && res.data.abort) || 'ok' : 'ok';
    else if (res.status === 404 && res.error.code === 'not_found' && /endpoint/.test(res.error.message)) {
      result = t('sup.unavailable', { what: `POST /api/v1/slots/{label}/${action}` });
    } else result = `${res.status} ${res.error.message}`;
    this.status = t('sup.done', { action: t(`sup.${action}`), label, result });
    this.controlKey = '';
    this.renderControl();
  }

  async loadContext() {
    const panel = this.panels.context;
    const res = await apiGet('/api/v1/context');
    if (res.status === 404) return unavailable(panel, 'GET /api/v1/context');
    if (!res.ok) return failed(panel, res);
    const ctx = res.data;
    const fields = ['work_order', 'lot', 'operator'];
    const inputs = {};
    const form = el('form', { class: 'grid-form', onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      for (const f of fields) if (inputs[f].value !== (ctx[f] || '')) body[f] = inputs[f].value;
      if (!Object.keys(body).length) return;
      const put = await apiPut('/api/v1/context', body);
      if (!put.ok) return failed(panel, put);
      return this.loadContext();
    } });
    for (const f of fields) {
      inputs[f] = el('input', { id: `ctx-${f}`, value: ctx[f] || '', maxlength: '63' });
      form.append(el('label', { for: `ctx-${f}` }, t(`sup.${f}`)), inputs[f]);
    }
    form.append(el('button', { type: 'submit' }, t('sup.context_save')));
    panel.replaceChildren(form);
  }

  async loadStats() {
    const panel = this.panels.stats;
    const res = await apiGet('/api/v1/stats');
    if (res.status === 404) return unavailable(panel, 'GET /api/v1/stats');
    if (!res.ok) return failed(panel, res);
    const s = res.data;
    const figure = (label, value, id) => el('div', { class: 'figure', 'data-figure': id },
      el('span', { class: 'figure-value' }, value), el('span', { class: 'figure-label' }, label));
    const hours = (s.throughput_per_hour || []).slice(-12).map((h) => ({
      label: new Date(h.hour_start_unix_ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
      value: h.passes,
    }));
    const byCode = (s.failures_by_code || []).map((f) => ({
      label: [f.stage, f.code].filter(Boolean).join(' / '), value: f.count,
    }));
    const bySlot = (s.failures_by_slot || []).map((f) => ({
      label: f.slot, value: f.count ?? f.fail ?? 0,
    }));
    const chart = (title, entries) => el('section', { class: 'chart-box' }, el('h3', {}, title),
      entries.length ? barChart(entries, title) : el('p', {}, t('sup.none')));
    panel.replaceChildren(
      el('div', { class: 'figures' },
        figure(t('sup.first_pass_yield'), pct(s.first_pass_yield), 'first_pass_yield'),
        figure(t('sup.final_yield'), pct(s.final_yield), 'final_yield'),
        figure(t('sup.units'), String((s.units && s.units.total) ?? '—'), 'units'),
        figure(t('count.pass'), String((s.attempts && s.attempts.pass) ?? '—'), 'pass'),
        figure(t('count.fail'), String((s.attempts && s.attempts.fail) ?? '—'), 'fail')),
      chart(t('sup.throughput'), hours),
      chart(t('sup.fail_by_code'), byCode),
      chart(t('sup.fail_by_slot'), bySlot));
  }

  // Records: an IMEI alone asks for that module's history and verdict (units/{imei});
  // any other filter (work order, slot, result, time window) lists attempts. The CSV link
  // exports exactly what the filters select.
  renderSearchForm() {
    const f = this.search.filters || {};
    const input = (id, attrs = {}) => el('input', { id, autocomplete: 'off', value: f[id] || '', ...attrs });
    const fields = {
      imei: input('imei', { inputmode: 'numeric', maxlength: '19' }),
      work_order: input('work_order', { maxlength: '63' }),
      slot: input('slot', { maxlength: '63' }),
      from: input('from', { type: 'datetime-local' }),
      to: input('to', { type: 'datetime-local' }),
    };
    fields.imei.id = 'search-imei';
    const result = el('select', { id: 'search-result' }, el('option', { value: '' }, '—'),
      ...['pass', 'fail', 'aborted', 'running'].map((r) => el('option', { value: r }, t(`result.${r}`))));
    result.value = f.result || '';
    const form = el('form', { class: 'grid-form', role: 'search', onsubmit: (e) => {
      e.preventDefault();
      const filters = {};
      for (const [k, node] of Object.entries(fields)) if (node.value.trim()) filters[k] = node.value.trim();
      if (result.value) filters.result = result.value;
      this.runSearch(filters);
    } });
    const label = (node, key) => form.append(el('label', { for: node.id }, t(key)), node);
    label(fields.imei, 'sup.search_imei');
    label(fields.work_order, 'sup.work_order');
    label(fields.slot, 'sup.col.slot');
    label(result, 'sup.col.result');
    label(fields.from, 'sup.from');
    label(fields.to, 'sup.to');
    form.append(el('button', { type: 'submit' }, t('sup.search_go')));
    this.searchOut = el('div', { class: 'search-out', 'aria-live': 'polite' });
    this.panels.search.replaceChildren(form, this.searchOut);
    if (this.search.shown) this.showSearch(this.search.shown);
  }

  // The query string of the attempts list / CSV export for these filters.
  static attemptsQuery(filters, extra = {}) {
    const q = new URLSearchParams();
    for (const k of ['imei', 'work_order', 'slot', 'result']) if (filters[k]) q.set(k, filters[k]);
    for (const k of ['from', 'to']) {
      const ms = filters[k] ? new Date(filters[k]).getTime() : NaN;
      if (Number.isFinite(ms) && ms >= 0) q.set(k, String(ms));
    }
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return q.toString();
  }

  async runSearch(filters, sinceId = 0) {
    this.search.filters = filters;
    const keys = Object.keys(filters);
    if (!keys.length) return;
    let res;
    let kind;
    if (keys.length === 1 && filters.imei) {
      kind = 'unit';
      res = await apiGet(`/api/v1/units/${seg(filters.imei)}${sinceId ? `?since_id=${sinceId}` : ''}`);
    } else {
      kind = 'list';
      res = await apiGet(`/api/v1/attempts?${Supervisor.attemptsQuery(filters, { since_id: sinceId, limit: 100 })}`);
    }
    this.search.shown = { kind, filters, res };
    this.showSearch(this.search.shown);
  }

  showSearch({ kind, filters, res }) {
    const out = this.searchOut;
    if (!out) return;
    if (res.status === 404 && res.error && /endpoint/.test(res.error.message)) {
      return unavailable(out, kind === 'unit' ? 'GET /api/v1/units/{imei}' : 'GET /api/v1/attempts');
    }
    if (kind === 'unit' && res.status === 404) {
      out.replaceChildren(el('p', { class: 'none' }, t('sup.search_none', { imei: filters.imei })));
      return;
    }
    if (!res.ok) return failed(out, res);
    const data = res.data;
    const list = data.attempts || [];
    const csv = `/api/v1/attempts?${Supervisor.attemptsQuery(filters, { format: 'csv' })}`;
    const rows = list.map((a) => el('tr', { 'data-attempt': String(a.id) },
      el('td', {}, String(a.id)), el('td', {}, a.slot || ''), el('td', { class: 'mono' }, a.imei || ''),
      el('td', {}, when(a.started_unix_ms)),
      el('td', { 'data-result': a.result }, t(`result.${a.result}`)),
      el('td', {}, [a.fail_stage, a.fail_code].filter(Boolean).join(' / ')),
      el('td', { class: 'mono' }, a.revision_after || '')));
    const head = kind === 'unit'
      ? el('p', { class: 'verdict' }, t('sup.verdict', {
        verdict: data.verdict ? t(`result.${data.verdict}`) : '—', n: data.attempts_total ?? rows.length,
      }))
      : el('p', { class: 'found' }, rows.length ? t('sup.found', { n: rows.length }) : t('sup.found_none'));
    const next = data.more
      ? el('button', { type: 'button', onclick: () => this.runSearch(filters, data.next_since_id) }, t('sup.next'))
      : null;
    out.replaceChildren(head,
      el('table', { class: 'records' },
        el('thead', {}, el('tr', {}, ...['id', 'slot', 'imei', 'started', 'result', 'failure', 'revision']
          .map((k) => el('th', { scope: 'col' }, t(`sup.col.${k}`))))),
        el('tbody', {}, ...rows)),
      el('p', { class: 'row' }, next,
        el('a', { href: csv, download: 'flashrack-attempts.csv', class: 'csv' }, t('sup.csv'))));
  }
}
