/* A module's identity across re-enumerations, and the firmware revision marker (sim.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

int sim_unit_check(const char *value, char *err, size_t err_len)
{
    size_t len = strlen(value), dots = 0;
    bool empty_field = len == 0 || value[0] == '.';
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '.') {
            dots++;
            if (value[i + 1] == '.' || value[i + 1] == '\0')
                empty_field = true;
        } else if (!isalnum((unsigned char)c) && c != '-') {
            empty_field = true; /* reported below with the same message */
            break;
        }
    }
    if (len >= SIM_UNIT_MAX || dots != 3 || empty_field) {
        snprintf(err, err_len, "unit=%.100s is not SERIES.SUBMODEL.IMEI.ICCID", value);
        return -EINVAL;
    }
    return 0;
}

static bool revision_char(uint8_t c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

void sim_fwrev_feed(struct sim_fwrev *s, const uint8_t *data, size_t len)
{
    static const char marker[] = SIM_FWREV_MARKER;
    const size_t mlen = sizeof(marker) - 1;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (s->in_value) {
            if (revision_char(c) && s->len + 1 < sizeof(s->value)) {
                s->value[s->len++] = (char)c;
                continue;
            }
            /* A NUL ends a complete value; anything else means corruption: not a revision. */
            if (c == 0 && s->len > 0) {
                s->value[s->len] = '\0';
                memcpy(s->found, s->value, s->len + 1);
            }
            s->in_value = false;
            s->len = 0;
            s->matched = 0;
        }
        /* The marker has no repeated prefix, so a mismatch restarts at this byte. */
        if (c == (uint8_t)marker[s->matched]) {
            if (++s->matched == mlen) {
                s->in_value = true;
                s->len = 0;
            }
        } else {
            s->matched = c == (uint8_t)marker[0] ? 1 : 0;
        }
    }
}

void sim_unit_replug_args(char *buf, size_t cap, const char *unit, const struct sim_fwrev *rev)
{
    size_t n = strlen(buf);
    if (unit && unit[0] && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " unit=%s", unit);
    if (rev && rev->found[0] && n < cap)
        snprintf(buf + n, cap - n, " revision=%s", rev->found);
}
