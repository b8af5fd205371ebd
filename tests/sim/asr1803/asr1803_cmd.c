/* The WTPTP commands of the asr1803 model: boot ROM (TIMH + DKBI, then re-enumeration into the
 * DKB) and DKB/bootloader stage (FBF TIM + the FBF images it lists), with the checks of notes
 * §4 (WTPTP) and the per-image fault knobs. Framing and output are in asr1803_model.c. */
#include "asr1803/asr1803_model.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void wtptp_set_stage(struct wtptp *w, enum wtptp_stage st)
{
    w->stage = st;
    w->synced = false;
    w->seq = 0;
    w->hdr_n = 0;
    wtptp_image_close(w);
    w->n_msgs = 0;
    w->program_until_ms = SIM_NEVER;
    w->reboot_pending = false;
    w->next_want = 0;
    w->bl_list_known = false;
    /* Both stages start by asking for a TIM (notes §4.4); the ROM then wants the DKB, the BL
     * whatever the FBF TIM lists. */
    w->want[0] = WTPTP_ID_TIMH;
    w->want[1] = WTPTP_ID_DKBI;
    w->n_want = st == WTPTP_ST_ROM ? 2 : 1;
}

static void schedule_reboot(struct wtptp *w, uint64_t at_ms)
{
    w->stage = WTPTP_ST_REBOOTING;
    w->reboot_pending = false;
    /* reset_stay: the device stays on the bus, deaf, so its stats can still be read. */
    if (!w->cfg.reset_stay)
        w->action_at_ms = at_ms + w->cfg.reset_delay_ms;
}

static void finish_program(struct wtptp *w, uint64_t at_ms)
{
    w->program_until_ms = SIM_NEVER;
    wtptp_push_msg(w, WTPTP_MSG_BURNT, (uint32_t)w->program_bytes);
    if (w->program_last)
        wtptp_push_msg(w, WTPTP_MSG_FLASH_SIZE, (uint32_t)w->cfg.flash_size);
    wtptp_push_msg(w, WTPTP_MSG_NOTIFY, WTPTP_NOTE_READY);
    if (w->reboot_pending)
        schedule_reboot(w, at_ms);
}

void wtptp_poll_time(struct wtptp *w, uint64_t now_ms)
{
    if (w->program_until_ms != SIM_NEVER && now_ms >= w->program_until_ms)
        finish_program(w, w->program_until_ms);
}

/* The configured fault for this command of the current image, if any. */
static bool nack_fault(struct wtptp *w, const uint8_t *hdr, enum wtptp_nack_at at, uint64_t now_ms)
{
    if (!w->cfg.nack_image || w->cfg.nack_image != w->cur_ordinal || w->cfg.nack_at != at ||
        w->nack_fired)
        return false;
    w->nack_fired = true;
    char name[16];
    sim_wtptp_id_name(w->cur_id, name, sizeof(name));
    wtptp_nack(w, hdr, (uint8_t)w->cfg.nack_code, now_ms,
               "fault: NACK 0x%02x at image %" PRIu64 " (%s)", (unsigned)w->cfg.nack_code,
               w->cur_ordinal, name);
    return true;
}

/* DATAHEADER and DATA carry a pre-incremented SEQ (notes §3.3). */
static bool seq_ok(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    uint8_t expect = (uint8_t)(w->seq + 1);
    if (hdr[1] == expect)
        return true;
    w->seq_errors++;
    snprintf(w->last_error, sizeof(w->last_error), "CMD 0x%02x SEQ %u, expected %u", hdr[0], hdr[1],
             expect);
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_SEQ_ERROR, 0, NULL, 0, now_ms);
    return false;
}

static void absorb(struct wtptp *w, const uint8_t *p, size_t n)
{
    size_t limit = w->cur_id == WTPTP_ID_TIMH ? WTPTP_TIM_MAX : WTPTP_FBF_KEEP;
    if (w->keep_n < limit) {
        size_t k = limit - w->keep_n < n ? limit - w->keep_n : n;
        memcpy(w->keep + w->keep_n, p, k);
        w->keep_n += k;
    }
    EVP_DigestUpdate(w->md, p, n);
    if (w->stage == WTPTP_ST_BL && w->cur_id != WTPTP_ID_TIMH)
        sim_fwrev_feed(&w->fwrev, p, n);
    w->got += n;
    w->data_bytes += n;
}

/* How many of n data bytes may arrive before the unplug fault fires (n when it does not). */
static size_t before_unplug(const struct wtptp *w, size_t n)
{
    uint64_t at = w->cfg.unplug_after_bytes, have = wtptp_session_bytes(w);
    if (!at || have + n < at)
        return n;
    return at > have ? (size_t)(at - have) : 0;
}

size_t wtptp_fast_data(struct wtptp *w, const uint8_t *p, size_t n, uint64_t now_ms)
{
    size_t take = w->size - w->got < n ? (size_t)(w->size - w->got) : n;
    size_t ok = before_unplug(w, take);
    absorb(w, p, ok);
    if (ok < take ||
        (w->cfg.unplug_after_bytes && wtptp_session_bytes(w) == w->cfg.unplug_after_bytes)) {
        wtptp_unplug_now(w, "fault: unplugged after the configured data bytes");
        return n;
    }
    if (w->got == w->size) {
        /* One DATA status after the last raw byte, echoing the DATAHEADER's SEQ/CID (gap). */
        uint8_t hdr[3] = {WTPTP_CMD_DATA, w->hdr_seq, w->hdr_cid};
        if (nack_fault(w, hdr, NACK_AT_DATA, now_ms))
            wtptp_image_close(w); /* the whole image was refused: it must be sent again */
        else
            wtptp_reply(w, WTPTP_CMD_DATA, w->hdr_seq, w->hdr_cid, WTPTP_ACK, 0, NULL, 0, now_ms);
    }
    return take;
}

static void cmd_getversion(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    uint8_t d[24];
    bool rom = w->stage == WTPTP_ST_ROM;
    const char *ver = rom ? w->cfg.rom_version : w->cfg.dkb_version;
    /* version and processor are 4 ASCII characters stored reversed (notes §3.1) */
    for (int i = 0; i < 4; i++) {
        d[i] = (uint8_t)ver[3 - i];
        d[8 + i] = (uint8_t)w->cfg.processor[3 - i];
    }
    put_le32(d + 4, rom ? w->cfg.rom_date : w->cfg.dkb_date);
    memcpy(d + 12, w->cfg.ddr_id, 4);
    put_le32(d + 16, w->cfg.ddr_size);
    put_le32(d + 20, w->cfg.flash_id);
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, d, rom ? 12 : 24, now_ms);
}

static void cmd_message(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    uint8_t d[6] = {0};
    size_t dlen = 0;
    if (w->n_msgs) {
        d[0] = w->msgs[0].type;
        put_le32(d + 2, w->msgs[0].code);
        dlen = 6;
        memmove(w->msgs, w->msgs + 1, (w->n_msgs - 1) * sizeof(w->msgs[0]));
        w->n_msgs--;
        w->messages++;
    }
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, d, dlen, now_ms);
}

static void cmd_select(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    if (w->open) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "SELECTIMAGE while an image is open");
        return;
    }
    if (wtptp_programming(w, now_ms)) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms,
                   "SELECTIMAGE while the last image is being programmed (wait for ready)");
        return;
    }
    if (w->next_want >= w->n_want) {
        wtptp_nack(w, hdr, WTPTP_ERR_NOT_FOUND, now_ms, "SELECTIMAGE: no image left to ask for");
        return;
    }
    if (!w->selected) { /* a repeated SELECTIMAGE (lost reply) is the same image */
        w->images_started++;
        w->cur_ordinal = w->cfg.image_base + w->images_started;
        w->cur_id = w->want[w->next_want];
    }
    w->selected = true;
    w->verified = false;
    if (nack_fault(w, hdr, NACK_AT_SELECT, now_ms)) {
        w->selected = false;
        return;
    }
    uint8_t d[4];
    put_le32(d, w->cur_id);
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, d, 4, now_ms);
}

static void cmd_verify(struct wtptp *w, const uint8_t *hdr, const uint8_t *data, uint64_t now_ms)
{
    if (!w->selected || w->open) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "VERIFYIMAGE without a SELECTIMAGE");
        return;
    }
    if (data[0] > 1) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "VERIFYIMAGE value %u", data[0]);
        return;
    }
    if (nack_fault(w, hdr, NACK_AT_VERIFY, now_ms))
        return;
    if (data[0] == 1) { /* the host does not have it: the image stays requested */
        w->declined++;
        w->selected = false;
    } else {
        w->verified = true;
    }
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, NULL, 0, now_ms);
}

static void cmd_dataheader(struct wtptp *w, const uint8_t *hdr, const uint8_t *data,
                           uint64_t now_ms)
{
    if (!seq_ok(w, hdr, now_ms))
        return;
    if (!w->verified) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "DATAHEADER without VERIFYIMAGE(0)");
        return;
    }
    uint32_t remaining = le32(data);
    bool bl = w->stage == WTPTP_ST_BL;
    if (!w->open) {
        uint64_t limit = w->cur_id == WTPTP_ID_TIMH ? WTPTP_TIM_MAX : w->cfg.max_image;
        if (remaining == 0 || remaining > limit) {
            wtptp_nack(w, hdr, WTPTP_ERR_TOO_BIG, now_ms,
                       "DATAHEADER: image of %" PRIu32 " bytes (limit %" PRIu64 ")", remaining,
                       limit);
            return;
        }
    } else if (w->fast_mode || w->window || remaining != w->size - w->got) {
        wtptp_nack(w, hdr, WTPTP_ERR_DOWNLOAD, now_ms,
                   "DATAHEADER remaining %" PRIu32 " with %" PRIu64 " of %" PRIu64
                   " bytes received, %" PRIu64 " still buffered%s",
                   remaining, w->got, w->size, w->window, w->fast_mode ? " (fast mode)" : "");
        return;
    }
    if (w->cfg.silent_image && w->cur_ordinal == w->cfg.silent_image) {
        w->silenced_image = true;
        snprintf(w->last_error, sizeof(w->last_error), "fault: silent from image %" PRIu64,
                 w->cur_ordinal);
        return;
    }
    if (nack_fault(w, hdr, NACK_AT_HEADER, now_ms))
        return;
    w->seq = hdr[1];
    if (!w->open) {
        w->md = EVP_MD_CTX_new();
        if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
            wtptp_image_close(w);
            wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "out of memory");
            return;
        }
        w->open = true;
        w->verified = true;
        w->selected = true;
        w->size = remaining;
        w->got = 0;
        w->fast_mode = (hdr[3] & WTPTP_FLAG_FAST) && (bl ? w->cfg.fast : w->cfg.rom_fast);
    }
    uint64_t buf = bl ? w->cfg.bl_buf : w->cfg.rom_buf;
    w->window = remaining < buf ? remaining : buf;
    w->hdr_seq = hdr[1];
    w->hdr_cid = hdr[2];
    uint8_t d[4];
    put_le32(d, w->window);
    if (w->fast_mode)
        w->window = 0; /* no DATA commands in fast mode: raw bytes up to the image size */
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, w->fast_mode ? WTPTP_FLAG_FAST : 0, d, 4,
                now_ms);
}

static void cmd_data(struct wtptp *w, const uint8_t *hdr, const uint8_t *data, size_t len,
                     uint64_t now_ms)
{
    if (!seq_ok(w, hdr, now_ms))
        return;
    if (!w->open || w->fast_mode || len == 0 || len > w->window) {
        wtptp_nack(w, hdr, WTPTP_ERR_DOWNLOAD, now_ms,
                   "DATA of %zu bytes with %" PRIu64 " buffered bytes expected%s", len, w->window,
                   w->open ? "" : " (no DATAHEADER)");
        return;
    }
    if (w->got == 0 && nack_fault(w, hdr, NACK_AT_DATA, now_ms))
        return;
    size_t ok = before_unplug(w, len);
    absorb(w, data, ok);
    if (ok < len ||
        (w->cfg.unplug_after_bytes && wtptp_session_bytes(w) == w->cfg.unplug_after_bytes)) {
        wtptp_unplug_now(w, "fault: unplugged after the configured data bytes");
        return;
    }
    w->seq = hdr[1];
    w->window -= len;
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, NULL, 0, now_ms);
}

/* Image checks at DONE: 0, or the NACK code with last_error set. */
static uint8_t check_image(struct wtptp *w)
{
    char why[SIM_ERR_MAX - 32];
    if (w->cur_id == WTPTP_ID_TIMH) {
        struct sim_wtptp_tim tim;
        if (sim_wtptp_tim_parse(w->keep, w->keep_n, &tim, why, sizeof(why)) < 0)
            goto bad_tim;
        bool has_dkb = false;
        uint32_t list[WTPTP_TIM_MAX_IMAGES];
        size_t n = 0;
        for (uint32_t i = 0; i < tim.num_images; i++) {
            has_dkb = has_dkb || tim.ids[i] == WTPTP_ID_DKBI;
            if (tim.ids[i] != WTPTP_ID_TIMH)
                list[n++] = tim.ids[i];
        }
        if (w->stage == WTPTP_ST_ROM && !has_dkb) {
            snprintf(why, sizeof(why), "ROM TIM lists no DKBI image");
            goto bad_tim;
        }
        if (w->stage == WTPTP_ST_BL) {
            if (n == 0) {
                snprintf(why, sizeof(why), "FBF TIM lists no image besides TIMH");
                goto bad_tim;
            }
            memcpy(w->want + 1, list, n * sizeof(list[0]));
            w->n_want = 1 + n;
            w->bl_list_known = true;
        }
        w->last_tim = tim;
        w->have_tim = true;
        return 0;
    bad_tim:
        snprintf(w->last_error, sizeof(w->last_error), "invalid TIM: %s", why);
        return WTPTP_ERR_INVALID_TIM;
    }
    if (w->stage != WTPTP_ST_BL || !w->cfg.fbf_check)
        return 0;
    struct sim_wtptp_fbf fbf;
    if (sim_wtptp_fbf_parse(w->keep, w->keep_n, w->size, &fbf, why, sizeof(why)) < 0) {
        snprintf(w->last_error, sizeof(w->last_error), "invalid FBF image: %s", why);
        return WTPTP_ERR_UNKNOWN_IMAGE;
    }
    if (fbf.chip_id != w->cfg.chip_id) {
        snprintf(w->last_error, sizeof(w->last_error),
                 "FBF image for ChipID %" PRIu32 ", this device is %" PRIu64, fbf.chip_id,
                 w->cfg.chip_id);
        return WTPTP_ERR_NOT_SUPPORTED;
    }
    w->last_fbf = fbf;
    w->have_fbf = true;
    return 0;
}

static void store_image(struct wtptp *w)
{
    struct wtptp_stored *s = NULL;
    for (size_t i = 0; i < w->n_store && !s; i++)
        if (w->store[i].stage == w->stage && w->store[i].id == w->cur_id)
            s = &w->store[i];
    if (!s && w->n_store < WTPTP_MAX_STORE)
        s = &w->store[w->n_store++];
    if (!s)
        return; /* more than 34 distinct images: counted in `images`, not listed */
    s->stage = w->stage;
    s->id = w->cur_id;
    s->bytes = w->size;
    EVP_DigestFinal_ex(w->md, s->sha, NULL);
}

static void cmd_done(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    if (!w->open || w->got != w->size) {
        wtptp_nack(w, hdr, WTPTP_ERR_DOWNLOAD, now_ms,
                   "DONE after %" PRIu64 " of %" PRIu64 " bytes", w->got, w->size);
        return;
    }
    if (nack_fault(w, hdr, NACK_AT_DONE, now_ms)) {
        wtptp_image_close(w);
        return;
    }
    uint8_t code = check_image(w);
    if (code) {
        char why[SIM_ERR_MAX];
        snprintf(why, sizeof(why), "%s", w->last_error);
        wtptp_image_close(w);
        wtptp_nack(w, hdr, code, now_ms, "%s", why);
        return;
    }
    store_image(w);
    w->images++;
    if (w->fast_mode)
        w->fast_images++;
    else
        w->slow_images++;
    w->next_want++;
    bool fbf = w->stage == WTPTP_ST_BL && w->cur_id != WTPTP_ID_TIMH;
    uint64_t bytes = w->size;
    wtptp_image_close(w);
    if (fbf) {
        /* The image is programmed now; its progress is reported through MESSAGE (§3.4). */
        w->program_bytes = bytes;
        w->program_last = w->next_want >= w->n_want;
        if (w->cfg.flash_rate) {
            w->program_until_ms =
                now_ms + (bytes * 1000 + w->cfg.flash_rate - 1) / w->cfg.flash_rate;
            wtptp_push_msg(w, WTPTP_MSG_NOTIFY, WTPTP_NOTE_BUSY);
        } else {
            finish_program(w, now_ms);
        }
    }
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, NULL, 0, now_ms);
}

static void cmd_disconnect(struct wtptp *w, const uint8_t *hdr, uint64_t now_ms)
{
    wtptp_reply(w, hdr[0], hdr[1], hdr[2], WTPTP_ACK, 0, NULL, 0, now_ms);
    wtptp_image_close(w);
    w->synced = false; /* the session is over: a new one starts with a preamble */
    bool all = w->next_want >= w->n_want;
    if (w->stage == WTPTP_ST_ROM && all) {
        w->stage = WTPTP_ST_DKB_BOOT; /* the ROM jumps into the DKB, which enumerates anew */
        w->action_at_ms = now_ms + w->cfg.dkb_boot_ms;
    } else if (w->stage == WTPTP_ST_BL && all && w->bl_list_known) {
        if (w->have_fbf && w->last_fbf.opt_value == 0)
            return; /* OptValue 0: no reset after download (§3.5), stay in the BL */
        w->reboot_pending = true;
        if (!wtptp_programming(w, now_ms))
            schedule_reboot(w, now_ms);
        else
            w->stage = WTPTP_ST_REBOOTING; /* deaf; the reboot follows the programming */
    }
}

void wtptp_command(struct wtptp *w, const uint8_t *hdr, const uint8_t *data, size_t len,
                   uint64_t now_ms)
{
    uint8_t cmd = hdr[0];
    if (!sim_wtptp_cmd_served(cmd)) {
        wtptp_nack(w, hdr, WTPTP_ERR_NOT_SUPPORTED, now_ms, "CMD 0x%02x not supported", cmd);
        return;
    }
    size_t want = cmd == WTPTP_CMD_VERIFYIMAGE ? 1 : cmd == WTPTP_CMD_DATAHEADER ? 4 : 0;
    if (cmd != WTPTP_CMD_DATA && len != want) {
        wtptp_nack(w, hdr, WTPTP_ERR_GENERAL, now_ms, "CMD 0x%02x with LEN %zu, expected %zu", cmd,
                   len, want);
        return;
    }
    switch (cmd) {
    case WTPTP_CMD_GETVERSION:
        cmd_getversion(w, hdr, now_ms);
        break;
    case WTPTP_CMD_MESSAGE:
        cmd_message(w, hdr, now_ms);
        break;
    case WTPTP_CMD_SELECTIMAGE:
        cmd_select(w, hdr, now_ms);
        break;
    case WTPTP_CMD_VERIFYIMAGE:
        cmd_verify(w, hdr, data, now_ms);
        break;
    case WTPTP_CMD_DATAHEADER:
        cmd_dataheader(w, hdr, data, now_ms);
        break;
    case WTPTP_CMD_DATA:
        cmd_data(w, hdr, data, len, now_ms);
        break;
    case WTPTP_CMD_DONE:
        cmd_done(w, hdr, now_ms);
        break;
    case WTPTP_CMD_DISCONNECT:
        cmd_disconnect(w, hdr, now_ms);
        break;
    }
}
