/* WTPTP wire format (protocols/asr.md §3.1-3.2): the Marvell boot-ROM download protocol the
 * EC200A (ASR1803 "Nezha3") speaks over USB bulk. All fields little-endian, byte-packed.
 *
 *   command (host -> device): CMD SEQ CID FLAGS LEN(u32) DATA[LEN]      (PREAMBLE: 00 D3 02 2B)
 *   status  (device -> host): CMD SEQ CID STATUS FLAGS DLEN(u8) DATA[DLEN]
 *
 * DLEN is one byte, so a status is never more than 6 + 255 bytes: the decoder holds exactly
 * one status and cannot be made to grow. Encoders write into caller buffers.
 */
#ifndef FLASHRACK_WTPTP_WIRE_H
#define FLASHRACK_WTPTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WTPTP_CMD_HDR        8
#define WTPTP_STATUS_HDR     6
#define WTPTP_STATUS_MAX     (WTPTP_STATUS_HDR + 255)
#define WTPTP_PREAMBLE_LEN   4
#define WTPTP_PREAMBLE_REPLY 4 /* §3.2: CMD SEQ CID STATUS, no FLAGS/DLEN */
/* Largest DATA payload per command in slow mode: 8 + 16376 = 16 KiB per USB write (§3.3). */
#define WTPTP_DATA_MAX 16376u

enum wtptp_cmd {
    WTPTP_PREAMBLE = 0x00,
    WTPTP_GETVERSION = 0x20,
    WTPTP_DATA = 0x22,
    WTPTP_SELECTIMAGE = 0x26,
    WTPTP_VERIFYIMAGE = 0x27,
    WTPTP_DATAHEADER = 0x2A,
    WTPTP_MESSAGE = 0x2B,
    WTPTP_DONE = 0x30,
    WTPTP_DISCONNECT = 0x31,
};

enum wtptp_status_code {
    WTPTP_ACK = 0,
    WTPTP_NACK = 1,
    WTPTP_SEQ_ERROR = 2,
};

/* Status FLAGS bits (§3.1). */
#define WTPTP_FLAG_MSG_PENDING 0x01 /* host should issue MESSAGE */
#define WTPTP_FLAG_MSG_NUMERIC 0x02 /* the pending message is a code, not a string */
#define WTPTP_FLAG_FAST        0x04 /* fast download requested (DATAHEADER) / granted (reply) */

/* MESSAGE reply types and notification codes (§3.1). */
enum wtptp_msg_type {
    WTPTP_MSG_NOTIFY = 0,
    WTPTP_MSG_ERROR = 1,
    WTPTP_MSG_BURNT_SIZE = 2,
    WTPTP_MSG_NAND_ID = 3,
    WTPTP_MSG_FLASH_SIZE = 4,
    WTPTP_MSG_FUSE_INFO = 5,
    WTPTP_MSG_UE_INFO = 6,
};

enum wtptp_notify {
    WTPTP_NOTIFY_BUSY = 1,
    WTPTP_NOTIFY_READY = 2,
    WTPTP_NOTIFY_DISCONNECT = 5,
};

/* Image ids: ASCII FourCC read as a little-endian u32 ("TIMH" -> 0x54494D48). */
#define WTPTP_ID_TIMH 0x54494D48u
#define WTPTP_ID_DKBI 0x444B4249u
#define WTPTP_ID_PART 0x50415254u

extern const uint8_t wtptp_preamble[WTPTP_PREAMBLE_LEN];

/* Encodes one command; returns bytes written (8 + len) or 0 when cap is too small. */
size_t wtptp_encode(uint8_t *out, size_t cap, uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t flags,
                    const uint8_t *data, uint32_t len);

struct wtptp_status {
    uint8_t cmd, seq, cid, status, flags, dlen;
    uint8_t data[255];
};

enum wtptp_dec_result {
    WTPTP_DEC_MORE = 0, /* all input consumed, no status yet */
    WTPTP_DEC_STATUS,   /* a status is ready; *used bytes consumed */
};

struct wtptp_dec {
    uint8_t buf[WTPTP_STATUS_MAX];
    size_t got;
    int preamble; /* expect the 4-byte preamble reply instead of a full status */
};

/* preamble: nonzero to decode the 4-byte preamble reply (flags = dlen = 0 in the result). */
void wtptp_dec_init(struct wtptp_dec *d, int preamble);
enum wtptp_dec_result wtptp_dec_feed(struct wtptp_dec *d, const uint8_t *p, size_t n, size_t *used,
                                     struct wtptp_status *st);
/* Bytes of a status received so far (0 when between statuses). */
size_t wtptp_dec_partial(const struct wtptp_dec *d);

/* GETVERSION reply data (§3.1): version, date, processor; an ASR DKB adds DDR vendor, DDR
 * size and flash id (24 bytes). FourCC text is shown as the LE u32 read most-significant
 * byte first, the way image ids are ("3311", "NZA3"); raw[] keeps the wire order. */
struct wtptp_version {
    char version[5], processor[5], ddr_vendor[5];
    char version_raw[5], processor_raw[5], ddr_vendor_raw[5];
    uint32_t date;
    uint32_t ddr_size, flash_id;
    int extended; /* the 24-byte DKB form */
};
/* -EINVAL when shorter than 12 bytes. */
int wtptp_parse_version(const uint8_t *data, size_t n, struct wtptp_version *v);

/* MESSAGE reply data of DLEN 6: type, pad, code. -EINVAL for any other length. */
int wtptp_parse_message(const uint8_t *data, size_t n, uint8_t *type, uint32_t *code);

/* "TIMH" when all four characters are printable, else "0x%08x". */
void wtptp_id_text(uint32_t id, char out[16]);
uint32_t wtptp_le32(const uint8_t *p);

const char *wtptp_cmd_name(unsigned cmd);
const char *wtptp_status_name(unsigned status);
const char *wtptp_notify_name(uint32_t code);
const char *wtptp_msg_type_name(unsigned type);
/* Marvell error codes carried by NACK / error reports (§3.1), "?" if unknown. */
const char *wtptp_error_name(uint32_t code);

#endif
