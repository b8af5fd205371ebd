/* ASR160x (Crane) download wire formats, protocols/asr.md §2.1-2.3: SMUX framing (0x7E
 * delimiters, 0x7D escapes, the frame type carried as an escape pair after the opener, no
 * check value) and the aboot replies carried in ABOOT_CMD frames (OKAY/FAIL/DATA/INFO).
 * Encoders write into caller buffers; the decoder takes a byte stream in any pieces and never
 * holds more than one bounded frame.
 */
#ifndef FLASHRACK_ASR_WIRE_H
#define FLASHRACK_ASR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define ASR_SMUX_FLAG 0x7E
#define ASR_SMUX_ESC  0x7D
/* MTU the host offers in HELLO; the device answers with what it accepts (§2.2 step 3). */
#define ASR_SMUX_MTU 1024u
/* Largest decoded frame we accept from a device: the ETHOS MTU, twice the SMUX one, so a
 * long log line does not end a session, while a runaway frame cannot grow without bound. */
#define ASR_SMUX_RX_MAX 2048u
/* aboot commands and replies are at most 128 bytes (ABOOT_COMMAND_SZ, §2.3). */
#define ASR_ABOOT_CMD_MAX 128u

enum asr_smux_type {
    ASR_SMUX_STDIO = 0,       /* free text: "UABT" handshake, device logs */
    ASR_SMUX_HELLO = 1,       /* host -> device: MTU, 2 bytes big-endian */
    ASR_SMUX_HELLO_REPLY = 2, /* device -> host: the MTU it accepts */
    ASR_SMUX_ABOOT_CMD = 3,   /* command (host) or reply (device), ASCII, no terminator */
    ASR_SMUX_ABOOT_DATA = 4,  /* download / upload payload */
    ASR_SMUX_HEART_BEAT = 5,  /* device liveness, about every 300 ms; content ignored */
};

const char *asr_smux_type_name(unsigned type);

/* The raw preamble probe: "UUUU" inside a STDIO frame (README: why both delimiters). */
extern const uint8_t asr_smux_probe[6];

/* Worst-case encoded size of a frame with n payload bytes: two delimiters, the type pair,
 * every byte escaped. */
static inline size_t asr_smux_encoded_max(size_t n)
{
    return 2 * n + 4;
}

/* Encodes one frame (STDIO without a type pair, every other type with one); returns bytes
 * written, or 0 when cap is too small or the type is unknown. */
size_t asr_smux_encode(uint8_t *out, size_t cap, enum asr_smux_type type, const uint8_t *payload,
                       size_t n);
/* HELLO offering mtu (big-endian, §2.1). */
size_t asr_smux_encode_hello(uint8_t *out, size_t cap, uint16_t mtu);

enum asr_dec_result {
    ASR_DEC_MORE = 0, /* all input consumed, no frame yet */
    ASR_DEC_FRAME,    /* a frame is ready; *used bytes consumed */
    ASR_DEC_ERROR,    /* a malformed frame; dec->error says why, the decoder hunts again */
};

struct asr_smux_frame {
    uint8_t type;           /* enum asr_smux_type */
    const uint8_t *payload; /* inside the decoder, valid until the next feed */
    size_t len;
};

struct asr_smux_dec {
    uint8_t buf[ASR_SMUX_RX_MAX];
    size_t len;
    uint8_t state; /* internal */
    uint8_t type;
    uint8_t typed;     /* the frame carried a type pair */
    uint8_t delivered; /* buf holds the frame returned by the last feed */
    uint64_t skipped;  /* bytes before the first delimiter or after a malformed frame */
    uint64_t frames;   /* frames delivered */
    char error[96];
};

void asr_smux_dec_init(struct asr_smux_dec *d);
enum asr_dec_result asr_smux_dec_feed(struct asr_smux_dec *d, const uint8_t *p, size_t n,
                                      size_t *used, struct asr_smux_frame *f);
/* Payload bytes of a frame received so far without its closing delimiter. */
size_t asr_smux_dec_partial(const struct asr_smux_dec *d);

/* aboot replies (§2.3): a 4-character status, then text or a size. */
enum asr_reply_kind {
    ASR_REPLY_OKAY = 1, /* text: the getvar value, or empty */
    ASR_REPLY_FAIL,     /* text: the reason */
    ASR_REPLY_DATA,     /* size: 8 hex digits */
    ASR_REPLY_INFO,     /* text: progress or log; not final */
    ASR_REPLY_BAD,      /* not an aboot reply; text says why */
};

struct asr_reply {
    enum asr_reply_kind kind;
    uint32_t size;                    /* DATA */
    char text[ASR_ABOOT_CMD_MAX + 1]; /* after the prefix; non-printable bytes become '?' */
};

/* Classifies one ABOOT_CMD payload. Never fails: anything that is not a well-formed reply
 * (shorter than 4, longer than 128, unknown prefix, DATA without exactly 8 hex digits) is
 * ASR_REPLY_BAD with the reason in text. */
void asr_reply_parse(const uint8_t *p, size_t n, struct asr_reply *r);
const char *asr_reply_kind_name(enum asr_reply_kind kind);

/* Copies n bytes as printable ASCII (others become '?'), always terminated. */
void asr_printable(char *dst, size_t cap, const uint8_t *p, size_t n);

#endif
