/* Writes that steer the line: the job context stamped on every new attempt, and slot control
 * (pause, resume, abort). The server has checked the token against each route's role before
 * a handler runs, and writes every call to the audit log once answered; the handlers here
 * only name what they did (http_request_audit). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "http_auth.h"
#include "log.h"
#include "rack.h"
#include "slot_job.h"
#include "station.h"
#include "workflow.h"

#define API_CONTEXT_BODY_MAX 4096 /* three short strings and some room for whitespace */
#define API_CONTEXT_SETTING  "job_context"

/* ---- job context ------------------------------------------------------------------------ */

struct context_field {
    const char *key;
    size_t offset; /* into struct station_context */
    size_t size;
    bool supervisor; /* an operator token may not set it */
};

static const struct context_field context_fields[] = {
    {"work_order", offsetof(struct station_context, work_order),
     sizeof(((struct station_context *)0)->work_order), true},
    {"lot", offsetof(struct station_context, lot), sizeof(((struct station_context *)0)->lot),
     true},
    {"operator", offsetof(struct station_context, operator_name),
     sizeof(((struct station_context *)0)->operator_name), false},
};
#define CONTEXT_FIELDS (sizeof(context_fields) / sizeof(context_fields[0]))

static char *context_value(struct station_context *c, const struct context_field *f)
{
    return (char *)c + f->offset;
}

static json_t *context_values_json(struct station_context *c)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < CONTEXT_FIELDS; i++)
        json_object_set_new(o, context_fields[i].key,
                            http_json_string(context_value(c, &context_fields[i])));
    return o;
}

static json_t *context_json(struct station_context *c)
{
    json_t *o = context_values_json(c);
    if (o &&
        json_object_update_new(
            o, json_pack("{s:o, s:o}", "updated_unix_ms",
                         c->updated_unix_ms ? json_integer((json_int_t)c->updated_unix_ms)
                                            : json_null(),
                         "updated_by",
                         c->updated_by[0] ? http_json_string(c->updated_by) : json_null())) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Fills c from a saved context (fields that are missing or bad stay as they are). */
static void context_from_json(struct station_context *c, json_t *o)
{
    for (size_t i = 0; i < CONTEXT_FIELDS; i++) {
        json_t *v = json_object_get(o, context_fields[i].key);
        if (json_is_string(v) && json_string_length(v) < context_fields[i].size)
            snprintf(context_value(c, &context_fields[i]), context_fields[i].size, "%s",
                     json_string_value(v));
    }
    json_t *by = json_object_get(o, "updated_by");
    if (json_is_string(by))
        snprintf(c->updated_by, sizeof(c->updated_by), "%s", json_string_value(by));
    json_t *at = json_object_get(o, "updated_unix_ms");
    if (json_is_integer(at) && json_integer_value(at) > 0)
        c->updated_unix_ms = (uint64_t)json_integer_value(at);
}

int api_control_restore(struct station *st)
{
    char text[DB_SETTING_MAX + 1];
    if (!st->db)
        return 0;
    int r = db_setting_get(st->db, API_CONTEXT_SETTING, text, sizeof(text), NULL);
    if (r == -ENOENT)
        return 0;
    json_t *o = r == 0 ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        log_warning("context: cannot restore the saved job context (%s): starting empty",
                    r < 0 ? db_last_error(st->db) : "not a JSON object");
        json_decref(o);
        return r < 0 ? r : -EINVAL;
    }
    context_from_json(&st->context, o);
    json_decref(o);
    log_notice("context: work order '%s', lot '%s', operator '%s' (set by %s)",
               st->context.work_order, st->context.lot, st->context.operator_name,
               st->context.updated_by[0] ? st->context.updated_by : "?");
    return 0;
}

static void get_context(struct http_request *req)
{
    http_reply_json(req, MHD_HTTP_OK, context_json(&http_request_station(req)->context));
}

/* A context value is what a person typed on a form: printable, one line, short. */
static const char *context_text_problem(const char *s, size_t len, size_t size)
{
    if (len >= size)
        return "is too long";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "contains a control character";
    return NULL;
}

static void put_context(struct http_request *req)
{
    struct station *st = http_request_station(req);
    const struct http_auth_who *who = http_request_who(req);
    json_t *body = http_request_body(req);
    const char *key;
    json_t *value;
    /* Checked whole before anything changes: a refused request leaves the context as it was. */
    json_object_foreach(body, key, value)
    {
        const struct context_field *f = NULL;
        for (size_t i = 0; i < CONTEXT_FIELDS; i++)
            if (strcmp(key, context_fields[i].key) == 0)
                f = &context_fields[i];
        if (!f) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "unknown field '%s' (the context has work_order, lot, operator)", key);
            return;
        }
        if (!json_is_string(value)) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "field '%s' must be a string (\"\" clears it)", key);
            return;
        }
        const char *problem =
            context_text_problem(json_string_value(value), json_string_length(value), f->size);
        if (problem) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "field '%s' %s (at most %zu bytes of printable text)", key, problem,
                             f->size - 1);
            return;
        }
        if (f->supervisor && !http_auth_role_allows(who->role, HTTP_ROLE_SUPERVISOR)) {
            http_reply_error(req, MHD_HTTP_FORBIDDEN, "forbidden",
                             "token '%s' has role %s: it may set only 'operator'; '%s' needs a "
                             "supervisor or admin token",
                             who->name, who->role, key);
            return;
        }
    }
    if (json_object_size(body) == 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "nothing to set: give work_order, lot and/or operator");
        return;
    }
    struct station_context next = st->context;
    json_object_foreach(body, key, value)
    {
        for (size_t i = 0; i < CONTEXT_FIELDS; i++)
            if (strcmp(key, context_fields[i].key) == 0)
                snprintf(context_value(&next, &context_fields[i]), context_fields[i].size, "%s",
                         json_string_value(value));
    }
    next.updated_unix_ms = station_now_unix_ms();
    snprintf(next.updated_by, sizeof(next.updated_by), "%s", who->name);
    /* Saved first: a context the station would forget on restart is not set. */
    if (st->db) {
        json_t *saved = context_json(&next);
        char *text = saved ? json_dumps(saved, JSON_COMPACT) : NULL;
        json_decref(saved);
        int r = text ? db_setting_set(st->db, API_CONTEXT_SETTING, text, next.updated_unix_ms)
                     : -ENOMEM;
        free(text);
        if (r < 0) {
            http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "cannot save the job context: %s (%s)", strerror(-r),
                             db_last_error(st->db));
            return;
        }
    }
    json_t *before = context_values_json(&st->context);
    st->context = next;
    http_request_audit(req, "context.set", "context",
                       json_pack("{s:O, s:o}", "set", body, "before", before));
    http_reply_json(req, MHD_HTTP_OK, context_json(&st->context));
}

/* ---- slot control ----------------------------------------------------------------------- */

/* The slot of the {label} in the path, with its index; NULL when answered 404. */
static struct slot *find_slot(struct http_request *req, size_t *index)
{
    struct station *st = http_request_station(req);
    const char *label = http_request_param(req, "label");
    struct slot *s = label ? rack_slot_by_label(st->rack, label) : NULL;
    if (!s) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no slot with label '%s'",
                         label ? label : "");
        return NULL;
    }
    *index = rack_slot_index(st->rack, s);
    return s;
}

static json_t *control_json(struct station *st, const struct slot *s, size_t index)
{
    struct flow_view v;
    bool flow = st->workflow && workflow_slot_view(st->workflow, index, &v) == 0;
    return json_pack("{s:o, s:b, s:s, s:b, s:o}", "label", http_json_string(s->cfg.label), "paused",
                     flow && v.paused, "flow_state", flow ? flow_state_to_string(v.state) : "none",
                     "job_running", s->job != NULL, "attempt_id",
                     flow && v.attempt_id ? json_integer((json_int_t)v.attempt_id) : json_null());
}

static void pause_or_resume(struct http_request *req, bool pause)
{
    struct station *st = http_request_station(req);
    size_t index;
    struct slot *s = find_slot(req, &index);
    if (!s)
        return;
    if (!st->workflow) {
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                         "the station runs no production flow: slot %s has nothing to %s",
                         s->cfg.label, pause ? "pause" : "resume");
        return;
    }
    struct flow_view v;
    bool was = workflow_slot_view(st->workflow, index, &v) == 0 && v.paused;
    int r = pause ? workflow_slot_pause(st->workflow, index)
                  : workflow_slot_resume(st->workflow, index);
    if (r < 0) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot %s slot %s: %s",
                         pause ? "pause" : "resume", s->cfg.label, strerror(-r));
        return;
    }
    http_request_audit(req, pause ? "slot.pause" : "slot.resume", s->cfg.label,
                       json_pack("{s:b}", "was_paused", was));
    http_reply_json(req, MHD_HTTP_OK, control_json(st, s, index));
}

static void post_pause(struct http_request *req)
{
    pause_or_resume(req, true);
}

static void post_resume(struct http_request *req)
{
    pause_or_resume(req, false);
}

static void post_abort(struct http_request *req)
{
    struct station *st = http_request_station(req);
    const struct http_auth_who *who = http_request_who(req);
    size_t index;
    struct slot *s = find_slot(req, &index);
    if (!s)
        return;
    char why[160];
    if (strcmp(who->name, who->role) == 0)
        snprintf(why, sizeof(why), "aborted by %s", who->name);
    else
        snprintf(why, sizeof(why), "aborted by %s (%s)", who->name, who->role);
    if (s->job) {
        /* The job stops now and reports back from the loop; the attempt ends aborted then. */
        slot_job_abort(s, why);
        http_request_audit(req, "slot.abort", s->cfg.label,
                           json_pack("{s:s, s:s}", "aborted", "job", "reason", why));
        json_t *o = control_json(st, s, index);
        json_object_set_new(o, "abort", json_string("requested"));
        http_reply_json(req, MHD_HTTP_ACCEPTED, o);
        return;
    }
    int r = st->workflow ? workflow_slot_abort(st->workflow, index, why) : -ENOENT;
    if (r < 0) {
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                         "nothing runs on slot %s: no job and no open attempt to abort",
                         s->cfg.label);
        return;
    }
    http_request_audit(req, "slot.abort", s->cfg.label,
                       json_pack("{s:s, s:s}", "aborted", "attempt", "reason", why));
    json_t *o = control_json(st, s, index);
    json_object_set_new(o, "abort", json_string("done"));
    http_reply_json(req, MHD_HTTP_OK, o);
}

const struct http_route api_control_routes[] = {
    {.methods = HTTP_GET, .pattern = "/api/v1/context", .handler = get_context},
    {.methods = HTTP_PUT,
     .pattern = "/api/v1/context",
     .handler = put_context,
     .role = HTTP_ROLE_OPERATOR, /* work_order and lot: supervisor, checked per field */
     .max_body = API_CONTEXT_BODY_MAX},
    {.methods = HTTP_POST,
     .pattern = "/api/v1/slots/{label}/pause",
     .handler = post_pause,
     .role = HTTP_ROLE_OPERATOR},
    {.methods = HTTP_POST,
     .pattern = "/api/v1/slots/{label}/resume",
     .handler = post_resume,
     .role = HTTP_ROLE_OPERATOR},
    {.methods = HTTP_POST,
     .pattern = "/api/v1/slots/{label}/abort",
     .handler = post_abort,
     .role = HTTP_ROLE_OPERATOR},
    {0},
};
