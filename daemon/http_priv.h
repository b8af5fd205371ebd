/* Internal to the HTTP server: the state loop_http.c (MHD in the loop, admission, routing)
 * and http_reply.c (replies and request accessors for the handlers) share. */
#ifndef FLASHRACK_HTTP_PRIV_H
#define FLASHRACK_HTTP_PRIV_H

#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"
#include "http.h"
#include "http_auth.h"

struct http_server {
    struct station *st;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    int handles_open;
    bool running; /* inside MHD_run(): MHD_stop_daemon must wait until it returns */
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
    uint64_t max_body_bytes;
    unsigned max_connections;
    bool at_limit; /* for logging the limit once each time it is reached */
    uint16_t port;
    char listen[80];
    struct http_stats stats;
    struct http_live *lives; /* open live streams (http_reply_live), resumed before stopping */
    struct http_deferred *deferred; /* waiting answers (http_request_defer), likewise */
    bool kick;                      /* a live stream woke during MHD_run(): run again at once */
};

/* What we remember about one request between access handler calls (MHD's con_cls). */
struct http_exchange {
    uint64_t body_bytes;
    bool answered;
    const struct http_route *route; /* set once admitted */
    struct http_auth_who who;
    bool authorized; /* passed the token check: a write is audited */
    /* the JSON body of a route with max_body */
    char *body;
    size_t body_len, body_cap, body_limit;
    bool body_over;  /* more than body_limit arrived: 413 at the end */
    bool body_nomem; /* the buffer could not grow: 500 at the end */
    void *upload;    /* a raw upload's state (route->upload), NULL once taken or freed */
    struct http_deferred *deferred; /* the handler answers later (http_request_defer) */
};

/* What a handler says a write did, for its audit entry (http_request_audit): carried by the
 * request, or by its deferred answer until that is sent. */
struct http_audit_note {
    char action[DB_LABEL_SIZE], target[DB_NAME_SIZE];
    json_t *detail; /* owned */
};
void http_audit_note_set(struct http_audit_note *n, const char *action, const char *target,
                         json_t *detail);

/* The error object of docs/http.md, {"error": {"code", "message"}}: the message formatted,
 * made valid UTF-8 and bounded (http_reply_error, http_deferred_reply_error). */
json_t *http_error_body(const char *code, const char *fmt, va_list ap);

struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const struct http_route *route;
    size_t param_count;
    const char *param_name[HTTP_PATH_SEGMENTS_MAX]; /* into route->pattern, after '{' */
    size_t param_name_len[HTTP_PATH_SEGMENTS_MAX];
    char param[HTTP_PATH_SEGMENTS_MAX][HTTP_SEGMENT_MAX];
    char allow[64];            /* Allow header of a 405, "" otherwise */
    char www_authenticate[80]; /* of a 401, "" otherwise */
    struct http_exchange *ex;
    json_t *body;
    struct http_audit_note audit;
    unsigned status;
    size_t body_len;
    bool replied;
    bool queue_failed;
    bool deferred; /* http_request_defer: the answer comes in a later call */
};

/* ---- raw uploads and deferred answers (http_defer.c) ---- */
/* The route's upload begin (admit); false when it answered. */
bool http_upload_admit(struct http_request *req, struct http_exchange *ex);
/* A piece of a raw upload; false when data answered (the request is then finished). */
bool http_upload_piece(struct http_request *req, struct http_exchange *ex, const char *buf,
                       size_t len);
/* The call after a deferred answer came: queues it on req (route and params set). */
void http_deferred_answer(struct http_request *req, struct http_exchange *ex);
/* The request is gone (MHD's completion): frees the upload state, forgets the deferral. */
void http_exchange_release(struct http_exchange *ex);
/* Resumes every connection waiting for a deferred answer (http_close). */
void http_deferred_resume_all(struct http_server *h);

/* ---- live streams (Server-Sent Events, api_events.c) -------------------------------------
 *
 * A body with no end in sight. read(ud, buf, max) is called whenever the socket can take more:
 * it returns how many bytes it wrote (> 0), HTTP_LIVE_IDLE when it has nothing to send now,
 * HTTP_LIVE_END to end the body cleanly, or HTTP_LIVE_ERROR to close the connection. On
 * HTTP_LIVE_IDLE the connection is suspended (MHD_suspend_connection): it costs no CPU and
 * does not time out until http_live_wake() resumes it, which calls read again. free_ud(ud)
 * runs exactly once, when the connection is gone (client closed, error, server stopping);
 * the handle is invalid after it. http_close() resumes every suspended stream before it
 * stops libmicrohttpd (stopping with suspended connections is not allowed). */
struct http_live;
#define HTTP_LIVE_IDLE  0L
#define HTTP_LIVE_END   (-1L)
#define HTTP_LIVE_ERROR (-2L)

/* Answers 200 with content_type and a live body; NULL when it could not (free_ud has run and a
 * 500 is answered). */
struct http_live *http_reply_live(struct http_request *req, const char *content_type,
                                  long (*read)(void *ud, char *buf, size_t max), void *ud,
                                  void (*free_ud)(void *ud));
/* Has read called again soon; harmless when the stream is not idle. Loop thread only. */
void http_live_wake(struct http_live *live);
/* Whether the client of an idle (suspended) stream has closed its end: MHD does not watch
 * suspended connections, so the owner asks now and then (a poll of the socket, no wait). */
bool http_live_peer_gone(struct http_live *live);
/* Resumes every idle stream (http_close, before MHD_stop_daemon). */
void http_live_resume_all(struct http_server *h);
/* Runs MHD on the next loop turn (a resumed connection has work). loop_http.c. */
void http_server_kick(struct http_server *h);
/* Value of request header name, or NULL. Valid during the handler. */
const char *http_request_header(struct http_request *req, const char *name);
/* Client address of the request as text ("127.0.0.1"), for log lines. */
void http_request_remote(struct http_request *req, char *buf, size_t size);

#endif
