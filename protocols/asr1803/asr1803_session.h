/* Internal to the ASR1803 driver: the session state shared by asr1803.c (the exchange
 * machinery: commands, statuses, timeouts, events) and asr1803_stage.c (what the answers
 * mean: GETVERSION, SELECTIMAGE, MESSAGE, stage ends, re-enumeration).
 */
#ifndef FLASHRACK_ASR1803_SESSION_H
#define FLASHRACK_ASR1803_SESSION_H

#include "asr1803/asr1803.h"
#include "asr1803/asr1803_plan.h"
#include "asr1803/wtptp_wire.h"
#include "common/step.h"
#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

#define ASR1803_RX_MAX 4096
/* Fast mode: most bytes per write (never more than the device's buffer either). */
#define ASR1803_RAW_PIECE_MAX (64u * 1024)
#define ASR1803_PREAMBLE_TRY  3
#define ASR1803_POLL_MS       500 /* MESSAGE poll pause when nothing is pending (asr.md §5) */
#define ASR1803_DRAIN_MAX     256 /* messages in a row before "the device never stops" */

enum asr1803_step {
    ST_PREAMBLE = 1,
    ST_MSG, /* MESSAGE to drain what a status flagged, then resume */
    ST_GETVERSION,
    ST_SELECT,
    ST_VERIFY,
    ST_DATAHEADER,
    ST_DATA,    /* slow mode: one DATA command */
    ST_RAW,     /* fast mode: raw bytes, no reply per piece */
    ST_FASTEND, /* fast mode: the DATA status after the last byte */
    ST_DONE,
    ST_READY, /* MESSAGE poll until "ready" (more images to come) */
    ST_FINAL, /* MESSAGE poll until "ready" or "disconnect" (last image) */
    ST_DISCONNECT,
    ST_NACKMSG, /* MESSAGE after a NACK, for its error report; then fail */
};

struct asr1803_session {
    struct proto_ctx *ctx;
    struct asr1803_opts opts;
    struct asr1803_plan plan;
    enum fail_code plan_fail;
    char plan_err[200];

    struct proto_step io; /* outstanding request, end latch (common/step.h) */
    enum asr1803_step step, resume;
    enum asr1803_stage stage;
    int rom_done; /* the DKB was loaded and the device re-enumerated */
    int tries;    /* preamble attempts */
    unsigned drains;
    uint8_t seq; /* pre-incremented for DATAHEADER/DATA, reset by PREAMBLE (§3.3) */
    uint8_t want_cmd, want_seq, want_cid;
    uint32_t timeout_ms;
    uint64_t deadline_ms, poll_deadline_ms;
    struct wtptp_version ver;
    int have_ver;

    const struct asr1803_image *im;
    size_t off;        /* bytes of im confirmed (slow) or written (fast) */
    size_t clen;       /* bytes in flight */
    size_t burst_left; /* slow mode: bytes left of the last DATAHEADER grant */
    uint32_t buf;      /* device buffer from DATAHEADER */
    int fast;
    int tim_sent;
    uint8_t id_done[ASR1803_MAX_IDS];
    uint32_t extra_done[ASR1803_MAX_IDS]; /* ids sent that the TIM did not list */
    size_t nextra;
    int saw_ready, saw_disconnect;
    enum asr1803_step
        nack_step; /* the command a NACK answered, while its error report is fetched */
    uint8_t nack_cmd;

    uint8_t *tx;
    size_t tx_cap;
    uint8_t rx[ASR1803_RX_MAX];
    size_t rx_len, rx_off;
    struct wtptp_dec dec;
};

const char *asr1803_stage_name(const struct asr1803_session *s);
/* FAIL naming the phase, the stage, the command and (inside an image) the image and offset. */
void asr1803_fail(struct asr1803_session *s, struct proto_request *out, enum fail_code code,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void asr1803_send_message(struct asr1803_session *s, struct proto_request *out,
                          enum asr1803_step step);
void asr1803_send_preamble(struct asr1803_session *s, struct proto_request *out);
/* Issues the command of step. */
void asr1803_issue(struct asr1803_session *s, struct proto_request *out, enum asr1803_step step);
/* Issues step, draining first a message the last status flagged (pending). */
void asr1803_next(struct asr1803_session *s, struct proto_request *out, int pending,
                  enum asr1803_step step);

/* asr1803_stage.c: each returns with out filled (next request or FAIL). */
int asr1803_on_message(struct asr1803_session *s, const struct wtptp_status *st,
                       struct proto_request *out);
void asr1803_on_getversion(struct asr1803_session *s, const struct wtptp_status *st,
                           struct proto_request *out);
void asr1803_on_select(struct asr1803_session *s, const struct wtptp_status *st,
                       struct proto_request *out);
void asr1803_on_image_done(struct asr1803_session *s, int pending, struct proto_request *out);
void asr1803_on_poll(struct asr1803_session *s, const struct wtptp_status *st,
                     struct proto_request *out);
void asr1803_on_attached(struct asr1803_session *s, struct proto_request *out);

#endif
