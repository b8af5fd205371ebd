/* Internal to the ASR1803 (EC200A) WTPTP driver: what the session can send, decided from the
 * package before the first byte goes out (asr1803_plan.c), and run by asr1803.c.
 *
 * WTPTP is device-driven: the device names each image it wants (SELECTIMAGE), so the plan
 * is a table of images by (stage, id) plus, per stage, the ids the device will ask for
 * (read from that stage's TIM header, asr.md §3.6) so the host knows when a stage is over.
 */
#ifndef FLASHRACK_ASR1803_PLAN_H
#define FLASHRACK_ASR1803_PLAN_H

#include "asr1803/wtptp_wire.h"
#include "package/pkg.h"
#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

enum asr1803_stage {
    ASR1803_STAGE_ROM = 0, /* boot ROM (2ecc:3002): wants DKB TIM + DKB, then DISCONNECT */
    ASR1803_STAGE_BL = 1,  /* DKB/bootloader: wants FBF TIM + FBF images, flashes them */
};
#define ASR1803_STAGES 2

#define ASR1803_MAX_IMAGES 64
#define ASR1803_MAX_IDS    32 /* ids one TIM may list */

struct asr1803_opts {
    int fast;           /* ask for fast download (DATAHEADER FLAGS=4); default 1 */
    uint32_t chunk;     /* slow-mode DATA payload, 64..16376 (default 16376) */
    uint32_t status_ms; /* reply to a command (default 5000, asr.md §5) */
    uint32_t data_ms;   /* reply to DATA, DONE and the fast-mode end status (default 60000) */
    uint32_t ready_ms;  /* "ready" notification after an image is flashed (default 600000) */
    uint32_t reenum_ms; /* module gone -> back after DISCONNECT (default 30000) */
    int reboot_check;   /* after the last DISCONNECT wait for the module to come back and
                         * check it left download mode (default 1) */
    char processor[8];  /* GETVERSION processor must read this ("NZA3"); "" = any */
};

struct asr1803_image {
    uint32_t id;
    char name[64];       /* package member, for messages */
    const uint8_t *data; /* bytes sent, after the 4-byte id prefix when the format has one */
    size_t len;
    uint8_t stages; /* bit per enum asr1803_stage this image may be sent in */
    uint8_t tim;    /* a TIM header (answers TIMH) */
};

struct asr1803_stage_plan {
    int tim;                       /* index of the TIM image, -1 if the package has none */
    uint32_t ids[ASR1803_MAX_IDS]; /* images the device will ask after TIMH */
    size_t nids;
    int from_tim;   /* ids read from the TIM header (else guessed from the package) */
    uint64_t bytes; /* TIM + listed images, for progress */
};

struct asr1803_plan {
    int form; /* PKG_PARSED_FBF or PKG_PARSED_BLF */
    struct asr1803_image img[ASR1803_MAX_IMAGES];
    size_t count;
    struct asr1803_stage_plan stage[ASR1803_STAGES];
    uint8_t *owned[ASR1803_MAX_IMAGES]; /* members reassembled from several FBF ranges */
    size_t nowned;
    char note[160]; /* a non-fatal remark for the record, "" if none */
};

/* Parses "key=value;..." into o (defaults first); -EINVAL with a message naming the item. */
int asr1803_opts_parse(const char *s, struct asr1803_opts *o, char *err, size_t errlen);

/* Image ids listed in a TIM header (§3.6), in order, TIMH itself included. -EINVAL with a
 * message when the bytes are no TIM (identifier, version, counts, bounds). */
int asr1803_tim_ids(const uint8_t *p, size_t n, uint32_t *ids, size_t cap, size_t *count, char *err,
                    size_t errlen);

/* Builds the table from a parsed package (struct pkg of platform asr1803). Returns
 * FAIL_NONE, or FAIL_PACKAGE / FAIL_INTERNAL with a message. */
enum fail_code asr1803_plan_build(struct asr1803_plan *plan, const struct pkg *pkg, char *err,
                                  size_t errlen);
void asr1803_plan_free(struct asr1803_plan *plan);

/* The image to send when the device in `stage` asks for id. When several FBF images carry
 * the id (one per DDR part), the one whose name holds the DDR vendor id from GETVERSION
 * (v may be NULL) wins. NULL with a message when there is none or the choice is ambiguous. */
const struct asr1803_image *asr1803_plan_find(const struct asr1803_plan *plan,
                                              enum asr1803_stage stage, uint32_t id,
                                              const struct wtptp_version *v, char *err,
                                              size_t errlen);

#endif
