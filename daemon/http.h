/* The HTTP server: libmicrohttpd in external-epoll mode inside the station's libuv loop, so
 * every handler runs on the loop thread and reads station state without locks
 * (architecture.md §1). One JSON error shape for everything we answer:
 *   {"error":{"code":"not_found","message":"no slot with label 'Z9'"}}
 *
 * Handlers live in api_*.c and are listed as route tables (api.h). A handler is called once
 * per request after the whole request has arrived, and answers with exactly one
 * http_reply_json() or http_reply_error(). Request bodies are counted against
 * cfg.limits.http_max_body_bytes and dropped: no route takes one yet (a POST route will need
 * a bounded body buffer in struct http_request). */
#ifndef FLASHRACK_HTTP_H
#define FLASHRACK_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct station;
struct http_server;
struct http_request;

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

/* One route: methods (HTTP_GET | ...), a pattern of '/'-separated segments where "{name}"
 * captures one non-empty segment ("/api/v1/slots/{label}"), and the query parameters the
 * route accepts (NULL-terminated list of at most 32, NULL for none). Any other query
 * parameter, or one given twice, is answered 400 before the handler runs. */
struct http_route {
    unsigned methods;
    const char *pattern;
    const char *const *query;
    http_handler_fn handler;
};

struct station *http_request_station(const struct http_request *req);
struct http_server *http_request_server(const struct http_request *req);
/* Value of the "{name}" segment of the matched pattern (percent-decoded), or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);

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

/* json_string() for text from devices or clients: invalid UTF-8 bytes become '?', so it
 * never returns NULL for a non-NULL s (except out of memory). */
json_t *http_json_string(const char *s);

#endif
