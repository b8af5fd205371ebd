/* Internal to the ASR Crane driver: the session state shared by asr.c (the exchange engine:
 * what to send, when to read, deadlines) and asr_reply.c (judging what the device said). */
#ifndef FLASHRACK_ASR_SESSION_H
#define FLASHRACK_ASR_SESSION_H

#include "asr/asr_plan.h"
#include "asr/asr_wire.h"
#include "common/step.h"
#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

#define ASR_RX_MAX        4096
#define ASR_BATCH         16384 /* encoded bytes per data write: whole frames only */
#define ASR_T_WRITE       10000
#define ASR_T_RESEND      100    /* handshake frames are repeated this often (§2.2) */
#define ASR_T_CMD         10000  /* DATA<size> answer to download: (§5) */
#define ASR_T_AFTER_DATA  60000  /* final OKAY of a download (§5) */
#define ASR_MAXDL_UNKNOWN 0xF000 /* device will not tell: the ROM-stage limit is safe anywhere */
#define ASR_QUIRK_BOOTROM "2019.01.15"

enum asr_sub { SUB_CMD = 0, SUB_DL_CMD, SUB_DL_DATA, SUB_DL_OKAY, SUB_FLASH_CMD };

struct asr_session {
    struct proto_ctx *ctx;
    struct asr_opts opts;
    struct asr_plan plan;
    enum fail_code plan_fail;
    char plan_err[200];
    size_t cur;
    struct proto_step io; /* outstanding request, end latch (common/step.h) */
    enum asr_sub sub;
    int started;          /* handshake op: deadline set by its first write */
    uint64_t deadline_ms; /* reply deadline / handshake window */
    uint64_t resend_ms;   /* handshake: next repetition */
    uint64_t last_frame_ms;
    int running; /* HELLO answered: the device heartbeats from here on (§2.1) */
    uint32_t mtu;
    uint32_t maxdl;
    int maxdl_known; /* maxdl answered since the last call */
    char product[48], bootrom[32], version[32];
    int sent_nop;
    /* download in flight */
    struct asr_src src;
    size_t src_len, src_off;
    uint32_t seg, nseg, per;
    size_t seg_raw;
    char cmd[ASR_ABOOT_CMD_MAX + 1];
    uint8_t tx[ASR_BATCH + 8];
    uint8_t scratch[ASR_SMUX_MTU];
    uint8_t rx[ASR_RX_MAX];
    size_t rx_len, rx_off;
    struct asr_smux_dec dec;
    char last_info[64];
    uint64_t junk_frames;
};

/* asr.c */
const struct asr_op *asr_sess_op(const struct asr_session *s);
void asr_sess_op_start(struct asr_session *s, struct proto_request *out);
void asr_sess_op_next(struct asr_session *s, struct proto_request *out);
/* FAIL naming the phase and the step (and the segment of a flash op). */
void asr_sess_fail(struct asr_session *s, struct proto_request *out, enum fail_code code,
                   const char *detail);
void asr_sess_send_cmd(struct asr_session *s, const char *text, struct proto_request *out);
void asr_sess_send_data(struct asr_session *s, struct proto_request *out);
void asr_sess_start_segment(struct asr_session *s, struct proto_request *out);
int asr_sess_is_handshake(const struct asr_op *op);
int asr_sess_is_download_id(uint16_t vid, uint16_t pid);

/* asr_reply.c */
/* The wait for the current step ran out (its deadline, or the link went quiet). */
void asr_sess_on_timeout(struct asr_session *s, struct proto_request *out);
/* One decoded frame; returns 1 when it produced the next request, 0 to keep reading. */
int asr_sess_on_frame(struct asr_session *s, const struct asr_smux_frame *f,
                      struct proto_request *out);
void asr_sess_set_ident(struct asr_session *s);

#endif
