/* Internal to the ASR Crane driver: the operation list a session executes, built from
 * download.json before the first byte goes out (asr_plan.c), and run by asr.c; plus the ASR
 * sparse segmentation of flash images (protocols/asr.md §2.6). Keeping the "what" apart from
 * the "how" lets the plan and the segments be checked without a device.
 */
#ifndef FLASHRACK_ASR_PLAN_H
#define FLASHRACK_ASR_PLAN_H

#include "asr/asr_pkg.h"
#include "asr/asr_wire.h"
#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

enum asr_op_kind {
    ASR_OP_LINE = 1, /* SET_LINE DTR+RTS (CDC SET_CONTROL_LINE_STATE on USB, §1.1) */
    ASR_OP_PROBE,    /* preamble probe, resent every 100 ms, until STDIO "UABT" */
    ASR_OP_INIT,     /* STDIO "UABT", resent every 100 ms, until STDIO "UABT" */
    ASR_OP_HELLO,    /* HELLO(mtu), resent every 100 ms, until HELLO_REPLY */
    ASR_OP_GETVAR,   /* getvar:<name> into the identity; FAIL tolerated */
    ASR_OP_REQUIRE,  /* getvar:<name> compared with the download.json value */
    ASR_OP_MAXDL,    /* getvar:max-download-size: the limit for every later download */
    ASR_OP_CMD,      /* one text command, expects OKAY */
    ASR_OP_CALL,     /* "call", or "nop" on ROM 2019.01.15 (§2.3 quirk) */
    ASR_OP_DOWNLOAD, /* download:<n> of data[], DATA<n>, ABOOT_DATA frames, OKAY */
    ASR_OP_FLASH,    /* per sparse segment: download + flash:<partition> */
    ASR_OP_REENUM,   /* REENUMERATE after reboot, then DONE */
};

#define ASR_OPF_FAIL_OK   0x01 /* a FAIL reply is logged, not fatal (progress, nop) */
#define ASR_OPF_TAIL      0x02 /* after reboot: FAIL, silence and departure are all fine */
#define ASR_OPF_ARM_LEAVE 0x04 /* the device may leave the bus from this command on */

enum asr_var {
    ASR_VAR_NONE = 0,
    ASR_VAR_PRODUCT,
    ASR_VAR_BOOTROM,
    ASR_VAR_VERSION,
};

struct asr_op {
    enum asr_op_kind kind;
    const char *phase;               /* static: progress phase and message prefix */
    char what[96];                   /* for messages: "download flasher.img (2808 bytes)" */
    char cmd[ASR_ABOOT_CMD_MAX + 1]; /* command text (CMD, GETVAR, REQUIRE) */
    char value[128];                 /* REQUIRE: expected value, '|' = alternatives */
    char name[64];                   /* REQUIRE / GETVAR: variable name */
    enum asr_var var;                /* GETVAR / REQUIRE: identity slot it fills */
    const uint8_t *data;             /* DOWNLOAD / FLASH */
    size_t len;
    char partition[33];  /* FLASH */
    char bootrom[32];    /* run only when the device's version-bootrom equals this ("" = any) */
    uint32_t timeout_ms; /* reply deadline (for FLASH: of each flash:) */
    uint8_t flags;
};

struct asr_opts {
    uint32_t probe_ms;     /* preamble window */
    uint32_t link_ms;      /* no frame at all for this long = link lost (0 = off) */
    uint32_t mtu;          /* offered in HELLO */
    uint32_t max_download; /* cap on the device's max-download-size (0 = none) */
    uint32_t reenum_ms;
    int reboot;
};

struct asr_plan {
    struct asr_op *ops;
    size_t count, cap;
    uint64_t total_bytes; /* every downloaded image byte, before sparse overhead */
    unsigned skipped;     /* download.json entries not run (upload) */
};

/* Parses "key=value;..." into o (defaults first); -EINVAL with a message naming the item. */
int asr_opts_parse(const char *s, struct asr_opts *o, char *err, size_t errlen);

/* Builds the plan for pkg. On error returns FAIL_PACKAGE or FAIL_INTERNAL with a message;
 * FAIL_NONE on success. */
enum fail_code asr_plan_build(struct asr_plan *plan, const struct asr_pkg *pkg,
                              const struct asr_opts *o, char *err, size_t errlen);
void asr_plan_free(struct asr_plan *plan);

/* download.json "require" rule (§2.3): version-bootrom exact, max-download-size want <= got
 * (hex), anything else got equals one of the '|'-separated alternatives of want. */
int asr_require_match(const char *name, const char *want, const char *got);
/* "0x100000" or "100000": 1..8 hex digits, optional 0x. 0 or -EINVAL. */
int asr_parse_hex32(const char *s, uint32_t *ret);

/* ---- ASR sparse (§2.6) ------------------------------------------------------------- */

#define ASR_SPARSE_MAGIC     0xED26FF3Au
#define ASR_SPARSE_BLOCK     4096u
#define ASR_SPARSE_FILE_HDR  32u
#define ASR_SPARSE_CHUNK_HDR 16u
/* File header, leading and trailing DONT_CARE, RAW header, CRC32 chunk with its value. */
#define ASR_SPARSE_OVERHEAD (ASR_SPARSE_FILE_HDR + 4 * ASR_SPARSE_CHUNK_HDR + 4)

/* A download's bytes without copying the image: head, data, pad x 0xFF, tail. */
struct asr_src {
    uint8_t head[ASR_SPARSE_FILE_HDR + 2 * ASR_SPARSE_CHUNK_HDR];
    size_t head_len;
    const uint8_t *data;
    size_t data_len;
    size_t pad;
    uint8_t tail[2 * ASR_SPARSE_CHUNK_HDR + 4];
    size_t tail_len;
};

void asr_src_raw(struct asr_src *s, const uint8_t *data, size_t len);
size_t asr_src_len(const struct asr_src *s);
/* Copies bytes [off, off+n) of the download into out (the range must be inside). */
void asr_src_copy(const struct asr_src *s, size_t off, uint8_t *out, size_t n);

/* RAW blocks one segment may carry under a download limit; 0 when not even one fits. */
uint32_t asr_sparse_blocks_per_segment(uint32_t max_download);
/* Segments an image of len bytes needs (len > 0, per > 0). */
uint32_t asr_sparse_segment_count(size_t len, uint32_t per);
/* Segment k of an image: [DONT_CARE k*per] RAW(<= per blocks, last block padded with 0xFF)
 * [DONT_CARE rest] CRC32(raw data), total blocks = the whole image. raw_len (optional) gets
 * the image bytes it carries. -EINVAL for k out of range or an empty image. */
int asr_sparse_segment(const uint8_t *img, size_t len, uint32_t per, uint32_t k,
                       struct asr_src *out, size_t *raw_len);
/* Nonzero when img already is an ASR sparse image (magic and 32/16 header sizes). */
int asr_sparse_is(const uint8_t *img, size_t len);

#endif
