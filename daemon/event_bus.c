/* The live-event bus: the head of the slot event timeline, the latest snapshot of each slot
 * and the list of streams to wake (event_bus.h). */
#include "event_bus.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "rack.h"
#include "station.h"

/* A config reload may add and remove slots (rack.h): room for as many as the rack can hold. */
#ifdef RACK_MAX_SLOTS
#define BUS_SLOTS_MAX RACK_MAX_SLOTS
#else
#define BUS_SLOTS_MAX CONFIG_MAX_SLOTS
#endif

struct slot_snap {
    char *text; /* json_dumps of api_state_slot_json, NULL when not built */
    uint64_t version;
    bool urgent; /* a timeline row about this slot arrived: re-read it now */
};

struct event_bus {
    struct station *st;
    uv_timer_t tick, soon;
    int handles_open;
    bool closing;
    int64_t head;
    uint64_t versions;       /* source of slot versions */
    struct slot_snap *slots; /* BUS_SLOTS_MAX */
    size_t slot_count;       /* the rack's now */
    uint64_t layout;         /* grows when the rack's slots changed */
    bool relayout;           /* a "config" row arrived: start the streams over */
    struct event_bus_sub *subs;
    size_t sub_count, sub_max;
    uint64_t drops;
};

/* One station per process, so one bus: writers deep in rack.c and flow_run.c reach it
 * without threading a pointer through every layer. */
static struct event_bus *current;

struct event_bus *event_bus_current(void)
{
    return current;
}

/* ---- the head of the timeline ---------------------------------------------------------- */

static int count_row(const struct db_slot_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

/* Is there a row with id > after? */
static int has_rows_after(struct db *db, int64_t after)
{
    return db_slot_events_list(db, after, 1, count_row, NULL);
}

/* The newest id by bisection over "a row after x exists" (db.h has no max-id query; the ids
 * only grow, so the predicate is monotonic): about 2 log2(max id) indexed lookups, once at
 * start. */
static int find_head(struct db *db, int64_t *ret)
{
    int r = has_rows_after(db, 0);
    if (r <= 0) {
        *ret = 0;
        return r;
    }
    int64_t lo = 0, hi = 1; /* a row after lo exists; find hi with none after it */
    while ((r = has_rows_after(db, hi)) > 0) {
        lo = hi;
        if (hi > INT64_MAX / 2)
            return -ERANGE;
        hi *= 2;
    }
    if (r < 0)
        return r;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        r = has_rows_after(db, mid);
        if (r < 0)
            return r;
        if (r > 0)
            lo = mid;
        else
            hi = mid;
    }
    *ret = hi;
    return 0;
}

static int tail_row(const struct db_slot_event *ev, void *ud)
{
    struct event_bus *bus = ud;
    bus->head = ev->id;
    if (strcmp(ev->event, "config") == 0)
        bus->relayout = true; /* a reload may have renamed or moved slots, not only counted */
    struct slot *s = ev->slot[0] ? rack_slot_by_label(bus->st->rack, ev->slot) : NULL;
    for (size_t i = 0; s && i < bus->slot_count; i++)
        if (rack_slot(bus->st->rack, i) == s)
            bus->slots[i].urgent = true;
    return 0;
}

/* Reads the rows written since the last look; true when there were any. */
static bool read_tail(struct event_bus *bus)
{
    if (!bus->st->db)
        return false;
    int64_t before = bus->head;
    int r;
    do {
        r = db_slot_events_list(bus->st->db, bus->head, 256, tail_row, bus);
    } while (r == 256);
    if (r < 0)
        log_warning("events: cannot read new slot events: %s", db_last_error(bus->st->db));
    return bus->head != before;
}

/* ---- slot snapshots --------------------------------------------------------------------- */

/* Re-reads slot i; true when its JSON changed. */
static bool refresh_slot(struct event_bus *bus, size_t i)
{
    struct slot_snap *sn = &bus->slots[i];
    sn->urgent = false;
    json_t *j = api_state_slot_json(bus->st, i);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return false; /* out of memory: keep the older text */
    if (sn->text && strcmp(sn->text, text) == 0) {
        free(text);
        return false;
    }
    free(sn->text);
    sn->text = text;
    sn->version = ++bus->versions;
    return true;
}

static bool refresh_slots(struct event_bus *bus, bool all)
{
    bool changed = false;
    if (!bus->st->rack)
        return false;
    size_t count = rack_slot_count(bus->st->rack);
    if (count > BUS_SLOTS_MAX)
        count = BUS_SLOTS_MAX;
    if (count != bus->slot_count || bus->relayout) { /* a reload: streams start over */
        bus->relayout = false;
        for (size_t i = count; i < bus->slot_count; i++) {
            free(bus->slots[i].text);
            bus->slots[i] = (struct slot_snap){0};
        }
        bus->slot_count = count;
        bus->layout++;
        all = changed = true;
    }
    for (size_t i = 0; i < bus->slot_count; i++)
        if (all || bus->slots[i].urgent)
            changed |= refresh_slot(bus, i);
    return changed;
}

static void wake_all(struct event_bus *bus)
{
    /* wake() may unsubscribe nothing (it only resumes the connection), so the list is stable */
    for (struct event_bus_sub *s = bus->subs; s; s = s->next)
        s->wake(s);
}

/* ---- timers ------------------------------------------------------------------------------ */

static void on_soon(uv_timer_t *t)
{
    struct event_bus *bus = t->data;
    bool news = read_tail(bus);
    if (bus->sub_count && (refresh_slots(bus, false) || news))
        wake_all(bus);
}

static void on_tick(uv_timer_t *t)
{
    struct event_bus *bus = t->data;
    bool news = read_tail(bus) | refresh_slots(bus, true);
    uint64_t now = uv_now(bus->st->loop);
    for (struct event_bus_sub *s = bus->subs; s; s = s->next) {
        bool wake = news;
        /* A burst puts every stream behind at once: only one that stays behind is dropped. */
        if (bus->head - s->cursor <= EVENT_BUS_LAG_MAX) {
            s->behind_since_ms = 0;
        } else if (!s->behind_since_ms) {
            s->behind_since_ms = now ? now : 1;
        } else if (!s->dropped && now - s->behind_since_ms >= EVENT_BUS_LAG_GRACE_MS) {
            s->dropped = true; /* the stream logs who and why when it ends */
            bus->drops++;
            wake = true;
        }
        if (!s->hung_up && s->gone && s->gone(s)) {
            s->hung_up = true; /* frees its place under the stream limit now, not at the next
                                  keep-alive */
            wake = true;
        }
        if (now - s->last_write_ms >= EVENT_BUS_KEEPALIVE_MS) {
            s->keepalive_due = true;
            wake = true;
        }
        if (wake)
            s->wake(s);
    }
}

void event_bus_poke(void)
{
    struct event_bus *bus = current;
    if (bus && !bus->closing && !uv_is_active((uv_handle_t *)&bus->soon))
        uv_timer_start(&bus->soon, on_soon, 0, 0);
}

/* ---- subscribers ---------------------------------------------------------------------------- */

int event_bus_subscribe(struct event_bus *bus, struct event_bus_sub *sub)
{
    if (bus->closing || bus->sub_count >= bus->sub_max)
        return -EBUSY;
    if (bus->sub_count == 0) {
        /* Nobody watched: the snapshots may be old. */
        read_tail(bus);
        refresh_slots(bus, true);
        uv_timer_start(&bus->tick, on_tick, EVENT_BUS_TICK_MS, EVENT_BUS_TICK_MS);
    }
    sub->next = bus->subs;
    if (sub->next)
        sub->next->prev = &sub->next;
    sub->prev = &bus->subs;
    bus->subs = sub;
    bus->sub_count++;
    sub->last_write_ms = uv_now(bus->st->loop);
    return 0;
}

void event_bus_unsubscribe(struct event_bus *bus, struct event_bus_sub *sub)
{
    if (!sub->prev)
        return;
    *sub->prev = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    sub->next = NULL;
    sub->prev = NULL;
    if (--bus->sub_count == 0 && !bus->closing)
        uv_timer_stop(&bus->tick);
}

size_t event_bus_streams(const struct event_bus *bus)
{
    return bus->sub_count;
}

size_t event_bus_streams_max(const struct event_bus *bus)
{
    return bus->sub_max;
}

int64_t event_bus_head(const struct event_bus *bus)
{
    return bus->head;
}

uint64_t event_bus_drops(const struct event_bus *bus)
{
    return bus->drops;
}

uint64_t event_bus_layout(const struct event_bus *bus)
{
    return bus->layout;
}

size_t event_bus_slots_max(void)
{
    return BUS_SLOTS_MAX;
}

size_t event_bus_slot_count(const struct event_bus *bus)
{
    return bus->slot_count;
}

const char *event_bus_slot_text(const struct event_bus *bus, size_t index, uint64_t *ret_version)
{
    if (index >= bus->slot_count) {
        *ret_version = 0;
        return NULL;
    }
    *ret_version = bus->slots[index].version;
    return bus->slots[index].text;
}

/* ---- attempt verdicts ------------------------------------------------------------------------ */

void event_bus_attempt_finished(struct station *st, const char *slot, const char *usb_path,
                                const struct db_attempt *a, unsigned try_no)
{
    if (!st->db || !a->id)
        return;
    struct db_slot_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_unix_ms = a->ended_unix_ms ? a->ended_unix_ms : station_now_unix_ms();
    db_field_set(ev.station_id, sizeof(ev.station_id), st->cfg.station_id);
    db_field_set(ev.slot, sizeof(ev.slot), slot);
    db_field_set(ev.usb_path, sizeof(ev.usb_path), usb_path);
    db_field_set(ev.event, sizeof(ev.event), "attempt");
    /* The verdict as the records have it; the message goes first when space runs out. */
    for (int with_message = 1; with_message >= 0; with_message--) {
        json_t *d = json_pack(
            "{s:I, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "attempt_id",
            (json_int_t)a->id, "attempt_uuid", a->attempt_uuid, "result",
            db_result_to_string(a->result) ? db_result_to_string(a->result) : "?", "try",
            (int)try_no, "finish_seq", (json_int_t)a->finish_seq, "imei", a->imei, "model",
            a->module_model, "package", a->package_name, "fail_stage", a->fail_stage, "fail_code",
            a->fail_code, "duration_ms", (json_int_t)a->duration_ms, "bytes_written",
            (json_int_t)a->bytes_written, "attempt_no", (json_int_t)a->attempt_no);
        if (d && with_message)
            json_object_set_new(d, "fail_message", json_string(a->fail_message));
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        bool fits = text && strlen(text) < sizeof(ev.detail);
        if (fits)
            memcpy(ev.detail, text, strlen(text) + 1);
        free(text);
        if (fits)
            break;
    }
    if (db_slot_event_insert(st->db, &ev, NULL) < 0)
        log_warning("events: cannot record the verdict of attempt %" PRId64 ": %s", a->id,
                    db_last_error(st->db));
    event_bus_poke();
}

/* ---- life cycle ------------------------------------------------------------------------------ */

int event_bus_start(struct station *st, struct event_bus **ret)
{
    struct event_bus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return -ENOMEM;
    bus->st = st;
    bus->slot_count = st->rack ? rack_slot_count(st->rack) : 0;
    bus->slots = calloc(BUS_SLOTS_MAX, sizeof(*bus->slots));
    if (!bus->slots) {
        free(bus);
        return -ENOMEM;
    }
    bus->sub_max = EVENT_BUS_STREAMS_MAX;
    if (bus->sub_max > st->cfg.limits.http_max_connections / 2)
        bus->sub_max = st->cfg.limits.http_max_connections / 2;
    if (st->db) {
        int r = find_head(st->db, &bus->head);
        if (r < 0) {
            log_err("events: cannot find the newest slot event: %s", db_last_error(st->db));
            free(bus->slots);
            free(bus);
            return r;
        }
    }
    uv_timer_init(st->loop, &bus->tick);
    uv_timer_init(st->loop, &bus->soon);
    bus->tick.data = bus->soon.data = bus;
    bus->handles_open = 2;
    current = bus;
    log_info("events: live stream ready at event %" PRId64 ", at most %zu streams", bus->head,
             bus->sub_max);
    *ret = bus;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct event_bus *bus = h->data;
    if (--bus->handles_open > 0)
        return;
    for (size_t i = 0; i < bus->slot_count; i++)
        free(bus->slots[i].text);
    free(bus->slots);
    free(bus);
}

void event_bus_close(struct event_bus *bus)
{
    if (!bus || bus->closing)
        return;
    bus->closing = true;
    if (current == bus)
        current = NULL;
    if (bus->sub_count)
        log_err("events: bus closed with %zu streams open", bus->sub_count);
    /* Streams left behind (a bug) must not point at freed memory. */
    while (bus->subs)
        event_bus_unsubscribe(bus, bus->subs);
    uv_close((uv_handle_t *)&bus->tick, on_closed);
    uv_close((uv_handle_t *)&bus->soon, on_closed);
}
