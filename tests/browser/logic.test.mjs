// The dashboard's decisions that need no browser (node's test runner): which state a tile
// shows for each slot/flow combination, number formats, the language choice, and that the
// Chinese table covers every English key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { detectLanguage, instruction, setLanguage, t } from '../../web/i18n.js';
import { formatDuration, formatRate, slotView } from '../../web/tiles.js';

// i18n.js touches document and localStorage only when asked to remember or translate.
globalThis.document = { documentElement: {} };

const flow = (state, extra = {}) => ({ state, code: '', paused: false, ...extra });

test('tile state for each flow state', () => {
  const cases = [
    [{ state: 'empty', flow: flow('idle') }, 'empty', 'state.empty'],
    [{ state: 'attached', flow: flow('idle') }, 'present', 'state.idle'],
    [{ state: 'busy', flow: flow('identifying') }, 'work', 'state.identifying'],
    [{ state: 'busy', flow: flow('flashing') }, 'work', 'state.flashing'],
    [{ state: 'attached', flow: flow('rebooting') }, 'work', 'state.rebooting'],
    // waiting for a download place ([limits] max_jobs): in AT mode, nothing runs on it
    [{ state: 'attached', flow: flow('queued', { queue_position: 2 }) }, 'work', 'state.queued'],
    [{ state: 'attached', flow: flow('retry_wait') }, 'retry', 'state.retry_wait'],
    [{ state: 'attached', flow: flow('pass') }, 'pass', 'state.pass'],
    [{ state: 'attached', flow: flow('fail', { code: 'no_match' }) }, 'fail', 'state.fail'],
    // a failed module that was pulled still says why until the next one starts
    [{ state: 'empty', flow: flow('idle', { code: 'disconnected' }) }, 'fail', 'state.removed_fail'],
    [{ state: 'empty', flow: flow('idle', { paused: true }) }, 'paused', 'state.paused'],
    // a paused slot that is still flashing shows the flash (the pause holds what comes next)
    [{ state: 'busy', flow: flow('flashing', { paused: true }) }, 'work', 'state.flashing'],
    // a station without a workflow
    [{ state: 'empty', flow: null }, 'empty', 'state.empty'],
    [{ state: 'attached', flow: null }, 'present', 'state.attached'],
    [{ state: 'busy', flow: null }, 'work', 'state.busy'],
  ];
  for (const [slot, kind, key] of cases) {
    assert.deepEqual(slotView(slot), { kind, key }, JSON.stringify(slot));
  }
});

test('rates and durations', () => {
  assert.equal(formatRate(null), '');
  assert.equal(formatRate(0), '0 KB/s');
  assert.equal(formatRate(9500), '10 KB/s');
  assert.equal(formatRate(2500000), '2.5 MB/s');
  assert.equal(formatDuration(null), '');
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(61400), '1:01');
  assert.equal(formatDuration(3599000), '59:59');
});

test('language: remembered choice, then the browser, then English', () => {
  assert.equal(detectLanguage('zh', ['en-US']), 'zh');
  assert.equal(detectLanguage('en', ['zh-CN']), 'en');
  assert.equal(detectLanguage(null, ['fr-FR', 'zh-Hant-TW', 'en']), 'zh');
  assert.equal(detectLanguage(null, ['de']), 'en');
  assert.equal(detectLanguage('xx', ['ZH']), 'zh');
  assert.equal(detectLanguage(null, []), 'en');
});

test('every English text has a Chinese one; placeholders match', () => {
  const src = readFileSync(new URL('../../web/i18n.js', import.meta.url), 'utf8');
  const table = (name) => {
    const body = src.split(`const ${name} = {`)[1].split('\n};')[0];
    return new Map([...body.matchAll(/^\s+'?([\w.]+)'?: '((?:[^'\\]|\\.)*)',$/gm)].map((m) => [m[1], m[2]]));
  };
  const en = table('en');
  const zh = table('zh');
  assert.ok(en.size > 50, `parsed only ${en.size} English texts`);
  for (const [key, text] of en) {
    assert.ok(zh.has(key), `no Chinese for ${key}`);
    const vars = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
    assert.equal(vars(zh.get(key)), vars(text), `placeholders of ${key}`);
  }
  setLanguage('zh', false);
  assert.equal(t('tile.slot', { label: 'S3' }), '槽位 S3');
  assert.match(instruction('no_match', 'guard'), /放到一边/);
  assert.match(instruction('disconnected', 'flash'), /重新插拔/);
  assert.equal(instruction('something_new', 'flash'), null);
  setLanguage('en', false);
  assert.equal(instruction('no_match', 'guard'), null); // English: the station's own words
  assert.equal(t('tile.try', { n: 2 }), 'Try 2');
});
