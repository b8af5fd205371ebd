/* Model "asr": an ASR160x (Crane) module in aboot download mode, written from
 * ../shared/protocols/asr.md only. This file holds the model ops: the SMUX link (probe, HELLO,
 * MTU, heartbeats), the output queue with the reply faults, the session end and the
 * disconnect fault. asr_cmd.c serves the aboot commands, asr_flash.c the memories, asr_opts.c
 * options and stats. README.md in this directory lists the behaviour and the gap choices. */
#include "asr/asr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void asr_set_phase(struct asr *a, enum asr_phase p)
{
    if (p > a->phase)
        a->phase = p;
}

/* ---- output queue: one SMUX frame per tx call ---- */

static struct asr_frame *q_at(struct asr *a, size_t i)
{
    return &a->q[(a->q_head + i) % ASR_OUTQ];
}

static bool q_busy(const struct asr *a, uint64_t now_ms)
{
    /* A reply that is not due yet means a command is still running (call, slow flash). */
    if (a->q_count == 0)
        return false;
    const struct asr_frame *last = &a->q[(a->q_head + a->q_count - 1) % ASR_OUTQ];
    return last->ready_ms > now_ms || a->q_count >= ASR_OUTQ_MAX;
}

static void q_push(struct asr *a, unsigned type, const uint8_t *p, size_t n, uint64_t ready_ms)
{
    if (a->q_count == ASR_OUTQ)
        return; /* cannot happen: rx stalls at ASR_OUTQ_MAX, a command adds at most 8 */
    struct asr_frame *f = q_at(a, a->q_count);
    f->len = (uint16_t)sim_asr_encode(type, p, n, f->wire, sizeof(f->wire));
    if (!f->len)
        return;
    /* Frames leave in order: a later frame is never due before an earlier one. */
    if (a->q_count) {
        uint64_t prev = q_at(a, a->q_count - 1)->ready_ms;
        if (ready_ms < prev)
            ready_ms = prev;
    }
    f->ready_ms = ready_ms;
    a->q_count++;
}

static void push_text(struct asr *a, const char *text, uint64_t ready_ms)
{
    size_t n = strlen(text);
    if (n > ASR_CMD_MAX)
        n = ASR_CMD_MAX; /* responses are at most 128 bytes (§2.3) */
    q_push(a, ASR_T_CMD, (const uint8_t *)text, n, ready_ms);
}

void asr_send_final(struct asr *a, uint64_t now_ms, uint64_t delay_ms, const char *fmt, ...)
{
    char text[ASR_CMD_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    a->finals++;
    if (strncmp(text, "FAIL", 4) == 0)
        a->fails++;
    /* Fault: a status that is none of OKAY/FAIL/DATA/INFO. */
    if (a->cfg.bad_reply_at && a->finals == a->cfg.bad_reply_at && text[0] >= 'A' && text[0] <= 'Z')
        text[0] = (char)(text[0] - 'A' + 'a');
    push_text(a, text, now_ms + delay_ms);
}

void asr_send_info(struct asr *a, uint64_t now_ms, uint64_t delay_ms, const char *text)
{
    char line[ASR_CMD_MAX + 1];
    snprintf(line, sizeof(line), "INFO%s", text);
    a->infos++;
    push_text(a, line, now_ms + delay_ms);
}

void asr_fail(struct asr *a, uint64_t now_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
    va_end(ap);
    asr_send_final(a, now_ms, 0, "FAIL%s", a->last_error);
}

/* ---- SMUX link ---- */

static void send_uabt(struct asr *a, uint64_t now_ms)
{
    q_push(a, ASR_T_STDIO, (const uint8_t *)"UABT", 4, now_ms);
}

static void on_probe(struct asr *a, uint64_t now_ms)
{
    a->probes++;
    if (a->hung)
        return;
    if (a->link == ASR_LINK_WAIT)
        a->link = ASR_LINK_INIT;
    asr_set_phase(a, ASR_PH_INIT);
    send_uabt(a, now_ms);
}

static void on_hello(struct asr *a, const uint8_t *p, size_t n, uint64_t now_ms)
{
    uint16_t host_mtu = n == 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0;
    if (n != 2 || host_mtu == 0) {
        a->bad_hellos++; /* no reply: the host times out (§2.2) */
        snprintf(a->last_error, sizeof(a->last_error), "HELLO with %zu payload bytes", n);
        return;
    }
    if (a->hung)
        return;
    a->hellos++;
    size_t mtu = host_mtu < a->cfg.mtu ? host_mtu : (size_t)a->cfg.mtu;
    uint8_t r[3] = {(uint8_t)(mtu >> 8), (uint8_t)mtu, 0};
    q_push(a, ASR_T_HELLO_REPLY, r, a->cfg.bad_hello ? 3 : 2, now_ms);
    a->mtu = mtu;
    a->dec.mtu = mtu;
    if (a->link != ASR_LINK_RUNNING) {
        a->link = ASR_LINK_RUNNING;
        a->hb_next_ms = now_ms + a->cfg.heartbeat_ms;
    }
    asr_set_phase(a, ASR_PH_ROM);
}

static bool is_probe_text(const uint8_t *p, size_t n)
{
    return n == 4 && (memcmp(p, "UUUU", 4) == 0 || memcmp(p, "UABT", 4) == 0);
}

static void on_frame(struct asr *a, unsigned type, const uint8_t *p, size_t n, uint64_t now_ms)
{
    a->frames_in++;
    if (type == ASR_T_STDIO && is_probe_text(p, n)) {
        on_probe(a, now_ms);
        return;
    }
    if (a->link == ASR_LINK_WAIT) {
        a->ignored_frames++; /* nothing but a probe wakes the ROM up */
        return;
    }
    switch (type) {
    case ASR_T_HELLO:
        on_hello(a, p, n, now_ms);
        return;
    case ASR_T_HEART_BEAT:
        a->host_heartbeats++;
        return;
    case ASR_T_CMD:
    case ASR_T_DATA:
        if (a->link != ASR_LINK_RUNNING) {
            a->ignored_frames++;
            return;
        }
        if (type == ASR_T_DATA) {
            asr_data(a, p, n, now_ms);
        } else {
            if (n == 0) {
                a->ignored_frames++; /* an empty command is a poll on ETHOS; nothing here */
                return;
            }
            if (a->silenced)
                return; /* a stuck command handler does not even parse */
            if (memchr(p, 0, n) || n > ASR_CMD_MAX) {
                a->commands++;
                a->dl_open = false; /* like any command, it ends an unfinished download */
                asr_fail(a, now_ms, "command of %zu bytes is not 1..128 characters", n);
                return;
            }
            char cmd[ASR_CMD_MAX + 1];
            memcpy(cmd, p, n);
            cmd[n] = '\0';
            asr_command(a, cmd, now_ms);
        }
        return;
    default:
        a->ignored_frames++; /* STDIO log text, HELLO_REPLY from a confused host */
        return;
    }
}

/* ---- session end and faults ---- */

static bool gone(const struct asr *a)
{
    return a->link == ASR_LINK_GONE;
}

static void poll_time(struct asr *a, uint64_t now_ms)
{
    if (!gone(a) && a->leave_at_ms <= now_ms) {
        a->link = ASR_LINK_GONE;
        a->q_count = a->q_pos = 0;
    }
}

static size_t asr_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                     uint64_t now_ms)
{
    (void)chan;
    struct asr *a = (struct asr *)m;
    poll_time(a, now_ms);
    size_t i = 0;
    for (; i < len && !gone(a) && !q_busy(a, now_ms); i++) {
        enum sim_asr_dec_ev ev = sim_asr_dec_byte(&a->dec, data[i]);
        if (ev == SIM_ASR_DEC_PROBE) {
            on_probe(a, now_ms);
        } else if (ev == SIM_ASR_DEC_LOST) {
            a->frames_in++;
            a->lost_frames++; /* the official receiver logs "lost frame" and drops it */
            snprintf(a->last_error, sizeof(a->last_error), "frame over the MTU of %zu dropped",
                     a->dec.mtu);
        } else if (ev == SIM_ASR_DEC_FRAME) {
            on_frame(a, a->dec.ftype, a->dec.buf, a->dec.flen, now_ms);
        }
    }
    if (gone(a))
        i = len; /* a module that has left loses what it is sent */
    a->rx_bytes += i;
    return i;
}

static bool heartbeat_due(const struct asr *a, uint64_t now_ms)
{
    return a->link == ASR_LINK_RUNNING && a->cfg.heartbeat_ms && !a->hung &&
           a->hb_next_ms <= now_ms;
}

static size_t asr_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap, uint64_t now_ms)
{
    (void)chan;
    struct asr *a = (struct asr *)m;
    poll_time(a, now_ms);
    if (gone(a))
        return 0;
    if (a->q_count && q_at(a, 0)->ready_ms <= now_ms) {
        struct asr_frame *f = q_at(a, 0);
        size_t n = f->len - a->q_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, f->wire + a->q_pos, n);
        a->q_pos += n;
        if (a->q_pos == f->len) {
            a->q_head = (a->q_head + 1) % ASR_OUTQ;
            a->q_count--;
            a->q_pos = 0;
            a->frames_out++;
        }
        a->tx_bytes += n;
        return n;
    }
    /* Heartbeats go between frames only, also while a slow command runs (§2.1). */
    if (a->q_pos == 0 && heartbeat_due(a, now_ms)) {
        uint8_t w[8];
        size_t n = sim_asr_encode(ASR_T_HEART_BEAT, (const uint8_t *)"H", 1, w, sizeof(w));
        if (n > cap)
            return 0;
        memcpy(buf, w, n);
        a->hb_next_ms = now_ms + a->cfg.heartbeat_ms;
        a->heartbeats++;
        a->frames_out++;
        a->tx_bytes += n;
        return n;
    }
    return 0;
}

static uint64_t asr_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    const struct asr *a = (const struct asr *)m;
    if (a->unplug_now && !a->action_done)
        return now_ms;
    if (gone(a)) /* a reboot whose action is still to be taken is due at once */
        return a->action_done || a->cfg.reset_stay || a->leave_at_ms == SIM_NEVER ? SIM_NEVER
                                                                                  : now_ms;
    uint64_t due = a->leave_at_ms;
    if (a->q_count) {
        uint64_t r = a->q[a->q_head].ready_ms;
        if (r > now_ms && r < due)
            due = r;
    }
    /* A heartbeat goes out when the host reads: once due, it waits for the host, not for
     * time, and must not hide the reboot (leave_at_ms) behind a time already past. */
    if (a->link == ASR_LINK_RUNNING && a->cfg.heartbeat_ms && !a->hung && a->hb_next_ms > now_ms &&
        a->hb_next_ms < due)
        due = a->hb_next_ms;
    return due;
}

static int asr_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    struct asr *a = (struct asr *)m;
    if (a->action_done)
        return 0;
    if (a->unplug_now) {
        a->action_done = true;
        a->link = ASR_LINK_GONE;
        snprintf(buf, cap, "unplug");
        return 1;
    }
    poll_time(a, now_ms);
    if (!gone(a) || a->leave_at_ms == SIM_NEVER || a->cfg.reset_stay)
        return 0;
    /* The reboot: the module comes back in normal mode (§4.10), if a profile was named. */
    a->action_done = true;
    if (a->cfg.reset_replug[0]) {
        snprintf(buf, cap, "replug %s", a->cfg.reset_replug);
        sim_unit_replug_args(buf, cap, a->cfg.unit, &a->flash.fwrev);
    } else {
        snprintf(buf, cap, "unplug");
    }
    return 1;
}

static void asr_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                     uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    ((struct asr *)m)->dtr = line->dtr; /* recorded only: the ROM does not need DTR */
}

static void asr_destroy(struct sim_model *m)
{
    struct asr *a = (struct asr *)m;
    if (!a)
        return;
    sim_asr_flash_free(&a->flash);
    free(a->dl);
    free(a);
}

static int asr_create(struct sim_opts *opts, struct sim_model **ret_model, char *err,
                      size_t err_len)
{
    struct asr *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    int r = sim_asr_parse_opts(opts, &a->cfg, err, err_len);
    if (r == 0) {
        r = sim_asr_flash_init(&a->flash, (uint32_t)a->cfg.flash_size, (uint32_t)a->cfg.jedec);
        a->dl_cap = a->cfg.rom_max > a->cfg.flasher_max ? a->cfg.rom_max : a->cfg.flasher_max;
        a->dl = r == 0 ? malloc(a->dl_cap) : NULL;
        if (r == 0 && !a->dl)
            r = -ENOMEM;
        if (r < 0)
            snprintf(err, err_len, "out of memory for the flash model");
    }
    if (r < 0) {
        asr_destroy(&a->base);
        return r;
    }
    /* The official receiver's default MTU until HELLO agrees on one (§2.1). */
    a->mtu = 1024;
    sim_asr_dec_init(&a->dec, a->mtu);
    a->leave_at_ms = SIM_NEVER;
    *ret_model = &a->base;
    return 0;
}

const struct sim_model_ops sim_asr_ops = {
    .name = "asr",
    .summary = "ASR160x Crane aboot download (SMUX, ROM -> preboot -> flasher), flash model",
    .max_chans = 1,
    .create = asr_create,
    .destroy = asr_destroy,
    .rx = asr_rx,
    .tx = asr_tx,
    .line = asr_line,
    .next_event_ms = asr_next_event_ms,
    .stats = sim_asr_stats,
    .take_action = asr_take_action,
};
