/* Who may call what on the HTTP API, and the audit log of every mutating call
 * (docs/http.md "Auth").
 *
 * Callers present "Authorization: Bearer <token>"; [auth] token lines in the config give each
 * token a role and a name. Roles are ranked for writes: operator < supervisor < admin; a mes
 * token only reads. Reads are open to anyone who can reach the port unless [auth] open_reads
 * = no; /healthz is always open. Nothing here keeps state: the server calls http_auth_check
 * once per request, when its headers are in (before any body is read). */
#ifndef FLASHRACK_HTTP_AUTH_H
#define FLASHRACK_HTTP_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "http.h"

struct db;

/* The caller, as its token names it. Both point into the config (or are ""): valid as long
 * as the station is. */
struct http_auth_who {
    const char *name; /* the token's name ("line3-tablet"); "" without a token */
    const char *role; /* "operator", "supervisor", "admin", "mes"; "" without a token */
};

enum http_auth_verdict {
    HTTP_AUTH_ALLOWED = 0,
    HTTP_AUTH_NO_TOKEN,       /* 401: the route needs a token and none was sent */
    HTTP_AUTH_BAD_TOKEN,      /* 401: not a Bearer token, malformed, or no such token */
    HTTP_AUTH_NOT_CONFIGURED, /* 403: the route needs a token and [auth] has none */
    HTTP_AUTH_FORBIDDEN,      /* 403: a valid token whose role may not call the route */
};

/* The role a route really needs: HTTP_ROLE_DEFAULT is HTTP_ROLE_READ for a read (GET/HEAD)
 * and HTTP_ROLE_ADMIN for anything else, so a write route that forgets to say is closed. */
enum http_role http_auth_effective_role(enum http_role declared, int is_read);

/* Whether a token of role ("operator", ...) may call a route that needs need. */
int http_auth_role_allows(const char *role, enum http_role need);

/* Decides one request. authorization is the Authorization header (NULL when absent); it is
 * looked at even on open reads, so a wrong token is 401 (unless the station has no tokens at
 * all: then open reads ignore it). who is filled for a valid
 * token ("" otherwise). When refused, msg tells why in one line that never quotes the
 * token. */
enum http_auth_verdict http_auth_check(const struct config_auth *auth, enum http_role need,
                                       const char *authorization, struct http_auth_who *who,
                                       char *msg, size_t msglen);

/* Compares a token a client sent with a configured secret in time that depends neither on
 * the secret nor on where they differ: always CONFIG_TOKEN_MAX + 1 byte steps. secret must be
 * a zero-padded buffer of CONFIG_TOKEN_MAX + 1 bytes (as struct config_token keeps it). */
int http_auth_token_equal(const char *given, const char *secret);

/* One mutating call for the audit log. */
struct http_audit_entry {
    const struct http_auth_who *who;
    const char *remote_addr; /* "192.0.2.7", "::1" */
    const char *method;
    const char *path;
    unsigned status;    /* what we answered */
    const char *action; /* "slot.pause"; NULL: "METHOD path" */
    const char *target; /* "A1"; NULL: the path */
    json_t *detail;     /* an object whose members go into the entry's detail; borrowed, or NULL */
};

/* Writes e to the audit log (db may be NULL: the log line is then the only record) and logs it
 * at notice level. detail is {"method","path","status", ...e->detail}; one too long for the
 * column keeps the first three and "truncated":true. Returns 0 or the db error. */
int http_audit_write(struct db *db, const struct http_audit_entry *e);

#endif
