/* libmicrohttpd inside the libuv loop.
 *
 * MHD runs in "external epoll" mode: it keeps its own epoll set (listen socket and
 * connections, edge-triggered) and gives us that epoll fd, which a uv_poll_t watches for
 * readability. Whenever it fires, and whenever the timer from MHD_get_timeout() expires, we
 * call MHD_run(), which accepts, reads, calls our access handler and writes, without
 * blocking. After every MHD_run() the timer is re-armed from MHD_get_timeout(): MHD reports
 * 0 when it still has buffered work (a connection it did not drain), and the connection
 * timeouts otherwise. So all handlers run on the loop thread and touch station state freely.
 *
 * The access handler is called at least twice per request: once when the headers are in,
 * then once per chunk of body, then once more with no data. On the first call we decide
 * everything the headers tell (admit: route, token, query, body type and declared size) and
 * answer at once when the request cannot go on, so no body is read for a caller who may not
 * send it; a route's JSON body is collected over the middle calls; we answer on the last
 * call. */
#include "http.h"
#include "http_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "http_auth.h"
#include "log.h"
#include "station.h"

/* Searched in order; the first route whose pattern and method match wins. */
static const struct http_route *const route_tables[] = {
    api_state_routes,   api_events_routes, api_control_routes,  api_records_routes,
    api_metrics_routes, api_web_routes,    api_packages_routes, api_recipes_routes,
};

/* ---- small helpers ------------------------------------------------------------------ */

/* URLs and query keys are client bytes: keep log lines on one line and short. */
static const char *for_log(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    buf[n] = '\0';
    return buf;
}

json_t *http_json_string(const char *s)
{
    char buf[1024];
    db_field_set(buf, sizeof(buf), s); /* bad UTF-8 and control bytes -> '?', cut to fit */
    return json_string(buf);
}

/* Bit i of enum http_method is method_names[i]. */
static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};

static unsigned method_bit(const char *method)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (strcmp(method, method_names[i]) == 0)
            return 1u << i;
    return 0;
}

static void format_allow(unsigned methods, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (methods & (1u << i))
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", method_names[i]);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* MHD's default unescaper turns "%00" into a NUL, and the access handler only gets a C
 * string: "/api/v1/slots/A1%00junk" would look up "A1". We decode everything else and leave
 * "%00" (and malformed escapes) as literal text, which then simply matches nothing. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex_value(r[1])) >= 0 && (lo = hex_value(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* ---- routing ------------------------------------------------------------------------ */

/* Matches url against pattern segment by segment; with capture set, fills req->param. */
static bool route_match(const char *pattern, const char *url, struct http_request *req,
                        bool capture)
{
    if (url[0] != '/' || pattern[0] != '/')
        return false;
    const char *p = pattern + 1, *u = url + 1;
    size_t params = 0;
    for (;;) {
        size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
        if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (ul == 0 || ul >= HTTP_SEGMENT_MAX || params >= HTTP_PATH_SEGMENTS_MAX)
                return false;
            if (capture) {
                req->param_name[params] = p + 1;
                req->param_name_len[params] = pl - 2;
                memcpy(req->param[params], u, ul);
                req->param[params][ul] = '\0';
            }
            params++;
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return false;
        }
        p += pl;
        u += ul;
        if (*p != *u) /* one ended, the other goes on */
            return false;
        if (!*p)
            break;
        p++;
        u++;
    }
    if (capture)
        req->param_count = params;
    return true;
}

struct query_check {
    const struct http_route *route;
    unsigned seen; /* bit i: route->query[i] already given */
    char problem[160];
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    (void)value;
    struct query_check *qc = cls;
    char shown[64];
    for (unsigned i = 0; i < 32 && qc->route->query && qc->route->query[i]; i++) {
        if (strcmp(key, qc->route->query[i]) == 0) {
            if (qc->seen & (1u << i)) {
                snprintf(qc->problem, sizeof(qc->problem), "query parameter '%s' given twice", key);
                return MHD_NO;
            }
            qc->seen |= 1u << i;
            return MHD_YES;
        }
    }
    snprintf(qc->problem, sizeof(qc->problem), "unknown query parameter '%s'",
             for_log(key, shown, sizeof(shown)));
    return MHD_NO;
}

static bool is_read(const char *method)
{
    return (method_bit(method) & (HTTP_GET | HTTP_HEAD)) != 0;
}

/* "application/json", any case, alone or with parameters ("; charset=utf-8"). */
static bool is_json_type(const char *type)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    return type && strncasecmp(type, json, n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

static int declared_length(struct MHD_Connection *conn, uint64_t *ret);

/* The caller's token against the route's role: false when answered 401 / 403. */
static bool admit_caller(struct http_request *req, struct http_exchange *ex)
{
    enum http_role need = http_auth_effective_role(req->route->role, is_read(req->method));
    const char *authorization =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char msg[320];
    switch (http_auth_check(&req->server->st->cfg.auth, need, authorization, &ex->who, msg,
                            sizeof(msg))) {
    case HTTP_AUTH_ALLOWED:
        ex->authorized = true;
        return true;
    case HTTP_AUTH_NO_TOKEN:
    case HTTP_AUTH_BAD_TOKEN:
        snprintf(req->www_authenticate, sizeof(req->www_authenticate),
                 "Bearer realm=\"flashrack\"%s", authorization ? ", error=\"invalid_token\"" : "");
        http_reply_error(req, MHD_HTTP_UNAUTHORIZED, "unauthorized", "%s", msg);
        return false;
    case HTTP_AUTH_NOT_CONFIGURED:
    case HTTP_AUTH_FORBIDDEN:
        break;
    }
    http_reply_error(req, MHD_HTTP_FORBIDDEN, "forbidden", "%s", msg);
    return false;
}

/* A route with a JSON body: its type (415) and declared size (413), before reading it. */
static bool admit_body(struct http_request *req, struct http_exchange *ex)
{
    uint64_t declared = 0;
    bool has_length = declared_length(req->conn, &declared) == 0;
    bool chunked = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    ex->body_limit = req->route->max_body;
    if (ex->body_limit > req->server->max_body_bytes)
        ex->body_limit = (size_t)req->server->max_body_bytes;
    if ((has_length && declared == 0) || (!has_length && !chunked))
        return true; /* no body: the end says 400 */
    const char *type =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(type)) {
        char shown[64];
        http_reply_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                         "the body must be JSON with Content-Type: application/json (got %s%s%s)",
                         type ? "'" : "", type ? for_log(type, shown, sizeof(shown)) : "none",
                         type ? "'" : "");
        return false;
    }
    if (has_length && declared > ex->body_limit) {
        http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                         "request body of %llu bytes is over the limit of %zu bytes of %s",
                         (unsigned long long)declared, ex->body_limit, req->route->pattern);
        return false;
    }
    return true;
}

/* Everything the request line and headers decide: the route (404/405), the caller (401/403),
 * the query (400) and the body's type and size (415/413). Runs on the first call, before any
 * body is read; false when it answered. */
static bool admit(struct http_request *req, struct http_exchange *ex)
{
    unsigned want = method_bit(req->method), allowed = 0;
    const struct http_route *found = NULL;
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
        for (const struct http_route *r = route_tables[t]; r->handler; r++) {
            if (!route_match(r->pattern, req->url, req, false))
                continue;
            unsigned m = r->methods | ((r->methods & HTTP_GET) ? HTTP_HEAD : 0);
            allowed |= m;
            if (!found && (m & want))
                found = r;
        }
    }
    char shown[160];
    if (!found && allowed) {
        format_allow(allowed, req->allow, sizeof(req->allow));
        http_reply_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                         "%s is not allowed on %s (allowed: %s)", for_log(req->method, shown, 32),
                         req->url, req->allow);
        return false;
    }
    if (!found) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no endpoint %s", req->url);
        return false;
    }
    req->route = found;
    if (!admit_caller(req, ex))
        return false;
    struct query_check qc = {.route = found};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_query_arg, &qc);
    if (qc.problem[0]) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", qc.problem);
        return false;
    }
    if (found->max_body && !admit_body(req, ex))
        return false;
    ex->route = found;
    if (found->upload && !http_upload_admit(req, ex))
        return false;
    return true;
}

/* A raw upload route (struct http_route.upload) bounds its own body. */
static bool is_upload(const char *url, const char *method)
{
    unsigned want = method_bit(method);
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++)
        for (const struct http_route *r = route_tables[t]; r->handler; r++)
            if ((r->methods & want) && route_match(r->pattern, url, NULL, false))
                return r->upload != NULL;
    return false;
}

/* The collected body of a route with max_body: false when answered 413 / 400 / 500. */
static bool parse_body(struct http_request *req, struct http_exchange *ex)
{
    if (ex->body_over) {
        http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                         "request body over the limit of %zu bytes of %s", ex->body_limit,
                         req->route->pattern);
        return false;
    }
    if (ex->body_nomem) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "out of memory reading the request body");
        return false;
    }
    if (ex->body_len == 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "this endpoint needs a JSON object as its body");
        return false;
    }
    json_error_t err;
    req->body = json_loadb(ex->body, ex->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!req->body) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "the body is not valid JSON: %s (line %d, column %d)", err.text, err.line,
                         err.column);
        return false;
    }
    if (!json_is_object(req->body)) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "the body must be a JSON object, not an array");
        return false;
    }
    return true;
}

/* The last call: the body, then the handler. */
static void dispatch(struct http_request *req, struct http_exchange *ex)
{
    req->route = ex->route;
    route_match(req->route->pattern, req->url, req, true);
    if (req->route->max_body && !parse_body(req, ex))
        return;
    req->route->handler(req);
    if (!req->replied && !req->deferred) {
        log_err("http: handler of %s did not answer", req->route->pattern);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "the handler did not answer");
    }
}

static void remote_address(struct MHD_Connection *conn, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    buf[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        struct sockaddr_in a;
        memcpy(&a, ci->client_addr, sizeof(a));
        inet_ntop(AF_INET, &a.sin_addr, buf, (socklen_t)size);
    } else if (ci->client_addr->sa_family == AF_INET6) {
        struct sockaddr_in6 a;
        memcpy(&a, ci->client_addr, sizeof(a));
        inet_ntop(AF_INET6, &a.sin6_addr, buf, (socklen_t)size);
    }
}

void http_request_remote(struct http_request *req, char *buf, size_t size)
{
    remote_address(req->conn, buf, size);
}

/* Once a request is answered: a write that passed the token check goes to the audit log,
 * whatever we answered (a refused body is a call too). */
static void finish_request(struct http_request *req, struct http_exchange *ex)
{
    if (ex->authorized && !is_read(req->method)) {
        char remote[INET6_ADDRSTRLEN];
        remote_address(req->conn, remote, sizeof(remote));
        struct http_audit_entry e = {
            .who = &ex->who,
            .remote_addr = remote,
            .method = req->method,
            .path = req->url,
            .status = req->status,
            .action = req->audit.action[0] ? req->audit.action : NULL,
            .target = req->audit.target[0] ? req->audit.target : NULL,
            .detail = req->audit.detail,
        };
        http_audit_write(req->server->st->db, &e);
    }
    json_decref(req->audit.detail);
    req->audit.detail = NULL;
    json_decref(req->body);
    req->body = NULL;
}

/* Appends a piece of a route's JSON body; over the route's limit it is only counted. */
static void collect_body(struct http_exchange *ex, const char *data, size_t n)
{
    if (ex->body_over || ex->body_nomem)
        return;
    if (n > ex->body_limit - ex->body_len) {
        ex->body_over = true;
        return;
    }
    if (ex->body_len + n > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap * 2 : 1024;
        if (cap < ex->body_len + n)
            cap = ex->body_len + n;
        if (cap > ex->body_limit)
            cap = ex->body_limit;
        char *grown = realloc(ex->body, cap);
        if (!grown) {
            ex->body_nomem = true;
            return;
        }
        ex->body = grown;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, data, n);
    ex->body_len += n;
}

/* Content-Length as declared; -ENOENT without one (chunked or no body). */
static int declared_length(struct MHD_Connection *conn, uint64_t *ret)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return -ENOENT;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(cl, &end, 10);
    /* MHD has already refused a malformed Content-Length; be safe about huge ones. */
    *ret = (errno == ERANGE || end == cl) ? UINT64_MAX : (uint64_t)v;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *h = cls;
    struct http_exchange *ex = *con_cls;
    struct http_request req = {.server = h, .conn = conn, .method = method, .url = url, .ex = ex};
    char shown[160];

    if (!ex) {
        ex = calloc(1, sizeof(*ex));
        if (!ex)
            return MHD_NO;
        *con_cls = ex;
        req.ex = ex;
        uint64_t declared;
        if (declared_length(conn, &declared) == 0 && declared > h->max_body_bytes &&
            !is_upload(url, method)) {
            ex->answered = true;
            http_reply_error(&req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                             "request body of %llu bytes is over the limit of %llu bytes",
                             (unsigned long long)declared, (unsigned long long)h->max_body_bytes);
            log_info("http: %s %s -> 413 (Content-Length %llu)", for_log(method, shown, 32),
                     for_log(url, shown + 32, sizeof(shown) - 32), (unsigned long long)declared);
            return req.queue_failed ? MHD_NO : MHD_YES;
        }
        if (!admit(&req, ex)) {
            ex->answered = true;
            finish_request(&req, ex);
            log_debug("http: %s %s -> %u (%zu bytes)", for_log(method, shown, 32),
                      for_log(url, shown + 32, sizeof(shown) - 32), req.status, req.body_len);
            return req.queue_failed ? MHD_NO : MHD_YES;
        }
        return MHD_YES;
    }
    if (ex->deferred) { /* resumed: the deferred answer is there */
        req.route = ex->route;
        route_match(req.route->pattern, url, &req, true);
        http_deferred_answer(&req, ex);
        goto answered;
    }
    if (ex->answered) {
        if (ex->route && ex->route->upload)
            *upload_data_size = 0; /* the rest of a refused upload is dropped */
        return MHD_YES;
    }
    if (*upload_data_size && ex->route->upload) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (http_upload_piece(&req, ex, upload_data, n))
            return MHD_YES;
        ex->answered = true; /* refused mid-body (413): answered now, the rest is dropped */
        goto answered;
    }
    if (*upload_data_size) {
        /* A route without a body drops one. A chunked body has no length up front, and MHD
         * cannot answer in the middle of one, so going over the server's limit closes the
         * connection; over a route's smaller limit we only count and answer 413 at the end. */
        ex->body_bytes += *upload_data_size;
        if (ex->body_bytes > h->max_body_bytes) {
            log_info("http: %s %s: body over %llu bytes, connection closed",
                     for_log(method, shown, 32), for_log(url, shown + 32, sizeof(shown) - 32),
                     (unsigned long long)h->max_body_bytes);
            return MHD_NO;
        }
        if (ex->route->max_body)
            collect_body(ex, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    ex->answered = true;
    dispatch(&req, ex);
    if (req.deferred) { /* the handler answers later: the connection waits, suspended */
        json_decref(req.body);
        return MHD_YES;
    }
answered:
    h->stats.requests++;
    h->stats.by_class[req.status / 100 < 6 ? req.status / 100 : 0]++;
    finish_request(&req, ex);
    log_debug("http: %s %s -> %u (%zu bytes)", for_log(method, shown, 32),
              for_log(url, shown + 32, sizeof(shown) - 32), req.status, req.body_len);
    return req.queue_failed ? MHD_NO : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct http_exchange *ex = *con_cls;
    if (ex) {
        http_exchange_release(ex);
        free(ex->body);
    }
    free(ex);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    /* MHD reports mostly what clients did wrong (closed early, sent garbage): not worth an
     * operator's attention, and a client could flood the log with it. Our own decisions
     * (413, limits, bind failures) are logged where they are made. */
    log_debug("http: libmicrohttpd: %s", text);
}

/* ---- loop integration --------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *handle)
{
    struct http_server *h = handle->data;
    if (--h->handles_open > 0)
        return;
    void (*done)(void *) = h->done;
    void *ud = h->done_ud;
    free(h);
    if (done)
        done(ud);
}

static void finish_close(struct http_server *h)
{
    /* uv_close() on the poll handle takes the epoll fd out of libuv's set at once, so MHD
     * may close it right after. MHD_stop_daemon closes the listen socket and every open
     * connection (their completion callbacks free our per-request state). Suspended live
     * streams must be resumed first: MHD refuses to stop with suspended connections. */
    http_live_resume_all(h);
    http_deferred_resume_all(h);
    uv_close((uv_handle_t *)&h->poll, on_handle_closed);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    MHD_stop_daemon(h->mhd);
    h->mhd = NULL;
}

static void on_timer(uv_timer_t *timer);

static unsigned connection_count(struct http_server *h)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

static void run_mhd(struct http_server *h)
{
    if (h->closing)
        return;
    /* At max_connections MHD takes its listen socket out of its epoll set, and puts it back
     * only at the start of a later MHD_run(), not when a connection closes. Nothing would
     * wake us for that later run (the epoll fd no longer reports the waiting client), so
     * whenever connections went away we run once more. */
    unsigned before, after = connection_count(h);
    do {
        before = after;
        h->running = true;
        MHD_run(h->mhd);
        h->running = false;
        if (h->closing) { /* a handler called http_close() */
            finish_close(h);
            return;
        }
        after = connection_count(h);
    } while (after < before);
    if (after >= h->max_connections && !h->at_limit)
        log_warning("http: %u connections open, the limit: new clients wait", after);
    h->at_limit = after >= h->max_connections;
    MHD_UNSIGNED_LONG_LONG timeout_ms;
    if (h->kick) { /* a live stream was resumed while MHD ran: it has work now */
        h->kick = false;
        uv_timer_start(&h->timer, on_timer, 0, 0);
    } else if (MHD_get_timeout(h->mhd, &timeout_ms) == MHD_YES)
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    else
        uv_timer_stop(&h->timer);
}

static void on_timer(uv_timer_t *timer)
{
    run_mhd(timer->data);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    (void)events;
    if (status < 0)
        log_err("http: polling the server failed: %s", uv_strerror(status));
    run_mhd(poll->data);
}

void http_server_kick(struct http_server *h)
{
    if (h->closing)
        return;
    if (h->running)
        h->kick = true;
    else
        uv_timer_start(&h->timer, on_timer, 0, 0);
}

void http_server_stats(const struct http_server *h, struct http_stats *ret)
{
    *ret = h->stats;
    ret->connections = connection_count((struct http_server *)h);
}

uint16_t http_port(const struct http_server *h)
{
    return h->port;
}

const char *http_listen_address(const struct http_server *h)
{
    return h->listen;
}

void http_close(struct http_server *h, void (*done)(void *ud), void *ud)
{
    if (!h)
        return;
    if (h->closing) {
        log_err("http: http_close called twice");
        return;
    }
    h->closing = true;
    h->done = done;
    h->done_ud = ud;
    if (!h->running)
        finish_close(h);
}

int http_start(struct station *st, struct http_server **ret)
{
    const char *listen = st->cfg.http_listen;
    char host[64];
    uint16_t port;
    if (config_split_listen(listen, host, sizeof(host), &port) < 0) {
        log_err("http: listen address '%s' is not HOST:PORT or [IPv6]:PORT", listen);
        return -EINVAL;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof(addr));
    /* ALLOW_SUSPEND_RESUME: idle live streams are parked (http_reply_live). */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    bool v6 = false;
    if (inet_pton(AF_INET, host, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
        v6 = true;
    } else {
        log_err("http: listen host '%s' is not a numeric IPv4 or IPv6 address", host);
        return -EINVAL;
    }
    if (st->cfg.limits.http_max_connections == 0 || st->cfg.limits.http_max_body_bytes == 0) {
        log_err("http: max_connections and max_body_bytes must be at least 1");
        return -EINVAL;
    }

    struct http_server *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->st = st;
    h->max_body_bytes = st->cfg.limits.http_max_body_bytes;
    h->max_connections = st->cfg.limits.http_max_connections;
    errno = 0;
    h->mhd =
        MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
                         /* first, so that MHD reports problems with the options below through it */
                         MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_SOCK_ADDR, &addr.sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->max_connections,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_S,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK,
                         unescape, h, MHD_OPTION_END);
    if (!h->mhd) {
        /* MHD leaves the errno of the failed socket/bind/listen call behind. */
        int e = errno ? errno : EIO;
        log_err("http: cannot listen on %s: %s", listen, strerror(e));
        free(h);
        return -e;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    int epoll_fd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    if (epoll_fd < 0 || h->port == 0) {
        log_err("http: libmicrohttpd gave no epoll fd or port");
        MHD_stop_daemon(h->mhd);
        free(h);
        return -EIO;
    }
    snprintf(h->listen, sizeof(h->listen), v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)h->port);

    uv_timer_init(st->loop, &h->timer); /* cannot fail on Linux */
    h->timer.data = h;
    h->handles_open = 1;
    int r = uv_poll_init(st->loop, &h->poll, epoll_fd);
    if (r == 0) {
        h->poll.data = h;
        h->handles_open = 2;
        r = uv_poll_start(&h->poll, UV_READABLE, on_poll);
    }
    if (r < 0) {
        log_err("http: cannot watch the server's epoll fd: %s", uv_strerror(r));
        /* The handles free h once closed; nobody waits for them. */
        h->closing = true;
        if (h->handles_open == 2)
            uv_close((uv_handle_t *)&h->poll, on_handle_closed);
        uv_close((uv_handle_t *)&h->timer, on_handle_closed);
        MHD_stop_daemon(h->mhd);
        h->mhd = NULL;
        return r;
    }
    log_notice("http: listening on http://%s", h->listen);
    *ret = h;
    return 0;
}
