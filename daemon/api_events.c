/* GET /api/v1/events/stream: the station's live events as Server-Sent Events (docs/http.md
 * "Live events"). A stream is a cursor on the slot event timeline (event_bus.h): it sends the
 * rows after its cursor as they can go out, then the slots' snapshots, then `event: sync`,
 * then whatever happens, with a keep-alive comment when nothing did for 15 s.
 *
 * The connection never blocks the loop: when the stream has nothing to send its reader
 * answers HTTP_LIVE_IDLE and the connection is suspended until the bus wakes it. Memory per
 * stream is one output buffer of a page of rows; a stream that falls EVENT_BUS_LAG_MAX rows
 * behind is dropped (its client reconnects and resumes, or is told to reset). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api.h"
#include "db.h"
#include "event_bus.h"
#include "http.h"
#include "http_priv.h"
#include "log.h"
#include "station.h"

#define EVENTS_PAGE      32          /* timeline rows read per fill */
#define EVENTS_OUT_MAX   (96 * 1024) /* one page of rows at DB_DETAIL_SIZE each, with room */
#define EVENTS_RETRY_MS  2000        /* the reconnect delay suggested to EventSource */
#define EVENTS_ID_DIGITS 19

struct events_stream {
    struct event_bus_sub sub; /* first: the bus hands it back */
    struct event_bus *bus;
    struct station *st;
    struct http_live *live;
    bool started, synced;
    int64_t resumed_from; /* -1: not a resume */
    size_t replayed;
    const char *reset_reason; /* a static string, NULL: no reset */
    char reset_given[EVENTS_ID_DIGITS + 2];
    uint64_t *slot_sent; /* per slot: version of the snapshot sent, 0 none */
    uint64_t layout;     /* event_bus_layout() when the snapshots were sent */
    char *out;
    size_t out_len, out_off;
    bool out_full;
    char remote[48];
};

/* ---- output ------------------------------------------------------------------------------ */

static void out_add(struct events_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_add(struct events_stream *s, const char *fmt, ...)
{
    if (s->out_full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->out + s->out_len, EVENTS_OUT_MAX - s->out_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= EVENTS_OUT_MAX - s->out_len)
        s->out_full = true; /* cannot happen with the sizes above; the stream ends if it does */
    else
        s->out_len += (size_t)n;
}

/* One timeline row as `id`, `event` and `data` (the shape of GET /api/v1/events). */
static int add_row(const struct db_slot_event *ev, void *ud)
{
    struct events_stream *s = ud;
    json_t *e = api_slot_event_json(ev);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!text)
        return -ENOMEM;
    /* The kind names the SSE event; our own writers use [a-z_] only, anything else is "event". */
    const char *kind = ev->event;
    for (const char *c = kind; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_' || (*c >= '0' && *c <= '9')))
            kind = "event";
    out_add(s, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", ev->id, kind, text);
    free(text);
    s->sub.cursor = ev->id;
    if (s->resumed_from >= 0 && !s->synced)
        s->replayed++;
    return 0;
}

static void add_slot(struct events_stream *s, size_t i)
{
    uint64_t version;
    const char *text = event_bus_slot_text(s->bus, i, &version);
    if (text)
        out_add(s, "event: slot\ndata: %s\n\n", text);
    s->slot_sent[i] = version;
}

/* Fills s->out with what is due, in order: the start (retry, reset), timeline rows, the first
 * snapshot and sync, changed snapshots, a keep-alive. Returns -errno on a database error. */
static int fill(struct events_stream *s)
{
    s->out_len = s->out_off = 0;
    if (!s->started) {
        s->started = true;
        out_add(s, "retry: %d\n\n", EVENTS_RETRY_MS);
        if (s->reset_reason) {
            json_t *d =
                json_pack("{s:s, s:o, s:I}", "reason", s->reset_reason, "last_event_id",
                          s->reset_given[0] ? http_json_string(s->reset_given) : json_null(),
                          "head", (json_int_t)s->sub.cursor);
            char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            out_add(s, "event: reset\ndata: %s\n\n", text ? text : "{}");
            free(text);
        }
    }
    if (s->sub.cursor < event_bus_head(s->bus) && s->st->db) {
        int r = db_slot_events_list(s->st->db, s->sub.cursor, EVENTS_PAGE, add_row, s);
        if (r < 0)
            return r;
        if (r > 0)
            return 0; /* send this page; the next fill goes on */
    }
    if (!s->synced) {
        s->synced = true;
        size_t slots = event_bus_slot_count(s->bus);
        s->layout = event_bus_layout(s->bus);
        for (size_t i = 0; i < slots; i++)
            add_slot(s, i);
        out_add(s,
                "id: %" PRId64 "\nevent: sync\ndata: {\"head\":%" PRId64 ",\"slots\":%zu,"
                "\"replayed\":%zu}\n\n",
                s->sub.cursor, s->sub.cursor, slots, s->replayed);
        if (s->resumed_from >= 0)
            log_info("events: stream of %s resumed after event %" PRId64 ", %zu replayed",
                     s->remote, s->resumed_from, s->replayed);
        return 0;
    }
    if (s->layout != event_bus_layout(s->bus)) {
        /* Slots came or went (a config reload): the client lays the rack out again. */
        out_add(s, "event: reset\ndata: {\"reason\":\"layout\",\"head\":%" PRId64 "}\n\n",
                s->sub.cursor);
        s->synced = false;
        memset(s->slot_sent, 0, event_bus_slots_max() * sizeof(*s->slot_sent));
        return 0;
    }
    for (size_t i = 0; i < event_bus_slot_count(s->bus); i++) {
        uint64_t version;
        event_bus_slot_text(s->bus, i, &version);
        if (version != s->slot_sent[i])
            add_slot(s, i);
    }
    if (s->out_len == 0 && s->sub.keepalive_due)
        out_add(s, ": keep-alive\n\n");
    return 0;
}

static long stream_read(void *ud, char *buf, size_t max)
{
    struct events_stream *s = ud;
    if (s->out_off == s->out_len) {
        if (s->sub.hung_up) {
            log_debug("events: the client of stream %s went away", s->remote);
            return HTTP_LIVE_ERROR;
        }
        if (s->sub.dropped) {
            log_warning("events: stream of %s dropped: %" PRId64 " events behind (the limit is %d)",
                        s->remote, event_bus_head(s->bus) - s->sub.cursor, EVENT_BUS_LAG_MAX);
            return HTTP_LIVE_ERROR;
        }
        int r = fill(s);
        if (r < 0 || s->out_full) {
            log_err("events: stream of %s ended: %s", s->remote,
                    r < 0 ? db_last_error(s->st->db) : "an event did not fit the buffer");
            return HTTP_LIVE_ERROR;
        }
        if (s->out_len == 0)
            return HTTP_LIVE_IDLE;
    }
    size_t n = s->out_len - s->out_off;
    if (n > max)
        n = max;
    memcpy(buf, s->out + s->out_off, n);
    s->out_off += n;
    s->sub.last_write_ms = uv_now(s->st->loop);
    s->sub.keepalive_due = false;
    return (long)n;
}

static void stream_wake(struct event_bus_sub *sub)
{
    struct events_stream *s = (struct events_stream *)sub;
    if (s->live)
        http_live_wake(s->live);
}

static bool stream_gone(struct event_bus_sub *sub)
{
    struct events_stream *s = (struct events_stream *)sub;
    return s->live && http_live_peer_gone(s->live);
}

static void stream_free(void *ud)
{
    struct events_stream *s = ud;
    if (s->bus && event_bus_current() == s->bus)
        event_bus_unsubscribe(s->bus, &s->sub);
    log_debug("events: stream of %s closed at event %" PRId64, s->remote, s->sub.cursor);
    free(s->slot_sent);
    free(s->out);
    free(s);
}

/* ---- the request ----------------------------------------------------------------------------- */

/* Where the client resumes: sets s->sub.cursor, or s->reset_reason. */
static void resume_point(struct events_stream *s, const char *given, int64_t head)
{
    s->sub.cursor = head;
    s->resumed_from = -1;
    if (!given)
        return;
    snprintf(s->reset_given, sizeof(s->reset_given), "%.*s", EVENTS_ID_DIGITS + 1, given);
    size_t len = strlen(given);
    uint64_t v = 0; /* 19 digits fit in 64 bits unsigned; INT64_MAX is checked below */
    bool ok = len >= 1 && len <= EVENTS_ID_DIGITS;
    for (size_t i = 0; ok && i < len; i++) {
        if (given[i] < '0' || given[i] > '9')
            ok = false;
        else
            v = v * 10 + (uint64_t)(given[i] - '0');
    }
    ok = ok && v <= INT64_MAX;
    int64_t id = ok ? (int64_t)v : 0;
    if (!ok)
        s->reset_reason = "bad_id";
    else if (id > head)
        s->reset_reason = "unknown_id"; /* another station's, or a database that was replaced */
    else if (head - id > EVENT_BUS_REPLAY_MAX)
        s->reset_reason = "too_old";
    else {
        s->sub.cursor = id;
        s->resumed_from = id;
    }
}

static void get_stream(struct http_request *req)
{
    struct station *st = http_request_station(req);
    struct event_bus *bus = event_bus_current();
    if (!bus || !st->db) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the station has no live event stream (no database)");
        return;
    }
    if (event_bus_streams(bus) >= event_bus_streams_max(bus)) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_streams",
                         "%zu live event streams are open, the limit; poll GET /api/v1/slots",
                         event_bus_streams(bus));
        return;
    }
    struct events_stream *s = calloc(1, sizeof(*s));
    if (s) {
        s->slot_sent = calloc(event_bus_slots_max(), sizeof(*s->slot_sent));
        s->out = malloc(EVENTS_OUT_MAX);
    }
    if (!s || !s->slot_sent || !s->out) {
        if (s) {
            free(s->slot_sent);
            free(s->out);
        }
        free(s);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        return;
    }
    s->bus = bus;
    s->st = st;
    s->sub.wake = stream_wake;
    s->sub.gone = stream_gone;
    http_request_remote(req, s->remote, sizeof(s->remote));
    /* The header wins: EventSource sends it on a reconnect with its newest id, while the URL
     * still carries the page's first one. */
    const char *given = http_request_header(req, "Last-Event-ID");
    if (!given)
        given = http_query_string(req, "last_event_id");
    if (event_bus_subscribe(bus, &s->sub) < 0) { /* reads the tail: the head is current */
        free(s->slot_sent);
        free(s->out);
        free(s);
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the live event stream is shutting down");
        return;
    }
    resume_point(s, given, event_bus_head(bus));
    s->layout = event_bus_layout(bus);
    if (s->reset_reason)
        log_info("events: stream of %s cannot resume after '%s' (%s): reset", s->remote,
                 s->reset_given, s->reset_reason);
    log_debug("events: stream of %s opened at event %" PRId64, s->remote, s->sub.cursor);
    /* On failure stream_free has run already (and a 500 is answered): s is gone. */
    struct http_live *live =
        http_reply_live(req, "text/event-stream; charset=utf-8", stream_read, s, stream_free);
    if (live)
        s->live = live;
}

static const char *const stream_query[] = {"last_event_id", NULL};

const struct http_route api_events_routes[] = {
    {.methods = HTTP_GET,
     .pattern = "/api/v1/events/stream",
     .query = stream_query,
     .handler = get_stream},
    {0},
};
