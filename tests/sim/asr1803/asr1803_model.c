/* Model "asr1803": an EC200A (ASR1803 "Nezha3") in WTPTP download mode, written from
 * ../shared/protocols/asr.md §3 only. This file holds the model ops: the byte receiver (preamble,
 * command headers, bodies, fast-mode raw data), the output path with the reply faults, time
 * (programming, DKB boot, reboot) and the actions. asr1803_cmd.c has the commands, asr1803_opts.c
 * the options and stats. README.md lists the behaviour and the gap choices. */
#include "asr1803/asr1803_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t wtptp_session_bytes(const struct wtptp *w)
{
    return w->cfg.byte_base + w->data_bytes;
}

bool wtptp_programming(const struct wtptp *w, uint64_t now_ms)
{
    return w->program_until_ms != SIM_NEVER && now_ms < w->program_until_ms;
}

/* Packets after the silent_after-th, and everything from the silent_image DATAHEADER on, are
 * swallowed: the device hangs. */
static bool hung(const struct wtptp *w)
{
    return w->silenced_image || (w->cfg.silent_after && w->packets > w->cfg.silent_after);
}

static bool dead(const struct wtptp *w)
{
    return w->stage == WTPTP_ST_GONE || w->stage == WTPTP_ST_REBOOTING ||
           w->stage == WTPTP_ST_DKB_BOOT;
}

void wtptp_push_msg(struct wtptp *w, uint8_t type, uint32_t code)
{
    if (w->n_msgs == WTPTP_MSG_QUEUE) /* a host that never reads messages: drop the oldest */
        memmove(w->msgs, w->msgs + 1, (WTPTP_MSG_QUEUE - 1) * sizeof(w->msgs[0])), w->n_msgs--;
    w->msgs[w->n_msgs].type = type;
    w->msgs[w->n_msgs].code = code;
    w->n_msgs++;
}

/* Queues one reply (the caller guarantees the output is empty: one command at a time). */
static void emit(struct wtptp *w, const uint8_t *p, size_t n, uint64_t now_ms)
{
    w->replies++;
    if (n > sizeof(w->out))
        return;
    memcpy(w->out, p, n);
    w->out_len = n;
    w->out_pos = 0;
    w->out_ready_ms = now_ms;
    if (w->cfg.bad_reply && w->replies == w->cfg.bad_reply) {
        snprintf(w->last_error, sizeof(w->last_error), "fault: reply %" PRIu64 " corrupted",
                 w->replies);
        if (n < WTPTP_STATUS_LEN || w->cfg.bad_kind == BAD_STATUS)
            w->out[n > 3 ? 3 : n - 1] = 0x55; /* a STATUS the protocol does not define */
        else if (w->cfg.bad_kind == BAD_CMD)
            w->out[0] ^= 0xFF;
        else
            w->out[5] = (uint8_t)(w->out[5] + 4); /* DLEN promises more than the transfer */
    }
}

void wtptp_reply(struct wtptp *w, uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t status,
                 uint8_t extra_flags, const uint8_t *data, size_t dlen, uint64_t now_ms)
{
    uint8_t buf[sizeof(w->out)];
    uint8_t flags = extra_flags;
    if (w->n_msgs)
        flags |= WTPTP_FLAG_MSG | WTPTP_FLAG_MSG_CODE;
    size_t n = sim_wtptp_status_encode(cmd, seq, cid, status, flags, data, dlen, buf, sizeof(buf));
    if (n)
        emit(w, buf, n, now_ms);
}

void wtptp_nack(struct wtptp *w, const uint8_t *hdr, uint8_t code, uint64_t now_ms, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->last_error, sizeof(w->last_error), fmt, ap);
    va_end(ap);
    w->naks++;
    w->last_nack_code = code;
    /* Gap choice: the error code travels as a type-1 error report the host may fetch. */
    wtptp_push_msg(w, WTPTP_MSG_ERROR, code);
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_NACK, 0, NULL, 0, now_ms);
}

void wtptp_image_close(struct wtptp *w)
{
    if (w->md)
        EVP_MD_CTX_free(w->md);
    w->md = NULL;
    w->selected = w->verified = w->open = w->fast_mode = false;
    w->size = w->got = w->window = 0;
    w->keep_n = 0;
}

void wtptp_unplug_now(struct wtptp *w, const char *why)
{
    snprintf(w->last_error, sizeof(w->last_error), "%s", why);
    w->stage = WTPTP_ST_GONE;
    w->action_unplug_now = true;
    w->out_len = w->out_pos = 0;
}

static void preamble(struct wtptp *w, uint64_t now_ms)
{
    w->packets++;
    if (memcmp(w->hdr, sim_wtptp_preamble, WTPTP_PREAMBLE_LEN) != 0) {
        w->bad_packets++;
        snprintf(w->last_error, sizeof(w->last_error),
                 "bad preamble %02x %02x %02x %02x (no reply)", w->hdr[0], w->hdr[1], w->hdr[2],
                 w->hdr[3]);
        return;
    }
    if (hung(w))
        return;
    w->preambles++;
    w->synced = true;
    w->seq = 0; /* notes §3.3: SEQ starts at 0 after each preamble */
    wtptp_image_close(w);
    static const uint8_t zero6[6];
    switch (w->cfg.preamble) {
    case PREAMBLE_4: /* notes §3.2 proposal: CMD 0, SEQ 0, CID 0, STATUS ACK */
        emit(w, zero6, 4, now_ms);
        break;
    case PREAMBLE_6:
        emit(w, zero6, 6, now_ms);
        break;
    case PREAMBLE_ECHO:
        emit(w, sim_wtptp_preamble, WTPTP_PREAMBLE_LEN, now_ms);
        break;
    }
}

/* A complete command header: checks that the packet can be framed at all. */
static bool header_ok(struct wtptp *w, uint64_t now_ms)
{
    uint32_t len = le32(w->hdr + 4);
    if (sim_wtptp_cmd_known(w->hdr[0]) && len <= WTPTP_MAX_LEN) {
        w->body_need = len;
        w->body_n = 0;
        return true;
    }
    w->packets++;
    w->bad_packets++;
    if (!hung(w))
        wtptp_nack(w, w->hdr, WTPTP_ERR_UNKNOWN_CMD, now_ms,
                   "unframeable packet: CMD 0x%02x LEN %" PRIu32, w->hdr[0], len);
    w->discard = true; /* resync: whatever followed in this burst belonged to it */
    return false;
}

static void dispatch(struct wtptp *w, uint64_t now_ms)
{
    w->packets++;
    w->hdr_n = 0;
    if (hung(w))
        return;
    if (!w->synced) {
        wtptp_nack(w, w->hdr, WTPTP_ERR_PREAMBLE, now_ms, "CMD 0x%02x before the preamble",
                   w->hdr[0]);
        return;
    }
    wtptp_command(w, w->hdr, w->body, w->body_n, now_ms);
}

static size_t wtptp_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                       uint64_t now_ms)
{
    (void)chan;
    struct wtptp *w = (struct wtptp *)m;
    size_t i = 0;
    wtptp_poll_time(w, now_ms);
    w->discard = false; /* a resync drops the rest of one burst, not the next */
    /* One command at a time: while a reply waits, no input (a NAKed bulk OUT). */
    while (i < len && !dead(w) && w->out_pos == w->out_len) {
        if (w->discard || hung(w)) {
            i = len;
            break;
        }
        if (w->open && w->fast_mode && w->got < w->size && w->hdr_n == 0) {
            size_t n = wtptp_fast_data(w, data + i, len - i, now_ms);
            i += n;
            if (!n)
                break;
            continue;
        }
        if (w->hdr_n < WTPTP_HDR_LEN) {
            w->hdr[w->hdr_n++] = data[i++];
            if (w->hdr[0] == WTPTP_CMD_PREAMBLE) {
                if (w->hdr_n == WTPTP_PREAMBLE_LEN) {
                    w->hdr_n = 0;
                    preamble(w, now_ms);
                }
            } else if (w->hdr_n == WTPTP_HDR_LEN) {
                if (!header_ok(w, now_ms))
                    w->hdr_n = 0;
                else if (w->body_need == 0)
                    dispatch(w, now_ms);
            }
            continue;
        }
        size_t n = w->body_need - w->body_n;
        if (n > len - i)
            n = len - i;
        memcpy(w->body + w->body_n, data + i, n);
        w->body_n += n;
        i += n;
        if (w->body_n == w->body_need)
            dispatch(w, now_ms);
    }
    if (dead(w) || w->discard || hung(w))
        i = len; /* a module that is rebooting, gone or hung loses what it is sent */
    w->rx_bytes += i;
    return i;
}

static size_t wtptp_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap,
                       uint64_t now_ms)
{
    (void)chan;
    struct wtptp *w = (struct wtptp *)m;
    wtptp_poll_time(w, now_ms);
    if (w->out_pos == w->out_len || now_ms < w->out_ready_ms || w->stage == WTPTP_ST_GONE)
        return 0;
    size_t n = w->out_len - w->out_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, w->out + w->out_pos, n);
    w->out_pos += n;
    w->tx_bytes += n;
    return n;
}

static uint64_t wtptp_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    const struct wtptp *w = (const struct wtptp *)m;
    uint64_t due = SIM_NEVER;
    if (w->out_pos != w->out_len && w->out_ready_ms > now_ms)
        due = w->out_ready_ms;
    if (w->program_until_ms < due)
        due = w->program_until_ms;
    if (!w->action_done && w->action_at_ms < due)
        due = w->action_at_ms;
    if (w->action_unplug_now && !w->action_done)
        due = now_ms;
    return due;
}

static int wtptp_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    struct wtptp *w = (struct wtptp *)m;
    wtptp_poll_time(w, now_ms);
    if (w->action_done)
        return 0;
    if (w->action_unplug_now) {
        w->action_done = true;
        snprintf(buf, cap, "unplug");
        return 1;
    }
    if (w->action_at_ms == SIM_NEVER || now_ms < w->action_at_ms)
        return 0;
    w->action_at_ms = SIM_NEVER;
    if (w->stage == WTPTP_ST_DKB_BOOT) {
        /* The DKB runs and enumerates again. In the rack a fresh model is made from the options
         * below; under a test runner this object carries on, so it becomes the DKB itself. */
        uint64_t images = w->cfg.image_base + w->images_started;
        snprintf(buf, cap, "replug %s stage=bl image_base=%" PRIu64 " byte_base=%" PRIu64 "%s%s",
                 w->cfg.dkb_replug, images, wtptp_session_bytes(w), w->cfg.carry[0] ? " " : "",
                 w->cfg.carry);
        wtptp_set_stage(w, WTPTP_ST_BL);
        return 1;
    }
    /* The final reboot: the module comes back in normal mode (or just leaves). */
    w->action_done = true;
    w->stage = WTPTP_ST_GONE;
    if (w->cfg.reset_replug[0]) {
        snprintf(buf, cap, "replug %s", w->cfg.reset_replug);
        sim_unit_replug_args(buf, cap, w->cfg.unit, &w->fwrev);
    } else
        snprintf(buf, cap, "unplug");
    return 1;
}

static void wtptp_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                       uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    ((struct wtptp *)m)->line = *line;
}

static void wtptp_destroy(struct sim_model *m)
{
    struct wtptp *w = (struct wtptp *)m;
    if (!w)
        return;
    wtptp_image_close(w);
    free(w->body);
    free(w->keep);
    free(w);
}

static int wtptp_create(struct sim_opts *opts, struct sim_model **ret_model, char *err,
                        size_t err_len)
{
    struct wtptp *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    int r = sim_wtptp_parse_opts(opts, &w->cfg, err, err_len);
    if (r == 0) {
        w->body = malloc(WTPTP_MAX_LEN);
        w->keep_cap = WTPTP_TIM_MAX > WTPTP_FBF_KEEP ? WTPTP_TIM_MAX : WTPTP_FBF_KEEP;
        w->keep = malloc(w->keep_cap);
        if (!w->body || !w->keep) {
            snprintf(err, err_len, "out of memory");
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        wtptp_destroy(&w->base);
        return r;
    }
    w->action_at_ms = SIM_NEVER;
    w->program_until_ms = SIM_NEVER;
    wtptp_set_stage(w, w->cfg.start_stage);
    *ret_model = &w->base;
    return 0;
}

const struct sim_model_ops sim_asr1803_ops = {
    .name = "asr1803",
    .summary = "EC200A (ASR1803) WTPTP download: boot ROM -> DKB -> FBF images, image store",
    .max_chans = 1,
    .create = wtptp_create,
    .destroy = wtptp_destroy,
    .rx = wtptp_rx,
    .tx = wtptp_tx,
    .line = wtptp_line,
    .next_event_ms = wtptp_next_event_ms,
    .stats = sim_wtptp_stats,
    .take_action = wtptp_take_action,
};
