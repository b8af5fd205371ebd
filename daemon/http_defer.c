/* Raw uploads and deferred answers of the HTTP server (see http.h): the parts of a request
 * that outlive one call of the access handler. loop_http.c calls in at admission, for each
 * piece of an upload body, after a deferred answer resumed the connection, and when
 * libmicrohttpd reports the request gone. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_priv.h"
#include "log.h"

struct http_deferred {
    struct http_server *server; /* NULL once the connection is gone */
    struct MHD_Connection *conn;
    struct http_exchange *ex;           /* NULL once the connection is gone */
    struct http_deferred *next, **prev; /* in server->deferred */
    bool suspended, ready;
    unsigned status;
    json_t *body;
    struct http_audit_note audit; /* the request's, until the answer goes back to it */
};

/* ---- uploads ------------------------------------------------------------------------------ */

bool http_upload_admit(struct http_request *req, struct http_exchange *ex)
{
    uint64_t declared = 0;
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        declared = end == cl ? UINT64_MAX : (uint64_t)v;
    }
    void *state = NULL;
    if (req->route->upload->begin(req, cl != NULL, declared, &state) < 0) {
        if (!req->replied)
            http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the upload could not start");
        return false;
    }
    ex->upload = state;
    return true;
}

bool http_upload_piece(struct http_request *req, struct http_exchange *ex, const char *buf,
                       size_t len)
{
    req->route = ex->route;
    ex->body_bytes += len;
    if (ex->route->upload->data(req, ex->upload, buf, len) == 0)
        return true;
    if (!req->replied)
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "the upload could not be stored");
    return false;
}

void *http_request_upload(const struct http_request *req)
{
    return req->ex ? req->ex->upload : NULL;
}

void *http_request_upload_take(struct http_request *req)
{
    void *state = req->ex ? req->ex->upload : NULL;
    if (req->ex)
        req->ex->upload = NULL;
    return state;
}

void http_reply_no_content(struct http_request *req)
{
    if (req->replied) {
        log_err("http: %s answered twice (a 204 dropped)", req->route ? req->route->pattern : "?");
        return;
    }
    req->replied = true;
    req->status = MHD_HTTP_NO_CONTENT;
    req->body_len = 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    bool ok = resp && MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
              MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") &&
              MHD_queue_response(req->conn, MHD_HTTP_NO_CONTENT, resp) == MHD_YES;
    if (!ok)
        req->queue_failed = true;
    if (resp)
        MHD_destroy_response(resp);
}

/* ---- deferred answers --------------------------------------------------------------------- */

static void unlink_deferred(struct http_deferred *d)
{
    if (d->prev) {
        *d->prev = d->next;
        if (d->next)
            d->next->prev = d->prev;
    }
    d->prev = NULL;
    d->next = NULL;
}

static void deferred_free(struct http_deferred *d)
{
    unlink_deferred(d);
    json_decref(d->body);
    json_decref(d->audit.detail);
    free(d);
}

struct http_deferred *http_request_defer(struct http_request *req)
{
    if (req->replied || req->deferred || !req->ex || req->ex->deferred)
        return NULL;
    struct http_deferred *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->server = req->server;
    d->conn = req->conn;
    d->ex = req->ex;
    d->audit = req->audit; /* moved: the detail goes with it */
    req->audit.detail = NULL;
    d->next = req->server->deferred;
    if (d->next)
        d->next->prev = &d->next;
    d->prev = &req->server->deferred;
    req->server->deferred = d;
    req->ex->deferred = d;
    req->deferred = true;
    MHD_suspend_connection(req->conn);
    d->suspended = true;
    return d;
}

void http_deferred_audit(struct http_deferred *d, const char *action, const char *target,
                         json_t *detail)
{
    http_audit_note_set(&d->audit, action, target, detail);
}

void http_deferred_reply_json(struct http_deferred *d, unsigned status, json_t *body)
{
    if (!d)
        return;
    if (!d->server || d->ready) { /* the client or the server is gone */
        json_decref(body);
        if (!d->server)
            deferred_free(d);
        return;
    }
    d->ready = true;
    d->status = status;
    d->body = body;
    if (d->suspended) {
        d->suspended = false;
        MHD_resume_connection(d->conn);
    }
    http_server_kick(d->server);
}

void http_deferred_reply_error(struct http_deferred *d, unsigned status, const char *code,
                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *body = http_error_body(code, fmt, ap);
    va_end(ap);
    http_deferred_reply_json(d, status, body);
}

void http_deferred_answer(struct http_request *req, struct http_exchange *ex)
{
    struct http_deferred *d = ex->deferred;
    if (!d->ready) { /* resumed by the server closing: no answer will come in time */
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the server is stopping");
        d->ex = NULL;
        d->server = NULL; /* the owner's reply frees it */
        unlink_deferred(d);
        ex->deferred = NULL;
        return;
    }
    json_decref(req->audit.detail);
    req->audit = d->audit; /* moved back for finish_request's audit entry */
    d->audit.detail = NULL;
    unsigned status = d->status;
    json_t *body = d->body;
    d->body = NULL;
    ex->deferred = NULL;
    deferred_free(d);
    http_reply_json(req, status, body);
}

void http_exchange_release(struct http_exchange *ex)
{
    if (ex->upload && ex->route && ex->route->upload)
        ex->route->upload->free(ex->upload);
    ex->upload = NULL;
    struct http_deferred *d = ex->deferred;
    if (d) {
        ex->deferred = NULL;
        unlink_deferred(d);
        if (d->ready) {
            deferred_free(d); /* answered but never sent */
        } else {
            d->ex = NULL;
            d->server = NULL; /* the owner's reply frees it */
        }
    }
}

void http_deferred_resume_all(struct http_server *h)
{
    for (struct http_deferred *d = h->deferred; d; d = d->next)
        if (d->suspended) {
            d->suspended = false;
            MHD_resume_connection(d->conn);
        }
}
