/* The protocol-driver interface (docs/architecture.md §3).
 *
 * A protocol session is a sans-I/O state machine: it never touches a file descriptor, a clock
 * or a library handle. The job layer (daemon/job.c) feeds it exactly one event answering the
 * previous request and executes exactly one request it returns. The same session runs
 * against real USB, real serial, a device model under a virtual clock, and a fuzzer.
 *
 * Pure header: no I/O library may be included under protocols/ (a ctest check enforces it).
 */
#ifndef FLASHRACK_PROTOCOL_H
#define FLASHRACK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Operator-facing failure taxonomy, stored as strings (fail_code_to_string). */
enum fail_code {
    FAIL_NONE = 0,
    FAIL_PACKAGE,      /* package unusable: corrupt, truncated, unsupported */
    FAIL_NO_MATCH,     /* package does not fit this module */
    FAIL_TIMEOUT,      /* device did not answer in time */
    FAIL_DISCONNECTED, /* device left the bus while it was needed */
    FAIL_IO,           /* transport error other than disconnect */
    FAIL_PROTOCOL,     /* device answered something the protocol does not allow */
    FAIL_REJECTED,     /* device understood and refused (NAK, FAIL reply, bad checksum) */
    FAIL_VERIFY,       /* post-flash verification failed */
    FAIL_ABORTED,      /* operator abort or daemon shutdown */
    FAIL_INTERNAL,     /* a bug or resource exhaustion on the host */
    /* The station's own pre-flash interlock (daemon/mes_interlock.h), never a driver's: */
    FAIL_MES_REJECTED,    /* the MES refused the unit */
    FAIL_MES_UNREACHABLE, /* the MES could not be asked (and [mes] interlock_on_error=block) */
    FAIL_CODE_COUNT
};
const char *fail_code_to_string(enum fail_code code);
/* Returns FAIL_CODE_COUNT for an unknown string. */
enum fail_code fail_code_from_string(const char *s);

enum proto_transport {
    PROTO_TRANSPORT_USB_BULK = 1u << 0,
    PROTO_TRANSPORT_SERIAL = 1u << 1,
};

/* One USB identity a driver speaks to. Matching is data: config can extend the table. */
struct proto_usb_id {
    uint16_t vid;
    uint16_t pid;
    int8_t interface_number; /* interface carrying the protocol, -1 = first bulk pair */
    uint8_t transports;      /* PROTO_TRANSPORT_* bits this id can be driven over */
    const char *what;        /* e.g. "UIS8910 ROM download port" */
};

enum proto_event_type {
    PROTO_EV_START = 1, /* first step of a session */
    PROTO_EV_RX,        /* answers READ: 1..max bytes arrived */
    PROTO_EV_TX_DONE,   /* answers WRITE, SET_LINE: done */
    PROTO_EV_TIMEOUT,   /* answers READ or WRITE: nothing within the timeout */
    PROTO_EV_WAKE,      /* answers WAIT */
    PROTO_EV_ATTACHED,  /* answers REENUMERATE: the device is back on the same port */
};

enum proto_link_kind {
    PROTO_LINK_NONE = 0,
    PROTO_LINK_USB_BULK,
    PROTO_LINK_SERIAL,
};

/* What the session is talking through; filled by the job before START and ATTACHED. */
struct proto_link {
    enum proto_link_kind kind;
    uint16_t vid, pid;
    uint16_t max_packet; /* bulk OUT wMaxPacketSize (0 on serial) */
    uint32_t baud;       /* serial only */
};

struct proto_event {
    enum proto_event_type type;
    const uint8_t *data; /* PROTO_EV_RX: valid only during the step call */
    size_t len;
};

enum proto_request_type {
    PROTO_REQ_WRITE = 1,   /* write data[0..len) within timeout_ms */
    PROTO_REQ_READ,        /* read 1..len bytes within timeout_ms */
    PROTO_REQ_WAIT,        /* wake after timeout_ms */
    PROTO_REQ_SET_LINE,    /* baud (0 = unchanged), dtr, rts */
    PROTO_REQ_REENUMERATE, /* device leaves and comes back on the same port within timeout_ms */
    PROTO_REQ_DONE,        /* success */
    PROTO_REQ_FAIL,        /* failure: code + message */
};

struct proto_request {
    enum proto_request_type type;
    const uint8_t *data; /* WRITE: owned by the session, valid until the next step */
    size_t len;          /* WRITE: bytes to write; READ: most bytes wanted */
    uint32_t timeout_ms;
    uint32_t baud;
    uint8_t dtr, rts;
    enum fail_code fail;
    char message[256]; /* FAIL: what went wrong, for the operator and the record */
};

struct proto_progress {
    uint64_t done;     /* bytes confirmed written by the device */
    uint64_t total;    /* bytes the whole session will write; 0 = unknown yet */
    const char *phase; /* static string: "handshake", "fdl1", "flash:boot", ... */
};

/* What a session learned about the device; the job persists it. */
struct device_ident {
    char chip[32];
    char imei[20];
    char revision[64];
    char serial[64];
};

/* Shared between a job and its session. The job owns it; it outlives the session. */
struct proto_ctx {
    struct proto_progress progress; /* written by the session */
    struct device_ident ident;      /* written by the session */
    struct proto_link link;         /* written by the job before START and ATTACHED */
    uint64_t now_ms;                /* monotonic (or virtual) time of this step */
    /* Written by the session before a command after which the device may drop off the bus
     * at any moment (AT+QDOWNLOAD=1, a reset): if it leaves while this is nonzero, the job
     * treats it as a re-enumeration (waits up to this many ms, then ATTACHED) instead of a
     * "disconnected" failure. The job clears it on ATTACHED. */
    uint32_t expect_leave_ms;
};

/* Input a session gets besides the wire: the parsed package and its options. */
struct proto_params {
    const void *package;  /* the driver's own parsed package (from parse) */
    const uint8_t *image; /* whole package file, read-only (mmap), may be NULL */
    size_t image_len;
    const char *options; /* driver options "key=value;key=value" from config, may be NULL */
};

struct proto {
    const char *name; /* "unisoc", "asr", ... */
    const char *description;
    uint8_t transports; /* PROTO_TRANSPORT_* bits */
    const struct proto_usb_id *usb_ids;
    size_t usb_id_count;

    /* Package: sniff returns nonzero when the bytes look like this driver's package.
     * parse validates and returns a driver-owned description; on error it writes a message
     * naming the problem into err and returns a negative errno. */
    int (*sniff)(const uint8_t *data, size_t len);
    int (*parse)(const uint8_t *data, size_t len, void **ret_package, char *err, size_t errlen);
    void (*package_free)(void *package);

    /* Session. new may fail (negative errno). step never fails: it answers FAIL. */
    int (*session_new)(const struct proto_params *params, struct proto_ctx *ctx,
                       void **ret_session);
    void (*step)(void *session, const struct proto_event *in, struct proto_request *out);
    void (*session_free)(void *session);
};

/* Helpers for sessions to fill a request. */
void proto_req_write(struct proto_request *out, const uint8_t *data, size_t len,
                     uint32_t timeout_ms);
void proto_req_read(struct proto_request *out, size_t max, uint32_t timeout_ms);
void proto_req_wait(struct proto_request *out, uint32_t ms);
void proto_req_set_line(struct proto_request *out, uint32_t baud, int dtr, int rts);
void proto_req_reenumerate(struct proto_request *out, uint32_t timeout_ms);
void proto_req_done(struct proto_request *out);
void proto_req_fail(struct proto_request *out, enum fail_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *proto_event_type_to_string(enum proto_event_type type);
const char *proto_request_type_to_string(enum proto_request_type type);

/* Registry (protocols/registry.c): explicit array of drivers. */
size_t proto_registry_count(void);
const struct proto *proto_registry_get(size_t index);
const struct proto *proto_registry_find(const char *name);
/* Driver whose id table holds vid:pid, or NULL; ret_id (optional) gets the entry. */
const struct proto *proto_registry_match_usb(uint16_t vid, uint16_t pid,
                                             const struct proto_usb_id **ret_id);

#endif
