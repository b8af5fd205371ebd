// Texts of the dashboard in English and Chinese. The language is the one the operator chose
// (remembered in localStorage), else the first of the browser's languages we have, else
// English. Every visible text goes through t(): a key missing in Chinese falls back to
// English, never to the raw key.

const en = {
  title: 'flashrack',
  'nav.operator': 'Operator',
  'nav.supervisor': 'Supervisor',
  'nav.language': 'Language',
  'nav.skip': 'Skip to the rack',
  'conn.live': 'Live',
  'conn.connecting': 'Connecting…',
  'conn.lost': 'Station not reachable — reconnecting…',
  'conn.auth': 'The station wants a token: set one in the Supervisor view',

  'count.pass': 'Pass',
  'count.fail': 'Fail',
  'count.yield': 'Yield',
  'count.per_hour': 'Modules / hour',
  'count.source.stats': 'Last 24 h, from the station records; per hour: this hour',
  'count.source.local': 'Since this page opened; per hour: passes in the last 60 min',

  'state.empty': 'Empty',
  'state.attached': 'Device present',
  'state.busy': 'Busy',
  'state.idle': 'Waiting',
  'state.identifying': 'Identifying',
  'state.interlock': 'Checking with MES',
  'state.queued': 'Waiting for a free download place',
  'state.switching': 'Switching to download',
  'state.waiting_download': 'Waiting for download port',
  'state.flashing': 'Flashing',
  'state.rebooting': 'Restarting',
  'state.verifying': 'Verifying',
  'state.retry_wait': 'Retry soon',
  'state.pass': 'PASS',
  'state.fail': 'FAIL',
  'state.removed_fail': 'FAILED — removed',
  'state.paused': 'Paused',

  'tile.slot': 'Slot {label}',
  'tile.phase': 'Phase',
  'tile.speed': 'Speed',
  'tile.eta': 'Time left',
  'tile.imei': 'IMEI',
  'tile.model': 'Model',
  'tile.package': 'Package',
  'tile.try': 'Try {n}',
  'tile.stage': 'Failed at {stage}: {code}',
  'tile.instruction': 'What to do',
  'tile.paused_note': 'Paused: a new module will wait',

  'stage.identify': 'identify',
  'stage.guard': 'firmware check',
  'stage.switch': 'switch',
  'stage.flash': 'flash',
  'stage.verify': 'verify',

  'sup.token': 'Access token',
  'sup.token_hint': 'Needed to pause, resume or abort (operator token or higher). Kept for this browser tab only.',
  'sup.token_save': 'Use token',
  'sup.token_clear': 'Forget',
  'sup.token_set': 'A token is set.',
  'sup.token_none': 'No token set.',
  'sup.control': 'Slot control',
  'sup.col.slot': 'Slot',
  'sup.col.state': 'State',
  'sup.col.imei': 'IMEI',
  'sup.col.actions': 'Actions',
  'sup.pause': 'Pause',
  'sup.resume': 'Resume',
  'sup.abort': 'Abort',
  'sup.abort_confirm': 'Abort the attempt on slot {label}? The module must be flashed again.',
  'sup.done': '{action} {label}: {result}',
  'sup.stats': 'Yield and throughput (last 24 h)',
  'sup.first_pass_yield': 'First-pass yield',
  'sup.final_yield': 'Final yield',
  'sup.units': 'Modules',
  'sup.attempts': 'Attempts',
  'sup.throughput': 'Passes per hour',
  'sup.fail_by_code': 'Failures by code',
  'sup.fail_by_slot': 'Failures by slot',
  'sup.none': 'None',
  'sup.search': 'Records',
  'sup.search_imei': 'IMEI',
  'sup.search_go': 'Search',
  'sup.search_none': 'No attempt with IMEI {imei}.',
  'sup.csv': 'Export CSV',
  'sup.from': 'Ended from',
  'sup.to': 'Ended before',
  'sup.found': '{n} attempt(s), oldest first',
  'sup.found_none': 'No attempt matches.',
  'sup.next': 'Next page',
  'sup.col.id': 'Attempt',
  'sup.col.started': 'Started',
  'sup.col.result': 'Result',
  'sup.col.failure': 'Failure',
  'sup.col.revision': 'Revision after',
  'sup.verdict': 'Verdict: {verdict} after {n} attempt(s)',
  'sup.context': 'Job context',
  'sup.work_order': 'Work order',
  'sup.lot': 'Lot',
  'sup.operator': 'Operator',
  'sup.context_save': 'Save',
  'sup.unavailable': 'Not available on this station ({what} is not served).',
  'sup.packages': 'Packages and recipes',
  'sup.error': 'Error: {message}',
  'sup.refresh': 'Refresh',

  'pkg.recipes': 'Recipes (what modules get)',
  'pkg.upload': 'Upload a package',
  'pkg.catalogue': 'Packages on this station',
  'pkg.no_recipes': 'No recipe: no module will be flashed until one is activated.',
  'pkg.no_packages': 'No package yet.',
  'pkg.col.name': 'Recipe',
  'pkg.col.firmware': 'Firmware',
  'pkg.col.fits': 'Fits',
  'pkg.col.version': 'Version',
  'pkg.col.platform': 'Platform',
  'pkg.col.state': 'State',
  'pkg.col.actions': 'Actions',
  'pkg.col.file': 'File',
  'pkg.col.size': 'Size',
  'pkg.col.uploaded': 'Uploaded',
  'pkg.col.recipes': 'Used by',
  'pkg.state.loading': 'loading',
  'pkg.state.ready': 'ready',
  'pkg.state.failed': 'failed',
  'pkg.in_config': 'config file',
  'pkg.remove': 'Remove',
  'pkg.file': 'Package file',
  'pkg.upload_go': 'Upload and inspect',
  'pkg.pick_file': 'Choose a package file first.',
  'pkg.uploading': 'Uploading {name} ({size})…',
  'pkg.uploaded': '{name} uploaded: check what the station found before activating it.',
  'pkg.known': '{name}: the station already has this package.',
  'pkg.inspect_title': 'What the station found in the package',
  'pkg.f.name': 'File',
  'pkg.f.firmware': 'Firmware',
  'pkg.f.fits': 'Fits modules',
  'pkg.f.version': 'Version',
  'pkg.f.platform': 'Platform',
  'pkg.f.flash_file': 'Flashes',
  'pkg.f.size': 'Size',
  'pkg.f.sha256': 'SHA-256',
  'pkg.f.uploaded': 'Uploaded',
  'pkg.f.recipes': 'Used by recipes',
  'pkg.activate_hint': 'Activating makes modules of this sub-model get this firmware from their next attempt; running attempts keep theirs.',
  'pkg.recipe_name': 'Recipe name',
  'pkg.recipe_options': 'Driver options (optional)',
  'pkg.activate': 'Activate',
  'pkg.name_needed': 'Give the recipe a name.',
  'pkg.replace_confirm': 'Recipe {name} exists. Replace its package with {firmware}?',
  'pkg.activated': 'Recipe {name} now flashes {firmware}.',
  'pkg.remove_confirm': 'Remove recipe {name}? Modules it fits will be refused until another recipe fits them.',
  'pkg.removed': 'Recipe {name} removed.',
  'pkg.inspect': 'Inspect',
  'pkg.delete': 'Delete',
  'pkg.delete_used': 'In use by a recipe or a running attempt',
  'pkg.delete_confirm': 'Delete package {name} from the station?',
  'pkg.deleted': 'Package {name} deleted.',

  'result.pass': 'pass',
  'result.fail': 'fail',
  'result.aborted': 'aborted',
  'result.running': 'running',
};

const zh = {
  title: 'flashrack',
  'nav.operator': '操作员',
  'nav.supervisor': '主管',
  'nav.language': '语言',
  'nav.skip': '跳到工位',
  'conn.live': '实时',
  'conn.connecting': '正在连接…',
  'conn.lost': '无法连接工位 — 正在重新连接…',
  'conn.auth': '工位需要访问令牌：请在“主管”页面中设置',

  'count.pass': '通过',
  'count.fail': '失败',
  'count.yield': '良率',
  'count.per_hour': '每小时模块数',
  'count.source.stats': '最近 24 小时（工位记录）；每小时：本小时',
  'count.source.local': '自本页面打开以来；每小时：最近 60 分钟的通过数',

  'state.empty': '空',
  'state.attached': '有设备',
  'state.busy': '忙',
  'state.idle': '等待',
  'state.identifying': '识别中',
  'state.interlock': '正在向 MES 核对',
  'state.queued': '排队等待下载',
  'state.switching': '切换到下载模式',
  'state.waiting_download': '等待下载端口',
  'state.flashing': '烧录中',
  'state.rebooting': '重启中',
  'state.verifying': '校验中',
  'state.retry_wait': '即将重试',
  'state.pass': '通过',
  'state.fail': '失败',
  'state.removed_fail': '失败 — 已拔出',
  'state.paused': '已暂停',

  'tile.slot': '槽位 {label}',
  'tile.phase': '阶段',
  'tile.speed': '速度',
  'tile.eta': '剩余时间',
  'tile.imei': 'IMEI',
  'tile.model': '型号',
  'tile.package': '固件包',
  'tile.try': '第 {n} 次',
  'tile.stage': '失败环节：{stage}（{code}）',
  'tile.instruction': '处理方法',
  'tile.paused_note': '已暂停：新插入的模块将等待',

  'stage.identify': '识别',
  'stage.guard': '固件匹配检查',
  'stage.switch': '切换',
  'stage.flash': '烧录',
  'stage.verify': '校验',

  'sup.token': '访问令牌',
  'sup.token_hint': '暂停、恢复或中止需要令牌（操作员及以上）。仅保存在当前浏览器标签页中。',
  'sup.token_save': '使用令牌',
  'sup.token_clear': '清除',
  'sup.token_set': '已设置令牌。',
  'sup.token_none': '未设置令牌。',
  'sup.control': '槽位控制',
  'sup.col.slot': '槽位',
  'sup.col.state': '状态',
  'sup.col.imei': 'IMEI',
  'sup.col.actions': '操作',
  'sup.pause': '暂停',
  'sup.resume': '恢复',
  'sup.abort': '中止',
  'sup.abort_confirm': '中止槽位 {label} 上的烧录？该模块需要重新烧录。',
  'sup.done': '{action} {label}：{result}',
  'sup.stats': '良率与产能（最近 24 小时）',
  'sup.first_pass_yield': '一次通过率',
  'sup.final_yield': '最终良率',
  'sup.units': '模块数',
  'sup.attempts': '尝试次数',
  'sup.throughput': '每小时通过数',
  'sup.fail_by_code': '按原因统计的失败',
  'sup.fail_by_slot': '按槽位统计的失败',
  'sup.none': '无',
  'sup.search': '记录查询',
  'sup.search_imei': 'IMEI',
  'sup.search_go': '查询',
  'sup.search_none': '没有 IMEI 为 {imei} 的记录。',
  'sup.csv': '导出 CSV',
  'sup.from': '结束时间起',
  'sup.to': '结束时间止',
  'sup.found': '{n} 条记录（按时间先后）',
  'sup.found_none': '没有符合条件的记录。',
  'sup.next': '下一页',
  'sup.col.id': '记录',
  'sup.col.started': '开始时间',
  'sup.col.result': '结果',
  'sup.col.failure': '失败原因',
  'sup.col.revision': '烧录后版本',
  'sup.verdict': '结论：{verdict}（共 {n} 次尝试）',
  'sup.context': '工单信息',
  'sup.work_order': '工单',
  'sup.lot': '批次',
  'sup.operator': '操作员',
  'sup.context_save': '保存',
  'sup.unavailable': '本工位不提供此功能（{what} 不可用）。',
  'sup.packages': '固件包与配方',
  'sup.error': '错误：{message}',
  'sup.refresh': '刷新',

  'pkg.recipes': '配方（模块将烧录的固件）',
  'pkg.upload': '上传固件包',
  'pkg.catalogue': '本工位的固件包',
  'pkg.no_recipes': '没有配方：激活配方之前不会烧录任何模块。',
  'pkg.no_packages': '还没有固件包。',
  'pkg.col.name': '配方',
  'pkg.col.firmware': '固件',
  'pkg.col.fits': '适用型号',
  'pkg.col.version': '版本',
  'pkg.col.platform': '平台',
  'pkg.col.state': '状态',
  'pkg.col.actions': '操作',
  'pkg.col.file': '文件',
  'pkg.col.size': '大小',
  'pkg.col.uploaded': '上传时间',
  'pkg.col.recipes': '使用的配方',
  'pkg.state.loading': '加载中',
  'pkg.state.ready': '就绪',
  'pkg.state.failed': '失败',
  'pkg.in_config': '配置文件',
  'pkg.remove': '移除',
  'pkg.file': '固件包文件',
  'pkg.upload_go': '上传并检查',
  'pkg.pick_file': '请先选择固件包文件。',
  'pkg.uploading': '正在上传 {name}（{size}）…',
  'pkg.uploaded': '{name} 已上传：激活前请核对工位的检查结果。',
  'pkg.known': '{name}：工位已有此固件包。',
  'pkg.inspect_title': '工位在固件包中找到的内容',
  'pkg.f.name': '文件',
  'pkg.f.firmware': '固件',
  'pkg.f.fits': '适用模块',
  'pkg.f.version': '版本',
  'pkg.f.platform': '平台',
  'pkg.f.flash_file': '烧录文件',
  'pkg.f.size': '大小',
  'pkg.f.sha256': 'SHA-256',
  'pkg.f.uploaded': '上传',
  'pkg.f.recipes': '使用的配方',
  'pkg.activate_hint': '激活后，该子型号的模块从下一次尝试起烧录此固件；正在进行的尝试不受影响。',
  'pkg.recipe_name': '配方名称',
  'pkg.recipe_options': '驱动选项（可选）',
  'pkg.activate': '激活',
  'pkg.name_needed': '请为配方命名。',
  'pkg.replace_confirm': '配方 {name} 已存在。要将其固件包替换为 {firmware} 吗？',
  'pkg.activated': '配方 {name} 现在烧录 {firmware}。',
  'pkg.remove_confirm': '移除配方 {name}？在有其他配方适用之前，它适用的模块将被拒绝。',
  'pkg.removed': '配方 {name} 已移除。',
  'pkg.inspect': '检查',
  'pkg.delete': '删除',
  'pkg.delete_used': '正被配方或进行中的尝试使用',
  'pkg.delete_confirm': '从工位删除固件包 {name}？',
  'pkg.deleted': '固件包 {name} 已删除。',

  'result.pass': '通过',
  'result.fail': '失败',
  'result.aborted': '已中止',
  'result.running': '进行中',

  // The station writes its instructions in English (flow.instruction). In Chinese the
  // dashboard shows these by failure code and stage, and the station's own words below.
  'instr.no_match.guard': '固件与该模块不匹配：请将模块放到一边，由主管加载适用的固件包。',
  'instr.timeout.identify': 'AT 端口无应答：请重新插拔；若仍无应答，换一个槽位，再不行则放到一边。',
  'instr.timeout.switch': '未进入下载模式：请重新插拔；若再次失败，插入时将 USB_BOOT 接地。',
  'instr.timeout.flash': '模块停止应答：请重新插拔以重试；若该槽位反复失败，请检查线缆和集线器。',
  'instr.timeout.verify': '未重启到正常模式：请重新插拔；若无法启动，放到一边返修。',
  'instr.disconnected': '模块已断开 USB：请检查是否插好，重新插拔以重试。',
  'instr.io': 'USB 错误：请重新插拔；若该槽位反复失败，请检查线缆和集线器。',
  'instr.protocol': '模块应答异常：请重新插拔；若再次出现，放到一边。',
  'instr.rejected.switch': '无法通过 AT 切换：请将 BOOT 引脚接地后重新插入。',
  'instr.rejected.flash': '模块拒绝该固件：请放到一边返修。',
  'instr.verify': '新固件校验未通过：请放到一边返修。',
  'instr.package': '固件包不可用：请通知主管。',
  'instr.aborted': '烧录在完成前被中止：请重新插拔以重新烧录。',
  'instr.mes_rejected': '请将该模块放到一边：MES 拒绝放行（未写入任何数据），原因见下方工位原文。',
  'instr.mes_unreachable': '无法连接 MES（未写入任何数据）：请重新插拔以再次核验，若持续出现请通知主管。',
};

export const LANGUAGES = { en: 'English', zh: '中文' };
const TABLES = { en, zh };
const STORAGE_KEY = 'flashrack.lang';

let current = 'en';

// "zh-CN", "zh-Hans-TW" -> "zh"; "en-GB" -> "en"; anything else -> null.
function supported(tag) {
  const base = String(tag || '').toLowerCase().split('-')[0];
  return Object.hasOwn(TABLES, base) ? base : null;
}

export function detectLanguage(stored, browserLanguages) {
  if (supported(stored)) return supported(stored);
  for (const tag of browserLanguages || []) {
    const lang = supported(tag);
    if (lang) return lang;
  }
  return 'en';
}

function readStored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the browser's choice still works
  }
}

export function initLanguage() {
  const langs = navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language];
  setLanguage(detectLanguage(readStored(), langs), false);
  return current;
}

export function setLanguage(lang, remember = true) {
  current = supported(lang) || 'en';
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, current);
    } catch {
      // not remembered; the switch still applies to this page
    }
  }
}

export function language() {
  return current;
}

// The instruction in the current language for a failure, or null when the station's own
// (English) text is all there is.
export function instruction(code, stage) {
  if (current === 'en') return null;
  const table = TABLES[current];
  return table[`instr.${code}.${stage}`] ?? table[`instr.${code}`] ?? null;
}

export function t(key, vars = {}) {
  const text = TABLES[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// Fills every element with data-i18n="key" (its text) or data-i18n-attr="attr:key" (an
// attribute), so the static parts of index.html switch language without a reload.
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  document.title = t('title');
}
