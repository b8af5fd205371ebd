/* Shared helpers of the driver interface: request builders and enum names. */
#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const fail_code_names[FAIL_CODE_COUNT] = {
    [FAIL_NONE] = "none",
    [FAIL_PACKAGE] = "package",
    [FAIL_NO_MATCH] = "no_match",
    [FAIL_TIMEOUT] = "timeout",
    [FAIL_DISCONNECTED] = "disconnected",
    [FAIL_IO] = "io",
    [FAIL_PROTOCOL] = "protocol",
    [FAIL_REJECTED] = "rejected",
    [FAIL_VERIFY] = "verify",
    [FAIL_ABORTED] = "aborted",
    [FAIL_INTERNAL] = "internal",
    [FAIL_MES_REJECTED] = "mes_rejected",
    [FAIL_MES_UNREACHABLE] = "mes_unreachable",
};

const char *fail_code_to_string(enum fail_code code)
{
    if ((unsigned)code >= FAIL_CODE_COUNT)
        return "internal";
    return fail_code_names[code];
}

enum fail_code fail_code_from_string(const char *s)
{
    for (unsigned i = 0; s && i < FAIL_CODE_COUNT; i++)
        if (strcmp(fail_code_names[i], s) == 0)
            return (enum fail_code)i;
    return FAIL_CODE_COUNT;
}

static void req_reset(struct proto_request *out, enum proto_request_type type)
{
    out->type = type;
    out->data = NULL;
    out->len = 0;
    out->timeout_ms = 0;
    out->baud = 0;
    out->dtr = out->rts = 0;
    out->fail = FAIL_NONE;
    out->message[0] = '\0';
}

void proto_req_write(struct proto_request *out, const uint8_t *data, size_t len,
                     uint32_t timeout_ms)
{
    req_reset(out, PROTO_REQ_WRITE);
    out->data = data;
    out->len = len;
    out->timeout_ms = timeout_ms;
}

void proto_req_read(struct proto_request *out, size_t max, uint32_t timeout_ms)
{
    req_reset(out, PROTO_REQ_READ);
    out->len = max;
    out->timeout_ms = timeout_ms;
}

void proto_req_wait(struct proto_request *out, uint32_t ms)
{
    req_reset(out, PROTO_REQ_WAIT);
    out->timeout_ms = ms;
}

void proto_req_set_line(struct proto_request *out, uint32_t baud, int dtr, int rts)
{
    req_reset(out, PROTO_REQ_SET_LINE);
    out->baud = baud;
    out->dtr = dtr != 0;
    out->rts = rts != 0;
}

void proto_req_reenumerate(struct proto_request *out, uint32_t timeout_ms)
{
    req_reset(out, PROTO_REQ_REENUMERATE);
    out->timeout_ms = timeout_ms;
}

void proto_req_done(struct proto_request *out)
{
    req_reset(out, PROTO_REQ_DONE);
}

void proto_req_fail(struct proto_request *out, enum fail_code code, const char *fmt, ...)
{
    req_reset(out, PROTO_REQ_FAIL);
    out->fail = code == FAIL_NONE ? FAIL_INTERNAL : code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

const char *proto_event_type_to_string(enum proto_event_type type)
{
    switch (type) {
    case PROTO_EV_START:
        return "start";
    case PROTO_EV_RX:
        return "rx";
    case PROTO_EV_TX_DONE:
        return "tx_done";
    case PROTO_EV_TIMEOUT:
        return "timeout";
    case PROTO_EV_WAKE:
        return "wake";
    case PROTO_EV_ATTACHED:
        return "attached";
    }
    return "unknown";
}

const char *proto_request_type_to_string(enum proto_request_type type)
{
    switch (type) {
    case PROTO_REQ_WRITE:
        return "write";
    case PROTO_REQ_READ:
        return "read";
    case PROTO_REQ_WAIT:
        return "wait";
    case PROTO_REQ_SET_LINE:
        return "set_line";
    case PROTO_REQ_REENUMERATE:
        return "reenumerate";
    case PROTO_REQ_DONE:
        return "done";
    case PROTO_REQ_FAIL:
        return "fail";
    }
    return "unknown";
}
