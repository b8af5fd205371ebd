/* The part of a session's step() every driver writes the same way: which request is
 * outstanding, whether the event that arrived answers it, what an event that does not is
 * (an internal failure naming both), and that a session which answered DONE or FAIL answers
 * it again to every later event. A driver keeps a struct proto_step, sets `wait` when it
 * issues a request, and gives the event handlers; proto_step_run() does the rest. */
#ifndef FLASHRACK_PROTO_STEP_H
#define FLASHRACK_PROTO_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

enum proto_wait {
    PROTO_WAIT_NONE = 0, /* before START, and after the end */
    PROTO_WAIT_WRITE,
    PROTO_WAIT_READ,
    PROTO_WAIT_LINE,   /* SET_LINE */
    PROTO_WAIT_TIMER,  /* WAIT */
    PROTO_WAIT_DEVICE, /* REENUMERATE */
};

struct proto_step {
    enum proto_wait wait;
    /* A command after which the device may leave at once was sent (a reset, a switch):
     * ATTACHED then also answers whatever request is outstanding. */
    int leave_armed;
    int ended;
    struct proto_request final;
};

/* Handlers; the ones marked optional may be NULL (that answer is then never expected). */
struct proto_step_ops {
    const char *driver; /* for the message of an unexpected event */
    void (*start)(void *session, struct proto_request *out);
    void (*written)(void *session, struct proto_request *out);
    void (*line_set)(void *session, struct proto_request *out); /* optional */
    /* How many bytes one RX may carry now (the session's free buffer). */
    size_t (*rx_room)(void *session);
    void (*received)(void *session, const uint8_t *data, size_t len, struct proto_request *out);
    void (*read_timeout)(void *session, struct proto_request *out);
    void (*write_timeout)(void *session, struct proto_request *out);
    void (*woke)(void *session, struct proto_request *out); /* optional */
    void (*attached)(void *session, struct proto_request *out);
};

void proto_step_run(struct proto_step *st, const struct proto_step_ops *ops, void *session,
                    const struct proto_event *in, struct proto_request *out);

#endif
