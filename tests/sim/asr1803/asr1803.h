/* Internal interface of the EC200A (ASR1803 "Nezha3") WTPTP device model ("asr1803"), written
 * only from ../shared/protocols/asr.md §3. See README.md in this directory for the behaviour
 * and the choices made where the notes have gaps. */
#ifndef FLASHRACK_SIM_ASR1803_H
#define FLASHRACK_SIM_ASR1803_H

#include "sim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- commands and status (notes §3.1) ---- */
enum {
    WTPTP_CMD_PREAMBLE = 0x00,
    WTPTP_CMD_DATA = 0x22,
    WTPTP_CMD_GETVERSION = 0x20,
    WTPTP_CMD_SELECTIMAGE = 0x26,
    WTPTP_CMD_VERIFYIMAGE = 0x27,
    WTPTP_CMD_DATAHEADER = 0x2A,
    WTPTP_CMD_MESSAGE = 0x2B,
    WTPTP_CMD_DONE = 0x30,
    WTPTP_CMD_DISCONNECT = 0x31,

    WTPTP_ACK = 0,
    WTPTP_NACK = 1,
    WTPTP_SEQ_ERROR = 2,

    WTPTP_FLAG_MSG = 1u << 0,      /* a MESSAGE is pending */
    WTPTP_FLAG_MSG_CODE = 1u << 1, /* ... and it is a numeric code */
    WTPTP_FLAG_FAST = 1u << 2,     /* fast download requested / granted */
};

/* MESSAGE types and notification codes (notes §3.1). */
enum {
    WTPTP_MSG_NOTIFY = 0,
    WTPTP_MSG_ERROR = 1,
    WTPTP_MSG_BURNT = 2,
    WTPTP_MSG_FLASH_SIZE = 4,

    WTPTP_NOTE_BUSY = 1,
    WTPTP_NOTE_READY = 2,
};

/* Marvell NACK error codes used by the model (notes §3.1). */
enum {
    WTPTP_ERR_NOT_FOUND = 0x01,
    WTPTP_ERR_GENERAL = 0x02,
    WTPTP_ERR_NOT_SUPPORTED = 0x05,
    WTPTP_ERR_INVALID_TIM = 0x6A,
    WTPTP_ERR_DOWNLOAD = 0x91,
    WTPTP_ERR_TOO_BIG = 0x94,
    WTPTP_ERR_PREAMBLE = 0x95,
    WTPTP_ERR_UNKNOWN_IMAGE = 0x98,
    WTPTP_ERR_UNKNOWN_CMD = 0x9B,
};

/* Image ids: ASCII FourCC read as a little-endian u32 (notes §3.1). */
#define WTPTP_ID_TIMH 0x54494D48u
#define WTPTP_ID_DKBI 0x444B4249u

#define WTPTP_PREAMBLE_LEN 4
#define WTPTP_HDR_LEN      8
#define WTPTP_STATUS_LEN   6
/* Largest command payload the receiver reads; longer LEN fields are garbage. */
#define WTPTP_MAX_LEN (1u << 20)
/* Largest TIM the model buffers (a TIM is a few KiB). */
#define WTPTP_TIM_MAX 0x10000u
/* FBF_h header bytes kept for the checks (MasterBlockHeader + DeviceHeader + 30 records). */
#define WTPTP_FBF_KEEP 8192u

extern const uint8_t sim_wtptp_preamble[WTPTP_PREAMBLE_LEN];

/* True for command codes the notes list (0x20..0x38); false for anything else. */
bool sim_wtptp_cmd_known(uint8_t cmd);
/* True for the ones this model serves (the plain-flashing set). */
bool sim_wtptp_cmd_served(uint8_t cmd);

/* Encodes a status packet; returns its length or 0 when cap is too small / dlen > 255. */
size_t sim_wtptp_status_encode(uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t status, uint8_t flags,
                               const uint8_t *data, size_t dlen, uint8_t *out, size_t cap);

/* "TIMH" for printable FourCCs, else "0x%08X"; out holds at least 11 bytes. */
void sim_wtptp_id_name(uint32_t id, char *out, size_t cap);
/* Parses "TIMH" (4 printable characters) or a number; -EINVAL otherwise. */
int sim_wtptp_id_parse(const char *text, uint32_t *ret);

/* ---- TIM header (notes §3.6) ---- */
#define WTPTP_TIM_MAX_IMAGES 32

struct sim_wtptp_tim {
    uint32_t version;
    uint32_t trusted;
    uint32_t num_images;
    uint32_t ids[WTPTP_TIM_MAX_IMAGES];
    uint32_t sizes[WTPTP_TIM_MAX_IMAGES];
};

/* Checks a TIM and extracts the image ids. Returns 0, or -EBADMSG with the reason in err. */
int sim_wtptp_tim_parse(const uint8_t *p, size_t n, struct sim_wtptp_tim *tim, char *err,
                        size_t err_len);
/* Size of one IMAGE_INFO record for a TIM version, 0 for unknown versions. */
size_t sim_wtptp_tim_record_size(uint32_t version);

/* ---- FBF_h header (notes §3.5; the field sizes are the README's choice) ---- */
#define WTPTP_FBF_MASTER_LEN   76
#define WTPTP_FBF_DEV_FIXED    124
#define WTPTP_FBF_IMAGE_REC    52
#define WTPTP_FBF_MAX_IMAGES   30
#define WTPTP_FBF_OFF_NDEV     52
#define WTPTP_FBF_OFF_DEVOFF   60
#define WTPTP_FBF_DEV_OPTVALUE 104
#define WTPTP_FBF_DEV_CHIPID   108
#define WTPTP_FBF_DEV_NIMAGES  120

struct sim_wtptp_fbf {
    uint32_t chip_id;
    uint32_t opt_value;
    uint32_t n_images;
};

/* Structural checks of the received FBF_h bytes (n = how many of them the caller kept, total =
 * the image size). -EBADMSG with the reason in err. The ChipID is returned, not judged. */
int sim_wtptp_fbf_parse(const uint8_t *p, size_t n, uint64_t total, struct sim_wtptp_fbf *fbf,
                        char *err, size_t err_len);

#endif
