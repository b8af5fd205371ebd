// Browser test of the dashboard (issue #8): Debian's chromium, headless, driven by
// playwright-core, against the real flashrackd on the virtual rack. Modules are plugged in
// AT mode as in tests/e2e/flow_rack.sh and the test watches what an operator would see:
// tiles change as modules arrive, progress moves, PASS and FAIL show with the right words,
// the keyboard moves between tiles, Chinese is chosen by the browser and by the switch,
// a daemon restart is survived; and what a supervisor does: abort a flash from the UI,
// find a module by IMEI, export CSV. Screenshots of both views with the full rack mid-run
// go to $FLASHRACK_BUILD_DIR/browser-artefacts/.
//   node dashboard.mjs MKPKG_BIN
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualRack, testImei } from './rack.mjs';

const WAIT_MS = 180000; // generous: an ASan build on a busy machine is slow
const CHROMIUM = process.env.FLASHRACK_CHROMIUM || '/usr/bin/chromium';
const OP_TOKEN = 'op-browser-0123456789abcdef';
const SUP_TOKEN = 'sup-browser-0123456789abcdef';
// FLASHRACK_BROWSER_LIVE=poll|stream forces the page's live source (?live=...); unset, the
// page chooses by itself, as on the line.
const LIVE = process.env.FLASHRACK_BROWSER_LIVE || '';

const buildDir = process.env.FLASHRACK_BUILD_DIR;
const sourceDir = process.env.FLASHRACK_SOURCE_DIR;
const mkpkg = process.argv[2];
if (!buildDir || !sourceDir || !mkpkg) {
  console.error('run through ctest: FLASHRACK_BUILD_DIR, FLASHRACK_SOURCE_DIR and MKPKG_BIN are needed');
  process.exit(2);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`FAIL: playwright-core is not installed (scripts/setup runs npm ci in tests/browser): ${e.message}`);
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`FAIL: no chromium at ${CHROMIUM} (scripts/setup installs Debian's chromium)`);
  process.exit(1);
}

const artefacts = join(buildDir, 'browser-artefacts');
mkdirSync(artefacts, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'flashrack-browser.'));
const log = join(tmp, 'daemon.log');
const step = (what) => console.log(`-- ${what}`);

// The contract decides what must work: an endpoint docs/http.md lists is tested for real.
const httpDoc = readFileSync(join(sourceDir, 'docs/http.md'), 'utf8');
const documented = (path) => httpDoc.includes(path);

async function freePort() {
  // The daemon must come back on the same port after its restart, so port 0 will not do.
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function packages() {
  const dir = join(tmp, 'pkgs');
  mkdirSync(dir);
  const make = (fw) => execFileSync(mkpkg, ['--firmware', fw, dir], { encoding: 'utf8' }).trim();
  return {
    ec200u: make('QPY_OCPU_V0001_EC200U_CNAA_FW'),
    ec600u: make('QPY_OCPU_V0001_EC600U_CNLB_FW'),
    ec600n: make('QPY_OCPU_V0004_EC600N_CNLF_FW'),
  };
}

function writeConfig(port, pkgs) {
  const lines = [
    '[station]', 'id = browser-rack',
    '[http]', `listen = 127.0.0.1:${port}`, `web_root = ${join(sourceDir, 'web')}`,
    '[rack]', 'rows = 3', 'columns = 3',
    '[storage]', `database = ${tmp}/flashrack.db`, `data_dir = ${tmp}/data`, `cache_dir = ${tmp}/cache`,
    '[flow]', 'retries = 0', 'reboot_timeout_ms = 20000',
    '[limits]', 'no_progress_timeout_ms = 20000',
    '[auth]', `token = operator:browser-test:${OP_TOKEN}`, `token = supervisor:shift-lead:${SUP_TOKEN}`,
    '[recipe ec200u]', `package = ${pkgs.ec200u}`,
    '[recipe ec600u]', `package = ${pkgs.ec600u}`,
    '[recipe ec600n-cnlf]', `package = ${pkgs.ec600n}`,
  ];
  for (let i = 1; i <= 9; i++) lines.push(`[slot S${i}]`, `port = 1-2.${i}`);
  const path = join(tmp, 'flashrack.conf');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const imei = (slot) => testImei(800 + slot);

// A Unisoc module in AT mode; rate: bytes per second its download port writes the flash at,
// so a flash takes seconds and the test can watch it.
function plugUnisoc(rack, slot, series, sub, rate) {
  return rack.cmd(`plug 1-2.${slot} quectel-unisoc-at series=${series} submodel=${sub} ` +
    `imei=${imei(slot)} download_opts=flash_rate:${rate}`);
}

// ---- page helpers ---------------------------------------------------------------------------

const tileSel = (slot) => `#rack [data-slot="S${slot}"]`;

function waitTile(page, slot, kind, what) {
  return page.waitForFunction(
    ([sel, k]) => document.querySelector(sel)?.dataset.kind === k,
    [tileSel(slot), kind], { timeout: WAIT_MS },
  ).catch((e) => { throw new Error(`S${slot} never became ${kind} (${what}): ${e.message}`); });
}

async function tileText(page, slot, part) {
  return (await page.locator(`${tileSel(slot)} ${part}`).textContent()).trim();
}

async function pct(page, slot) {
  return page.evaluate((sel) => {
    const p = document.querySelector(`${sel} .progress`);
    return p && !p.hidden ? Number(p.getAttribute('aria-valuenow')) : null;
  }, tileSel(slot));
}

async function working(page) {
  return page.evaluate(() => [...document.querySelectorAll('#rack .tile')]
    .filter((t) => t.dataset.kind === 'work' && !t.querySelector('.progress').hidden).length);
}

async function showView(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

// ---- the test -------------------------------------------------------------------------------

async function run(rack, browser, port) {
  const base = `http://127.0.0.1:${port}`;
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1600, height: 1000 } });
  const foreign = [];
  // The dashboard must need nothing from outside the station (a line network has no internet).
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:') return route.continue();
    foreign.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => d.accept());

  step('the page loads from the daemon and lays the rack out 3 x 3');
  const resp = await page.goto(LIVE ? `${base}/?live=${encodeURIComponent(LIVE)}` : base);
  assert.equal(resp.status(), 200, `GET / answered ${resp.status()}: ${await resp.text()}`);
  assert.match(resp.headers()['content-type'], /^text\/html/);
  await page.waitForFunction(() => document.querySelectorAll('#rack .tile').length === 9, null, { timeout: WAIT_MS });
  await page.waitForSelector('#conn[data-state="live"]', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#conn .conn-text'), 'Live');
  // the live event stream by default, polling when forced
  assert.equal(await page.getAttribute('#conn', 'data-via'), LIVE === 'poll' ? 'poll' : 'stream');
  const pos = await page.evaluate(() => [...document.querySelectorAll('#rack .tile')]
    .map((t) => `${t.dataset.slot}@${t.style.gridRow},${t.style.gridColumn}`).join(' '));
  assert.equal(pos, 'S1@1,1 S2@1,2 S3@1,3 S4@2,1 S5@2,2 S6@2,3 S7@3,1 S8@3,2 S9@3,3');
  assert.equal(await tileText(page, 1, '.state-text'), 'Empty');
  assert.equal(await tileText(page, 1, '.icon'), '○');
  assert.equal(await page.textContent('#station-id'), 'browser-rack');

  step('keyboard: Tab reaches the tiles, arrows move as the rack is laid out, focus is visible');
  let focused = null;
  for (let i = 0; i < 15 && !focused; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.dataset?.slot || null);
  }
  assert.equal(focused, 'S1', 'Tab never reached the first tile');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused tile shows no focus ring');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.slot), 'S5');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.slot), 'S9');

  step('S1: a module arrives, is flashed, progress moves');
  await plugUnisoc(rack, 1, 'EC200U', 'CNAA', 9000);
  await waitTile(page, 1, 'work', 'module plugged');
  await page.waitForFunction((sel) => {
    const p = document.querySelector(`${sel} .progress`);
    return p && !p.hidden && Number(p.getAttribute('aria-valuenow')) < 90;
  }, tileSel(1), { timeout: WAIT_MS });
  const first = await pct(page, 1);
  await page.waitForFunction(([sel, p0]) => {
    const p = document.querySelector(`${sel} .progress`);
    return !p || p.hidden || Number(p.getAttribute('aria-valuenow')) > p0;
  }, [tileSel(1), first], { timeout: WAIT_MS });
  const later = await pct(page, 1);
  assert.ok(later === null || later > first, `progress did not move: ${first} -> ${later}`);
  console.log(`   progress ${first}% -> ${later === null ? 'done' : `${later}%`}`);
  assert.match(await tileText(page, 1, '.ident-imei dd'), new RegExp(`^${imei(1)}$`));
  assert.equal(await tileText(page, 1, '.ident-model dd'), 'EC200U');

  step('S3: an EC600N CNLA offered only CNLF firmware is refused: FAIL with stage and instruction');
  await rack.cmd(`plug 1-2.3 quectel-at series=EC600N submodel=CNLA imei=${imei(3)}`);
  await waitTile(page, 3, 'fail', 'no_match');
  assert.equal(await tileText(page, 3, '.state-text'), 'FAIL');
  assert.equal(await tileText(page, 3, '.icon'), '✖');
  assert.equal(await tileText(page, 3, '.stage'), 'Failed at firmware check: no_match');
  assert.match(await tileText(page, 3, '.instruction'), /^What to do: .*set it aside/);
  assert.match(await page.getAttribute(tileSel(3), 'aria-label'), /Slot S3, FAIL/);

  step('the rest of the rack fills up: screenshots of both views mid-run');
  // ~25 s flashes, so that they overlap even on a slow machine
  await plugUnisoc(rack, 2, 'EC600U', 'CNLB', 3500);
  await plugUnisoc(rack, 4, 'EC200U', 'CNAA', 3000);
  await plugUnisoc(rack, 5, 'EC200U', 'CNAA', 1500); // slow: it is aborted below
  for (const s of [6, 7, 8, 9]) await plugUnisoc(rack, s, s % 2 ? 'EC600U' : 'EC200U', s % 2 ? 'CNLB' : 'CNAA', 3000 + s * 100);
  await page.waitForFunction(() => [...document.querySelectorAll('#rack .tile')]
    .filter((t) => t.dataset.kind === 'work' && !t.querySelector('.progress').hidden).length >= 5,
  null, { timeout: WAIT_MS });
  const busy = await working(page);
  await page.screenshot({ path: join(artefacts, 'operator.png'), fullPage: true });
  await showView(page, 'supervisor');
  await page.waitForSelector('[data-panel="control"] tr[data-slot="S9"]', { timeout: WAIT_MS });
  await page.screenshot({ path: join(artefacts, 'supervisor.png'), fullPage: true });
  console.log(`   ${busy} slots flashing in the screenshots`);

  step('abort S5 from the supervisor view with an operator token');
  if (documented('/api/v1/slots/{label}/abort')) {
    await page.fill('#token-input', OP_TOKEN);
    await page.click('[data-panel="token"] button[type="submit"]');
    await page.waitForSelector('[data-panel="token"] .token-state:has-text("A token is set.")');
    await page.click('#ctl-abort-S5');
    await page.waitForFunction(() => /Abort S5: (requested|done)/
      .test(document.querySelector('.control-status')?.textContent || ''), null, { timeout: WAIT_MS });
    await showView(page, 'operator');
    await waitTile(page, 5, 'fail', 'aborted');
    assert.match(await tileText(page, 5, '.stage'), /: aborted$/);
    assert.match(await tileText(page, 5, '.failure'), /aborted by browser-test \(operator\)/);
    assert.equal(await page.locator(`${tileSel(5)} .progress`).isHidden(), true);
  } else {
    console.log('   (slot abort is not in docs/http.md: skipped)');
    await showView(page, 'operator');
  }

  step('S1 passes: PASS, counters count it');
  await waitTile(page, 1, 'pass', 'flash and verify');
  assert.equal(await tileText(page, 1, '.state-text'), 'PASS');
  assert.equal(await tileText(page, 1, '.icon'), '✔');
  assert.equal(await page.locator(`${tileSel(1)} .failure`).isHidden(), true);
  assert.equal(await page.locator(`${tileSel(1)} .progress`).isHidden(), true);
  await page.waitForFunction(() =>
    Number(document.querySelector('[data-count="pass"] .count-value').textContent) >= 1 &&
    Number(document.querySelector('[data-count="fail"] .count-value').textContent) >= 1,
  null, { timeout: WAIT_MS });

  step('records: find S1 by IMEI, CSV export');
  await showView(page, 'supervisor');
  if (documented('/api/v1/units/{imei}')) {
    await page.fill('#search-imei', imei(1));
    await page.click('[data-panel="search"] button[type="submit"]');
    await page.waitForSelector('[data-panel="search"] table.records td[data-result="pass"]', { timeout: WAIT_MS });
    assert.match(await page.textContent('[data-panel="search"] .verdict'), /Verdict: pass after 1 attempt/);
    await page.fill('#search-imei', '000000000000000');
    await page.click('[data-panel="search"] button[type="submit"]');
    await page.waitForSelector('[data-panel="search"] p.none', { timeout: WAIT_MS });
    await page.fill('#search-imei', imei(1));
    await page.click('[data-panel="search"] button[type="submit"]');
    await page.waitForSelector('[data-panel="search"] a.csv', { timeout: WAIT_MS });
    const href = await page.getAttribute('[data-panel="search"] a.csv', 'href');
    const csv = await page.request.get(new URL(href, base).href);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'], /^text\/csv/);
    assert.ok((await csv.text()).includes(imei(1)), 'the CSV export lacks the IMEI');
    // by slot and result: S3's refusal, and a CSV of just that
    await page.fill('#search-imei', '');
    await page.fill('#slot', 'S3');
    await page.selectOption('#search-result', 'fail');
    await page.click('[data-panel="search"] button[type="submit"]');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-panel="search"] table.records tbody tr')];
      return rows.length === 1 && /guard \/ no_match/.test(rows[0].textContent);
    }, null, { timeout: WAIT_MS });
    const href3 = await page.getAttribute('[data-panel="search"] a.csv', 'href');
    assert.match(href3, /slot=S3&result=fail&format=csv$/);
    const csv3 = (await (await page.request.get(new URL(href3, base).href)).text()).trim().split('\r\n');
    assert.equal(csv3.length, 2, `CSV of S3's failures: ${csv3.join(' | ')}`);
    assert.ok(csv3[1].includes(imei(3)) && csv3[1].includes('no_match'), csv3[1]);
    await page.screenshot({ path: join(artefacts, 'supervisor-records.png'), fullPage: true });
  } else {
    await page.waitForSelector('[data-panel="search"]');
    console.log('   (units/{imei} is not in docs/http.md: skipped)');
  }
  if (documented('/api/v1/stats')) {
    await page.waitForSelector('[data-panel="stats"] [data-figure="first_pass_yield"]', { timeout: WAIT_MS });
  } else {
    await page.waitForSelector('[data-panel="stats"] .unavailable', { timeout: WAIT_MS });
  }
  // The packages panel (web/packages.js) settles into its tables, or its note where the
  // station does not serve packages.
  await page.waitForFunction(() => {
    const p = document.querySelector('[data-panel="packages"]');
    return p && (/Not available/.test(p.textContent) || p.querySelector('table'));
  }, null, { timeout: WAIT_MS });

  step('packages: upload from the supervisor view, read the inspect result, activate, remove, delete');
  if (documented('/api/v1/packages')) {
    const panel = '[data-panel="packages"]';
    await page.fill('#token-input', SUP_TOKEN);
    await page.click('[data-panel="token"] button[type="submit"]');
    await page.waitForSelector('[data-panel="token"] .token-state:has-text("A token is set.")');
    // the config file's recipes, loaded, marked as the file's
    await page.waitForSelector(`${panel} tr[data-recipe="ec200u"] td[data-state="ready"]`, { timeout: WAIT_MS });
    assert.match(await page.textContent(`${panel} tr[data-recipe="ec200u"]`), /QPY_OCPU_V0001_EC200U_CNAA_FW.*config file/);
    // a file that is not a package: the station's reason is shown, nothing is offered
    await page.setInputFiles('#pkg-file', {
      name: 'QPY_OCPU_V0007_EC800M_CNLE_FW.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip at all'),
    });
    await page.click('#pkg-upload');
    await page.waitForFunction(() => /422/.test(document.querySelector('.pkg-status')?.textContent || ''),
      null, { timeout: WAIT_MS });
    assert.equal(await page.locator(`${panel} .inspect-box`).count(), 0, 'a refused package got an inspect box');
    // a real one: what the station found is shown before anything is activated
    const dir = join(tmp, 'upload');
    mkdirSync(dir, { recursive: true });
    const ec800m = execFileSync(mkpkg, ['--firmware', 'QPY_OCPU_V0007_EC800M_CNLE_FW', dir], { encoding: 'utf8' }).trim();
    await page.setInputFiles('#pkg-file', ec800m);
    await page.click('#pkg-upload');
    await page.waitForSelector(`${panel} .inspect-box dl.inspect`, { timeout: WAIT_MS });
    const inspect = await page.textContent(`${panel} .inspect-box`);
    for (const want of ['QPY_OCPU_V0007_EC800M_CNLE_FW', 'EC800M_CNLE', 'V0007', 'shift-lead']) {
      assert.ok(inspect.includes(want), `the inspect result lacks ${want}: ${inspect}`);
    }
    assert.equal(await page.inputValue('#pkg-recipe-name'), 'ec800m_cnle');
    const before = await (await page.request.get(`${base}/api/v1/recipes`)).json();
    assert.ok(!before.recipes.some((r) => r.name === 'ec800m_cnle'), 'activated before Activate was pressed');
    await page.locator(panel).screenshot({ path: join(artefacts, 'supervisor-packages.png') });
    await page.click('#pkg-activate');
    await page.waitForSelector(`${panel} tr[data-recipe="ec800m_cnle"] td[data-state="ready"]`, { timeout: WAIT_MS });
    const after = await (await page.request.get(`${base}/api/v1/recipes`)).json();
    const mine = after.recipes.find((r) => r.name === 'ec800m_cnle');
    assert.equal(`${mine.source} ${mine.created_by} ${mine.package.version} ${mine.package.firmware}`,
      'api shift-lead V0007 QPY_OCPU_V0007_EC800M_CNLE_FW');
    // a package a recipe uses cannot be deleted; removing the recipe frees it
    const sha = mine.package.sha256;
    assert.equal(await page.isDisabled(`${panel} button[data-delete="${sha}"]`), true);
    await page.click(`${panel} button[data-remove-recipe="ec800m_cnle"]`);
    await page.waitForSelector(`${panel} tr[data-recipe="ec800m_cnle"]`, { state: 'detached', timeout: WAIT_MS });
    await page.click(`${panel} button[data-delete="${sha}"]`);
    await page.waitForSelector(`${panel} tr[data-package="${sha}"]`, { state: 'detached', timeout: WAIT_MS });
    assert.match(await page.textContent(`${panel} .pkg-status`), /deleted/);
  } else {
    console.log('   (packages are not in docs/http.md: skipped)');
  }

  step('Chinese: switched by hand, remembered, and chosen by a Chinese browser');
  await showView(page, 'operator');
  await page.selectOption('#lang', 'zh');
  assert.equal(await page.textContent('#tab-operator'), '操作员');
  assert.equal(await tileText(page, 1, '.state-text'), '通过');
  assert.equal(await tileText(page, 3, '.state-text'), '失败');
  assert.match(await tileText(page, 3, '.stage'), /^失败环节：固件匹配检查（no_match）$/);
  assert.match(await tileText(page, 3, '.instruction'), /处理方法.*放到一边/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await page.screenshot({ path: join(artefacts, 'operator-zh.png'), fullPage: true });
  await page.reload();
  await page.waitForSelector(`${tileSel(1)}[data-kind="pass"]`, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#tab-supervisor'), '主管');
  const zhContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const zhPage = await zhContext.newPage();
  await zhPage.goto(base);
  await zhPage.waitForSelector(`${tileSel(1)}[data-kind="pass"]`, { timeout: WAIT_MS });
  assert.equal(await zhPage.textContent('#tab-operator'), '操作员');
  assert.equal(await zhPage.textContent(`${tileSel(1)} .state-text`), '通过');
  await zhContext.close();

  step('where the stream cannot be had, the page polls by itself');
  const noStream = await browser.newContext({ locale: 'en-US' });
  // as a proxy or a station at its stream limit would answer
  await noStream.route('**/api/v1/events/stream', (route) => route.fulfill({
    status: 503, contentType: 'application/json',
    body: '{"error":{"code":"unavailable","message":"too many streams"}}',
  }));
  const pollPage = await noStream.newPage();
  await pollPage.goto(base);
  await pollPage.waitForSelector('#conn[data-state="live"][data-via="poll"]', { timeout: WAIT_MS });
  await pollPage.waitForSelector(`${tileSel(1)}[data-kind="pass"]`, { timeout: WAIT_MS });
  await noStream.close();
  await page.selectOption('#lang', 'en');
  assert.equal(await page.textContent('#tab-operator'), 'Operator');

  step('the daemon restarts: the page says so and comes back by itself');
  await rack.cmd('signal TERM');
  await rack.cmd('wait-exit 60000');
  await page.waitForSelector('#conn[data-state="lost"]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#conn .conn-text'), /reconnecting/);
  await rack.cmd('restart');
  await rack.cmd('wait-ready 60000');
  await page.waitForSelector('#conn[data-state="live"]', { timeout: WAIT_MS });
  await page.waitForFunction(() => document.querySelectorAll('#rack .tile').length === 9, null, { timeout: WAIT_MS });

  assert.deepEqual(foreign, [], 'the dashboard asked for something outside the station');
  assert.deepEqual(errors, [], 'script errors in the page');
  await context.close();
}

let rack = null;
let browser = null;
let ok = false;
try {
  const port = await freePort();
  const config = writeConfig(port, packages());
  rack = new VirtualRack({ buildDir, config, log });
  await rack.cmd('wait-ready 60000');
  assert.equal(rack.port(), port);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No display, nothing from the network: the background services a desktop chromium
    // starts (updates, sync, safe browsing, metrics, translation) stay off.
    args: [
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-domain-reliability', '--disable-breakpad', '--disable-client-side-phishing-detection',
      '--disable-default-apps', '--no-first-run', '--no-pings', '--metrics-recording-only',
      '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider',
      '--disable-quic', '--disable-gpu', '--disable-dev-shm-usage',
    ],
  });
  await run(rack, browser, port);
  const reply = await rack.quit();
  assert.match(String(reply), /status=0/, `the daemon did not exit cleanly: ${reply}`);
  ok = true;
} catch (e) {
  console.error(`FAIL: ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (rack) rack.kill();
  if (existsSync(log)) {
    copyFileSync(log, join(artefacts, 'daemon.log'));
    if (!ok) console.error(`---- daemon log: ${join(artefacts, 'daemon.log')}\n${readFileSync(log, 'utf8').split('\n').slice(-40).join('\n')}`);
  }
  rmSync(tmp, { recursive: true, force: true });
}
console.log(ok ? `PASS dashboard (screenshots in ${artefacts})` : 'FAIL dashboard');
process.exit(ok ? 0 : 1);
