/* The live-event bus behind GET /api/v1/events/stream (api_events.c, docs/http.md "Live
 * events").
 *
 * One sequence for everything a client can resume: the id of the slot_events table (attach,
 * detach, ignored, flow steps and attempt verdicts are all rows there). The database is the
 * queue: a subscriber is a cursor (the last id it sent) and reads its next rows from SQLite
 * when its socket can take them, so a replay after a reconnect, a daemon restart and the live
 * tail are the same code path, and nothing per client grows with the event rate.
 *
 * Snapshots of the slots (the JSON of GET /api/v1/slots/{label}) are not in the sequence:
 * they supersede each other, are sent without an id and never replayed. The bus keeps the
 * latest text of each slot with a version; it re-reads every slot every EVENT_BUS_TICK_MS
 * (so a flash's progress reaches a client at most twice a second per slot) and a slot at once
 * when a timeline row about it arrives.
 *
 * Writers of slot_events call event_bus_poke() after the insert; the bus then reads the new
 * rows on the next loop turn and wakes the subscribers. Rows written without a poke are
 * still found by the tick. Everything runs on the loop thread. */
#ifndef FLASHRACK_EVENT_BUS_H
#define FLASHRACK_EVENT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct station;
struct db_attempt;
struct event_bus;

#define EVENT_BUS_TICK_MS      500   /* slot snapshots, keep-alives, lag and hang-up checks */
#define EVENT_BUS_KEEPALIVE_MS 15000 /* a comment line on an idle stream (proxies, timeouts) */
#define EVENT_BUS_REPLAY_MAX   1000  /* a resume from further back gets `event: reset` */
#define EVENT_BUS_LAG_MAX      2000  /* a subscriber this far behind the head... */
#define EVENT_BUS_LAG_GRACE_MS 3000  /* ...for this long is dropped */
#define EVENT_BUS_STREAMS_MAX  16    /* concurrent streams (and at most half of max_connections) */

/* One subscriber (a stream). The bus only reads and sets the fields below; the owner embeds
 * it in its own state. */
struct event_bus_sub {
    int64_t cursor;           /* id of the last timeline row sent */
    uint64_t last_write_ms;   /* uv_now() of the last bytes sent: the keep-alive clock */
    uint64_t behind_since_ms; /* the bus's: when it fell EVENT_BUS_LAG_MAX behind, 0 if not */
    bool keepalive_due;       /* set by the bus: send a keep-alive comment */
    bool dropped;             /* set by the bus: too far behind, end the stream */
    bool hung_up;             /* set by the bus: gone() said the client left, end the stream */
    void (*wake)(struct event_bus_sub *sub); /* there may be something to send */
    /* Has the client gone away while the stream was idle? Asked each tick. */
    bool (*gone)(struct event_bus_sub *sub);
    struct event_bus_sub *next, **prev; /* the bus's list */
};

/* Creates the bus of st (reads the newest event id from st->db) and makes it the one
 * event_bus_poke() reaches. One per process. */
int event_bus_start(struct station *st, struct event_bus **ret);
/* Closes the bus's timers; bus is freed once they closed. Streams must be gone already
 * (http_close first). NULL does nothing. */
void event_bus_close(struct event_bus *bus);
/* The running bus, or NULL. */
struct event_bus *event_bus_current(void);

/* A row was added to slot_events: deliver it soon. Does nothing without a bus. */
void event_bus_poke(void);
/* Records the verdict of attempt a (finished, result set) as an "attempt" row of the slot
 * event timeline, and pokes. Logs a failure to write; nothing without st->db. */
void event_bus_attempt_finished(struct station *st, const char *slot, const char *usb_path,
                                const struct db_attempt *a, unsigned try_no);

/* -EBUSY at the stream limit. The sub's cursor is the caller's to set before reading. */
int event_bus_subscribe(struct event_bus *bus, struct event_bus_sub *sub);
void event_bus_unsubscribe(struct event_bus *bus, struct event_bus_sub *sub);
size_t event_bus_streams(const struct event_bus *bus);
size_t event_bus_streams_max(const struct event_bus *bus);
/* Id of the newest timeline row the bus has seen (0: none). */
int64_t event_bus_head(const struct event_bus *bus);
/* Latest JSON text of slot index (NULL when it could not be built) and its version (grows on
 * each change; 0 = never built). */
const char *event_bus_slot_text(const struct event_bus *bus, size_t index, uint64_t *ret_version);
size_t event_bus_slot_count(const struct event_bus *bus);
/* The most slots there can be (a config reload adds and removes them). */
size_t event_bus_slots_max(void);
/* Grows whenever the slots changed (a config reload: a "config" row, or another count of
 * slots): streams then send
 * `event: reset` with reason "layout" and every snapshot again. */
uint64_t event_bus_layout(const struct event_bus *bus);
/* Streams dropped for lagging since start. */
uint64_t event_bus_drops(const struct event_bus *bus);

#endif
