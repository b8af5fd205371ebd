/* Model "at_module": a Quectel cellular module in normal (AT) mode, as the host sees it on
 * the AT tty: identity queries, echo, URCs, and AT+QDOWNLOAD=1 rebooting into the
 * platform's download device (a "replug PROFILE" action).
 *
 * Written from public material, never from protocols/:
 *  - Quectel AT command manuals (EC2x/EC200T series, public copies): ATI answers
 *    "Quectel", the model, "Revision: <rev>"; AT+GMR/AT+CGMR the revision; AT+CGMM/AT+GMM the
 *    model; AT+GSN/AT+CGSN the IMEI; AT+QCCID "+QCCID: <iccid>"; verbose result codes
 *    "\r\n<text>\r\n" and "\r\nOK\r\n"; "+CME ERROR: 10" (SIM not inserted) with AT+CMEE=1,
 *    the default; echo on at power-up, ATE0/ATE1; commands end with <CR>.
 *  - Public module logs (forums.quectel.com, pastebin): "Revision: EC200UCNAAR02A09M08",
 *    AT+QGMR "EM060KGLAAR01A11M2G_01.201.01.201" (revision plus a sub-version).
 *  - QuecPython docs (seeds 000, 003): AT+QDOWNLOAD=1 reboots ASR and Unisoc modules into
 *    download mode, Eigencomm modules only via the boot pin; ordering codes such as
 *    EC800MCNGA, revisions such as EC600UCNLBR03A01M08, EC800KCNCCR07A01M02; which series
 *    belong to which platform (ASR: EC100Y/EC600S/EC600N/EC800N/EC600M/EC800M/EG810M/EC600K/
 *    EC800K/EG800K/EG800P; Unisoc: EC200U/EC600U/EC600G/EC800G; Eigencomm: EC600E/EC800E).
 *  - Linux drivers/usb/serial/option.c: 2c7c:0901 EC200U, 0x6001 EG912Y/ASR, 0x6002
 *    EC200S-CN, 0x6005 EC200A, 0x6026 EC200T, all matched on vendor-class interfaces.
 *  - EC200A (ASR1803, WTPTP download 2ecc:3002): AT+QDOWNLOAD=1 replugs it as "asr1803-dl".
 *    That is an ASSUMPTION: protocols/at/README.md lists the EC200A's AT switch as "not
 *    established" (asr.md §1.1: QDloader reboots it with AT+CFUN=1,1, not QDOWNLOAD); the
 *    model switches so the daemon's attempt can be tested end to end. download=none makes
 *    a module that ignores it. Its release R01A05M16 only looks like a real one.
 *
 * Channels: at_chan (default 1, the AT interface of the quectel-at profile) answers; the
 * others (DIAG, modem) take bytes and stay silent.
 *
 * Options (key=value): series=EC600N (not "model": the rack takes that one), submodel=CNLA,
 * revision= (default series+submodel+a per-series release: R03A14M08 for EC200U, R03A01M08
 * for EC600U, R07A01M02 for EC800K are from the sources, the others only look alike), qgmr=
 * (default revision+"_01.001.01.001"), imei= (15 digits, Luhn check digit unless imei_check=0),
 * iccid= (18..22 digits) or sim=absent, echo=1|0 at power-up, boot_urcs=1|0, boot_delay_ms=,
 * reply_delay_ms=, urc_every=N (a URC between the echo and the reply of every Nth command),
 * urc_text= (no commas: options are comma separated), garbage=N (noise bytes before the boot URCs),
 * download=PROFILE|none (default from the series' platform: asr-dl, unisoc-dl, asr1803-dl for
 * EC200A, else none),
 * download_opts=K:V/K:V (options for the download model after AT+QDOWNLOAD=1: fault knobs),
 * unit=SERIES.SUBMODEL.IMEI.ICCID (the module back from download mode, see sim.h: wins over
 * series/submodel/imei/iccid/sim; the AT+QDOWNLOAD=1 replug passes it on),
 * download_delay_ms=, at_chan=, cmee=0|1|2, and leave_after_ms= / replug= (a spontaneous
 * reset, as in "silent", so plug lines written for that model keep working).
 *
 * The module answers one command at a time: while a reply waits (reply_delay_ms) it takes
 * no input, which the rack turns into bytes left in the pty. Before the boot URCs it drops
 * input, as a port whose firmware is not up yet. The line buffer is bounded: a longer line
 * is thrown away and answered with ERROR.
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_LINE_MAX  256
#define AT_REPLY_MAX 512
#define AT_OUT_MAX   4096
#define AT_CHANS     3

struct at_module {
    struct sim_model base;
    /* identity */
    char series[16], submodel[8], revision[64], qgmr[96], imei[16], iccid[24];
    bool sim_present;
    char download[64], replug[64], urc_text[64];
    char unit_imei[16], unit_iccid[24]; /* from unit= (a module back from download mode) */
    char download_opts[128];            /* extra options of the download profile, "k=v k=v" */
    unsigned at_chan;
    /* behaviour */
    bool echo, boot_urcs;
    uint64_t boot_delay_ms, reply_delay_ms, urc_every, garbage, download_delay_ms;
    uint64_t leave_after_ms;
    unsigned cmee;
    /* state */
    bool started, booted, leaving;
    uint64_t boot_at_ms;
    char line[AT_LINE_MAX];
    size_t line_len;
    bool overflow;
    uint8_t out[AT_OUT_MAX];
    size_t out_len;
    char pending[AT_REPLY_MAX];
    size_t pending_len;
    bool have_pending;
    uint64_t pending_at_ms;
    uint64_t action_at_ms;
    char action[SIM_ACTION_MAX];
    bool action_taken;
    uint32_t noise;
    /* stats */
    uint64_t commands, errors, ignored_lines, dropped_bytes, other_chan_bytes, urcs;
    char last_command[AT_LINE_MAX];
    bool qdownload;
};

static const struct {
    const char *series;
    const char *release; /* revision suffix after series+submodel */
    const char *download;
} series_table[] = {
    {"EC600N", "R01A08M16", "asr-dl"},     {"EC800N", "R01A08M16", "asr-dl"},
    {"EC600M", "R06A01M08", "asr-dl"},     {"EC800M", "R06A01M08", "asr-dl"},
    {"EC600S", "R01A08M16", "asr-dl"},     {"EC100Y", "R02A08M16", "asr-dl"},
    {"EC600K", "R07A01M02", "asr-dl"},     {"EC800K", "R07A01M02", "asr-dl"},
    {"EG800K", "R07A01M02", "asr-dl"},     {"EG810M", "R06A01M08", "asr-dl"},
    {"EC200U", "R03A14M08", "unisoc-dl"},  {"EC600U", "R03A01M08", "unisoc-dl"},
    {"EC600G", "R03A01M08", "unisoc-dl"},  {"EC800G", "R03A01M08", "unisoc-dl"},
    {"EC600E", "R01A01M04", NULL},         {"EC800E", "R01A01M04", NULL},
    {"EC200A", "R01A05M16", "asr1803-dl"}, /* the switch is an assumption: see the top */
};

/* Luhn check digit over the first n digits (IMEI: n = 14). */
static int luhn_digit(const char *digits, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(digits[n - 1 - i] - '0');
        if (i % 2 == 0) { /* doubled: the digit right of it will be the check digit */
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (int)((10 - sum % 10) % 10);
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool word_ok(const char *s, size_t max, bool upper_alnum)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (upper_alnum ? !(isupper(c) || isdigit(c)) : !isgraph(c))
            return false;
    }
    return true;
}

/* ---- output ---- */

static void out_put(struct at_module *a, const void *data, size_t n)
{
    /* Callers keep AT_REPLY_MAX free before producing output, so this never cuts. */
    if (n > AT_OUT_MAX - a->out_len)
        n = AT_OUT_MAX - a->out_len;
    memcpy(a->out + a->out_len, data, n);
    a->out_len += n;
}

static void out_urc(struct at_module *a, const char *text)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "\r\n%s\r\n", text);
    out_put(a, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    a->urcs++;
}

static void reply_add(struct at_module *a, const char *fmt, const char *arg)
{
    char text[160];
    snprintf(text, sizeof(text), fmt, arg);
    size_t room = sizeof(a->pending) - a->pending_len;
    int n = snprintf(a->pending + a->pending_len, room, "\r\n%s\r\n", text);
    a->pending_len += n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

static void reply_error(struct at_module *a, unsigned cme, const char *verbose)
{
    char code[16];
    a->errors++;
    snprintf(code, sizeof(code), "%u", cme);
    if (cme == 0 || a->cmee == 0)
        reply_add(a, "%s", "ERROR");
    else
        reply_add(a, "+CME ERROR: %s", a->cmee == 1 ? code : verbose);
}

/* Moves what is due into the output: noise and boot URCs, a delayed reply. */
static void advance(struct at_module *a, uint64_t now_ms)
{
    if (a->started && !a->booted && now_ms >= a->boot_at_ms) {
        a->booted = true;
        for (uint64_t i = 0; i < a->garbage && a->out_len < AT_OUT_MAX - AT_REPLY_MAX; i++) {
            a->noise ^= a->noise << 13;
            a->noise ^= a->noise >> 17;
            a->noise ^= a->noise << 5;
            out_put(a, &(uint8_t){(uint8_t)a->noise}, 1);
        }
        if (a->boot_urcs) {
            out_urc(a, "RDY");
            out_urc(a, "+CFUN: 1");
            out_urc(a, a->sim_present ? "+CPIN: READY" : "+CPIN: NOT INSERTED");
            if (a->sim_present) {
                out_urc(a, "+QUSIM: 1");
                out_urc(a, "+QIND: SMS DONE");
                out_urc(a, "+QIND: PB DONE");
            }
        }
    }
    if (a->have_pending && now_ms >= a->pending_at_ms &&
        a->pending_len <= AT_OUT_MAX - a->out_len) {
        out_put(a, a->pending, a->pending_len);
        a->pending_len = 0;
        a->have_pending = false;
    }
}

/* ---- commands ---- */

static void handle_command(struct at_module *a, const char *cmd, uint64_t now_ms)
{
    a->have_pending = true;
    a->pending_len = 0;
    a->pending_at_ms = now_ms + a->reply_delay_ms;

    if (!strcmp(cmd, "AT") || !strcmp(cmd, "ATV1")) {
        /* plain OK */
    } else if (!strncmp(cmd, "AT+CMEE=", 8)) {
        if (cmd[8] < '0' || cmd[8] > '2' || cmd[9]) {
            reply_error(a, 0, NULL);
            return;
        }
        a->cmee = (unsigned)(cmd[8] - '0');
    } else if (!strcmp(cmd, "ATE0") || !strcmp(cmd, "ATE") || !strcmp(cmd, "ATE1")) {
        a->echo = !strcmp(cmd, "ATE1");
    } else if (!strcmp(cmd, "ATI")) {
        /* One information block: no blank lines between its lines. */
        snprintf(a->pending, sizeof(a->pending), "\r\nQuectel\r\n%s\r\nRevision: %s\r\n", a->series,
                 a->revision);
        a->pending_len = strlen(a->pending);
    } else if (!strcmp(cmd, "AT+GMI") || !strcmp(cmd, "AT+CGMI")) {
        reply_add(a, "%s", "Quectel");
    } else if (!strcmp(cmd, "AT+GMM") || !strcmp(cmd, "AT+CGMM")) {
        reply_add(a, "%s", a->series);
    } else if (!strcmp(cmd, "AT+GMR") || !strcmp(cmd, "AT+CGMR")) {
        reply_add(a, "%s", a->revision);
    } else if (!strcmp(cmd, "AT+QGMR")) {
        reply_add(a, "%s", a->qgmr);
    } else if (!strcmp(cmd, "AT+GSN") || !strcmp(cmd, "AT+CGSN")) {
        reply_add(a, "%s", a->imei);
    } else if (!strcmp(cmd, "AT+QCCID") || !strcmp(cmd, "AT+CCID")) {
        if (!a->sim_present) {
            reply_error(a, 10, "SIM not inserted");
            return;
        }
        reply_add(a, cmd[3] == 'Q' ? "+QCCID: %s" : "+CCID: %s", a->iccid);
    } else if (!strcmp(cmd, "AT+CPIN?")) {
        if (!a->sim_present) {
            reply_error(a, 10, "SIM not inserted");
            return;
        }
        reply_add(a, "%s", "+CPIN: READY");
    } else if (!strcmp(cmd, "AT+QDOWNLOAD=1")) {
        if (!a->download[0]) { /* a platform that cannot be switched over AT */
            reply_error(a, 0, NULL);
            return;
        }
        a->qdownload = true;
        a->leaving = true;
        if (!a->action_taken) {
            a->action_at_ms = a->pending_at_ms + a->download_delay_ms;
            char unit[SIM_UNIT_MAX];
            snprintf(unit, sizeof(unit), "%s.%s.%s.%s", a->series, a->submodel, a->imei,
                     a->sim_present ? a->iccid : "-");
            snprintf(a->action, sizeof(a->action), "replug %s", a->download);
            sim_unit_replug_args(a->action, sizeof(a->action), unit, NULL);
            size_t n = strlen(a->action);
            if (a->download_opts[0] && n < sizeof(a->action))
                snprintf(a->action + n, sizeof(a->action) - n, " %s", a->download_opts);
        }
    } else {
        reply_error(a, 0, NULL);
        return;
    }
    reply_add(a, "%s", "OK");
}

static void handle_line(struct at_module *a, uint64_t now_ms)
{
    char cmd[AT_LINE_MAX];
    if (a->overflow) {
        a->commands++;
        snprintf(a->last_command, sizeof(a->last_command), "(overlong)");
        handle_command(a, "", now_ms); /* matches nothing: ERROR */
        return;
    }
    if (a->line_len == 0)
        return;
    if (a->line_len < 2 || toupper((unsigned char)a->line[0]) != 'A' ||
        toupper((unsigned char)a->line[1]) != 'T') {
        a->ignored_lines++; /* not a command: modems wait for the "AT" prefix */
        return;
    }
    for (size_t i = 0; i < a->line_len; i++) {
        unsigned char c = (unsigned char)a->line[i];
        cmd[i] = (char)toupper(c);
        a->last_command[i] = isgraph(c) ? (char)c : '.';
    }
    cmd[a->line_len] = '\0';
    a->last_command[a->line_len] = '\0';
    a->commands++;
    if (a->urc_every && a->commands % a->urc_every == 0)
        out_urc(a, a->urc_text);
    handle_command(a, cmd, now_ms);
}

static size_t at_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                    uint64_t now_ms)
{
    struct at_module *a = (struct at_module *)m;
    if (chan != a->at_chan) {
        a->other_chan_bytes += len;
        return len;
    }
    advance(a, now_ms);
    if (!a->booted || a->leaving) {
        a->dropped_bytes += len; /* firmware not listening (booting, rebooting) */
        return len;
    }
    size_t used = 0;
    while (used < len) {
        /* One command at a time, and room for its echo and reply. */
        if (a->leaving) { /* AT+QDOWNLOAD=1 was the last command it reads */
            a->dropped_bytes += len - used;
            used = len;
            break;
        }
        if (a->have_pending || AT_OUT_MAX - a->out_len < AT_REPLY_MAX + 2)
            break;
        uint8_t b = data[used++];
        if (a->echo)
            out_put(a, &b, 1);
        if (b == '\r') {
            handle_line(a, now_ms);
            a->line_len = 0;
            a->overflow = false;
            advance(a, now_ms);
        } else if (b == '\n') {
            continue; /* the LF of a CR LF pair from hosts that send both */
        } else if (a->line_len < AT_LINE_MAX - 1) {
            a->line[a->line_len++] = (char)b;
        } else {
            a->overflow = true;
        }
    }
    return used;
}

static size_t at_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap, uint64_t now_ms)
{
    struct at_module *a = (struct at_module *)m;
    if (chan != a->at_chan)
        return 0;
    advance(a, now_ms);
    size_t n = a->out_len < cap ? a->out_len : cap;
    memcpy(buf, a->out, n);
    memmove(a->out, a->out + n, a->out_len - n);
    a->out_len -= n;
    return n;
}

static void at_start(struct sim_model *m, uint64_t now_ms)
{
    struct at_module *a = (struct at_module *)m;
    a->started = true;
    a->boot_at_ms = now_ms + a->boot_delay_ms;
    if (a->leave_after_ms != SIM_NEVER && !a->action[0]) {
        a->action_at_ms = now_ms + a->leave_after_ms;
        if (a->replug[0])
            snprintf(a->action, sizeof(a->action), "replug %s", a->replug);
        else
            snprintf(a->action, sizeof(a->action), "unplug");
    }
}

static uint64_t at_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    const struct at_module *a = (const struct at_module *)m;
    uint64_t due = SIM_NEVER;
    /* Past times only wait for the host to read (tx); they are no timer event. */
    if (a->started && !a->booted && a->boot_at_ms > now_ms)
        due = a->boot_at_ms;
    if (a->have_pending && a->pending_at_ms > now_ms && a->pending_at_ms < due)
        due = a->pending_at_ms;
    if (a->action[0] && !a->action_taken && a->action_at_ms < due)
        due = a->action_at_ms;
    return due;
}

static int at_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    struct at_module *a = (struct at_module *)m;
    if (!a->action[0] || a->action_taken || now_ms < a->action_at_ms)
        return 0;
    a->action_taken = true;
    a->leaving = true;
    snprintf(buf, cap, "%s", a->action);
    return 1;
}

static int at_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct at_module *a = (const struct at_module *)m;
    size_t pos = 0;
    int r = 0;
    r = r ? r : sim_stats_add(buf, cap, &pos, "commands", "%" PRIu64, a->commands);
    r = r ? r
          : sim_stats_add(buf, cap, &pos, "last_command", "%s",
                          a->last_command[0] ? a->last_command : "none");
    r = r ? r : sim_stats_add(buf, cap, &pos, "errors", "%" PRIu64, a->errors);
    r = r ? r : sim_stats_add(buf, cap, &pos, "qdownload", "%d", a->qdownload);
    r = r ? r : sim_stats_add(buf, cap, &pos, "echo", "%d", a->echo);
    r = r ? r : sim_stats_add(buf, cap, &pos, "booted", "%d", a->booted);
    r = r ? r : sim_stats_add(buf, cap, &pos, "series", "%s", a->series);
    r = r ? r : sim_stats_add(buf, cap, &pos, "revision", "%s", a->revision);
    r = r ? r : sim_stats_add(buf, cap, &pos, "imei", "%s", a->imei);
    r = r ? r : sim_stats_add(buf, cap, &pos, "iccid", "%s", a->sim_present ? a->iccid : "absent");
    r = r ? r : sim_stats_add(buf, cap, &pos, "urcs", "%" PRIu64, a->urcs);
    r = r ? r : sim_stats_add(buf, cap, &pos, "ignored_lines", "%" PRIu64, a->ignored_lines);
    r = r ? r : sim_stats_add(buf, cap, &pos, "dropped_bytes", "%" PRIu64, a->dropped_bytes);
    r = r ? r : sim_stats_add(buf, cap, &pos, "other_chan_bytes", "%" PRIu64, a->other_chan_bytes);
    return r < 0 ? r : (int)pos;
}

/* ---- options ---- */

static int get_bool(struct sim_opts *opts, const char *key, bool def, bool *ret, char *err,
                    size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    *ret = def;
    if (v && strcmp(v, "1") && strcmp(v, "on") && strcmp(v, "0") && strcmp(v, "off")) {
        snprintf(err, err_len, "option %s=%s is not 1/0/on/off", key, v);
        return -EINVAL;
    }
    if (v)
        *ret = !strcmp(v, "1") || !strcmp(v, "on");
    return 0;
}

static int get_word(struct sim_opts *opts, const char *key, char *dst, size_t cap, bool upper,
                    char *err, size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    if (!v)
        return 0;
    if (!word_ok(v, cap, upper)) {
        snprintf(err, err_len, "option %s=%s: expected %s, at most %zu characters", key, v,
                 upper ? "upper-case letters and digits" : "printable characters without spaces",
                 cap - 1);
        return -EINVAL;
    }
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int parse_identity(struct at_module *a, struct sim_opts *opts, char *err, size_t err_len)
{
    snprintf(a->series, sizeof(a->series), "EC600N");
    snprintf(a->submodel, sizeof(a->submodel), "CNLA");
    int r = get_word(opts, "series", a->series, sizeof(a->series), true, err, err_len);
    r = r ? r : get_word(opts, "submodel", a->submodel, sizeof(a->submodel), true, err, err_len);
    if (r)
        return r;
    /* The same module back from download mode: its identity wins over profile defaults. */
    const char *unit = sim_opts_get(opts, "unit");
    if (unit) {
        r = sim_unit_check(unit, err, err_len);
        if (r)
            return r;
        char f[4][SIM_UNIT_MAX];
        if (sscanf(unit, "%95[^.].%95[^.].%95[^.].%95s", f[0], f[1], f[2], f[3]) != 4 ||
            strlen(f[0]) >= sizeof(a->series) || strlen(f[1]) >= sizeof(a->submodel) ||
            !all_digits(f[2], 15, 15) || (strcmp(f[3], "-") && !all_digits(f[3], 18, 22))) {
            snprintf(err, err_len, "unit=%s: bad series, sub-model, IMEI or ICCID", unit);
            return -EINVAL;
        }
        snprintf(a->series, sizeof(a->series), "%s", f[0]);
        snprintf(a->submodel, sizeof(a->submodel), "%s", f[1]);
        snprintf(a->unit_imei, sizeof(a->unit_imei), "%.15s", f[2]);
        snprintf(a->unit_iccid, sizeof(a->unit_iccid), "%.23s", f[3]);
    }
    const char *release = "R01A01M08", *download = NULL;
    for (size_t i = 0; i < sizeof(series_table) / sizeof(series_table[0]); i++) {
        if (!strcmp(series_table[i].series, a->series)) {
            release = series_table[i].release;
            download = series_table[i].download;
        }
    }
    snprintf(a->revision, sizeof(a->revision), "%s%s%s", a->series, a->submodel, release);
    r = get_word(opts, "revision", a->revision, sizeof(a->revision), false, err, err_len);
    snprintf(a->qgmr, sizeof(a->qgmr), "%s_01.001.01.001", a->revision);
    r = r ? r : get_word(opts, "qgmr", a->qgmr, sizeof(a->qgmr), false, err, err_len);
    snprintf(a->download, sizeof(a->download), "%s", download ? download : "");
    r = r ? r : get_word(opts, "download", a->download, sizeof(a->download), false, err, err_len);
    if (r)
        return r;
    if (!strcmp(a->download, "none"))
        a->download[0] = '\0';

    bool imei_check;
    r = get_bool(opts, "imei_check", true, &imei_check, err, err_len);
    if (r)
        return r;
    const char *imei = sim_opts_get(opts, "imei");
    if (a->unit_imei[0])
        imei = a->unit_imei; /* checked like an imei= option */
    if (imei) {
        if (!all_digits(imei, 15, 15)) {
            snprintf(err, err_len, "imei=%s: an IMEI is 15 digits", imei);
            return -EINVAL;
        }
        if (imei_check && luhn_digit(imei, 14) != imei[14] - '0') {
            snprintf(err, err_len, "imei=%s: bad check digit, expected %d (imei_check=0 allows it)",
                     imei, luhn_digit(imei, 14));
            return -EINVAL;
        }
        snprintf(a->imei, sizeof(a->imei), "%s", imei);
    } else {
        /* a made-up TAC and serial, with a valid check digit */
        snprintf(a->imei, sizeof(a->imei), "86612305000001%d", luhn_digit("86612305000001", 14));
    }

    const char *sim = sim_opts_get(opts, "sim");
    const char *iccid = sim_opts_get(opts, "iccid");
    if (a->unit_iccid[0]) {
        sim = strcmp(a->unit_iccid, "-") ? "present" : "absent";
        iccid = strcmp(a->unit_iccid, "-") ? a->unit_iccid : NULL;
    }
    if (sim && strcmp(sim, "present") && strcmp(sim, "absent")) {
        snprintf(err, err_len, "option sim=%s is not present/absent", sim);
        return -EINVAL;
    }
    a->sim_present = !sim || !strcmp(sim, "present");
    if (!a->sim_present && iccid) {
        snprintf(err, err_len, "iccid= makes no sense with sim=absent");
        return -EINVAL;
    }
    if (iccid && !all_digits(iccid, 18, 22)) {
        snprintf(err, err_len, "iccid=%s: an ICCID is 18 to 22 digits", iccid);
        return -EINVAL;
    }
    snprintf(a->iccid, sizeof(a->iccid), "%s", iccid ? iccid : "89860012345678901234");
    return 0;
}

static int at_create(struct sim_opts *opts, struct sim_model **ret_model, char *err, size_t err_len)
{
    struct at_module *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    uint64_t chan = 1, cmee = 1;
    a->noise = 0x9E3779B9u;
    a->leave_after_ms = SIM_NEVER;
    snprintf(a->urc_text, sizeof(a->urc_text), "+QIND: PB DONE");
    int r = parse_identity(a, opts, err, err_len);
    r = r ? r : get_bool(opts, "echo", true, &a->echo, err, err_len);
    r = r ? r : get_bool(opts, "boot_urcs", true, &a->boot_urcs, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "boot_delay_ms", 50, &a->boot_delay_ms, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "reply_delay_ms", 0, &a->reply_delay_ms, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "urc_every", 0, &a->urc_every, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "garbage", 0, &a->garbage, err, err_len);
    r = r ? r
          : sim_opts_get_u64(opts, "download_delay_ms", 200, &a->download_delay_ms, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "at_chan", 1, &chan, err, err_len);
    r = r ? r : sim_opts_get_u64(opts, "cmee", 1, &cmee, err, err_len);
    r = r ? r
          : sim_opts_get_u64(opts, "leave_after_ms", SIM_NEVER, &a->leave_after_ms, err, err_len);
    r = r ? r : get_word(opts, "replug", a->replug, sizeof(a->replug), false, err, err_len);
    /* download_opts=k:v/k:v → " k=v k=v" on the replug: fault knobs of the download model. */
    const char *dl = sim_opts_get(opts, "download_opts");
    if (r == 0 && dl) {
        size_t n = 0;
        for (const char *p = dl; *p && r == 0; p++) {
            char c = *p == ':' ? '=' : *p == '/' ? ' ' : *p;
            if (!isalnum((unsigned char)*p) && !strchr(":/_-.", *p)) {
                snprintf(err, err_len, "download_opts=%s: only k:v pairs joined by '/'", dl);
                r = -EINVAL;
            } else if (n + 2 >= sizeof(a->download_opts)) {
                snprintf(err, err_len, "download_opts=%s is too long", dl);
                r = -EINVAL;
            } else {
                a->download_opts[n++] = c;
            }
        }
        a->download_opts[n] = '\0';
    }
    const char *urc = sim_opts_get(opts, "urc_text");
    if (r == 0 && urc) {
        if (!*urc || strlen(urc) >= sizeof(a->urc_text) || strpbrk(urc, "\r\n")) {
            snprintf(err, err_len, "urc_text=%s: 1 to %zu characters, no line breaks", urc,
                     sizeof(a->urc_text) - 1);
            r = -EINVAL;
        } else {
            snprintf(a->urc_text, sizeof(a->urc_text), "%s", urc);
        }
    }
    if (r == 0 && chan >= AT_CHANS) {
        snprintf(err, err_len, "at_chan=%" PRIu64 ": the model serves channels 0..%d", chan,
                 AT_CHANS - 1);
        r = -EINVAL;
    }
    if (r == 0 && cmee > 2) {
        snprintf(err, err_len, "cmee=%" PRIu64 ": 0, 1 or 2", cmee);
        r = -EINVAL;
    }
    if (r == 0 && a->garbage > AT_OUT_MAX - 2 * AT_REPLY_MAX) {
        snprintf(err, err_len, "garbage=%" PRIu64 ": at most %d bytes", a->garbage,
                 AT_OUT_MAX - 2 * AT_REPLY_MAX);
        r = -EINVAL;
    }
    if (r == 0 && a->replug[0] && a->leave_after_ms == SIM_NEVER) {
        snprintf(err, err_len, "replug= needs leave_after_ms=");
        r = -EINVAL;
    }
    if (r < 0) {
        free(a);
        return r;
    }
    a->at_chan = (unsigned)chan;
    a->cmee = (unsigned)cmee;
    *ret_model = &a->base;
    return 0;
}

static void at_destroy(struct sim_model *m)
{
    free(m);
}

const struct sim_model_ops sim_at_module_ops = {
    .name = "at_module",
    .summary = "Quectel module in AT mode: ATI/GMR/QGMR/CGSN/QCCID, echo, URCs, AT+QDOWNLOAD=1",
    .max_chans = AT_CHANS,
    .create = at_create,
    .destroy = at_destroy,
    .start = at_start,
    .rx = at_rx,
    .tx = at_tx,
    .next_event_ms = at_next_event_ms,
    .stats = at_stats,
    .take_action = at_take_action,
};
