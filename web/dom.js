// Small DOM helpers the supervisor's panels share. Text always goes in as text nodes
// (never innerHTML): station data — firmware names, MES reasons, error messages — is
// untrusted and must not become markup.
import { t } from './i18n.js';

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

export const when = (ms) => (ms ? new Date(ms).toLocaleString() : '—');

// "Not available": the station answered 404 for an endpoint (an older flashrackd).
export function unavailable(panel, what) {
  panel.replaceChildren(el('p', { class: 'unavailable', role: 'status' }, t('sup.unavailable', { what })));
}

export function failed(panel, res) {
  panel.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorText(res)));
}

export function errorText(res) {
  return t('sup.error', { message: `${res.status || ''} ${res.error.message}`.trim() });
}

// 1536 → "1.5 KiB": package sizes as an operator reads them.
export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
