/* Internal interface of the ASR Crane aboot device model ("asr"), written only from
 * ../shared/protocols/asr.md. README.md in this directory lists the behaviour, the options,
 * the stats and the choices made where the notes have gaps. */
#ifndef FLASHRACK_SIM_ASR_H
#define FLASHRACK_SIM_ASR_H

#include "sim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SMUX framing (notes §2.1) ---- */
enum {
    ASR_T_STDIO = 0,
    ASR_T_HELLO = 1,
    ASR_T_HELLO_REPLY = 2,
    ASR_T_CMD = 3,
    ASR_T_DATA = 4,
    ASR_T_HEART_BEAT = 5,
};

#define ASR_FLAG    0x7E
#define ASR_ESC     0x7D
#define ASR_CMD_MAX 128  /* ABOOT_COMMAND_SZ, both directions (§2.3) */
#define ASR_MTU_MAX 4096 /* largest MTU the model can be configured to accept */

/* Encodes one frame: 0x7E, type pair (none for STDIO), escaped payload, 0x7E. Returns the
 * wire length, 0 when cap is too small. */
size_t sim_asr_encode(unsigned type, const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

enum sim_asr_dec_ev {
    SIM_ASR_DEC_NONE,
    SIM_ASR_DEC_FRAME, /* ftype, payload in buf[0..flen) until the next byte */
    SIM_ASR_DEC_LOST,  /* a frame whose decoded payload exceeded mtu: dropped */
    SIM_ASR_DEC_PROBE, /* raw "UUUU" followed by 0x7E outside any frame */
};

/* Byte-at-a-time SMUX receiver. Until the first 0x7E it hunts (raw probe detection); after
 * that every 0x7E closes the current frame and opens the next one. */
struct sim_asr_dec {
    uint8_t buf[ASR_MTU_MAX];
    size_t n;
    size_t mtu; /* decoded payload limit, ≤ ASR_MTU_MAX */
    bool in_frame, esc, over;
    uint8_t type;   /* of the frame being received */
    uint8_t ftype;  /* SIM_ASR_DEC_FRAME: type of the frame just closed, */
    size_t flen;    /* and its payload length in buf */
    unsigned u_run; /* consecutive 'U' while hunting */
};

void sim_asr_dec_init(struct sim_asr_dec *d, size_t mtu);
enum sim_asr_dec_ev sim_asr_dec_byte(struct sim_asr_dec *d, uint8_t b);

/* IEEE CRC-32 as zlib's crc32(crc, p, n): start with 0. */
uint32_t sim_asr_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Structural check of an ARM Trusted-Firmware FIP (§2.10): ToC name, entries in bounds, end
 * marker at the blob size, BL2 and a DER certificate present. -EINVAL with the reason. */
int sim_asr_fip_check(const uint8_t *p, size_t n, char *err, size_t err_len);

/* ---- flash, partition table, sparse (asr_flash.c) ---- */
#define ASR_BLOCK      4096u
#define ASR_MAX_PARTS  32
#define ASR_PTABLE_LEN 0x88Cu
#define ASR_FNIF_MAXM  64

struct sim_asr_part {
    char name[33];
    char type[17];
    uint32_t off, size, mapped, len, level;
};

/* What was done to a partition, by name (survives a reloaded table). */
struct sim_asr_record {
    char name[33];
    uint32_t off;    /* partition start when last written */
    uint64_t extent; /* bytes from the start to the end of the furthest block written */
    uint64_t programmed;
    unsigned segments;
    bool written, erased;
};

struct sim_asr_flash {
    uint32_t size;
    uint8_t **pages; /* size / ASR_BLOCK; NULL = erased (reads 0xFF) */
    uint32_t jedec;
    bool probed;
    struct sim_asr_part parts[ASR_MAX_PARTS];
    size_t n_parts;
    bool have_table;
    struct sim_asr_record rec[ASR_MAX_PARTS];
    size_t n_rec;
    uint64_t bytes_programmed, erases, segments;
    struct sim_fwrev fwrev; /* firmware revision marker seen in the bytes written (sim.h) */
};

int sim_asr_flash_init(struct sim_asr_flash *f, uint32_t size, uint32_t jedec);
void sim_asr_flash_free(struct sim_asr_flash *f);
void sim_asr_flash_read(const struct sim_asr_flash *f, uint32_t addr, uint8_t *p, size_t n);

/* The checks below write the reason to err and return -EINVAL (or -ENOMEM). */
int sim_asr_flashinfo_apply(struct sim_asr_flash *f, const uint8_t *p, size_t n, char *err,
                            size_t err_len);
int sim_asr_ptable_apply(struct sim_asr_flash *f, const uint8_t *p, size_t n, char *err,
                         size_t err_len);
/* Index of a partition by name, or -1. */
int sim_asr_part_find(const struct sim_asr_flash *f, const char *name);
/* Validates a whole ASR sparse image for partition idx, then writes it. *programmed gets the
 * bytes written (RAW and FILL). Nothing is written when it fails. */
int sim_asr_sparse_flash(struct sim_asr_flash *f, int idx, const uint8_t *p, size_t n,
                         uint64_t *programmed, char *err, size_t err_len);
int sim_asr_part_erase(struct sim_asr_flash *f, int idx);
/* SHA-256 of record i's flash content over its extent. */
int sim_asr_record_sha(const struct sim_asr_flash *f, size_t i, uint8_t sha[32]);

/* ---- the model (asr_model.c, asr_cmd.c, asr_opts.c) ---- */
enum asr_link {
    ASR_LINK_WAIT,    /* boot ROM, no probe seen */
    ASR_LINK_INIT,    /* a probe was answered, no HELLO yet */
    ASR_LINK_RUNNING, /* HELLO done: aboot frames served, heartbeats */
    ASR_LINK_GONE,    /* left the bus (reboot, fault) or deaf after reset_stay */
};

/* Protocol phase reached; only moves forward. */
enum asr_phase {
    ASR_PH_WAIT,
    ASR_PH_INIT,
    ASR_PH_ROM,
    ASR_PH_PREBOOT,
    ASR_PH_FLASHER,
    ASR_PH_PROBED,
    ASR_PH_PTABLE,
    ASR_PH_FLASHING,
    ASR_PH_COMPLETE,
    ASR_PH_REBOOTING,
};

#define ASR_TEXT_OPT 64

struct asr_cfg {
    char rom[32], product[32], version[16];
    bool quirk_call_run, bad_hello, reset_stay;
    uint64_t mtu, rom_max, flasher_max, jedec, flash_size;
    uint64_t heartbeat_ms, call_ms, info_lines, flash_rate, erase_ms, reboot_wait_ms, leave_ms;
    uint64_t bad_reply_at, fail_nth, silent_after, unplug_after_bytes;
    char fail_at[ASR_TEXT_OPT], silent_at[ASR_TEXT_OPT], hang_at[ASR_TEXT_OPT];
    char reset_replug[ASR_TEXT_OPT];
    char unit[SIM_UNIT_MAX]; /* the module's identity, handed back on the reboot (sim.h) */
};

#define ASR_OUTQ     64
#define ASR_OUTQ_MAX 48 /* rx stalls when this many frames wait unread */
#define ASR_WIRE_MAX (2 * ASR_CMD_MAX + 8)

struct asr_frame {
    uint64_t ready_ms;
    uint16_t len;
    uint8_t wire[ASR_WIRE_MAX];
};

struct asr {
    struct sim_model base;
    struct asr_cfg cfg;
    enum asr_link link;
    enum asr_phase phase;
    struct sim_asr_dec dec;
    size_t mtu; /* agreed MTU */
    /* output queue */
    struct asr_frame q[ASR_OUTQ];
    size_t q_head, q_count, q_pos;
    uint64_t hb_next_ms;
    /* download buffer and blob state */
    uint8_t *dl;
    size_t dl_cap;
    uint32_t dl_size, dl_got;
    bool dl_open, dl_done, verified;
    bool stray_failed; /* a FAIL for stray data went out since the last command */
    unsigned runs;     /* images run: 1 = preboot done, 2 = flasher resident */
    uint8_t run_sha[2][32];
    /* faults and session end */
    bool silenced, hung;
    uint64_t fail_seen;
    bool unplug_now, action_done, reboot, completed, disconnected;
    uint64_t leave_at_ms;
    bool dtr;
    /* stats */
    uint64_t rx_bytes, tx_bytes, frames_in, frames_out, probes, hellos, bad_hellos, lost_frames;
    uint64_t ignored_frames, heartbeats, host_heartbeats, commands, fails, infos, finals;
    uint64_t downloads, download_bytes, stray_data, verifies, calls, flash_cmds;
    char last_cmd[ASR_CMD_MAX + 1];
    char last_error[SIM_ERR_MAX];
    struct sim_asr_flash flash;
};

/* asr_model.c: output. Delays count from now_ms; frames leave in queue order. */
void asr_send_final(struct asr *a, uint64_t now_ms, uint64_t delay_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void asr_send_info(struct asr *a, uint64_t now_ms, uint64_t delay_ms, const char *text);
/* FAIL with the reason, also kept as last_error. */
void asr_fail(struct asr *a, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void asr_set_phase(struct asr *a, enum asr_phase p);

/* asr_cmd.c */
void asr_command(struct asr *a, const char *cmd, uint64_t now_ms);
void asr_data(struct asr *a, const uint8_t *p, size_t n, uint64_t now_ms);

/* asr_opts.c */
int sim_asr_parse_opts(struct sim_opts *opts, struct asr_cfg *cfg, char *err, size_t err_len);
int sim_asr_stats(const struct sim_model *m, char *buf, size_t cap);

#endif
