/* Quectel AT-mode USB ids, revision strings, IMEI checks and session options: pure data and
 * string work.
 * Every row of the table is sourced in protocols/at/README.md ("USB id table").
 */
#include "common/options.h"
#include "at/at.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUECTEL 0x2c7c
#define BOTH    (PROTO_TRANSPORT_SERIAL | PROTO_TRANSPORT_USB_BULK)

#define HINT_QCOM                                                                                  \
    "Qualcomm platform: AT+QDOWNLOAD is not supported; " AT_HINT_BOOT_PIN " (EDL, 05c6:9008)"
#define HINT_UNSURE                                                                                \
    "AT switch not established for this module; if it does not switch, " AT_HINT_BOOT_PIN

/* X(pid, at_interface, platform, switch, family, hint). One list feeds both tables so the
 * protocol ids and the rich entries can never disagree. */
#define AT_TABLE(X)                                                                                \
    X(0x6001, 3, AT_PLATFORM_ASR, AT_SWITCH_QDOWNLOAD, "EG912Y/ASR160x", AT_HINT_BOOT_PIN)         \
    X(0x6002, 3, AT_PLATFORM_ASR, AT_SWITCH_QDOWNLOAD,                                             \
      "EC200S/EC600S/EC600N/EC800N/EC600M/EC800M/EG810M", AT_HINT_BOOT_PIN)                        \
    X(0x6005, 3, AT_PLATFORM_ASR1803, AT_SWITCH_UNKNOWN, "EC200A", HINT_UNSURE)                    \
    X(0x6026, 3, AT_PLATFORM_ASR1803, AT_SWITCH_UNKNOWN, "EC200T", HINT_UNSURE)                    \
    X(0x0901, 2, AT_PLATFORM_UNISOC, AT_SWITCH_QDOWNLOAD, "EC200U/EC600U/EG915U",                  \
      AT_HINT_BOOT_PIN)                                                                            \
    X(0x0121, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EC21", HINT_QCOM)                          \
    X(0x0125, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EC25/EC20/EG25", HINT_QCOM)                \
    X(0x0191, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EG91", HINT_QCOM)                          \
    X(0x0195, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EG95", HINT_QCOM)                          \
    X(0x0296, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "BG96", HINT_QCOM)                          \
    X(0x0306, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EP06/EG06/EM06", HINT_QCOM)                \
    X(0x0512, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "EM12/EG12/EG18", HINT_QCOM)                \
    X(0x0700, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "BG95/BG77/BG600L", HINT_QCOM)              \
    X(0x0800, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "RM500Q/RG500Q", HINT_QCOM)                 \
    X(0x0801, 2, AT_PLATFORM_QUALCOMM, AT_SWITCH_NONE, "RM520N/RG520N", HINT_QCOM)

#define AS_PROTO_ID(pid, ifc, plat, sw, fam, hint) {QUECTEL, pid, ifc, BOTH, fam " AT port"},
#define AS_ONE(pid, ifc, plat, sw, fam, hint)      +1
_Static_assert(0 AT_TABLE(AS_ONE) == AT_USB_ID_COUNT,
               "AT_USB_ID_COUNT in at.h must match the table");
const struct proto_usb_id at_usb_ids[AT_USB_ID_COUNT] = {AT_TABLE(AS_PROTO_ID)};

#define AS_INFO(pid, ifc, plat, sw, fam, hint) {QUECTEL, pid, ifc, plat, sw, fam, hint, 0},
static const struct at_usb_info table[] = {AT_TABLE(AS_INFO)};

const char *at_platform_name(enum at_platform p)
{
    switch (p) {
    case AT_PLATFORM_ASR:
        return "asr";
    case AT_PLATFORM_ASR1803:
        return "asr1803";
    case AT_PLATFORM_UNISOC:
        return "unisoc";
    case AT_PLATFORM_EIGENCOMM:
        return "eigencomm";
    case AT_PLATFORM_QUALCOMM:
        return "qualcomm";
    case AT_PLATFORM_UNKNOWN:
        break;
    }
    return "unknown";
}

size_t at_usb_table_count(void)
{
    return sizeof(table) / sizeof(table[0]);
}

int at_usb_table_get(size_t index, struct at_usb_info *ret)
{
    if (index >= at_usb_table_count())
        return -ENOENT;
    *ret = table[index];
    return 0;
}

int at_usb_lookup(uint16_t vid, uint16_t pid, const struct at_extra_id *extra, size_t extra_count,
                  struct at_usb_info *ret)
{
    const struct at_usb_info *known = NULL;
    for (size_t i = 0; i < at_usb_table_count(); i++)
        if (table[i].vid == vid && table[i].pid == pid)
            known = &table[i];
    for (size_t i = 0; extra && i < extra_count; i++) {
        if (extra[i].vid != vid || extra[i].pid != pid)
            continue;
        if (known) {
            *ret = *known;
        } else {
            memset(ret, 0, sizeof(*ret));
            ret->vid = vid;
            ret->pid = pid;
            ret->family = "configured";
            ret->operator_hint = HINT_UNSURE;
        }
        ret->at_interface = extra[i].interface_number;
        ret->from_config = 1;
        return 0;
    }
    if (!known)
        return -ENOENT;
    *ret = *known;
    return 0;
}

/* ---- revision strings ------------------------------------------------------------------- */

static int is_release_at(const char *s)
{
    return s[0] == 'R' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
           s[3] == 'A' && isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]);
}

int at_parse_revision(const char *rev, struct at_revision *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!rev)
        return -EINVAL;
    while (*rev == ' ' || *rev == '\t')
        rev++;
    if (strncmp(rev, "Revision:", 9) == 0)
        for (rev += 9; *rev == ' ';)
            rev++;
    /* Series: two letters, two or three digits; three-digit series carry one more letter
     * (EC800M, EC200U, EG912Y), two-digit ones do not (EC25, BG96). */
    size_t i = 0;
    while (i < 2 && isupper((unsigned char)rev[i]))
        i++;
    if (i != 2)
        return -EINVAL;
    size_t digits = 0;
    while (isdigit((unsigned char)rev[i + digits]) && digits < 4)
        digits++;
    if (digits < 2 || digits > 3)
        return -EINVAL;
    i += digits;
    if (digits == 3) {
        if (!isupper((unsigned char)rev[i]))
            return -EINVAL;
        i++;
    }
    size_t series_len = i;
    /* Sub-model: 1..6 upper-case letters or digits up to the release marker "RnnAnn". */
    size_t end = series_len;
    while (end - series_len < 6 && rev[end] && !is_release_at(rev + end)) {
        if (!isupper((unsigned char)rev[end]) && !isdigit((unsigned char)rev[end]))
            return -EINVAL;
        end++;
    }
    if (!is_release_at(rev + end) || end == series_len)
        return -EINVAL;
    size_t rel_len = 0;
    while (rev[end + rel_len] && !isspace((unsigned char)rev[end + rel_len]))
        rel_len++;
    if (rel_len >= sizeof(ret->release))
        rel_len = sizeof(ret->release) - 1;
    snprintf(ret->series, sizeof(ret->series), "%.*s", (int)series_len, rev);
    snprintf(ret->submodel, sizeof(ret->submodel), "%.*s", (int)(end - series_len),
             rev + series_len);
    snprintf(ret->ordering, sizeof(ret->ordering), "%.*s", (int)end, rev);
    snprintf(ret->release, sizeof(ret->release), "%.*s", (int)rel_len, rev + end);
    return 0;
}

int at_imei_valid(const char *imei)
{
    if (!imei || strlen(imei) != 15)
        return 0;
    unsigned sum = 0;
    for (int i = 0; i < 15; i++) {
        if (!isdigit((unsigned char)imei[i]))
            return 0;
        unsigned d = (unsigned)(imei[i] - '0');
        /* Luhn from the left for an odd length: every second digit (index 1, 3, ...) is
         * doubled. */
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* ---- options ---------------------------------------------------------------------------- */

static int parse_num(const char *k, const char *v, unsigned long lo, unsigned long hi,
                     unsigned long *ret, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        snprintf(err, errlen, "at option %s='%s' must be a number %lu..%lu", k, v, lo, hi);
        return -EINVAL;
    }
    *ret = n;
    return 0;
}

int at_opts_parse(const char *s, struct at_opts *o, char *err, size_t errlen)
{
    *o = (struct at_opts){
        .identify = 1, .sync_tries = 5, .sync_ms = 1000, .cmd_ms = 3000, .reenumerate_ms = 30000};
    char k[PROTO_OPTION_MAX], v[PROTO_OPTION_MAX];
    int more;
    while ((more = proto_option_next(&s, "at", k, sizeof(k), v, sizeof(v), err, errlen)) > 0) {
        unsigned long num = 0;
        int r = 0;
        if (strcmp(k, "mode") == 0) {
            if (strcmp(v, "identify") == 0)
                o->download = 0;
            else if (strcmp(v, "download") == 0)
                o->download = 1;
            else {
                snprintf(err, errlen, "at option mode='%s' must be identify or download", v);
                return -EINVAL;
            }
        } else if (strcmp(k, "identify") == 0) {
            r = parse_num(k, v, 0, 1, &num, err, errlen);
            o->identify = (int)num;
        } else if (strcmp(k, "force") == 0) {
            r = parse_num(k, v, 0, 1, &num, err, errlen);
            o->force = (int)num;
        } else if (strcmp(k, "sync_tries") == 0) {
            r = parse_num(k, v, 1, 20, &num, err, errlen);
            o->sync_tries = (unsigned)num;
        } else if (strcmp(k, "sync_ms") == 0) {
            r = parse_num(k, v, 100, 10000, &num, err, errlen);
            o->sync_ms = (uint32_t)num;
        } else if (strcmp(k, "cmd_ms") == 0) {
            r = parse_num(k, v, 100, 60000, &num, err, errlen);
            o->cmd_ms = (uint32_t)num;
        } else if (strcmp(k, "reenumerate_ms") == 0) {
            r = parse_num(k, v, 1000, 600000, &num, err, errlen);
            o->reenumerate_ms = (uint32_t)num;
        } else {
            snprintf(err, errlen, "unknown at option '%s'", k);
            return -EINVAL;
        }
        if (r < 0)
            return r;
    }
    return more; /* 0 at the end, < 0 for a malformed item */
}
