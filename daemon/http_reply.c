/* Replies and request accessors for the route handlers (see http.h); the server itself is
 * loop_http.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>

#include "http.h"
#include "http_priv.h"
#include "log.h"

/* Served when a reply cannot be built at all (out of memory). */
static const char internal_error_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"cannot build the response\"}}\n";

/* ---- replies ------------------------------------------------------------------------ */

/* Queues resp (NULL: creating it failed) with our headers and drops our reference. */
static void queue_response(struct http_request *req, unsigned status, struct MHD_Response *resp,
                           const char *content_type)
{
    if (!resp) {
        req->queue_failed = true;
        return;
    }
    bool ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
              MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (ok && req->allow[0])
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (ok && req->www_authenticate[0])
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, req->www_authenticate);
    if (!ok || MHD_queue_response(req->conn, status, resp) != MHD_YES)
        req->queue_failed = true;
    MHD_destroy_response(resp);
}

static void queue(struct http_request *req, unsigned status, char *text, size_t len,
                  const char *content_type)
{
    struct MHD_Response *resp;
    if (text) {
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    } else {
        resp = MHD_create_response_from_buffer(sizeof(internal_error_body) - 1,
                                               (void *)internal_error_body, MHD_RESPMEM_PERSISTENT);
        content_type = "application/json";
    }
    queue_response(req, status, resp, content_type);
}

/* The first reply of a request? A second one is a handler bug: logged and dropped. */
static bool first_reply(struct http_request *req, unsigned status)
{
    if (req->replied) {
        log_err("http: %s %s answered twice (second status %u dropped)", req->method,
                req->route ? req->route->pattern : "?", status);
        return false;
    }
    req->replied = true;
    return true;
}

void http_reply_text(struct http_request *req, unsigned status, const char *content_type,
                     char *body, size_t len)
{
    if (!first_reply(req, status)) {
        free(body);
        return;
    }
    if (!body) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        len = sizeof(internal_error_body) - 1;
    }
    req->status = status;
    req->body_len = len;
    queue(req, status, body, len, content_type);
}

struct stream_reader {
    long (*read)(void *ud, char *buf, size_t max);
    void *ud;
    void (*free_ud)(void *ud);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_reader *s = cls;
    long n = s->read(s->ud, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream_reader *s = cls;
    if (s->free_ud)
        s->free_ud(s->ud);
    free(s);
}

void http_reply_stream(struct http_request *req, unsigned status, const char *content_type,
                       long (*read)(void *ud, char *buf, size_t max), void *ud,
                       void (*free_ud)(void *ud))
{
    if (!first_reply(req, status)) {
        if (free_ud)
            free_ud(ud);
        return;
    }
    struct stream_reader *s = malloc(sizeof(*s));
    struct MHD_Response *resp = NULL;
    if (s) {
        *s = (struct stream_reader){.read = read, .ud = ud, .free_ud = free_ud};
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s,
                                                 stream_free);
        if (!resp)
            stream_free(s);
    } else if (free_ud) {
        free_ud(ud);
    }
    if (!resp) {
        req->replied = false;
        http_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", NULL, 0);
        return;
    }
    req->status = status;
    req->body_len = 0; /* not known up front */
    queue_response(req, status, resp, content_type);
}

/* ---- live streams (http_priv.h) -------------------------------------------------------- */

struct http_live {
    struct http_server *server;
    struct MHD_Connection *conn;
    long (*read)(void *ud, char *buf, size_t max);
    void *ud;
    void (*free_ud)(void *ud);
    bool suspended;
    struct http_live *next, **prev; /* in server->lives */
};

static ssize_t live_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct http_live *l = cls;
    long n = l->read(l->ud, buf, max);
    if (n == HTTP_LIVE_IDLE) {
        /* MHD calls an external-mode reader that returned 0 again on every MHD_run(); a
         * suspended connection is left alone until http_live_wake(). */
        MHD_suspend_connection(l->conn);
        l->suspended = true;
        return 0;
    }
    if (n == HTTP_LIVE_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void live_free(void *cls)
{
    struct http_live *l = cls;
    if (l->prev) {
        *l->prev = l->next;
        if (l->next)
            l->next->prev = l->prev;
    }
    if (l->free_ud)
        l->free_ud(l->ud);
    free(l);
}

struct http_live *http_reply_live(struct http_request *req, const char *content_type,
                                  long (*read)(void *ud, char *buf, size_t max), void *ud,
                                  void (*free_ud)(void *ud))
{
    if (!first_reply(req, MHD_HTTP_OK)) {
        if (free_ud)
            free_ud(ud);
        return NULL;
    }
    struct http_live *l = calloc(1, sizeof(*l));
    struct MHD_Response *resp = NULL;
    if (l) {
        *l = (struct http_live){
            .server = req->server, .conn = req->conn, .read = read, .ud = ud, .free_ud = free_ud};
        /* Small blocks: an event goes out as soon as it is made, not when 16 KiB gathered. */
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4 * 1024, live_read, l, live_free);
        if (!resp)
            live_free(l);
    } else if (free_ud) {
        free_ud(ud);
    }
    if (!resp) {
        req->replied = false;
        http_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", NULL, 0);
        return NULL;
    }
    l->next = req->server->lives;
    if (l->next)
        l->next->prev = &l->next;
    l->prev = &req->server->lives;
    req->server->lives = l;
    req->status = MHD_HTTP_OK;
    req->body_len = 0;
    queue_response(req, MHD_HTTP_OK, resp, content_type);
    return req->queue_failed ? NULL : l;
}

void http_live_wake(struct http_live *live)
{
    if (!live->suspended)
        return;
    live->suspended = false;
    MHD_resume_connection(live->conn);
    http_server_kick(live->server);
}

bool http_live_peer_gone(struct http_live *live)
{
    if (!live->suspended)
        return false; /* MHD watches the socket itself and notices at the next write */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(live->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd pfd = {.fd = ci->connect_fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    if (pfd.revents & (POLLERR | POLLHUP))
        return true;
    /* A stream's client sends nothing after its request: readable means closed, unless it
     * did send something (then we let MHD find out). */
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void http_live_resume_all(struct http_server *h)
{
    for (struct http_live *l = h->lives; l; l = l->next)
        if (l->suspended) {
            l->suspended = false;
            MHD_resume_connection(l->conn);
        }
}

const char *http_request_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
    if (!first_reply(req, status)) {
        json_decref(body);
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    size_t len = 0;
    if (text) {
        /* A trailing newline keeps `curl` output readable in a terminal. */
        len = strlen(text);
        char *grown = realloc(text, len + 2);
        if (grown) {
            text = grown;
            text[len++] = '\n';
            text[len] = '\0';
        }
    } else {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        len = sizeof(internal_error_body) - 1;
    }
    req->status = status;
    req->body_len = len;
    queue(req, status, text, len, "application/json");
}

json_t *http_error_body(const char *code, const char *fmt, va_list ap)
{
    char message[512];
    vsnprintf(message, sizeof(message), fmt, ap);
    return json_pack("{s:{s:s, s:o}}", "error", "code", code, "message", http_json_string(message));
}

void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *body = http_error_body(code, fmt, ap);
    va_end(ap);
    http_reply_json(req, status, body);
}

/* ---- request accessors -------------------------------------------------------------- */

struct station *http_request_station(const struct http_request *req)
{
    return req->server->st;
}

struct http_server *http_request_server(const struct http_request *req)
{
    return req->server;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->param_count; i++)
        if (req->param_name_len[i] == len && memcmp(req->param_name[i], name, len) == 0)
            return req->param[i];
    return NULL;
}

json_t *http_request_body(const struct http_request *req)
{
    return req->body;
}

const struct http_auth_who *http_request_who(const struct http_request *req)
{
    return &req->ex->who;
}

void http_audit_note_set(struct http_audit_note *n, const char *action, const char *target,
                         json_t *detail)
{
    db_field_set(n->action, sizeof(n->action), action ? action : "");
    db_field_set(n->target, sizeof(n->target), target ? target : "");
    json_decref(n->detail);
    n->detail = detail;
}

void http_request_audit(struct http_request *req, const char *action, const char *target,
                        json_t *detail)
{
    http_audit_note_set(&req->audit, action, target, detail);
}

const char *http_query_string(struct http_request *req, const char *name)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

int http_query_u64(struct http_request *req, const char *name, uint64_t min, uint64_t max,
                   uint64_t def, uint64_t *ret)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES) {
        *ret = def;
        return 0;
    }
    uint64_t v = 0;
    bool ok = value && len >= 1 && len <= 20;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned d = (unsigned)(value[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = false;
        else
            v = v * 10 + d;
    }
    if (!ok || v < min || v > max) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "query parameter '%s' must be a whole number from %llu to %llu", name,
                         (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}
