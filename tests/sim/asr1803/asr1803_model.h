/* State of one asr1803 device model, shared by asr1803_model.c (ops, receiver, output, faults,
 * actions), asr1803_cmd.c (the commands) and asr1803_opts.c (options, stats). */
#ifndef FLASHRACK_SIM_ASR1803_MODEL_H
#define FLASHRACK_SIM_ASR1803_MODEL_H

#include "asr1803/asr1803.h"

#include <openssl/evp.h>

enum wtptp_stage {
    WTPTP_ST_ROM,       /* boot ROM: TIMH + DKBI */
    WTPTP_ST_BL,        /* DKB/OBM running: FBF TIM + FBF images */
    WTPTP_ST_DKB_BOOT,  /* ROM DISCONNECT acknowledged, re-enumerating into BL */
    WTPTP_ST_REBOOTING, /* final DISCONNECT acknowledged, rebooting into normal mode */
    WTPTP_ST_GONE,      /* off the bus (rebooted, or the unplug fault) */
};

enum wtptp_nack_at { NACK_AT_SELECT, NACK_AT_VERIFY, NACK_AT_HEADER, NACK_AT_DATA, NACK_AT_DONE };
enum wtptp_bad_kind { BAD_CMD, BAD_STATUS, BAD_DLEN };
enum wtptp_preamble_mode { PREAMBLE_4, PREAMBLE_6, PREAMBLE_ECHO };

#define WTPTP_NAME_MAX  64
#define WTPTP_CARRY_MAX 200
#define WTPTP_MAX_STORE 34 /* 2 ROM images + a full TIM; keeps stats under SIM_STATS_MAX */
#define WTPTP_MSG_QUEUE 16

struct wtptp_cfg {
    enum wtptp_stage start_stage;
    char rom_version[5], dkb_version[5], processor[5], ddr_id[5];
    uint64_t rom_date, dkb_date, ddr_size, flash_id, flash_size, chip_id;
    uint64_t rom_buf, bl_buf, max_image;
    bool fast, rom_fast, fbf_check, reset_stay;
    enum wtptp_preamble_mode preamble;
    uint64_t dkb_boot_ms, reset_delay_ms;
    char dkb_replug[WTPTP_NAME_MAX], reset_replug[WTPTP_NAME_MAX];
    char unit[SIM_UNIT_MAX]; /* the module's identity, handed back on the final reboot (sim.h) */
    uint64_t image_base, byte_base;
    /* faults */
    uint64_t nack_image, nack_code, bad_reply, silent_after, silent_image, unplug_after_bytes;
    uint64_t flash_rate;
    enum wtptp_nack_at nack_at;
    enum wtptp_bad_kind bad_kind;
    /* the other options, "k=v k=v", carried over the DKB re-enumeration */
    char carry[WTPTP_CARRY_MAX];
};

/* One completed image: what the device got for it. */
struct wtptp_stored {
    enum wtptp_stage stage;
    uint32_t id;
    uint64_t bytes;
    uint8_t sha[32];
};

struct wtptp_msg {
    uint8_t type;
    uint32_t code;
};

struct wtptp {
    struct sim_model base;
    struct wtptp_cfg cfg;
    enum wtptp_stage stage;
    bool synced;  /* a preamble arrived: commands are served */
    uint8_t seq;  /* last DATAHEADER/DATA SEQ accepted (0 after a preamble) */
    bool discard; /* drop the rest of the current rx call (resync after garbage) */
    /* receiver */
    uint8_t hdr[WTPTP_HDR_LEN];
    size_t hdr_n;
    uint8_t *body; /* WTPTP_MAX_LEN bytes */
    size_t body_n, body_need;
    /* image requests: the list the stage asks for, and where it is */
    uint32_t want[WTPTP_TIM_MAX_IMAGES + 1];
    size_t n_want, next_want;
    bool bl_list_known; /* BL: the FBF TIM arrived, want[] holds its images */
    /* the open image */
    bool selected, verified, open, fast_mode;
    uint32_t cur_id;
    uint64_t cur_ordinal;       /* image number in the session (from 1) */
    uint64_t size, got, window; /* announced size, bytes received, buffer left */
    uint8_t hdr_seq, hdr_cid;   /* of the DATAHEADER (fast-mode final status) */
    EVP_MD_CTX *md;
    uint8_t *keep; /* first bytes of the image (TIM whole, FBF header) */
    size_t keep_n, keep_cap;
    bool silenced_image;
    bool nack_fired; /* the nack_image fault happens once */
    /* programming (BL, flash_rate) */
    uint64_t program_until_ms;
    bool program_last; /* the image being programmed is the last one */
    uint64_t program_bytes;
    bool reboot_pending; /* DISCONNECT arrived: reboot once programming is done */
    /* messages */
    struct wtptp_msg msgs[WTPTP_MSG_QUEUE];
    size_t n_msgs;
    /* output: one status (one bulk IN transfer) at a time */
    uint8_t out[WTPTP_STATUS_LEN + 255 + 4];
    size_t out_len, out_pos;
    uint64_t out_ready_ms;
    /* actions */
    uint64_t action_at_ms;
    bool action_unplug_now, action_done;
    /* flash model */
    struct wtptp_stored store[WTPTP_MAX_STORE];
    size_t n_store;
    struct sim_wtptp_tim last_tim;
    bool have_tim, have_fbf;
    struct sim_wtptp_fbf last_fbf;
    struct sim_fwrev fwrev; /* firmware revision marker seen in the FBF images (sim.h) */
    /* stats */
    uint64_t packets, bad_packets, naks, seq_errors, replies, rx_bytes, tx_bytes, data_bytes;
    uint64_t preambles, images, declined, fast_images, slow_images, messages;
    uint64_t images_started; /* session image counter without image_base */
    unsigned last_nack_code;
    char last_error[SIM_ERR_MAX];
    struct sim_line line;
};

/* asr1803_model.c */
void wtptp_reply(struct wtptp *w, uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t status,
                 uint8_t extra_flags, const uint8_t *data, size_t dlen, uint64_t now_ms);
void wtptp_nack(struct wtptp *w, const uint8_t *hdr, uint8_t code, uint64_t now_ms, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
void wtptp_push_msg(struct wtptp *w, uint8_t type, uint32_t code);
void wtptp_image_close(struct wtptp *w);
void wtptp_unplug_now(struct wtptp *w, const char *why);
bool wtptp_programming(const struct wtptp *w, uint64_t now_ms);
uint64_t wtptp_session_bytes(const struct wtptp *w);

/* asr1803_cmd.c */
void wtptp_command(struct wtptp *w, const uint8_t *hdr, const uint8_t *data, size_t len,
                   uint64_t now_ms);
/* One raw fast-mode data byte run; returns how many bytes were taken. */
size_t wtptp_fast_data(struct wtptp *w, const uint8_t *p, size_t n, uint64_t now_ms);
void wtptp_set_stage(struct wtptp *w, enum wtptp_stage st);
void wtptp_poll_time(struct wtptp *w, uint64_t now_ms);

/* asr1803_opts.c */
int sim_wtptp_parse_opts(struct sim_opts *opts, struct wtptp_cfg *cfg, char *err, size_t err_len);
int sim_wtptp_stats(const struct sim_model *m, char *buf, size_t cap);

#endif
