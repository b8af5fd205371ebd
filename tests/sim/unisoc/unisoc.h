/* Internal interface of the Unisoc download device model ("unisoc"), written only from
 * ../shared/protocols/unisoc.md. See README.md in this directory for the behaviour and the
 * choices made where the notes have gaps. */
#ifndef FLASHRACK_SIM_UNISOC_H
#define FLASHRACK_SIM_UNISOC_H

#include "sim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* ---- BSL codes (notes §3) ---- */
enum {
    UNISOC_CMD_CONNECT = 0x00,
    UNISOC_CMD_START = 0x01,
    UNISOC_CMD_MIDST = 0x02,
    UNISOC_CMD_END = 0x03,
    UNISOC_CMD_EXEC = 0x04,
    UNISOC_CMD_RESET = 0x05,
    UNISOC_CMD_READ_FLASH = 0x06,
    UNISOC_CMD_READ_CHIP_TYPE = 0x07,
    UNISOC_CMD_CHANGE_BAUD = 0x09,
    UNISOC_CMD_ERASE = 0x0A,
    UNISOC_CMD_REPARTITION = 0x0B,
    UNISOC_CMD_KEEP_CHARGE = 0x13,
    UNISOC_CMD_POWER_OFF = 0x17,
    UNISOC_CMD_ENABLE_WRITE = 0x1B,
    UNISOC_CMD_DISABLE_TRANSCODE = 0x21,

    UNISOC_REP_ACK = 0x80,
    UNISOC_REP_VER = 0x81,
    UNISOC_REP_INVALID_CMD = 0x82,
    UNISOC_REP_UNKNOWN_CMD = 0x83,
    UNISOC_REP_OPERATION_FAILED = 0x84,
    UNISOC_REP_BAUD = 0x85,
    UNISOC_REP_NOT_START = 0x86,
    UNISOC_REP_MULTI_START = 0x87,
    UNISOC_REP_EARLY_END = 0x88,
    UNISOC_REP_DEST_ERROR = 0x89,
    UNISOC_REP_SIZE_ERROR = 0x8A,
    UNISOC_REP_VERIFY_ERROR = 0x8B,
    UNISOC_REP_NO_MEMORY = 0x8D,
    UNISOC_REP_READ_FLASH = 0x93,
    UNISOC_REP_CHIP_TYPE = 0x94,
    UNISOC_REP_INCOMPATIBLE = 0x96,
    UNISOC_REP_LOG = 0xFF,
};

/* ---- PDL (notes §4.1) ---- */
enum {
    UNISOC_PDL_CONNECT = 0,
    UNISOC_PDL_START = 4,
    UNISOC_PDL_MID = 5,
    UNISOC_PDL_END = 6,
    UNISOC_PDL_EXEC = 7,
    UNISOC_PDL_RESET = 10,
    UNISOC_PDL_SET_BAUD = 12,
    UNISOC_PDL_MAX_CMD = 12,

    UNISOC_PDL_ACK = 0,
    UNISOC_PDL_INVALID_CMD = 1,
    UNISOC_PDL_UNKNOWN_CMD = 2,
    UNISOC_PDL_INVALID_ADDR = 3,
    UNISOC_PDL_SIZE_ERROR = 6,
};

#define UNISOC_PDL_TAG      0xAE
#define UNISOC_PDL_HDR      8
#define UNISOC_PDL_MAX_DATA 0x800
/* Largest PDL body we buffer: cmd + 2 args + one MID chunk. */
#define UNISOC_PDL_MAX_BODY (12 + UNISOC_PDL_MAX_DATA)

/* Largest BSL payload any stage accepts (8850 FDL2, notes §2.4) plus header and check. */
#define UNISOC_BSL_MAX_PAYLOAD 0xFC00
#define UNISOC_BSL_BUF         (UNISOC_BSL_MAX_PAYLOAD + 6)
/* Largest reply: READ_FLASH data (hosts ask ≤ 0x3000) + header + check, escaped worst case. */
#define UNISOC_READ_MAX 0x3000
#define UNISOC_OUT_MAX  (2 * (UNISOC_READ_MAX + 6) + 2)

/* 8910 logical addresses (notes §4.3). */
#define UNISOC_LA_ERASE_NV   0xFE000001u
#define UNISOC_LA_PHASECHECK 0xFE000002u
#define UNISOC_LA_NV         0xFE000003u
#define UNISOC_LA_PREPACK    0xFE000004u
#define UNISOC_LA_DEL_APPIMG 0xFE000005u
#define UNISOC_LA_FMT_FS     0xFE000006u

/* ---- check values (notes §2.3, §4.4, unisoc_codec.c) ---- */
uint16_t sim_unisoc_crc16_xmodem(const uint8_t *p, size_t n);
uint16_t sim_unisoc_sum16(const uint8_t *p, size_t n);
uint16_t sim_unisoc_crc16_arc(const uint8_t *p, size_t n);

/* Encodes one BSL frame (flags, escaping when `escape`, check value by `crc`) into out.
 * Returns the wire length, or 0 when cap is too small. */
size_t sim_unisoc_bsl_encode(uint16_t type, const uint8_t *payload, size_t len, bool crc,
                             bool escape, uint8_t *out, size_t cap);
/* Same, with the check value XORed by check_xor (0 = correct). */
size_t sim_unisoc_bsl_encode_ex(uint16_t type, const uint8_t *payload, size_t len, bool crc,
                                bool escape, uint16_t check_xor, uint8_t *out, size_t cap);

/* Incremental BSL receiver. Feed one byte at a time. */
enum sim_unisoc_dec_ev {
    SIM_UNISOC_DEC_NONE,
    SIM_UNISOC_DEC_FRAME,    /* a verified frame: type, len, payload in buf[4..] */
    SIM_UNISOC_DEC_BAD,      /* a broken frame; err says why */
    SIM_UNISOC_DEC_FLAG_RUN, /* a second (third, ...) 0x7E with no data: a check-baud burst */
};

struct sim_unisoc_dec {
    uint8_t *buf; /* UNISOC_BSL_BUF bytes, owned by the caller */
    size_t cap;   /* payload limit of the current stage + 6 */
    size_t n;
    bool in_frame, esc, bad, crc, escape;
    unsigned flag_run; /* consecutive 0x7E with no data in between */
    const char *bad_why;
    uint16_t type, len;
    const uint8_t *payload;
};

enum sim_unisoc_dec_ev sim_unisoc_dec_byte(struct sim_unisoc_dec *d, uint8_t b);

/* ---- flash, NV and region book-keeping (unisoc_flash.c) ---- */
#define UNISOC_PAGE       4096u
#define UNISOC_MAX_REGION 24

struct sim_unisoc_region {
    uint32_t addr;
    uint64_t bytes;
    uint8_t sha[32];
};

struct sim_unisoc_flash {
    uint32_t base, size;
    uint8_t **pages; /* size / UNISOC_PAGE pointers; NULL = erased (reads 0xFF) */
    uint64_t mem_used, mem_limit;
    uint8_t *nv;
    size_t nv_len, nv_cap;
    uint8_t imei[8];
    uint8_t calib[64];
    struct sim_unisoc_region regions[UNISOC_MAX_REGION];
    size_t n_regions;
    uint64_t bytes_written, erases;
};

int sim_unisoc_flash_init(struct sim_unisoc_flash *f, uint32_t base, uint32_t size,
                          uint64_t mem_limit, const char *imei, uint32_t seed);
void sim_unisoc_flash_free(struct sim_unisoc_flash *f);
bool sim_unisoc_flash_contains(const struct sim_unisoc_flash *f, uint32_t addr, uint64_t len);
/* Program bytes (after an erase: NOR semantics are not modelled). -ENOMEM past mem_limit. */
int sim_unisoc_flash_write(struct sim_unisoc_flash *f, uint32_t addr, const uint8_t *p, size_t n);
void sim_unisoc_flash_read(const struct sim_unisoc_flash *f, uint32_t addr, uint8_t *p, size_t n);
void sim_unisoc_flash_erase(struct sim_unisoc_flash *f, uint32_t addr, uint64_t len);
void sim_unisoc_flash_erase_all(struct sim_unisoc_flash *f);
/* Record a completed write (replaces a record at the same address). -ENOSPC when full. */
int sim_unisoc_region_record(struct sim_unisoc_flash *f, uint32_t addr, uint64_t bytes,
                             const uint8_t sha[32]);
/* NV image: checks the CRC-16/ARC in bytes 0-1, then replaces the NV. -EBADMSG on mismatch. */
int sim_unisoc_nv_replace(struct sim_unisoc_flash *f, const uint8_t *p, size_t n);
bool sim_unisoc_nv_intact(const struct sim_unisoc_flash *f);
/* Builds the factory NV image with IMEI (item 5) and calibration (item 2). */
int sim_unisoc_nv_build(const uint8_t imei[8], const uint8_t *calib, size_t calib_len, uint8_t *out,
                        size_t cap, size_t *ret_len);

#endif
