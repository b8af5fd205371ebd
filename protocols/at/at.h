/* Quectel AT-mode session: find the module on its AT port, identify it (model, revision,
 * IMEI, ICCID) and, in download mode, switch it into its platform's download mode with
 * AT+QDOWNLOAD=1. Sans-I/O: see protocols/protocol.h and protocols/at/README.md.
 *
 * Session options (proto_params.options, "key=value;..."):
 *   mode=identify|download  identify only (default) or identify + switch
 *   identify=0|1            download mode: read the identity first (default 1)
 *   sync_tries=N            "AT" probes before giving up, 1..20 (default 5)
 *   sync_ms=N               wait for the answer to one probe, 100..10000 (default 1000); the
 *                           module's boot message RDY cuts the first wait short (one probe at
 *                           once, counted as a try)
 *   cmd_ms=N                wait for the final result of a command, 100..60000 (default 3000)
 *   reenumerate_ms=N        download mode: how long the module may take to come back in
 *                           download mode after OK, 1000..600000 (default 30000)
 *   force=0|1               download mode: send AT+QDOWNLOAD=1 even when the id table says
 *                           the platform cannot be switched over AT (default 0)
 */
#ifndef FLASHRACK_AT_H
#define FLASHRACK_AT_H

#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

extern const struct proto at_proto;

int at_session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret_session);
void at_session_step(void *session, const struct proto_event *in, struct proto_request *out);
void at_session_free(void *session);

/* Parsed session options (see the top of this file). */
struct at_opts {
    int download;
    int identify;
    unsigned sync_tries;
    uint32_t sync_ms, cmd_ms, reenumerate_ms;
    int force;
};

/* Returns 0, or -EINVAL with a message naming the bad option in err. */
int at_opts_parse(const char *s, struct at_opts *ret, char *err, size_t errlen);

/* ---- revision strings (at_ids.c) ------------------------------------------------------- */

/* "EC800MCNGAR06A01M08" -> series "EC800M", submodel "CNGA", ordering "EC800MCNGA",
 * release "R06A01M08". A suffix after the release ("_OCPU_QPY_BETA0001") is kept in
 * release. */
struct at_revision {
    char series[16];
    char submodel[12];
    char ordering[28];
    char release[40];
};

/* Returns 0, or -EINVAL when rev does not look like a Quectel revision (no "RnnAnn" release
 * marker after a series such as EC800M / EC25). A leading "Revision: " is skipped. */
int at_parse_revision(const char *rev, struct at_revision *ret);

/* ---- the Quectel USB id table (at_ids.c) ----------------------------------------------- */

enum at_platform {
    AT_PLATFORM_UNKNOWN = 0,
    AT_PLATFORM_ASR,       /* ASR160x (Crane): EC200S/EC600S/EC600N/EC800N/EC600M/EC800M */
    AT_PLATFORM_ASR1803,   /* ASR1803/1606 family: EC200A */
    AT_PLATFORM_UNISOC,    /* UIS8910DM: EC200U/EC600U/EG915U */
    AT_PLATFORM_EIGENCOMM, /* EC618: EC600E/EC800E */
    AT_PLATFORM_QUALCOMM,  /* MDM9x07 and later: EC2x, EG9x, BG9x, RM5xx */
};

const char *at_platform_name(enum at_platform p);

enum at_switch {
    AT_SWITCH_UNKNOWN = 0, /* not established: AT+QDOWNLOAD=1 is tried */
    AT_SWITCH_QDOWNLOAD,   /* AT+QDOWNLOAD=1 switches the module */
    AT_SWITCH_NONE,        /* no AT switch: the operator must use the boot pin */
};

struct at_usb_info {
    uint16_t vid, pid;
    int8_t at_interface; /* USB interface number of the AT port */
    enum at_platform platform;
    enum at_switch download_switch;
    const char *family;        /* "EC200U/EC600U/EG915U" */
    const char *operator_hint; /* what to do when the AT switch is not possible */
    int from_config;           /* 1 when the entry came from an [usb] id line */
};

/* One `[usb] id = VID:PID:IF:at` line of the daemon's config. */
struct at_extra_id {
    uint16_t vid, pid;
    int8_t interface_number;
};

/* Looks vid:pid up; extra ids (from config) win over the built-in table, so a config line
 * can correct an interface number. An extra id that is not in the table gets platform
 * unknown. Returns 0 or -ENOENT. */
int at_usb_lookup(uint16_t vid, uint16_t pid, const struct at_extra_id *extra, size_t extra_count,
                  struct at_usb_info *ret);

/* The built-in table as protocol ids (for at_proto.usb_ids) and as rich entries. */
#define AT_USB_ID_COUNT 15 /* at_ids.c checks it against the table at compile time */
extern const struct proto_usb_id at_usb_ids[AT_USB_ID_COUNT];
size_t at_usb_table_count(void);
int at_usb_table_get(size_t index, struct at_usb_info *ret);

/* Operator message for a module that cannot be (or refused to be) switched over AT. */
#define AT_HINT_BOOT_PIN                                                                           \
    "ground the module's boot pin (USB_BOOT), replug it and it comes up in download mode"

/* 15 digits and a valid Luhn check digit. */
int at_imei_valid(const char *imei);

#endif
