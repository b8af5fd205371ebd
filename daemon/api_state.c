/* Read-only views of the station for the dashboard and MES: what is plugged where, what
 * the rack has seen (slot event timeline), and a liveness probe. Everything is built from
 * the loop thread's own state at the moment of the request; nothing is cached. */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "rack.h"
#include "station.h"
#include "workflow.h"

#define API_TTYS_PER_DEVICE 32 /* Quectel modules expose up to ~8 serial interfaces */
#define API_EVENTS_DEFAULT  100
#define API_EVENTS_MAX      1000

static void get_healthz(struct http_request *req)
{
    http_reply_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

static json_t *hex16(uint16_t v)
{
    char text[8];
    snprintf(text, sizeof(text), "%04x", v);
    return json_string(text);
}

static json_t *device_json(const struct rack_device *d)
{
    return json_pack(
        "{s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:I}", "vid", hex16(d->vid), "pid", hex16(d->pid),
        "bus", (int)d->bus, "address", (int)d->address, "port_path", http_json_string(d->port_path),
        "manufacturer", http_json_string(d->manufacturer), "product", http_json_string(d->product),
        "serial", http_json_string(d->serial), "attached_unix_ms", (json_int_t)d->attached_unix_ms);
}

static json_t *ttys_json(const struct rack *rack, const struct rack_device *d)
{
    json_t *list = json_array();
    if (!list || !d)
        return list;
    const struct rack_tty *ttys[API_TTYS_PER_DEVICE];
    size_t n = rack_ttys_for_port(rack, d->port_path, ttys, API_TTYS_PER_DEVICE);
    for (size_t i = 0; i < n; i++) {
        json_t *t =
            json_pack("{s:o, s:i, s:o}", "devnode", http_json_string(ttys[i]->devnode), "interface",
                      ttys[i]->interface_number, "sysname", http_json_string(ttys[i]->sysname));
        if (json_array_append_new(list, t) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static json_t *last_json(const struct slot *s)
{
    if (!s->last_result[0])
        return json_null();
    return json_pack("{s:s, s:o, s:I, s:I}", "result", s->last_result, "message",
                     http_json_string(s->last_message), "attempt_id",
                     (json_int_t)s->last_attempt_id, "ended_unix_ms",
                     (json_int_t)s->last_end_unix_ms);
}

/* Throughput since the flash started and the time left at that rate (null when unknown). */
static json_t *progress_json(const struct flow_view *v)
{
    json_t *rate = json_null(), *eta = json_null();
    uint64_t now = station_now_unix_ms();
    if (v->state == FLOW_FLASHING && v->flash_started_unix_ms && now > v->flash_started_unix_ms &&
        v->done) {
        uint64_t elapsed = now - v->flash_started_unix_ms;
        uint64_t bps = v->done * 1000 / elapsed;
        rate = json_integer((json_int_t)bps);
        if (v->total > v->done && bps)
            eta = json_integer((json_int_t)((v->total - v->done) * 1000 / bps));
    }
    return json_pack("{s:o, s:I, s:I, s:o, s:o}", "phase", http_json_string(v->phase), "done",
                     (json_int_t)v->done, "total", (json_int_t)v->total, "bytes_per_s", rate,
                     "eta_ms", eta);
}

static json_t *flow_json(const struct workflow *w, size_t index)
{
    struct flow_view v;
    if (!w || workflow_slot_view(w, index, &v) < 0)
        return json_null();
    return json_pack(
        "{s:s, s:I, s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:b, s:I}",
        "state", flow_state_to_string(v.state), "state_since_unix_ms",
        (json_int_t)v.state_since_unix_ms, "attempt_id", (json_int_t)v.attempt_id, "try",
        (int)v.try_no, "stage", http_json_string(v.stage), "code", http_json_string(v.code),
        "message", http_json_string(v.message), "instruction", http_json_string(v.instruction),
        "model", http_json_string(v.model), "imei", http_json_string(v.imei), "revision_before",
        http_json_string(v.revision_before), "revision_after", http_json_string(v.revision_after),
        "recipe", http_json_string(v.recipe), "package", http_json_string(v.package), "version",
        http_json_string(v.version), "progress", progress_json(&v), "paused", v.paused,
        "queue_position", (json_int_t)v.queue_position);
}

static json_t *slot_json(struct station *st, size_t index)
{
    const struct rack *rack = st->rack;
    const struct slot *s = rack_slot(st->rack, index);
    return json_pack(
        "{s:o, s:o, s:i, s:i, s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "label",
        http_json_string(s->cfg.label), "port", http_json_string(s->cfg.port), "row", s->cfg.row,
        "column", s->cfg.column, "state", slot_state_to_string(s->state), "state_since_unix_ms",
        (json_int_t)s->state_since_unix_ms, "attach_count", (json_int_t)s->attach_count, "device",
        s->device ? device_json(s->device) : json_null(), "ttys", ttys_json(rack, s->device),
        "last", last_json(s), "flow", flow_json(st->workflow, index));
}

static void get_station(struct http_request *req)
{
    struct station *st = http_request_station(req);
    size_t slots = rack_slot_count(st->rack);
    size_t by_state[SLOT_STATE_COUNT] = {0};
    for (size_t i = 0; i < slots; i++) {
        const struct slot *s = rack_slot(st->rack, i);
        if ((unsigned)s->state < SLOT_STATE_COUNT)
            by_state[s->state]++;
    }
    uint64_t now = station_now_unix_ms();
    uint64_t uptime = now > st->started_unix_ms ? now - st->started_unix_ms : 0;
    http_reply_json(
        req, MHD_HTTP_OK,
        json_pack("{s:o, s:s, s:I, s:I, s:{s:o}, s:{s:i, s:i}, s:{s:I, s:I, s:I, s:I, s:I}}",
                  "station_id", http_json_string(st->cfg.station_id), "version", FLASHRACK_VERSION,
                  "started_unix_ms", (json_int_t)st->started_unix_ms, "uptime_ms",
                  (json_int_t)uptime, "http", "listen",
                  http_json_string(http_listen_address(http_request_server(req))), "rack", "rows",
                  st->cfg.rack_rows, "columns", st->cfg.rack_columns, "counts", "slots",
                  (json_int_t)slots, "attached", (json_int_t)by_state[SLOT_ATTACHED], "empty",
                  (json_int_t)by_state[SLOT_EMPTY], "busy", (json_int_t)by_state[SLOT_BUSY],
                  "ignored", (json_int_t)rack_ignored_count(st->rack)));
}

static void get_slots(struct http_request *req)
{
    struct station *st = http_request_station(req);
    json_t *list = json_array();
    for (size_t i = 0; list && i < rack_slot_count(st->rack); i++) {
        if (json_array_append_new(list, slot_json(st, i)) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    http_reply_json(req, MHD_HTTP_OK, list ? json_pack("{s:o}", "slots", list) : NULL);
}

static void get_slot(struct http_request *req)
{
    struct station *st = http_request_station(req);
    const char *label = http_request_param(req, "label");
    struct slot *s = label ? rack_slot_by_label(st->rack, label) : NULL;
    if (!s) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no slot with label '%s'",
                         label ? label : "");
        return;
    }
    http_reply_json(req, MHD_HTTP_OK, slot_json(st, rack_slot_index(st->rack, s)));
}

static void get_ignored(struct http_request *req)
{
    const struct rack *rack = http_request_station(req)->rack;
    json_t *list = json_array();
    for (size_t i = 0; list && i < rack_ignored_count(rack); i++) {
        if (json_array_append_new(list, device_json(rack_ignored(rack, i))) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    http_reply_json(req, MHD_HTTP_OK, list ? json_pack("{s:o}", "devices", list) : NULL);
}

struct events_page {
    json_t *list;
    int64_t last_id;
};

/* "" in the table means "none" (an ignored port has no slot, an event may have no detail). */
static json_t *text_or_null(const char *s)
{
    return s[0] ? http_json_string(s) : json_null();
}

json_t *api_slot_event_json(const struct db_slot_event *ev)
{
    json_t *detail = json_null();
    if (ev->detail[0]) {
        /* The DB only stores valid JSON; show anything else as text rather than fail. */
        json_t *parsed = json_loads(ev->detail, JSON_DECODE_ANY, NULL);
        detail = parsed ? parsed : http_json_string(ev->detail);
    }
    bool has_ids = ev->vid || ev->pid;
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)ev->id,
                     "ts_unix_ms", (json_int_t)ev->ts_unix_ms, "slot", text_or_null(ev->slot),
                     "usb_path", text_or_null(ev->usb_path), "event", http_json_string(ev->event),
                     "vid", has_ids ? hex16(ev->vid) : json_null(), "pid",
                     has_ids ? hex16(ev->pid) : json_null(), "detail", detail);
}

static int add_event(const struct db_slot_event *ev, void *userdata)
{
    struct events_page *page = userdata;
    json_t *e = api_slot_event_json(ev);
    if (json_array_append_new(page->list, e) < 0)
        return -ENOMEM;
    page->last_id = ev->id;
    return 0;
}

static void get_events(struct http_request *req)
{
    struct station *st = http_request_station(req);
    uint64_t after_id, limit;
    if (http_query_u64(req, "after_id", 0, INT64_MAX, 0, &after_id) < 0 ||
        http_query_u64(req, "limit", 1, API_EVENTS_MAX, API_EVENTS_DEFAULT, &limit) < 0)
        return;
    if (!st->db) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the station has no database");
        return;
    }
    struct events_page page = {.list = json_array(), .last_id = (int64_t)after_id};
    if (!page.list) {
        http_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    int r = db_slot_events_list(st->db, (int64_t)after_id, (int)limit, add_event, &page);
    if (r < 0) {
        json_decref(page.list);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "cannot read slot events: %s (%s)", strerror(-r), db_last_error(st->db));
        return;
    }
    http_reply_json(
        req, MHD_HTTP_OK,
        json_pack("{s:o, s:I}", "events", page.list, "next_after_id", (json_int_t)page.last_id));
}

json_t *api_state_slot_json(struct station *st, size_t index)
{
    return slot_json(st, index);
}

static const char *const events_query[] = {"after_id", "limit", NULL};

const struct http_route api_state_routes[] = {
    {.methods = HTTP_GET, .pattern = "/healthz", .handler = get_healthz, .role = HTTP_ROLE_PUBLIC},
    {.methods = HTTP_GET, .pattern = "/api/v1/station", .handler = get_station},
    {.methods = HTTP_GET, .pattern = "/api/v1/slots", .handler = get_slots},
    {.methods = HTTP_GET, .pattern = "/api/v1/slots/{label}", .handler = get_slot},
    {.methods = HTTP_GET, .pattern = "/api/v1/ports/ignored", .handler = get_ignored},
    {.methods = HTTP_GET,
     .pattern = "/api/v1/events",
     .query = events_query,
     .handler = get_events},
    {0},
};
