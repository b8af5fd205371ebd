/* Event bookkeeping shared by the sessions (see step.h). */
#include "common/step.h"

static int answers(const struct proto_step *st, const struct proto_step_ops *ops, void *session,
                   const struct proto_event *in)
{
    switch (in->type) {
    case PROTO_EV_START:
        return st->wait == PROTO_WAIT_NONE;
    case PROTO_EV_TX_DONE:
        return st->wait == PROTO_WAIT_WRITE || (st->wait == PROTO_WAIT_LINE && ops->line_set);
    case PROTO_EV_RX:
        return st->wait == PROTO_WAIT_READ && in->len <= ops->rx_room(session) &&
               (in->data || !in->len);
    case PROTO_EV_TIMEOUT:
        return st->wait == PROTO_WAIT_READ || st->wait == PROTO_WAIT_WRITE;
    case PROTO_EV_WAKE:
        return st->wait == PROTO_WAIT_TIMER && ops->woke;
    case PROTO_EV_ATTACHED:
        /* After a reset the job may report the device back in place of any answer. */
        return st->wait == PROTO_WAIT_DEVICE || (st->leave_armed && st->wait != PROTO_WAIT_NONE);
    }
    return 0;
}

void proto_step_run(struct proto_step *st, const struct proto_step_ops *ops, void *session,
                    const struct proto_event *in, struct proto_request *out)
{
    if (st->ended) {
        *out = st->final;
        return;
    }
    if (!answers(st, ops, session, in)) {
        proto_req_fail(out, FAIL_INTERNAL, "%s: event %s (%zu bytes) does not answer the %s",
                       ops->driver, proto_event_type_to_string(in->type), in->len,
                       st->wait == PROTO_WAIT_NONE ? "start" : "pending request");
    } else {
        switch (in->type) {
        case PROTO_EV_START:
            ops->start(session, out);
            break;
        case PROTO_EV_TX_DONE:
            if (st->wait == PROTO_WAIT_WRITE)
                ops->written(session, out);
            else
                ops->line_set(session, out);
            break;
        case PROTO_EV_RX:
            ops->received(session, in->data, in->len, out);
            break;
        case PROTO_EV_TIMEOUT:
            if (st->wait == PROTO_WAIT_READ)
                ops->read_timeout(session, out);
            else
                ops->write_timeout(session, out);
            break;
        case PROTO_EV_WAKE:
            ops->woke(session, out);
            break;
        case PROTO_EV_ATTACHED:
            ops->attached(session, out);
            break;
        }
    }
    if (out->type == PROTO_REQ_DONE || out->type == PROTO_REQ_FAIL) {
        st->ended = 1;
        st->final = *out;
        st->wait = PROTO_WAIT_NONE;
    }
}
