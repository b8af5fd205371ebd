/* Internal to the HTTP server: the state loop_http.c (MHD in the loop, admission, routing)
 * and http_reply.c (replies and request accessors for the handlers) share. */
#ifndef FLASHRACK_HTTP_PRIV_H
#define FLASHRACK_HTTP_PRIV_H

#include <microhttpd.h>
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
};

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
    char audit_action[DB_LABEL_SIZE], audit_target[DB_NAME_SIZE];
    json_t *audit_detail;
    unsigned status;
    size_t body_len;
    bool replied;
    bool queue_failed;
};

#endif
