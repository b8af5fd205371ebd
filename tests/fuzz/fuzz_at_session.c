/* Fuzz target: the AT session against a module whose every answer comes from the input.
 * Byte 0 picks the options (identify / download / download without identify) and the USB
 * id of the link (ASR, Unisoc, Qualcomm, unknown). Then each READ takes one control byte: a
 * timeout, raw input bytes, or a plausible answer to the last command (OK, ERROR, an info
 * line + OK, a URC, the echo) delivered whole or split, so runs get past the sync.
 *
 * Checked: the session never crashes, every request is well formed, it never issues more
 * than a few requests in a row without reading (no busy loop), it always ends, a FAIL has a
 * code and a message, and on DONE the identity strings are terminated and any IMEI is valid.
 */
#include "at/at.h"
#include "protocol.h"
#include "fuzz_session.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const answers[] = {
    "\r\nOK\r\n",
    "\r\nERROR\r\n",
    "\r\n+CME ERROR: 10\r\n",
    "\r\nEC800M\r\n\r\nOK\r\n",
    "\r\nEC800MCNGAR06A01M08\r\n\r\nOK\r\n",
    "\r\n862146050123452\r\n\r\nOK\r\n",
    "\r\n+CGSN: 862146050123453\r\n\r\nOK\r\n",
    "\r\n+QCCID: 89860012345678901234\r\n\r\nOK\r\n",
    "\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR02A09M08\r\n\r\nOK\r\n",
    "\r\nRDY\r\n",
    "\r\n+QIND: SMS DONE\r\n",
    "\r\n+CPIN: READY\r\n",
};

static void check_str(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const options[] = {NULL, "mode=download;reenumerate_ms=5000",
                                          "mode=download;identify=0;sync_tries=2",
                                          "mode=identify;sync_ms=100;cmd_ms=200"};
    static const uint16_t pids[] = {0x6002, 0x0901, 0x0125, 0x4242};
    uint8_t cfg = data[0];
    struct input in = {data, size, 1};
    struct proto_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.link.kind = cfg & 0x10 ? PROTO_LINK_USB_BULK : PROTO_LINK_SERIAL;
    ctx.link.vid = 0x2c7c;
    ctx.link.pid = pids[(cfg >> 2) & 3];
    ctx.now_ms = 1000;
    struct proto_params params = {.options = options[cfg & 3]};
    void *s = NULL;
    if (at_proto.session_new(&params, &ctx, &s) != 0)
        __builtin_trap();
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    char last_cmd[64] = "";
    uint8_t reply[512];
    size_t pend = 0, pend_off = 0; /* a plausible answer not yet delivered */
    unsigned no_read = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps > 200000)
            __builtin_trap(); /* never ends */
        at_proto.step(s, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        if (req.type != PROTO_REQ_READ && ++no_read > 16)
            __builtin_trap(); /* busy without I/O from the device */
        if (req.type == PROTO_REQ_DONE) {
            check_str(ctx.ident.chip, sizeof(ctx.ident.chip));
            check_str(ctx.ident.imei, sizeof(ctx.ident.imei));
            check_str(ctx.ident.revision, sizeof(ctx.ident.revision));
            check_str(ctx.ident.serial, sizeof(ctx.ident.serial));
            if (ctx.ident.imei[0] && !at_imei_valid(ctx.ident.imei))
                __builtin_trap();
            break;
        }
        if (req.type == PROTO_REQ_FAIL) {
            if (req.fail == FAIL_NONE || req.fail >= FAIL_CODE_COUNT || !req.message[0])
                __builtin_trap();
            check_str(req.message, sizeof(req.message));
            break;
        }
        switch (req.type) {
        case PROTO_REQ_WRITE:
            if (!req.data || req.len == 0 || req.len >= sizeof(last_cmd) ||
                req.data[req.len - 1] != '\r')
                __builtin_trap();
            memcpy(last_cmd, req.data, req.len - 1);
            last_cmd[req.len - 1] = '\0';
            ev.type = (cfg & 0x20) && next(&in) == 0 ? PROTO_EV_TIMEOUT : PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_READ: {
            no_read = 0;
            if (req.len == 0 || req.timeout_ms == 0)
                __builtin_trap();
            size_t n = 0;
            if (pend_off < pend) {
                n = pend - pend_off;
            } else {
                int c = next(&in);
                if (c < 0 || c % 8 == 0) {
                    ev.type = PROTO_EV_TIMEOUT;
                    ctx.now_ms += req.timeout_ms;
                    break;
                }
                if (c % 8 == 1) {
                    n = fuzz_take_raw(&in, reply, 64);
                } else if (c % 8 == 2) { /* the echo */
                    n = (size_t)snprintf((char *)reply, sizeof(reply), "%s\r", last_cmd);
                } else {
                    const char *a = answers[(size_t)(c / 8) % (sizeof(answers) / sizeof(*answers))];
                    n = strlen(a);
                    memcpy(reply, a, n);
                }
                pend = n;
                pend_off = 0;
            }
            if (pend_off < pend) {
                /* deliver whole or in pieces, as the control byte's high bit says */
                int split = next(&in);
                n = pend - pend_off;
                if (split >= 0 && (split & 0x80) && n > 1)
                    n = (size_t)(split & 0x7f) % n + 1;
            }
            if (n > req.len)
                n = req.len;
            if (n == 0) {
                ev.type = PROTO_EV_TIMEOUT;
                ctx.now_ms += req.timeout_ms;
                break;
            }
            ev.type = PROTO_EV_RX;
            ev.data = reply + pend_off;
            ev.len = n;
            pend_off += n;
            ctx.now_ms += 1 + (cfg >> 6) * 40;
            break;
        }
        case PROTO_REQ_REENUMERATE:
            if (req.timeout_ms == 0)
                __builtin_trap();
            ctx.link.vid = (cfg & 0x80) ? 0x2c7c : 0x1782;
            ctx.link.pid = (cfg & 0x80) ? ctx.link.pid : 0x4d00;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            __builtin_trap();
        }
    }
    at_proto.session_free(s);
    return 0;
}
