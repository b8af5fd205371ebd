/* Pieces every session harness (fuzz_*_session.c) shares: the input as a byte stream that
 * steers the fake device, and the checks of what a session may answer. Each harness keeps its
 * own device (what a plausible reply to the host's last write is); the input is consumed here
 * exactly as the harnesses did before, so their corpora keep their meaning. */
#ifndef FLASHRACK_FUZZ_SESSION_H
#define FLASHRACK_FUZZ_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol.h"

struct input {
    const uint8_t *p;
    size_t n, at;
};

/* The next control byte, -1 at the end of the input. */
static inline int next(struct input *in)
{
    return in->at < in->n ? in->p[in->at++] : -1;
}

/* Raw device bytes straight from the input: a length byte (1..modulo), then that many bytes
 * (fewer at the end of the input). Returns how many were copied to out. */
static inline size_t fuzz_take_raw(struct input *in, uint8_t *out, size_t modulo)
{
    int k = next(in);
    size_t n = k < 0 ? 0 : (size_t)k % modulo + 1;
    if (n > in->n - in->at)
        n = in->n - in->at;
    memcpy(out, in->p + in->at, n);
    in->at += n;
    return n;
}

/* Overwrites one byte of a plausible reply: position and value from the input. */
static inline void fuzz_corrupt(struct input *in, uint8_t *reply, size_t n)
{
    int pos = next(in), val = next(in);
    if (n && pos >= 0 && val >= 0)
        reply[(size_t)pos % n] = (uint8_t)val;
}

/* After each step: progress never runs past its total, and an end is well-formed (a FAIL has
 * a code and a message). Returns 1 when the session ended. Traps on a broken invariant. */
static inline int fuzz_session_ended(const struct proto_request *req, const struct proto_ctx *ctx)
{
    if (ctx->progress.total && ctx->progress.done > ctx->progress.total)
        __builtin_trap();
    if (req->type == PROTO_REQ_DONE)
        return 1;
    if (req->type == PROTO_REQ_FAIL) {
        if (req->fail == FAIL_NONE || req->fail >= FAIL_CODE_COUNT || !req->message[0])
            __builtin_trap();
        return 1;
    }
    return 0;
}

#endif
