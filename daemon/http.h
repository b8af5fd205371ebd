/* The HTTP server: libmicrohttpd in external-epoll mode inside the station's libuv loop, so
 * every handler runs on the loop thread and reads station state without locks
 * (architecture.md §1). One JSON error shape for everything we answer:
 *   {"error":{"code":"not_found","message":"no slot with label 'Z9'"}}
 *
 * Handlers live in api_*.c and are listed as route tables (api.h). A handler is called once
 * per request after the whole request has arrived, and answers with exactly one
 * http_reply_json() or http_reply_error(). Before it runs, the server has checked the route,
 * the caller's token (http_auth.h), the query and, for a route that takes one, the JSON body
 * (struct http_route max_body). Every request with another method than GET/HEAD that passed
 * the token check is written to the audit log once answered (http_request_audit). */
#ifndef FLASHRACK_HTTP_H
#define FLASHRACK_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct station;
struct http_server;
struct http_request;
struct http_auth_who;

/* Limits that are not in the config file (docs/http.md). */
#define HTTP_CONNECTION_TIMEOUT_S 60          /* idle or slow connections are closed */
#define HTTP_CONNECTION_MEMORY    (32 * 1024) /* per connection: request line + headers */
#define HTTP_PATH_SEGMENTS_MAX    16
#define HTTP_SEGMENT_MAX          128 /* bytes of one decoded path segment */

/* Binds cfg.http_listen ("127.0.0.1:8080", "[::1]:8080"; port 0 picks a free port) and
 * starts serving on st->loop. Logs "http: listening on http://HOST:PORT" at notice level.
 * Returns -EINVAL for a listen address that is not a numeric IPv4 / [IPv6] with a port, the
 * bind/listen errno (-EADDRINUSE, -EACCES, ...) or -ENOMEM. */
int http_start(struct station *st, struct http_server **ret);
/* The port actually bound (the picked one when the config said port 0). */
uint16_t http_port(const struct http_server *h);
/* "127.0.0.1:41234" / "[::1]:41234": the bound address with the real port. */
const char *http_listen_address(const struct http_server *h);
/* Stops accepting, drops open connections, closes the uv handles and frees h; done(ud) is
 * called once after the last handle closed (from the loop). done may be NULL; h NULL does
 * nothing (and never calls done). Safe to call from inside a handler. */
void http_close(struct http_server *h, void (*done)(void *ud), void *ud);

/* ---- for handlers -------------------------------------------------------------------- */

enum http_method {
    HTTP_GET = 1u << 0,
    HTTP_HEAD = 1u << 1, /* served wherever GET is: never list it in a route */
    HTTP_POST = 1u << 2,
    HTTP_PUT = 1u << 3,
    HTTP_DELETE = 1u << 4,
    HTTP_PATCH = 1u << 5,
};

typedef void (*http_handler_fn)(struct http_request *req);

/* Who may call a route (docs/http.md "Auth"); checked before the body is read. */
enum http_role {
    HTTP_ROLE_DEFAULT = 0, /* GET routes: HTTP_ROLE_READ; any other method: HTTP_ROLE_ADMIN */
    HTTP_ROLE_PUBLIC,      /* never needs a token (/healthz) */
    HTTP_ROLE_READ,        /* any valid token; none at all when [auth] open_reads = yes */
    HTTP_ROLE_OPERATOR,    /* an operator, supervisor or admin token */
    HTTP_ROLE_SUPERVISOR,  /* a supervisor or admin token */
    HTTP_ROLE_ADMIN,       /* an admin token */
};

/* One route: methods (HTTP_GET | ...), a pattern of '/'-separated segments where "{name}"
 * captures one non-empty segment ("/api/v1/slots/{label}"), and the query parameters the
 * route accepts (NULL-terminated list of at most 32, NULL for none). Any other query
 * parameter, or one given twice, is answered 400 before the handler runs.
 * role: who may call it. max_body: the route takes a JSON body (Content-Type
 * application/json, a JSON object) of at most this many bytes (and at most [http]
 * max_body_bytes), parsed before the handler runs (http_request_body); 0 = no body (one sent
 * anyway is counted against max_body_bytes and dropped).
 * Write tables with designated initializers ({.methods = HTTP_GET, .pattern = ...}): fields
 * may be added, and positional initializers would then fail -Wmissing-field-initializers. */
struct http_upload_ops;
struct http_route {
    unsigned methods;
    const char *pattern;
    const char *const *query;
    http_handler_fn handler;
    enum http_role role;
    size_t max_body;
    /* A route that takes a raw body streamed to its owner instead of JSON (see
     * http_upload_ops); [http] max_body_bytes does not apply to it, its begin bounds it. */
    const struct http_upload_ops *upload;
};

/* ---- raw uploads (POST /api/v1/packages) ------------------------------------------------
 * begin runs once the token and query passed, before any body byte is read: has_length and
 * declared give the Content-Length (a chunked body has none). It returns 0 with *state set,
 * or answers (http_reply_error) and returns < 0. data gets each piece as libmicrohttpd hands
 * it over; < 0 means it answered (413, 500) and the rest of the body is dropped. The handler
 * runs at the end with the state (http_request_upload). free(state) runs exactly once when
 * the request is gone, answered or not (a client that left mid-body), unless the handler
 * took the state (http_request_upload_take). */
struct http_upload_ops {
    int (*begin)(struct http_request *req, int has_length, uint64_t declared, void **state);
    int (*data)(struct http_request *req, void *state, const char *buf, size_t len);
    void (*free)(void *state);
};
void *http_request_upload(const struct http_request *req);
/* Answers 204 No Content: no body and no Content-Type (a DELETE that did what it said). */
void http_reply_no_content(struct http_request *req);
/* The state becomes the caller's: free is not called for it any more. */
void *http_request_upload_take(struct http_request *req);

/* ---- answers that come later -------------------------------------------------------------
 * A handler whose answer needs work off the loop (a worker thread) defers it: the connection
 * waits suspended (no CPU, no timeout) until exactly one http_deferred_reply_* call, which
 * may come from any later loop callback. What http_request_audit said so far carries over.
 * If the server closed meanwhile, the reply is dropped (and the handle freed all the same).
 * NULL when it cannot defer (out of memory): answer now instead. */
struct http_deferred;
struct http_deferred *http_request_defer(struct http_request *req);
void http_deferred_audit(struct http_deferred *d, const char *action, const char *target,
                         json_t *detail);
void http_deferred_reply_json(struct http_deferred *d, unsigned status, json_t *body);
void http_deferred_reply_error(struct http_deferred *d, unsigned status, const char *code,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct station *http_request_station(const struct http_request *req);
struct http_server *http_request_server(const struct http_request *req);
/* Value of the "{name}" segment of the matched pattern (percent-decoded), or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);

/* The request's JSON body, an object, when the route has max_body; NULL otherwise. Borrowed:
 * valid until the handler returns. */
json_t *http_request_body(const struct http_request *req);
/* The caller as its token names it (name and role "" without a token). */
const struct http_auth_who *http_request_who(const struct http_request *req);
/* What the audit entry of this request says: action ("slot.pause"), target ("A1"), and
 * members added to its detail (an object, stolen; NULL for none). Without a call the entry
 * says "METHOD path". Ignored for reads (they are not audited). */
void http_request_audit(struct http_request *req, const char *action, const char *target,
                        json_t *detail);

/* Reads query parameter name as a decimal integer: digits only (no sign, no spaces, at most
 * 20 digits) within [min, max]. Absent: *ret = def and 0. Malformed or out of range: answers
 * 400 bad_request naming the parameter and returns -EINVAL; the handler then just returns. */
int http_query_u64(struct http_request *req, const char *name, uint64_t min, uint64_t max,
                   uint64_t def, uint64_t *ret);

/* Answers with body as JSON (the reference is stolen, NULL is a 500). Adds Content-Type:
 * application/json and Cache-Control: no-store. */
void http_reply_json(struct http_request *req, unsigned status, json_t *body);
/* Answers {"error":{"code":code,"message":...}}. The message may quote client input: it is
 * cut to a sane length and made valid UTF-8 here. */
void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* Text replies, streamed replies, string query parameters and server counters exist
 * (api_records.c builds its CSV export and api_metrics.c /metrics only when it is defined). */
#define HTTP_HAVE_TEXT_REPLIES 1

/* Value of query parameter name (percent-decoded), or NULL when absent. Only parameters the
 * route lists get this far; the text is the client's: validate it. Valid during the handler. */
const char *http_query_string(struct http_request *req, const char *name);

/* Answers with body (malloc'd, len bytes, ownership taken; NULL is a 500) as content_type,
 * with the same Cache-Control: no-store and nosniff headers as http_reply_json. */
void http_reply_text(struct http_request *req, unsigned status, const char *content_type,
                     char *body, size_t len);

/* Answers with a body made piece by piece as the socket drains (chunked encoding), so a large
 * export never sits in memory whole. read(ud, buf, max) runs on the loop thread and fills at
 * most max bytes: it returns how many (> 0), 0 at the end, or < 0 on an error (the connection
 * is then closed: the status line is out already). free_ud(ud) runs exactly once, when the
 * response is done or dropped, also when queueing it failed. */
void http_reply_stream(struct http_request *req, unsigned status, const char *content_type,
                       long (*read)(void *ud, char *buf, size_t max), void *ud,
                       void (*free_ud)(void *ud));

/* Counters of a server since http_start, for /metrics. */
struct http_stats {
    uint64_t requests;    /* answered requests */
    uint64_t by_class[6]; /* by status / 100: [2] = 2xx ... [5] = 5xx */
    unsigned connections; /* open now */
};
void http_server_stats(const struct http_server *h, struct http_stats *ret);

/* json_string() for text from devices or clients: invalid UTF-8 bytes become '?', so it
 * never returns NULL for a non-NULL s (except out of memory). */
json_t *http_json_string(const char *s);

#endif
