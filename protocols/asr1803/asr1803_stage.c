/* ASR1803 session, the meaning of the device's answers (see asr1803_session.h): which stage
 * GETVERSION shows, which image SELECTIMAGE wants, what MESSAGE reports, when a stage is over
 * and what the module must come back as after DISCONNECT. */
#include "asr1803/asr1803_session.h"

#include <stdio.h>
#include <string.h>

/* The DKB's GETVERSION signature for NEZHA3 (§3.4 step 1). */
#define DKB_VERSION "3311"
#define DKB_DATE    0x06012014u

/* Whether every image this stage's TIM lists has been sent. */
static int stage_complete(const struct asr1803_session *s)
{
    const struct asr1803_stage_plan *sp = &s->plan.stage[s->stage];
    if (!s->tim_sent)
        return 0;
    for (size_t i = 0; i < sp->nids; i++)
        if (!s->id_done[i])
            return 0;
    return 1;
}

/* Records id as sent; -1 if it was sent before in this stage. */
static int mark_sent(struct asr1803_session *s, uint32_t id, int check_only)
{
    const struct asr1803_stage_plan *sp = &s->plan.stage[s->stage];
    for (size_t i = 0; i < sp->nids; i++)
        if (sp->ids[i] == id) {
            if (s->id_done[i])
                return -1;
            if (!check_only)
                s->id_done[i] = 1;
            return 0;
        }
    for (size_t i = 0; i < s->nextra; i++)
        if (s->extra_done[i] == id)
            return -1;
    if (!check_only && s->nextra < ASR1803_MAX_IDS)
        s->extra_done[s->nextra++] = id;
    return 0;
}

static int str4_eq(const char *a, const char *b)
{
    return strncmp(a, b, 4) == 0;
}

/* MESSAGE reply (§3.1): DLEN 0 = nothing, DLEN 6 = {type, pad, code}. Returns 0, or -1
 * after filling out with a failure. */
int asr1803_on_message(struct asr1803_session *s, const struct wtptp_status *st,
                       struct proto_request *out)
{
    if (st->dlen == 0)
        return 0;
    uint8_t type;
    uint32_t code;
    if (wtptp_parse_message(st->data, st->dlen, &type, &code) < 0) {
        asr1803_fail(s, out, FAIL_PROTOCOL, "expected a 0- or 6-byte message, got %u bytes",
                     st->dlen);
        return -1;
    }
    switch (type) {
    case WTPTP_MSG_NOTIFY:
        if (code == WTPTP_NOTIFY_READY)
            s->saw_ready = 1;
        else if (code == WTPTP_NOTIFY_DISCONNECT)
            s->saw_disconnect = 1;
        return 0;
    case WTPTP_MSG_ERROR:
        asr1803_fail(s, out, FAIL_REJECTED, "device reports error 0x%02x (%s)", code,
                     wtptp_error_name(code));
        return -1;
    case WTPTP_MSG_FLASH_SIZE:
        /* Recorded as what the module said about itself; nothing depends on it. */
        if (s->ctx->ident.serial[0] == '\0')
            snprintf(s->ctx->ident.serial, sizeof(s->ctx->ident.serial), "flash %u bytes", code);
        return 0;
    default:
        return 0; /* burnt size, NAND id, fuse/UE info: reports only */
    }
}

void asr1803_on_getversion(struct asr1803_session *s, const struct wtptp_status *st,
                           struct proto_request *out)
{
    if (wtptp_parse_version(st->data, st->dlen, &s->ver) < 0) {
        asr1803_fail(s, out, FAIL_PROTOCOL, "expected at least 12 bytes of version, got %u",
                     st->dlen);
        return;
    }
    s->have_ver = 1;
    const struct wtptp_version *v = &s->ver;
    /* Byte order of the FourCC fields is a reading of the notes: accept either (README). */
    int bl = (str4_eq(v->version, DKB_VERSION) || str4_eq(v->version_raw, DKB_VERSION)) &&
             v->date == DKB_DATE &&
             (str4_eq(v->processor, "NZA3") || str4_eq(v->processor_raw, "NZA3"));
    snprintf(s->ctx->ident.chip, sizeof(s->ctx->ident.chip), "ASR1803 (%s)", v->processor);
    snprintf(s->ctx->ident.revision, sizeof(s->ctx->ident.revision), "%s %s %08x%s%s",
             bl ? "DKB" : "ROM", v->version, v->date, v->extended ? " DDR " : "",
             v->extended ? v->ddr_vendor : "");
    if (s->opts.processor[0] && !str4_eq(v->processor, s->opts.processor) &&
        !str4_eq(v->processor_raw, s->opts.processor)) {
        asr1803_fail(s, out, FAIL_NO_MATCH,
                     "expected processor '%s' (EC200A, NEZHA3), got '%s' (version %s, date %08x)",
                     s->opts.processor, v->processor, v->version, v->date);
        return;
    }
    struct proto_progress *p = &s->ctx->progress;
    if (!bl) {
        if (s->rom_done) {
            asr1803_fail(
                s, out, FAIL_NO_MATCH,
                "expected the DKB signature %s/%08x after the DKB was loaded, got version %s "
                "date %08x: the DKB did not start or is not a NEZHA3 DKB",
                DKB_VERSION, DKB_DATE, v->version, v->date);
            return;
        }
        if (s->plan.stage[ASR1803_STAGE_ROM].tim < 0) {
            asr1803_fail(
                s, out, FAIL_NO_MATCH,
                "the module is in its boot ROM (emergency download) and the package has no "
                "DKB (DKB_timheader.bin + Dkb.bin)");
            return;
        }
        s->stage = ASR1803_STAGE_ROM;
        p->total = p->done + s->plan.stage[ASR1803_STAGE_ROM].bytes +
                   s->plan.stage[ASR1803_STAGE_BL].bytes;
    } else {
        s->stage = ASR1803_STAGE_BL;
        uint64_t t = p->done + s->plan.stage[ASR1803_STAGE_BL].bytes;
        if (t > p->total)
            p->total = t;
    }
    asr1803_next(s, out, st->flags & WTPTP_FLAG_MSG_PENDING, ST_SELECT);
}

void asr1803_on_select(struct asr1803_session *s, const struct wtptp_status *st,
                       struct proto_request *out)
{
    if (st->dlen != 4) {
        asr1803_fail(s, out, FAIL_PROTOCOL, "expected a 4-byte image id, got %u bytes", st->dlen);
        return;
    }
    uint32_t id = wtptp_le32(st->data);
    char idt[16], err[200];
    wtptp_id_text(id, idt);
    const struct asr1803_image *im = NULL;
    if (id == WTPTP_ID_TIMH) {
        if (s->tim_sent) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "device asks for TIMH a second time in this stage");
            return;
        }
        int t = s->plan.stage[s->stage].tim;
        if (t < 0) {
            asr1803_fail(s, out, FAIL_NO_MATCH, "the %s asks for TIMH and the package has no %s",
                         asr1803_stage_name(s),
                         s->stage == ASR1803_STAGE_ROM ? "DKB TIM" : "FBF TIM");
            return;
        }
        im = &s->plan.img[t];
    } else {
        if (mark_sent(s, id, 1) < 0) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "device asks for image %s a second time", idt);
            return;
        }
        im = asr1803_plan_find(&s->plan, s->stage, id, s->have_ver ? &s->ver : NULL, err,
                               sizeof(err));
        if (!im) {
            asr1803_fail(s, out, FAIL_NO_MATCH, "%s", err);
            return;
        }
    }
    s->im = im;
    s->off = 0;
    s->ctx->progress.phase = s->stage == ASR1803_STAGE_ROM ? "dkb" : im->tim ? "tim" : "flash";
    asr1803_next(s, out, st->flags & WTPTP_FLAG_MSG_PENDING, ST_VERIFY);
}

void asr1803_on_image_done(struct asr1803_session *s, int pending, struct proto_request *out)
{
    if (s->im->tim)
        s->tim_sent = 1;
    else
        mark_sent(s, s->im->id, 0);
    int complete = stage_complete(s);
    if (s->stage == ASR1803_STAGE_ROM) {
        if (complete)
            s->ctx->progress.phase = "reenumerate";
        asr1803_next(s, out, pending, complete ? ST_DISCONNECT : ST_SELECT);
        return;
    }
    if (s->im->tim) {
        asr1803_next(s, out, pending, ST_SELECT);
        return;
    }
    /* The bootloader programs the image now; it says "ready" when it can take the next. */
    s->ctx->progress.phase = complete ? "finish" : "program";
    asr1803_issue(s, out, complete ? ST_FINAL : ST_READY);
}

void asr1803_on_poll(struct asr1803_session *s, const struct wtptp_status *st,
                     struct proto_request *out)
{
    if (asr1803_on_message(s, st, out) < 0)
        return;
    if (s->step == ST_READY && s->saw_disconnect) {
        asr1803_fail(s, out, FAIL_PROTOCOL,
                     "expected notification ready, got disconnect with images still to send");
        return;
    }
    if (s->saw_ready || (s->step == ST_FINAL && s->saw_disconnect)) {
        if (s->step == ST_FINAL) {
            asr1803_issue(s, out, ST_DISCONNECT);
        } else {
            s->ctx->progress.phase = "flash";
            asr1803_next(s, out, st->flags & WTPTP_FLAG_MSG_PENDING, ST_SELECT);
        }
        return;
    }
    if (s->ctx->now_ms >= s->poll_deadline_ms) {
        asr1803_fail(s, out, FAIL_TIMEOUT, "expected notification ready, got none within %u ms",
                     s->opts.ready_ms);
        return;
    }
    if (st->flags & WTPTP_FLAG_MSG_PENDING) {
        if (++s->drains > ASR1803_DRAIN_MAX) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "more than %d messages in a row",
                         ASR1803_DRAIN_MAX);
            return;
        }
        asr1803_send_message(s, out, s->step);
        return;
    }
    s->io.wait = PROTO_WAIT_TIMER;
    proto_req_wait(out, ASR1803_POLL_MS);
}

void asr1803_on_attached(struct asr1803_session *s, struct proto_request *out)
{
    const struct proto_link *l = &s->ctx->link;
    s->ctx->expect_leave_ms = 0;
    s->io.leave_armed = 0;
    int dl = l->kind != PROTO_LINK_NONE && asr1803_is_download_id(l->vid, l->pid);
    if (s->stage == ASR1803_STAGE_ROM) {
        if (!dl) {
            asr1803_fail(
                s, out, FAIL_PROTOCOL,
                "after the DKB the module came back as %04x:%04x, not an EC200A download port",
                l->vid, l->pid);
            return;
        }
        s->rom_done = 1;
        s->stage = ASR1803_STAGE_BL;
        s->tim_sent = 0;
        memset(s->id_done, 0, sizeof(s->id_done));
        s->nextra = 0;
        s->saw_ready = s->saw_disconnect = 0;
        s->tries = 0;
        s->im = NULL;
        asr1803_send_preamble(s, out);
        return;
    }
    if (dl) {
        asr1803_fail(s, out, FAIL_VERIFY,
                     "after DISCONNECT the module came back as %04x:%04x, still in download mode",
                     l->vid, l->pid);
        return;
    }
    s->ctx->progress.phase = "done";
    s->ctx->progress.total = s->ctx->progress.done;
    proto_req_done(out);
}
