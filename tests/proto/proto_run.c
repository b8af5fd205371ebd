/* The in-process session-vs-model runner (see proto_run.h). */
#include "proto_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INBOX_MAX (1u << 20) /* device-to-host bytes not read yet (a pty/USB buffer) */
#define TX_CHUNK  (64u * 1024u)

struct runner {
    const struct proto_run_opts *o;
    struct proto_run_result *res;
    struct sim_model *m;
    struct proto_ctx ctx;
    uint64_t now;
    uint8_t *inbox;
    size_t in_off, in_len;
    int gone; /* the model asked to be unplugged */
};

/* Moves whatever the model has to send into the inbox; notes an action. */
static void pump(struct runner *r)
{
    while (r->in_len < INBOX_MAX) {
        if (r->in_off && r->in_off == r->in_len)
            r->in_off = r->in_len = 0;
        if (r->in_off > INBOX_MAX / 2) {
            memmove(r->inbox, r->inbox + r->in_off, r->in_len - r->in_off);
            r->in_len -= r->in_off;
            r->in_off = 0;
        }
        size_t room = INBOX_MAX - r->in_len;
        size_t n =
            sim_model_tx(r->m, 0, r->inbox + r->in_len, room < TX_CHUNK ? room : TX_CHUNK, r->now);
        if (!n)
            break;
        r->in_len += n;
        r->res->bytes_from_device += n;
    }
    char action[SIM_ACTION_MAX];
    while (sim_model_take_action(r->m, action, sizeof(action), r->now) == 1) {
        snprintf(r->res->action, sizeof(r->res->action), "%s", action);
        r->gone = 1; /* "unplug" and "replug ..." both take the device off the bus first */
    }
}

/* Advances virtual time to the model's next event if it is no later than limit; returns 1
 * when time moved. */
static int advance(struct runner *r, uint64_t limit)
{
    uint64_t next = sim_model_next_event_ms(r->m, r->now);
    if (next == SIM_NEVER || next > limit)
        return 0;
    r->now = next > r->now ? next : r->now + 1;
    return 1;
}

/* Link of the profile named by a "replug PROFILE [options]" action, or NULL. */
static const struct proto_link *replug_link(const struct runner *r)
{
    const char *name = r->res->action + 6;
    name += strspn(name, " ");
    size_t len = strcspn(name, " ");
    for (const struct proto_run_profile *p = r->o->profiles; p && p->name; p++)
        if (strlen(p->name) == len && strncmp(p->name, name, len) == 0)
            return &p->link;
    return NULL;
}

static void end(struct runner *r, int ok, enum fail_code code, const char *msg);

/* The device is back after a "replug" action: ATTACHED with the profile's identity. The same
 * model object keeps its state (flash, NV) across the reboot, so the test can read what was
 * written. Returns -1 (run ended) when it never came back or came back as an unknown profile. */
static int come_back(struct runner *r, struct proto_event *ev, const char *never)
{
    if (strncmp(r->res->action, "replug", 6) != 0) {
        end(r, 0, FAIL_TIMEOUT, never);
        return -1;
    }
    const struct proto_link *back = replug_link(r);
    if (!back) {
        end(r, 0, FAIL_INTERNAL, "model replugged as a profile the test does not list");
        return -1;
    }
    r->gone = 0;
    r->in_off = r->in_len = 0;
    r->ctx.link = *back;
    r->ctx.expect_leave_ms = 0;
    r->res->reenumerations++;
    memset(ev, 0, sizeof(*ev));
    ev->type = PROTO_EV_ATTACHED;
    return 0;
}

static void end(struct runner *r, int ok, enum fail_code code, const char *msg)
{
    struct proto_run_result *res = r->res;
    res->ok = ok;
    res->code = ok ? FAIL_NONE : code;
    snprintf(res->stage, sizeof(res->stage), "%s",
             r->ctx.progress.phase ? r->ctx.progress.phase : "start");
    snprintf(res->message, sizeof(res->message), "%s", msg);
}

int proto_run(const struct proto_run_opts *o, struct proto_run_result *res)
{
    memset(res, 0, sizeof(*res));
    struct runner r = {.o = o, .res = res};
    char err[SIM_ERR_MAX];
    int rc = sim_model_create(o->model, o->model_opts, &r.m, err, sizeof(err));
    if (rc < 0) {
        snprintf(res->message, sizeof(res->message), "model: %s", err);
        return rc;
    }
    r.inbox = malloc(INBOX_MAX);
    void *session = NULL;
    r.ctx.link = o->link;
    rc = r.inbox ? o->driver->session_new(&o->params, &r.ctx, &session) : -ENOMEM;
    if (rc < 0) {
        snprintf(res->message, sizeof(res->message), "session_new: %s", strerror(-rc));
        free(r.inbox);
        sim_model_destroy(r.m);
        return rc;
    }
    sim_model_start(r.m, 0);
    uint64_t max_ms = o->max_virtual_ms ? o->max_virtual_ms : 3600000;
    uint64_t max_steps = o->max_steps ? o->max_steps : 50000000;
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    uint8_t rx[TX_CHUNK];
    for (;;) {
        if (++res->steps > max_steps) {
            end(&r, 0, FAIL_INTERNAL, "step budget exhausted");
            break;
        }
        if (r.now > max_ms) {
            end(&r, 0, FAIL_TIMEOUT, "virtual job timeout");
            break;
        }
        r.ctx.now_ms = r.now;
        o->driver->step(session, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        if (req.type == PROTO_REQ_DONE) {
            end(&r, 1, FAIL_NONE, "ok");
            break;
        }
        if (req.type == PROTO_REQ_FAIL) {
            end(&r, 0, req.fail, req.message);
            break;
        }
        if (r.gone && req.type != PROTO_REQ_REENUMERATE && req.type != PROTO_REQ_WAIT) {
            if (!r.ctx.expect_leave_ms) {
                end(&r, 0, FAIL_DISCONNECTED, "device left the bus");
                break;
            }
            req.type = PROTO_REQ_REENUMERATE; /* announced departure: wait for it */
            req.timeout_ms = r.ctx.expect_leave_ms;
        }
        switch (req.type) {
        case PROTO_REQ_WRITE: {
            size_t off = 0;
            uint64_t deadline = r.now + req.timeout_ms;
            while (off < req.len && !r.gone) {
                size_t n = sim_model_rx(r.m, 0, req.data + off, req.len - off, r.now);
                off += n;
                res->bytes_to_device += n;
                pump(&r);
                if (off < req.len && n == 0 && !advance(&r, deadline))
                    break;
            }
            if (r.gone && !r.ctx.expect_leave_ms) {
                end(&r, 0, FAIL_DISCONNECTED, "device left the bus during a write");
                goto out;
            }
            ev.type = off == req.len || r.gone ? PROTO_EV_TX_DONE : PROTO_EV_TIMEOUT;
            if (ev.type == PROTO_EV_TIMEOUT)
                r.now = deadline;
            break;
        }
        case PROTO_REQ_READ: {
            uint64_t deadline = r.now + req.timeout_ms;
            pump(&r);
            while (r.in_off == r.in_len && !r.gone && advance(&r, deadline))
                pump(&r);
            if (r.in_off < r.in_len) {
                size_t n = r.in_len - r.in_off;
                if (n > req.len)
                    n = req.len;
                if (n > sizeof(rx))
                    n = sizeof(rx);
                memcpy(rx, r.inbox + r.in_off, n);
                r.in_off += n;
                ev.type = PROTO_EV_RX;
                ev.data = rx;
                ev.len = n;
            } else if (r.gone) {
                if (!r.ctx.expect_leave_ms) {
                    end(&r, 0, FAIL_DISCONNECTED, "device left the bus during a read");
                    goto out;
                }
                ev.type = PROTO_EV_TIMEOUT; /* replaced below by the re-enumeration */
            } else {
                r.now = deadline;
                ev.type = PROTO_EV_TIMEOUT;
            }
            break;
        }
        case PROTO_REQ_WAIT: {
            uint64_t until = r.now + req.timeout_ms;
            pump(&r);
            while (advance(&r, until))
                pump(&r);
            r.now = until;
            ev.type = PROTO_EV_WAKE;
            break;
        }
        case PROTO_REQ_SET_LINE: {
            struct sim_line line = {.dtr = req.dtr, .rts = req.rts, .baud = req.baud};
            sim_model_line(r.m, 0, &line, r.now);
            pump(&r);
            ev.type = PROTO_EV_TX_DONE;
            break;
        }
        case PROTO_REQ_REENUMERATE: {
            uint64_t deadline = r.now + req.timeout_ms;
            pump(&r);
            while (!r.gone && advance(&r, deadline))
                pump(&r);
            if (come_back(&r, &ev,
                          r.gone ? "device left and never came back"
                                 : "device never re-enumerated") < 0)
                goto out;
            break;
        }
        default:
            end(&r, 0, FAIL_INTERNAL, "unknown request");
            goto out;
        }
        if (r.gone && r.ctx.expect_leave_ms && ev.type != PROTO_EV_ATTACHED) {
            /* Announced departure: behave as the job does, wait for the device to return. */
            if (come_back(&r, &ev, "device left and never came back") < 0)
                goto out;
        }
    }
out:
    res->virtual_ms = r.now;
    res->progress = r.ctx.progress;
    res->ident = r.ctx.ident;
    sim_model_stats(r.m, res->model_stats, sizeof(res->model_stats));
    o->driver->session_free(session);
    sim_model_destroy(r.m);
    free(r.inbox);
    return 0;
}

int proto_run_stat(const char *stats, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (const char *p = stats; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = strcspn(v, "\n");
            snprintf(out, outlen, "%.*s", (int)n, v);
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -ENOENT;
}
