/* Unisoc download wire formats (protocols/unisoc.md §2, §4.1): BSL frames (HDLC-like 0x7E
 * flags, 0x7D escaping, big-endian header, CRC-16/XMODEM in the ROM stage or the one's-
 * complement "Spreadtrum sum" in FDL stages) and the 8910 ROM's PDL packets (0xAE tag, LE,
 * no check value). Encoders write into caller buffers; decoders take a byte stream in any
 * pieces and never hold more than one bounded frame.
 */
#ifndef FLASHRACK_UNISOC_WIRE_H
#define FLASHRACK_UNISOC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define UNISOC_BSL_FLAG 0x7E
#define UNISOC_BSL_ESC  0x7D
/* Largest payload we accept from a device: the vendor host's receive buffer (§2.4). */
#define UNISOC_BSL_MAX_PAYLOAD 0x8000u
#define UNISOC_PDL_TAG         0xAE
#define UNISOC_PDL_HDR         8
#define UNISOC_PDL_MAX_REPLY   64 /* replies carry a 4-byte status; allow a little more */

/* BSL commands (host -> device) and replies (device -> host), §3. */
enum unisoc_bsl_cmd {
    UNISOC_CMD_CONNECT = 0x00,
    UNISOC_CMD_START_DATA = 0x01,
    UNISOC_CMD_MIDST_DATA = 0x02,
    UNISOC_CMD_END_DATA = 0x03,
    UNISOC_CMD_EXEC_DATA = 0x04,
    UNISOC_CMD_NORMAL_RESET = 0x05,
    UNISOC_CMD_CHANGE_BAUD = 0x09,
    UNISOC_CMD_ERASE_FLASH = 0x0A,
    UNISOC_CMD_DISABLE_TRANSCODE = 0x21,
};

enum unisoc_bsl_rep {
    UNISOC_REP_ACK = 0x80,
    UNISOC_REP_VER = 0x81,
    UNISOC_REP_VERIFY_ERROR = 0x8B,
    UNISOC_REP_NOT_SUPPORT_BAUDRATE = 0x85,
    UNISOC_REP_INCOMPATIBLE_PARTITION = 0x96,
    UNISOC_REP_LOG = 0xFF,
};

/* PDL commands and statuses (§4.1). */
enum unisoc_pdl_cmd {
    UNISOC_PDL_CONNECT = 0,
    UNISOC_PDL_START_DATA = 4,
    UNISOC_PDL_MID_DATA = 5,
    UNISOC_PDL_END_DATA = 6,
    UNISOC_PDL_EXEC_DATA = 7,
};

enum unisoc_check {
    UNISOC_CHECK_CRC16 = 0, /* ROM stage */
    UNISOC_CHECK_SUM = 1,   /* FDL1 / FDL2 */
};

/* CRC-16/XMODEM: poly 0x1021, init 0, MSB first, no final XOR. check("123456789") = 0x31C3. */
uint16_t unisoc_crc16_xmodem(const uint8_t *p, size_t n);
/* One's-complement sum of big-endian 16-bit words, folded, inverted. A trailing odd byte is
 * added as the low byte (Unisoc/Quectel) unless odd_high (spd_dump receive side). */
uint16_t unisoc_fdl_sum(const uint8_t *p, size_t n, int odd_high);

/* Name of a reply code ("ACK", "VERIFY_ERROR", ...) or "?" */
const char *unisoc_rep_name(unsigned code);
/* Nonzero for reply codes that mean "the device refused" (0x82..0xAD range of §3.2). */
int unisoc_rep_is_nak(unsigned code);
const char *unisoc_pdl_status_name(uint32_t status);

/* Worst-case encoded size of a frame with n payload bytes. */
static inline size_t unisoc_bsl_encoded_max(size_t n)
{
    return 2 * (n + 6) + 2;
}

/* Encodes one frame; returns bytes written, or 0 when n > 0xFFFF or cap is too small. */
size_t unisoc_bsl_encode(uint8_t *out, size_t cap, uint16_t type, const uint8_t *payload, size_t n,
                         enum unisoc_check check, int escape);

/* PDL packet: 8-byte header (tag, LE data size, flow id 0xFF, 2 reserved) then cmd, arg1,
 * arg2 (LE) and extra bytes. Returns bytes written or 0 when cap is too small. */
size_t unisoc_pdl_encode(uint8_t *out, size_t cap, uint32_t cmd, uint32_t arg1, uint32_t arg2,
                         const uint8_t *extra, size_t n);

enum unisoc_dec_result {
    UNISOC_DEC_MORE = 0, /* all input consumed, no frame yet */
    UNISOC_DEC_FRAME,    /* a frame is ready; *used bytes consumed */
    UNISOC_DEC_ERROR,    /* a malformed frame; dec->error says why, decoder hunts again */
};

struct unisoc_bsl_frame {
    uint16_t type;
    const uint8_t *payload; /* inside the decoder, valid until the next feed */
    size_t len;
    int crc_ok; /* check value matches CRC-16/XMODEM */
    int sum_ok; /* check value matches the FDL sum (either odd-byte variant) */
};

struct unisoc_bsl_dec {
    uint8_t buf[UNISOC_BSL_MAX_PAYLOAD + 6];
    size_t len;
    size_t need;   /* transcode off: bytes of the frame after the opener, 0 = unknown yet */
    uint8_t state; /* internal */
    uint8_t esc;   /* last byte was 0x7D */
    uint8_t escaping;
    uint8_t after_close; /* open state entered by a closing flag, not a fresh opener */
    uint64_t skipped;    /* junk bytes outside frames, for diagnostics */
    char error[96];
};

void unisoc_bsl_dec_init(struct unisoc_bsl_dec *d, int escaping);
/* Switches escaping (DISABLE_TRANSCODE); drops any partial frame. */
void unisoc_bsl_dec_set_escaping(struct unisoc_bsl_dec *d, int escaping);
enum unisoc_dec_result unisoc_bsl_dec_feed(struct unisoc_bsl_dec *d, const uint8_t *p, size_t n,
                                           size_t *used, struct unisoc_bsl_frame *f);
/* Bytes of a frame received so far without its end (0 when between frames). */
size_t unisoc_bsl_dec_partial(const struct unisoc_bsl_dec *d);

struct unisoc_pdl_dec {
    uint8_t hdr[UNISOC_PDL_HDR];
    uint8_t body[UNISOC_PDL_MAX_REPLY];
    size_t got; /* bytes of header + body received */
    uint32_t size;
    uint64_t skipped;
    int saw_bsl_flag; /* a 0x7E was skipped: the device may be speaking BSL */
    char error[96];
};

void unisoc_pdl_dec_init(struct unisoc_pdl_dec *d);
/* On UNISOC_DEC_FRAME *status holds the reply's status code. */
enum unisoc_dec_result unisoc_pdl_dec_feed(struct unisoc_pdl_dec *d, const uint8_t *p, size_t n,
                                           size_t *used, uint32_t *status);

#endif
