// The supervisor's packages and recipes panel (docs/http.md "Packages", "Recipes"): upload a
// firmware package, read what the station found in it (platform, firmware name, sub-model,
// version, the file it will flash, warnings) and only then activate it as a recipe. The
// station decides what fits which module; this panel shows its verdicts and never guesses.
import { apiGet, apiPut, apiDelete, seg, token } from './api.js';
import { t } from './i18n.js';
import { bytes, el, errorText, failed, unavailable, when } from './dom.js';

const UPLOAD_TIMEOUT_MS = 30 * 60 * 1000; // a 1 GiB package over a slow line network

// POST /api/v1/packages with the file as the raw body. XMLHttpRequest rather than fetch: it
// reports upload progress, which a 100 MB package on a line network needs. Resolves to the
// same {ok, status, data, error} shape as api.js.
export function uploadPackage(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/packages?name=${encodeURIComponent(file.name)}`);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    const tok = token();
    if (tok) xhr.setRequestHeader('Authorization', `Bearer ${tok}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    const settle = (status, message) => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (status >= 200 && status < 300) return resolve({ ok: true, status, data, error: null });
      const error = (data && data.error) || { code: status ? `http_${status}` : 'network', message };
      return resolve({ ok: false, status, data, error });
    };
    xhr.onload = () => settle(xhr.status, xhr.statusText);
    xhr.onerror = () => settle(0, 'the upload was interrupted');
    xhr.ontimeout = () => settle(0, 'timed out');
    xhr.send(file);
  });
}

// A recipe name the station accepts (config label rules), suggested from the firmware:
// EC800M + CNLE → ec800m_cnle.
export function suggestRecipeName(pkg) {
  const base = [pkg.series, pkg.sub_model].filter(Boolean).join('_') || pkg.name || 'recipe';
  return base.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_').replace(/^[^a-z0-9]+/, '').slice(0, 48) || 'recipe';
}

const fits = (pkg) => [pkg.series, pkg.sub_model].filter(Boolean).join('_') || '—';

export class Packages {
  constructor(panel) {
    this.panel = panel;
    this.status = '';
    this.inspected = null; // the package object shown with its activation form
    this.recipes = [];
    this.packages = [];
  }

  async load() {
    const [rec, pk] = await Promise.all([apiGet('/api/v1/recipes'), apiGet('/api/v1/packages')]);
    if (rec.status === 404 && pk.status === 404) return unavailable(this.panel, 'GET /api/v1/packages');
    if (!rec.ok) return failed(this.panel, rec);
    if (!pk.ok) return failed(this.panel, pk);
    this.recipes = rec.data.recipes || [];
    this.packages = pk.data.packages || [];
    if (this.inspected) {
      this.inspected = this.packages.find((p) => p.sha256 === this.inspected.sha256) || this.inspected;
    }
    return this.render();
  }

  render() {
    this.statusNode = el('p', { class: 'pkg-status', role: 'status', 'aria-live': 'polite' }, this.status);
    this.panel.replaceChildren(
      el('h3', {}, t('pkg.recipes')), this.recipeTable(),
      el('h3', {}, t('pkg.upload')), this.uploadForm(), this.statusNode,
      this.inspected ? this.inspectBox(this.inspected) : null,
      el('h3', {}, t('pkg.catalogue')), this.packageTable());
  }

  say(text) {
    this.status = text;
    if (this.statusNode) this.statusNode.textContent = text;
  }

  recipeTable() {
    if (!this.recipes.length) return el('p', { class: 'none' }, t('pkg.no_recipes'));
    const rows = this.recipes.map((r) => {
      const p = r.package || {};
      const state = r.state === 'failed' ? `${t('pkg.state.failed')}: ${r.error || ''}` : t(`pkg.state.${r.state}`);
      const remove = r.source === 'api'
        ? el('button', { type: 'button', 'data-remove-recipe': r.name, onclick: () => this.removeRecipe(r.name) },
          t('pkg.remove'))
        : el('span', { class: 'hint' }, t('pkg.in_config'));
      return el('tr', { 'data-recipe': r.name },
        el('th', { scope: 'row' }, r.name), el('td', { class: 'mono' }, p.firmware || '—'),
        el('td', {}, fits(p)), el('td', {}, p.version || '—'), el('td', {}, p.platform || '—'),
        el('td', { 'data-state': r.state }, state), el('td', {}, remove));
    });
    return el('table', { class: 'recipes' },
      el('thead', {}, el('tr', {}, ...['name', 'firmware', 'fits', 'version', 'platform', 'state', 'actions']
        .map((k) => el('th', { scope: 'col' }, t(`pkg.col.${k}`))))),
      el('tbody', {}, ...rows));
  }

  uploadForm() {
    const input = el('input', { type: 'file', id: 'pkg-file', accept: '.zip,.pac,.bin,.blf,.mbn,.7z,.rar' });
    const progress = el('progress', { id: 'pkg-progress', max: '1', value: '0', hidden: true });
    const form = el('form', { class: 'row', onsubmit: async (e) => {
      e.preventDefault();
      const file = input.files && input.files[0];
      if (!file) return this.say(t('pkg.pick_file'));
      progress.hidden = false;
      this.say(t('pkg.uploading', { name: file.name, size: bytes(file.size) }));
      const res = await uploadPackage(file, (sent, total) => {
        progress.value = String(total ? sent / total : 0);
      });
      progress.hidden = true;
      if (!res.ok) {
        this.say(errorText(res));
        return;
      }
      this.inspected = res.data;
      this.status = t(res.status === 201 ? 'pkg.uploaded' : 'pkg.known', { name: res.data.name });
      await this.load();
      const nameInput = document.getElementById('pkg-recipe-name');
      if (nameInput) nameInput.focus();
    } },
    el('label', { for: 'pkg-file' }, t('pkg.file')), input,
    el('button', { type: 'submit', id: 'pkg-upload' }, t('pkg.upload_go')), progress);
    return form;
  }

  // What the station found in the package, then the activation form: nothing is offered to
  // modules until a supervisor read this and pressed Activate.
  inspectBox(p) {
    const row = (key, value, cls) => [el('dt', {}, t(`pkg.f.${key}`)), el('dd', { class: cls }, value)];
    const list = el('dl', { class: 'inspect' },
      ...row('name', p.name), ...row('firmware', p.firmware || '—', 'mono'), ...row('fits', fits(p)),
      ...row('version', p.version || '—'), ...row('platform', `${p.platform || '—'}${p.layout ? ` (${p.layout})` : ''}`),
      ...row('flash_file', `${p.flash_file || '—'} · ${bytes(p.flash_size)}`, 'mono'),
      ...row('size', bytes(p.size)), ...row('sha256', p.sha256, 'mono'),
      ...row('uploaded', `${when(p.uploaded_unix_ms)}${p.uploaded_by ? ` · ${p.uploaded_by}` : ''}`),
      ...row('recipes', (p.recipes || []).join(', ') || '—'));
    const warnings = (p.warnings || []).length
      ? el('ul', { class: 'warnings', role: 'list' }, ...p.warnings.map((w) => el('li', {}, `⚠ ${typeof w === 'string' ? w : JSON.stringify(w)}`)))
      : null;
    const name = el('input', { id: 'pkg-recipe-name', value: suggestRecipeName(p), maxlength: '63', autocomplete: 'off' });
    const options = el('input', { id: 'pkg-recipe-options', value: '', maxlength: '255', autocomplete: 'off' });
    const form = el('form', { class: 'grid-form', onsubmit: (e) => {
      e.preventDefault();
      this.activate(p, name.value.trim(), options.value.trim());
    } },
    el('label', { for: 'pkg-recipe-name' }, t('pkg.recipe_name')), name,
    el('label', { for: 'pkg-recipe-options' }, t('pkg.recipe_options')), options,
    el('button', { type: 'submit', id: 'pkg-activate' }, t('pkg.activate')));
    return el('section', { class: 'inspect-box', 'aria-labelledby': 'pkg-inspect-title' },
      el('h3', { id: 'pkg-inspect-title' }, t('pkg.inspect_title')), list, warnings,
      el('p', { class: 'hint' }, t('pkg.activate_hint')), form);
  }

  packageTable() {
    if (!this.packages.length) return el('p', { class: 'none' }, t('pkg.no_packages'));
    const rows = this.packages.map((p) => {
      const used = (p.recipes || []).length > 0 || p.in_use > 0;
      return el('tr', { 'data-package': p.sha256 },
        el('th', { scope: 'row', class: 'mono' }, p.name), el('td', { class: 'mono' }, p.firmware || '—'),
        el('td', {}, p.version || '—'), el('td', {}, p.platform || '—'), el('td', {}, bytes(p.size)),
        el('td', {}, p.source === 'config' ? t('pkg.in_config') : when(p.uploaded_unix_ms)),
        el('td', {}, (p.recipes || []).join(', ') || '—'),
        el('td', { class: 'actions' },
          el('button', { type: 'button', 'data-inspect': p.sha256, onclick: () => this.show(p) }, t('pkg.inspect')),
          p.source === 'config' ? null
            : el('button', { type: 'button', 'data-delete': p.sha256, disabled: used,
              title: used ? t('pkg.delete_used') : null, onclick: () => this.remove(p) }, t('pkg.delete'))));
    });
    return el('table', { class: 'packages' },
      el('thead', {}, el('tr', {}, ...['file', 'firmware', 'version', 'platform', 'size', 'uploaded', 'recipes', 'actions']
        .map((k) => el('th', { scope: 'col' }, t(`pkg.col.${k}`))))),
      el('tbody', {}, ...rows));
  }

  show(p) {
    this.inspected = p;
    this.status = '';
    this.render();
    const title = document.getElementById('pkg-recipe-name');
    if (title) title.focus();
  }

  async activate(p, name, options) {
    if (!name) return this.say(t('pkg.name_needed'));
    const existing = this.recipes.find((r) => r.name === name);
    if (existing && existing.source === 'api' &&
        !window.confirm(t('pkg.replace_confirm', { name, firmware: p.firmware || p.name }))) return undefined;
    const body = { package: p.sha256 };
    if (options) body.options = options;
    const res = await apiPut(`/api/v1/recipes/${seg(name)}`, body);
    this.status = res.ok ? t('pkg.activated', { name, firmware: p.firmware || p.name }) : errorText(res);
    if (res.ok) this.inspected = null;
    return this.load();
  }

  async removeRecipe(name) {
    if (!window.confirm(t('pkg.remove_confirm', { name }))) return;
    const res = await apiDelete(`/api/v1/recipes/${seg(name)}`);
    this.status = res.ok ? t('pkg.removed', { name }) : errorText(res);
    await this.load();
  }

  async remove(p) {
    if (!window.confirm(t('pkg.delete_confirm', { name: p.name }))) return;
    const res = await apiDelete(`/api/v1/packages/${seg(p.sha256)}`);
    this.status = res.ok ? t('pkg.deleted', { name: p.name }) : errorText(res);
    if (res.ok && this.inspected && this.inspected.sha256 === p.sha256) this.inspected = null;
    await this.load();
  }
}
