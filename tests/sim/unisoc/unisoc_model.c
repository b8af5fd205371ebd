/* Model "unisoc": a Unisoc download-mode module (UIS8910DM: EC200U/EC600U/EG915U, or
 * UIS8850: EC600G/EC800G), written from ../shared/protocols/unisoc.md only. This file holds
 * the model ops, options, the output path with the reply faults, the 8910 PDL stage and the
 * stats; unisoc_bsl.c has the BSL commands, unisoc_flash.c the memories. README.md in this
 * directory lists the options, the checks and the gap choices. */
#include "unisoc/unisoc_model.h"

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

static uint64_t stage_payload_max(const struct unisoc *u, enum unisoc_stage st)
{
    switch (st) {
    case UNISOC_ST_ROM:
        return 0x210; /* notes §2.4 */
    case UNISOC_ST_FDL1:
        return 0x840;
    case UNISOC_ST_FDL2:
        return u->cfg.fdl2_max;
    default:
        return 0x210;
    }
}

void unisoc_set_stage(struct unisoc *u, enum unisoc_stage st)
{
    u->stage = st;
    u->stage_had_frame = false;
    u->burst_answered = false;
    u->ram_loaded = false;
    unisoc_xfer_close(u);
    u->dec.crc = st == UNISOC_ST_ROM;
    u->dec.cap = (size_t)stage_payload_max(u, st) + 6;
    u->dec.flag_run = 0; /* the flag that closed the last frame is no check-baud */
}

void unisoc_xfer_close(struct unisoc *u)
{
    if (u->xfer.md)
        EVP_MD_CTX_free(u->xfer.md);
    memset(&u->xfer, 0, sizeof(u->xfer));
}

int unisoc_xfer_open(struct unisoc *u, enum unisoc_dest dest, uint32_t addr, uint64_t size)
{
    unisoc_xfer_close(u);
    u->xfer.md = EVP_MD_CTX_new();
    if (!u->xfer.md || EVP_DigestInit_ex(u->xfer.md, EVP_sha256(), NULL) != 1) {
        unisoc_xfer_close(u);
        return -ENOMEM;
    }
    u->xfer.open = true;
    u->xfer.dest = dest;
    u->xfer.addr = addr;
    u->xfer.size = size;
    return 0;
}

/* Starts a new output cycle when everything before was read: delays count from now. */
static void out_begin(struct unisoc *u, uint64_t now_ms)
{
    if (u->out_pos == u->out_len) {
        u->out_len = u->out_pos = 0;
        u->out_ready_ms = now_ms;
    }
}

static bool silenced(const struct unisoc *u)
{
    return u->cfg.silent_after && u->frames > u->cfg.silent_after;
}

/* Queues bytes that are already framed; applies the drop and silence faults. */
static void emit(struct unisoc *u, const uint8_t *wire, size_t n, uint64_t now_ms,
                 uint64_t delay_ms)
{
    u->replies++;
    if (silenced(u) || (u->cfg.drop_reply && u->replies == u->cfg.drop_reply))
        return;
    out_begin(u, now_ms);
    if (u->out_len + n > sizeof(u->out))
        return; /* cannot happen: one reply at a time, input waits while output is queued */
    memcpy(u->out + u->out_len, wire, n);
    u->out_len += n;
    if (now_ms + delay_ms > u->out_ready_ms)
        u->out_ready_ms = now_ms + delay_ms;
}

void unisoc_reply(struct unisoc *u, uint16_t type, const uint8_t *payload, size_t len,
                  uint64_t now_ms, uint64_t delay_ms)
{
    uint8_t wire[sizeof(u->out)];
    bool crc = u->stage == UNISOC_ST_ROM, esc = u->dec.escape;
    if (u->cfg.log_every && (u->bsl_replies + 1) % u->cfg.log_every == 0) {
        static const uint8_t text[] = "sim: log frame."; /* 16 bytes: even for the sum */
        size_t n =
            sim_unisoc_bsl_encode(UNISOC_REP_LOG, text, sizeof(text), crc, esc, wire, sizeof(wire));
        out_begin(u, now_ms);
        if (!silenced(u) && u->out_len + n <= sizeof(u->out)) {
            memcpy(u->out + u->out_len, wire, n);
            u->out_len += n;
        }
    }
    u->bsl_replies++;
    uint16_t xor = u->cfg.bad_check_at == u->bsl_replies ? 0x5AA5 : 0;
    size_t n = sim_unisoc_bsl_encode_ex(type, payload, len, crc, esc, xor, wire, sizeof(wire));
    if (n)
        emit(u, wire, n, now_ms, delay_ms);
}

void unisoc_nak(struct unisoc *u, uint16_t code, uint64_t now_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->last_error, sizeof(u->last_error), fmt, ap);
    va_end(ap);
    u->naks++;
    unisoc_reply(u, code, NULL, 0, now_ms, 0);
}

static void pdl_reply(struct unisoc *u, uint32_t status, uint64_t now_ms)
{
    /* 12 bytes: tag, data size 4, flow id (gap: 0xFF like the host's), reserved, status. */
    uint8_t w[12] = {UNISOC_PDL_TAG,
                     4,
                     0,
                     0,
                     0,
                     0xFF,
                     0,
                     0,
                     (uint8_t)status,
                     (uint8_t)(status >> 8),
                     (uint8_t)(status >> 16),
                     (uint8_t)(status >> 24)};
    emit(u, w, sizeof(w), now_ms, 0);
}

static void pdl_nak(struct unisoc *u, uint32_t status, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void pdl_nak(struct unisoc *u, uint32_t status, uint64_t now_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->last_error, sizeof(u->last_error), fmt, ap);
    va_end(ap);
    u->naks++;
    pdl_reply(u, status, now_ms);
}

bool unisoc_chunk_fault(struct unisoc *u, uint64_t now_ms, bool pdl)
{
    u->chunks++;
    if (u->cfg.unplug_at_chunk && u->chunks == u->cfg.unplug_at_chunk) {
        snprintf(u->last_error, sizeof(u->last_error), "fault: disconnect at chunk %" PRIu64,
                 u->chunks);
        u->stage = UNISOC_ST_GONE;
        u->action_unplug_now = true;
        u->out_len = u->out_pos = 0;
        return true;
    }
    if (u->cfg.nak_chunk && u->chunks == u->cfg.nak_chunk) {
        if (pdl)
            pdl_nak(u, 8 /* VERIFY_ERROR */, now_ms, "fault: NAK at chunk %" PRIu64, u->chunks);
        else
            unisoc_nak(u, (uint16_t)u->cfg.nak_code, now_ms, "fault: NAK at chunk %" PRIu64,
                       u->chunks);
        return true;
    }
    return false;
}

void unisoc_schedule_reset(struct unisoc *u, uint64_t now_ms)
{
    /* The module reboots a little after its ACK (hosts keep the port open ~1 s, notes §4.3). */
    u->stage = UNISOC_ST_RESET;
    /* reset_stay: the device stays on the bus, deaf, so its stats can still be read. */
    if (!u->cfg.reset_stay)
        u->action_at_ms = now_ms + u->cfg.reset_delay_ms;
}

/* ---- PDL (8910 BootROM), notes §4.1 and §6 ---- */

static void pdl_packet(struct unisoc *u, const uint8_t *b, size_t n, uint64_t now_ms)
{
    uint32_t cmd = le32(b), arg1 = le32(b + 4), arg2 = le32(b + 8);
    struct unisoc_xfer *x = &u->xfer;
    switch (cmd) {
    case UNISOC_PDL_CONNECT:
    case UNISOC_PDL_SET_BAUD:
        pdl_reply(u, UNISOC_PDL_ACK, now_ms);
        return;
    case UNISOC_PDL_START:
        if (n != 17 || memcmp(b + 12, "PDL1", 5) != 0) {
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL START without \"PDL1\\0\"");
            return;
        }
        if (arg1 < u->cfg.ram_base || arg1 - u->cfg.ram_base >= u->cfg.ram_size) {
            pdl_nak(u, UNISOC_PDL_INVALID_ADDR, now_ms, "PDL START at 0x%08x outside RAM", arg1);
            return;
        }
        if (arg2 == 0 || (uint64_t)arg1 - u->cfg.ram_base + arg2 > u->cfg.ram_size) {
            pdl_nak(u, UNISOC_PDL_SIZE_ERROR, now_ms, "PDL START size 0x%x", arg2);
            return;
        }
        /* Gap: a second START restarts the load (the ROM keeps no other state). */
        if (unisoc_xfer_open(u, UNISOC_DEST_RAM, arg1, arg2) < 0) {
            pdl_nak(u, 12 /* NO_MEMORY */, now_ms, "no memory");
            return;
        }
        u->ram_loaded = false;
        pdl_reply(u, UNISOC_PDL_ACK, now_ms);
        return;
    case UNISOC_PDL_MID:
        if (!x->open) {
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL MID_DATA without START");
            return;
        }
        if (arg1 != x->next_index) {
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL MID_DATA index %u, expected %u", arg1,
                    x->next_index);
            return;
        }
        if (arg2 != n - 12 || arg2 == 0) {
            pdl_nak(u, UNISOC_PDL_SIZE_ERROR, now_ms, "PDL MID_DATA length %u with %zu data bytes",
                    arg2, n - 12);
            return;
        }
        if (unisoc_chunk_fault(u, now_ms, true))
            return;
        if (x->got + arg2 > x->size) {
            pdl_nak(u, UNISOC_PDL_SIZE_ERROR, now_ms, "PDL data past the announced 0x%llx bytes",
                    (unsigned long long)x->size);
            return;
        }
        EVP_DigestUpdate(x->md, b + 12, arg2);
        x->got += arg2;
        x->next_index++;
        pdl_reply(u, UNISOC_PDL_ACK, now_ms);
        return;
    case UNISOC_PDL_END:
        if (!x->open) {
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL END_DATA without START");
            return;
        }
        if (n != 16 || x->got != x->size) {
            pdl_nak(u, UNISOC_PDL_SIZE_ERROR, now_ms, "PDL END_DATA after 0x%llx of 0x%llx bytes",
                    (unsigned long long)x->got, (unsigned long long)x->size);
            return;
        }
        /* The 4 END bytes are not verified (notes §4.1: meaning unknown). */
        EVP_DigestFinal_ex(x->md, u->fdl_sha[0], NULL);
        u->have_fdl[0] = true;
        unisoc_xfer_close(u);
        u->ram_loaded = true;
        pdl_reply(u, UNISOC_PDL_ACK, now_ms);
        return;
    case UNISOC_PDL_EXEC:
        if (!u->ram_loaded || x->open) {
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL EXEC without a complete download");
            return;
        }
        u->dec.in_frame = false;
        unisoc_set_stage(u, UNISOC_ST_FDL1); /* no reply: FDL1 now speaks BSL with the sum */
        return;
    case UNISOC_PDL_RESET:
        pdl_reply(u, UNISOC_PDL_ACK, now_ms);
        unisoc_schedule_reset(u, now_ms);
        return;
    default:
        if (cmd > UNISOC_PDL_MAX_CMD)
            pdl_nak(u, UNISOC_PDL_UNKNOWN_CMD, now_ms, "PDL command %u unknown", cmd);
        else
            pdl_nak(u, UNISOC_PDL_INVALID_CMD, now_ms, "PDL command %u not served by the ROM", cmd);
        return;
    }
}

static void pdl_byte(struct unisoc *u, uint8_t b, uint64_t now_ms)
{
    if (u->pdl_hdr_n < UNISOC_PDL_HDR) {
        if (u->pdl_hdr_n == 0 && b != UNISOC_PDL_TAG) {
            u->pdl_garbage++; /* hunting for the tag; 0x7E from a BSL host ends up here */
            return;
        }
        u->pdl_hdr[u->pdl_hdr_n++] = b;
        if (u->pdl_hdr_n < UNISOC_PDL_HDR)
            return;
        u->pdl_need = le32(u->pdl_hdr + 1);
        u->pdl_body_n = 0;
        if (u->pdl_need < 12 || u->pdl_need > UNISOC_PDL_MAX_BODY) {
            u->frames++;
            u->bad_frames++;
            pdl_nak(u, UNISOC_PDL_SIZE_ERROR, now_ms, "PDL data size %zu", u->pdl_need);
            u->pdl_hdr_n = 0;
        }
        return;
    }
    u->pdl_body[u->pdl_body_n++] = b;
    if (u->pdl_body_n < u->pdl_need)
        return;
    u->pdl_hdr_n = 0;
    u->frames++;
    pdl_packet(u, u->pdl_body, u->pdl_body_n, now_ms);
}

/* ---- BSL receive path and check-baud ---- */

static bool verable(const struct unisoc *u)
{
    /* Gap choice: a check-baud burst gets a VER until the stage has seen a valid frame (the
     * notes say "until the first VER"; this also answers a host that retries because a VER
     * was lost). One VER per burst. */
    return (u->stage == UNISOC_ST_ROM || u->stage == UNISOC_ST_FDL1 ||
            u->stage == UNISOC_ST_FDL2) &&
           !u->stage_had_frame && !u->burst_answered;
}

static void send_ver(struct unisoc *u, uint64_t now_ms)
{
    char ver[48] = {0};
    const char *chip = u->cfg.chip8850 ? "UIS8850" : "UIS8910DM";
    if (u->stage == UNISOC_ST_ROM)
        snprintf(ver, sizeof(ver), "%s", u->cfg.rom_ver);
    else
        snprintf(ver, sizeof(ver), "%s %s", chip, u->stage == UNISOC_ST_FDL1 ? "FDL1" : "FDL2");
    size_t len = strlen(ver) + 1;
    if (len & 1 && u->stage != UNISOC_ST_ROM)
        len++; /* even payloads only in sum mode (notes §2.3), so pad with a second NUL */
    u->burst_answered = true;
    unisoc_reply(u, UNISOC_REP_VER, (const uint8_t *)ver, len, now_ms, 0);
}

static void bsl_byte(struct unisoc *u, uint8_t b, uint64_t now_ms)
{
    if (b == 0x7E)
        u->last_flag_ms = now_ms;
    else
        u->burst_answered = false;
    enum sim_unisoc_dec_ev ev = sim_unisoc_dec_byte(&u->dec, b);
    switch (ev) {
    case SIM_UNISOC_DEC_NONE:
        return;
    case SIM_UNISOC_DEC_FLAG_RUN:
        if (verable(u))
            send_ver(u, now_ms);
        return;
    case SIM_UNISOC_DEC_BAD:
        u->frames++;
        u->bad_frames++;
        unisoc_nak(u, UNISOC_REP_VERIFY_ERROR, now_ms, "%s", u->dec.bad_why);
        return;
    case SIM_UNISOC_DEC_FRAME:
        u->frames++;
        u->stage_had_frame = true;
        unisoc_bsl_frame(u, u->dec.type, u->dec.payload, u->dec.len, now_ms);
        return;
    }
}

/* A lone 0x7E followed by silence is a check-baud too (sprdflash sends one every 50 ms). */
static uint64_t lone_flag_due(const struct unisoc *u)
{
    if (!u->dec.in_frame || u->dec.n != 0 || u->dec.flag_run != 1 || !verable(u) ||
        u->out_pos != u->out_len)
        return SIM_NEVER;
    return u->last_flag_ms + u->cfg.checkbaud_idle_ms;
}

static void poll_time(struct unisoc *u, uint64_t now_ms)
{
    if (lone_flag_due(u) <= now_ms)
        send_ver(u, now_ms);
}

static bool dead(const struct unisoc *u)
{
    return u->stage == UNISOC_ST_GONE || u->stage == UNISOC_ST_RESET;
}

static size_t unisoc_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                        uint64_t now_ms)
{
    (void)chan;
    struct unisoc *u = (struct unisoc *)m;
    size_t i = 0;
    poll_time(u, now_ms);
    /* One command at a time: while a reply waits (or is delayed by a slow flash), no input.
     * Except more flags after a check-baud burst got its VER: a host that repeats its
     * check-baud because the VER came late writes them while the VER waits, and a real
     * port takes them (they belong to the burst, answered once). Refusing them would leave
     * the host's write hanging until it gives up (seen under load in tests/bench/soak.sh). */
    for (; i < len && !dead(u) && u->out_pos != u->out_len && u->stage != UNISOC_ST_PDL &&
           u->burst_answered && data[i] == 0x7E;
         i++)
        u->last_flag_ms = now_ms;
    for (; i < len && !dead(u) && u->out_pos == u->out_len; i++) {
        if (u->stage == UNISOC_ST_PDL)
            pdl_byte(u, data[i], now_ms);
        else
            bsl_byte(u, data[i], now_ms);
    }
    if (dead(u))
        i = len; /* a module that is rebooting or gone loses what it is sent */
    u->rx_bytes += i;
    return i;
}

static size_t unisoc_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap,
                        uint64_t now_ms)
{
    (void)chan;
    struct unisoc *u = (struct unisoc *)m;
    poll_time(u, now_ms);
    if (u->out_pos == u->out_len || now_ms < u->out_ready_ms || u->stage == UNISOC_ST_GONE)
        return 0;
    size_t n = u->out_len - u->out_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, u->out + u->out_pos, n);
    u->out_pos += n;
    u->tx_bytes += n;
    return n;
}

static uint64_t unisoc_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    const struct unisoc *u = (const struct unisoc *)m;
    /* Past times wait for the host (a reply ready but not read: a host that gave up, an
     * aborted flash), not for time: no event (sim.h). */
    uint64_t due = lone_flag_due(u);
    if (due <= now_ms)
        due = SIM_NEVER;
    if (u->out_pos != u->out_len && u->out_ready_ms > now_ms && u->out_ready_ms < due)
        due = u->out_ready_ms;
    if (!u->action_done && u->action_at_ms < due)
        due = u->action_at_ms;
    if (u->action_unplug_now && !u->action_done)
        due = now_ms;
    return due;
}

static int unisoc_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    struct unisoc *u = (struct unisoc *)m;
    if (u->action_done)
        return 0;
    if (u->action_unplug_now) {
        u->action_done = true;
        snprintf(buf, cap, "unplug");
        return 1;
    }
    /* The module reboots reset_delay_ms after queuing its ACK, read or not: a host that
     * closes the port early does not keep it in download mode. */
    if (u->action_at_ms == SIM_NEVER || now_ms < u->action_at_ms)
        return 0;
    u->action_done = true;
    u->stage = UNISOC_ST_GONE;
    if (u->cfg.reset_replug[0]) {
        snprintf(buf, cap, "replug %s", u->cfg.reset_replug);
        sim_unit_replug_args(buf, cap, u->cfg.unit, &u->fwrev);
    } else
        snprintf(buf, cap, "unplug");
    return 1;
}

static void unisoc_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                        uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    ((struct unisoc *)m)->line = *line;
}

static void unisoc_destroy(struct sim_model *m)
{
    struct unisoc *u = (struct unisoc *)m;
    if (!u)
        return;
    unisoc_xfer_close(u);
    sim_unisoc_flash_free(&u->flash);
    free(u->dec.buf);
    free(u->pdl_body);
    free(u->nv_scratch);
    free(u);
}

static int unisoc_create(struct sim_opts *opts, struct sim_model **ret_model, char *err,
                         size_t err_len)
{
    struct unisoc *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    int r = sim_unisoc_parse_opts(opts, &u->cfg, err, err_len);
    if (r == 0)
        r = sim_unisoc_flash_setup(u, opts, err, err_len);
    if (r == 0) {
        u->dec.buf = malloc(UNISOC_BSL_BUF);
        u->pdl_body = malloc(UNISOC_PDL_MAX_BODY);
        u->nv_scratch = malloc(u->flash.nv_cap);
        if (!u->dec.buf || !u->pdl_body || !u->nv_scratch) {
            snprintf(err, err_len, "out of memory");
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        unisoc_destroy(&u->base);
        return r;
    }
    u->dec.escape = true;
    u->action_at_ms = SIM_NEVER;
    unisoc_set_stage(u, u->cfg.chip8850 ? UNISOC_ST_ROM : UNISOC_ST_PDL);
    *ret_model = &u->base;
    return 0;
}

const struct sim_model_ops sim_unisoc_ops = {
    .name = "unisoc",
    .summary = "Unisoc download mode (UIS8910DM PDL+BSL, UIS8850 BSL), flash + NV model",
    .max_chans = 1,
    .create = unisoc_create,
    .destroy = unisoc_destroy,
    .rx = unisoc_rx,
    .tx = unisoc_tx,
    .line = unisoc_line,
    .next_event_ms = unisoc_next_event_ms,
    .stats = sim_unisoc_stats,
    .take_action = unisoc_take_action,
};
