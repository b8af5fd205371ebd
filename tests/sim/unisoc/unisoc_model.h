/* State of one Unisoc device model, shared by unisoc_model.c (ops, output, PDL, faults,
 * stats) and unisoc_bsl.c (the BSL command set). */
#ifndef FLASHRACK_SIM_UNISOC_MODEL_H
#define FLASHRACK_SIM_UNISOC_MODEL_H

#include "unisoc/unisoc.h"

enum unisoc_stage {
    UNISOC_ST_PDL,  /* 8910 BootROM: PDL packets */
    UNISOC_ST_ROM,  /* 8850 BootROM: BSL with CRC-16 */
    UNISOC_ST_FDL1, /* BSL with the sum */
    UNISOC_ST_FDL2,
    UNISOC_ST_RESET, /* NORMAL_RESET / POWER_OFF acknowledged, leaving the bus */
    UNISOC_ST_GONE,  /* unplugged (reset done, or the disconnect fault) */
};

enum unisoc_dest {
    UNISOC_DEST_RAM,   /* FDL image for the next stage */
    UNISOC_DEST_FLASH, /* flash window */
    UNISOC_DEST_NV,    /* 0xFE000003 */
    UNISOC_DEST_HASH,  /* PhaseCheck / PREPACK: accepted and hashed, not stored */
};

struct unisoc_xfer {
    bool open;
    enum unisoc_dest dest;
    uint32_t addr;
    uint64_t size, got;
    bool has_checksum;
    uint32_t checksum, sum32;
    uint32_t next_index; /* PDL MID index */
    EVP_MD_CTX *md;
};

struct unisoc_cfg {
    bool chip8850;
    uint32_t chip_id;
    char rom_ver[32];
    uint32_t ram_base, ram_size;
    uint64_t fdl2_max;
    uint64_t nak_chunk, nak_code, bad_check_at, drop_reply, silent_after, unplug_at_chunk;
    uint64_t flash_rate, exec_delay_ms, reset_delay_ms, checkbaud_idle_ms, log_every;
    bool incompatible, reset_stay;
    char reset_replug[64];
    char unit[SIM_UNIT_MAX]; /* the module's identity, handed back on reset (sim.h) */
};

struct unisoc {
    struct sim_model base;
    struct unisoc_cfg cfg;
    enum unisoc_stage stage;
    struct sim_unisoc_dec dec;
    bool stage_had_frame; /* a valid frame arrived in this stage: 0x7E is only a flag now */
    bool burst_answered;  /* this check-baud burst already got its VER */
    uint64_t last_flag_ms;
    bool ram_loaded; /* a complete download into RAM in this stage (EXEC may run it) */
    /* PDL receiver */
    uint8_t pdl_hdr[UNISOC_PDL_HDR];
    size_t pdl_hdr_n, pdl_body_n, pdl_need;
    uint8_t *pdl_body;
    uint8_t *nv_scratch; /* flash.nv_cap bytes: an NV image being received */
    struct unisoc_xfer xfer;
    /* Output: one reply (maybe with a LOG frame in front), released at out_ready_ms. */
    uint8_t out[UNISOC_OUT_MAX + 64];
    size_t out_len, out_pos;
    uint64_t out_ready_ms;
    uint64_t action_at_ms; /* reset/unplug due; SIM_NEVER if none */
    bool action_unplug_now, action_done;
    /* stats */
    uint64_t frames, bad_frames, naks, replies, bsl_replies, chunks, rx_bytes, tx_bytes;
    uint64_t pdl_garbage;
    uint32_t baud;
    char last_error[SIM_ERR_MAX];
    uint8_t fdl_sha[2][32];
    bool have_fdl[2];
    struct sim_unisoc_flash flash;
    struct sim_fwrev fwrev; /* firmware revision marker seen in flash writes (sim.h) */
    struct sim_line line;
};

/* unisoc_model.c */
void unisoc_reply(struct unisoc *u, uint16_t type, const uint8_t *payload, size_t len,
                  uint64_t now_ms, uint64_t delay_ms);
void unisoc_nak(struct unisoc *u, uint16_t code, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void unisoc_set_stage(struct unisoc *u, enum unisoc_stage st);
void unisoc_xfer_close(struct unisoc *u);
int unisoc_xfer_open(struct unisoc *u, enum unisoc_dest dest, uint32_t addr, uint64_t size);
/* Counts a data chunk and applies the chunk faults: returns true when the chunk was consumed
 * by a fault (disconnect or NAK) and must not be processed. */
bool unisoc_chunk_fault(struct unisoc *u, uint64_t now_ms, bool pdl);
void unisoc_schedule_reset(struct unisoc *u, uint64_t now_ms);

/* unisoc_opts.c */
int sim_unisoc_parse_opts(struct sim_opts *opts, struct unisoc_cfg *cfg, char *err, size_t err_len);
int sim_unisoc_flash_setup(struct unisoc *u, struct sim_opts *opts, char *err, size_t err_len);
int sim_unisoc_stats(const struct sim_model *m, char *buf, size_t cap);

/* unisoc_bsl.c */
void unisoc_bsl_frame(struct unisoc *u, uint16_t type, const uint8_t *p, size_t len,
                      uint64_t now_ms);

#endif
