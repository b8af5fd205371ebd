/* Sans-I/O device models for the virtual rack (tests/rack) and protocol tests (tests/proto).
 *
 * A model is the firmware side of a fake device, written from the protocol notes and never
 * from protocols/ code. It sees bytes, never file descriptors, URBs or clocks:
 *
 *   host -> device   sim_model_rx(m, chan, bytes)      returns how many it accepted
 *   device -> host   sim_model_tx(m, chan, buf, cap)   whatever is ready now
 *   line state       sim_model_line(m, chan, line)     DTR/RTS/baud from tty or CDC requests
 *   time             every call gets now_ms; sim_model_next_event_ms() says when the model
 *                    wants to be asked again (slow flash, reboot delays); SIM_NEVER if never
 *   side effects     sim_model_take_action(): "unplug", "replug PROFILE [key=value...]" for
 *                    a module that reboots into another USB identity
 *
 * A device can expose several byte channels (a Quectel module has DIAG, AT and modem ports);
 * the rack profile maps USB interfaces and ttys to channel numbers 0..max_chans-1.
 *
 * Flow control: rx may accept fewer bytes than offered (a device that is busy). The caller
 * keeps the rest and offers it again after tx or after next_event_ms; on USB that is a NAKed
 * bulk OUT, on a tty bytes left in the pty buffer.
 *
 * Transfer boundaries: on USB each sim_model_tx() call fills at most one bulk IN transfer, so
 * a model that returns one message per call gets one message per transfer. On a tty the
 * harness calls tx repeatedly until it returns 0.
 *
 * Not thread-safe: the caller serialises all calls on one model.
 */
#ifndef FLASHRACK_SIM_H
#define FLASHRACK_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_NEVER      UINT64_MAX
#define SIM_OPTS_MAX   16
#define SIM_ERR_MAX    160
#define SIM_ACTION_MAX 256
#define SIM_STATS_MAX  4096
#define SIM_MAX_CHANS  8

/* Serial line state as the device sees it. baud 0 means "not known yet". */
struct sim_line {
    bool dtr;
    bool rts;
    uint32_t baud;
    uint8_t data_bits; /* 5..8; 0 when unknown */
    char parity;       /* 'N', 'E', 'O', 'M', 'S'; 0 when unknown */
    uint8_t stop_bits; /* 1 or 2; 0 when unknown */
};

/* A USB control request that is not handled by the harness (vendor requests). */
struct sim_setup {
    uint8_t request_type;
    uint8_t request;
    uint16_t value;
    uint16_t index;
    uint16_t length;
};

/* "key=value,key=value" options, parsed once; models consume what they know. */
struct sim_opts {
    size_t count;
    struct {
        char *key;
        char *value;
        bool used;
    } kv[SIM_OPTS_MAX];
};

struct sim_model;

struct sim_model_ops {
    const char *name;
    const char *summary;
    unsigned max_chans; /* channels 0..max_chans-1 are served */
    /* Allocate a model; consume options with sim_opts_get*(); unknown ones are reported by
     * the caller. On failure write a message to err and return a negative errno. */
    int (*create)(struct sim_opts *opts, struct sim_model **ret_model, char *err, size_t err_len);
    void (*destroy)(struct sim_model *m);
    /* Optional: the device got power / enumerated (the rack calls it right after plugging). */
    void (*start)(struct sim_model *m, uint64_t now_ms);
    size_t (*rx)(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                 uint64_t now_ms);
    size_t (*tx)(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap, uint64_t now_ms);
    /* Optional. */
    void (*line)(struct sim_model *m, unsigned chan, const struct sim_line *line, uint64_t now_ms);
    /* Optional: vendor control transfers. IN: write up to setup->length bytes to data and
     * return the count; OUT: data holds setup->length bytes, return 0. -EPIPE stalls. */
    int (*control)(struct sim_model *m, const struct sim_setup *setup, uint8_t *data,
                   uint64_t now_ms);
    /* Optional; NULL means SIM_NEVER. The earliest time after now_ms at which time alone
     * changes something (a delayed reply becomes ready, a reboot). Never a time not after
     * now_ms for something that waits for the host (a ready reply nobody reads, the rest
     * of a transfer the host gave up): harnesses ask again on host I/O, and a past time
     * would either wake them at once for ever or hide a later event (the virtual rack
     * arms no timer for it and says so on stderr). */
    uint64_t (*next_event_ms)(const struct sim_model *m, uint64_t now_ms);
    /* "key=value\n" lines; returns bytes written (excluding NUL) or negative errno. */
    int (*stats)(const struct sim_model *m, char *buf, size_t cap);
    /* Optional: one pending side effect as text, returns 1 if one was written, else 0. */
    int (*take_action)(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms);
};

/* Every model struct starts with this. The link fields belong to the generic wrappers: the
 * option link_rate=B (bytes/s, any model) makes sim_model_rx() take host bytes no faster
 * than B, as a real USB or UART link would (0 = as fast as the caller offers them). */
struct sim_model {
    const struct sim_model_ops *ops;
    uint64_t link_rate;
    uint64_t link_free_us; /* when the link has carried everything taken so far */
    bool link_waiting;     /* rx refused bytes for the link: wake at link_free_us */
};

/* Registry (sim_models.c). */
const struct sim_model_ops *sim_model_find(const char *name);
size_t sim_model_count(void);
const struct sim_model_ops *sim_model_at(size_t index);

/* options: "key=value,key=value" or NULL/"". Unknown options fail with -EINVAL. */
int sim_model_create(const char *name, const char *options, struct sim_model **ret_model, char *err,
                     size_t err_len);
void sim_model_destroy(struct sim_model *m);
const char *sim_model_name(const struct sim_model *m);
unsigned sim_model_max_chans(const struct sim_model *m);

void sim_model_start(struct sim_model *m, uint64_t now_ms);
size_t sim_model_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                    uint64_t now_ms);
size_t sim_model_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap, uint64_t now_ms);
void sim_model_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                    uint64_t now_ms);
int sim_model_control(struct sim_model *m, const struct sim_setup *setup, uint8_t *data,
                      uint64_t now_ms);
uint64_t sim_model_next_event_ms(const struct sim_model *m, uint64_t now_ms);
int sim_model_stats(const struct sim_model *m, char *buf, size_t cap);
int sim_model_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms);

/* Options. */
int sim_opts_parse(const char *text, struct sim_opts *opts, char *err, size_t err_len);
void sim_opts_free(struct sim_opts *opts);
/* Returns the value and marks the key used, or NULL. */
const char *sim_opts_get(struct sim_opts *opts, const char *key);
/* Missing key: *ret = def, 0. Present but not a number: -EINVAL with a message. */
int sim_opts_get_u64(struct sim_opts *opts, const char *key, uint64_t def, uint64_t *ret, char *err,
                     size_t err_len);
/* First key nobody consumed, or NULL. */
const char *sim_opts_first_unused(const struct sim_opts *opts);

/* Helper for stats(): appends "key=value\n"; returns 0 or -ENOSPC. */
int sim_stats_add(char *buf, size_t cap, size_t *pos, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- one module across its re-enumerations (sim_unit.c) ----------------------------------
 *
 * A module keeps its identity when it reboots into another USB identity (AT mode → download
 * mode → AT mode), but each identity is a fresh model. Models hand it along as the option
 * "unit=SERIES.SUBMODEL.IMEI.ICCID" (ICCID "-" without a SIM) in their "replug" actions:
 * at_module writes it, download models keep it opaque and give it back on reset, adding
 * "revision=REV" when their flash holds a firmware revision marker.
 *
 * The marker stands in for what a real module does when it boots: report the revision of
 * the firmware it runs. Test packages (tests/mkpkg) embed "QUECTEL_REVISION=<rev>" followed
 * by a NUL in the application image; a flash that lost or corrupted it reboots into a module
 * reporting its old revision, so the host's verification fails as on a real line. */
#define SIM_UNIT_MAX     96
#define SIM_FWREV_MARKER "QUECTEL_REVISION="
#define SIM_FWREV_MAX    64

/* 0 when value is a well-formed unit string (four '.'-separated fields of [A-Za-z0-9-]),
 * else -EINVAL with a message. */
int sim_unit_check(const char *value, char *err, size_t err_len);

/* Streaming search for the marker in the bytes a model writes to its flash, in order. */
struct sim_fwrev {
    size_t matched;            /* marker bytes matched so far */
    bool in_value;             /* reading the revision after the marker */
    char value[SIM_FWREV_MAX]; /* being read */
    size_t len;
    char found[SIM_FWREV_MAX]; /* last complete revision seen, "" if none */
};
void sim_fwrev_feed(struct sim_fwrev *s, const uint8_t *data, size_t len);

/* Appends " unit=... revision=..." (whatever is known) to a replug action in buf. */
void sim_unit_replug_args(char *buf, size_t cap, const char *unit, const struct sim_fwrev *rev);

#endif
