/* Internal to the Unisoc driver: the operation list a session executes, built from the PAC's
 * XML scheme before the first byte goes out (unisoc_plan.c), and run by unisoc.c. Keeping the
 * "what" (plan) apart from the "how" (exchange state machine) lets the plan be checked
 * without a device and keeps the state machine free of package rules.
 */
#ifndef FLASHRACK_UNISOC_PLAN_H
#define FLASHRACK_UNISOC_PLAN_H

#include "protocol.h"
#include "unisoc/unisoc_pkg.h"
#include "unisoc/unisoc_wire.h"

#include <stddef.h>
#include <stdint.h>

enum unisoc_chip {
    UNISOC_CHIP_8910 = 1, /* PDL ROM loads HOST_FDL */
    UNISOC_CHIP_CLASSIC,  /* BSL/CRC ROM loads FDL (UIS8850 and classic SPRD) */
};

enum unisoc_op_kind {
    UNISOC_OP_LINE = 1,   /* SET_LINE: DTR/RTS kick before the first byte */
    UNISOC_OP_PDL,        /* one PDL command, expects a status reply */
    UNISOC_OP_PDL_DATA,   /* MID_DATA packets over data[], each acknowledged */
    UNISOC_OP_PDL_EXEC,   /* EXEC_DATA: written, never answered */
    UNISOC_OP_CHECK_BAUD, /* raw 0x7E until VER */
    UNISOC_OP_CMD,        /* one BSL command, expects ACK */
    UNISOC_OP_DATA,       /* MIDST_DATA chunks over data[] */
    UNISOC_OP_BAUD,       /* CHANGE_BAUD, then SET_LINE and a short settle pause */
    UNISOC_OP_TRANSCODE,  /* DISABLE_TRANSCODE, then both directions stop escaping */
    UNISOC_OP_REENUM,     /* REENUMERATE after NORMAL_RESET, then DONE */
};

#define UNISOC_OPF_ALLOW_INCOMPAT 0x01 /* EXEC to FDL1: 0x96 counts as success */
#define UNISOC_OPF_SKIP_VER       0x02 /* a VER reply here is stale: skip it */

struct unisoc_op {
    enum unisoc_op_kind kind;
    const char *phase; /* static: progress phase and message prefix */
    char what[72];     /* what this op does, for messages: "START_DATA FDL2 at 0x00810000" */
    uint16_t cmd;      /* BSL command */
    uint8_t payload[80];
    size_t plen;
    uint32_t pdl_cmd, arg1, arg2; /* PDL command; extra bytes are payload[0..plen) */
    const uint8_t *data;          /* DATA / PDL_DATA: bytes to send */
    size_t len;
    size_t chunk; /* DATA: most bytes per packet */
    int pad_even; /* DATA: pad an odd last chunk with 0xFF (sum mode, see README) */
    uint32_t timeout_ms;
    uint8_t check; /* enum unisoc_check of this stage */
    uint8_t tries; /* attempts on a silent timeout (idempotent commands only) */
    uint8_t flags;
    uint32_t baud; /* BAUD / LINE */
};

struct unisoc_opts {
    int write_nv;
    int format_fs;
    uint32_t baud;
    uint32_t chunk;
    int transcode;
    char ver[48];
    uint32_t reenum_ms;
};

struct unisoc_plan {
    enum unisoc_chip chip;
    struct unisoc_op *ops;
    size_t count, cap;
    uint64_t total_bytes;
    unsigned skipped_nv, skipped_fs, skipped_other;
    uint8_t *owned[8]; /* patched NV copies */
    size_t nowned;
};

/* Parses "key=value;..." into o (defaults first). -EINVAL with a message for unknown keys or
 * bad values. */
int unisoc_opts_parse(const char *s, struct unisoc_opts *o, char *err, size_t errlen);

/* Builds the plan for pac on the given link. On error returns a fail code (FAIL_PACKAGE,
 * FAIL_INTERNAL) with a message; FAIL_NONE on success. */
enum fail_code unisoc_plan_build(struct unisoc_plan *plan, const struct unisoc_pac *pac,
                                 const struct unisoc_opts *o, enum proto_link_kind link, char *err,
                                 size_t errlen);
void unisoc_plan_free(struct unisoc_plan *plan);

#endif
