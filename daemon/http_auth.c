/* Bearer tokens, roles and the audit log of the HTTP API (see http_auth.h). */
#include "http_auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "station.h"

/* RFC 6750 b64token: what a Bearer credential may contain. */
static const char token_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-._~+/=";

enum http_role http_auth_effective_role(enum http_role declared, int is_read)
{
    if (declared != HTTP_ROLE_DEFAULT)
        return declared;
    return is_read ? HTTP_ROLE_READ : HTTP_ROLE_ADMIN;
}

/* Write rank of a role; mes reads only (rank 0 = reads). */
static int role_rank(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return 3;
    if (strcmp(role, "supervisor") == 0)
        return 2;
    if (strcmp(role, "operator") == 0)
        return 1;
    if (strcmp(role, "mes") == 0)
        return 0;
    return -1;
}

int http_auth_role_allows(const char *role, enum http_role need)
{
    int rank = role ? role_rank(role) : -1;
    switch (need) {
    case HTTP_ROLE_PUBLIC:
        return 1;
    case HTTP_ROLE_READ:
        return rank >= 0;
    case HTTP_ROLE_OPERATOR:
        return rank >= 1;
    case HTTP_ROLE_SUPERVISOR:
        return rank >= 2;
    case HTTP_ROLE_ADMIN:
    case HTTP_ROLE_DEFAULT: /* resolved by the caller; never grant on it */
        return rank >= 3;
    }
    return 0;
}

int http_auth_token_equal(const char *given, const char *secret)
{
    /* The length of what the client sent is no secret; the configured one's is. Every byte
     * of the padded secret buffer is visited, and the client's string is read as zeros past
     * its end, so the time is the same for every secret and every guess. */
    size_t given_len = strnlen(given, CONFIG_TOKEN_MAX + 1);
    unsigned diff = given_len > CONFIG_TOKEN_MAX;
    for (size_t i = 0; i < CONFIG_TOKEN_MAX + 1; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        diff |= g ^ (unsigned char)secret[i];
    }
    return diff == 0;
}

__attribute__((format(printf, 3, 4))) static void say(char *msg, size_t msglen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

static const char *need_text(enum http_role need)
{
    switch (need) {
    case HTTP_ROLE_OPERATOR:
        return "an operator, supervisor or admin token";
    case HTTP_ROLE_SUPERVISOR:
        return "a supervisor or admin token";
    case HTTP_ROLE_ADMIN:
    case HTTP_ROLE_DEFAULT:
        return "an admin token";
    default:
        return "a token";
    }
}

/* The token of "Bearer <token>", or NULL with msg saying what is wrong. */
static const char *bearer_token(const char *authorization, char *msg, size_t msglen)
{
    static const char scheme[] = "Bearer";
    size_t n = sizeof(scheme) - 1;
    if (strncasecmp(authorization, scheme, n) != 0 || authorization[n] != ' ') {
        say(msg, msglen, "the Authorization header must be 'Bearer <token>'");
        return NULL;
    }
    const char *token = authorization + n;
    while (*token == ' ')
        token++;
    size_t len = strlen(token);
    if (len == 0 || len > CONFIG_TOKEN_MAX || strspn(token, token_chars) != len) {
        say(msg, msglen,
            "the bearer token is malformed (1 to %d characters of A-Z a-z 0-9 - . _ "
            "~ + / =)",
            CONFIG_TOKEN_MAX);
        return NULL;
    }
    return token;
}

enum http_auth_verdict http_auth_check(const struct config_auth *auth, enum http_role need,
                                       const char *authorization, struct http_auth_who *who,
                                       char *msg, size_t msglen)
{
    who->name = who->role = "";
    msg[0] = '\0';
    if (need == HTTP_ROLE_PUBLIC)
        return HTTP_AUTH_ALLOWED;
    int open = need == HTTP_ROLE_READ && auth->open_reads;
    if (!authorization && open)
        return HTTP_AUTH_ALLOWED;
    if (auth->token_count == 0) {
        if (open) /* nothing to check a token against: reads stay open as configured */
            return HTTP_AUTH_ALLOWED;
        say(msg, msglen,
            "auth is not configured: this endpoint needs %s and the station has no [auth] "
            "token lines (docs/http.md, Auth)",
            need_text(need));
        return HTTP_AUTH_NOT_CONFIGURED;
    }
    if (!authorization) {
        say(msg, msglen, "this endpoint needs %s (Authorization: Bearer <token>)", need_text(need));
        return HTTP_AUTH_NO_TOKEN;
    }
    const char *token = bearer_token(authorization, msg, msglen);
    if (!token)
        return HTTP_AUTH_BAD_TOKEN;
    /* Every configured token is compared, whichever matches: the time does not tell. */
    const struct config_token *match = NULL;
    for (size_t i = 0; i < auth->token_count; i++) {
        int eq = http_auth_token_equal(token, auth->tokens[i].secret);
        match = eq ? &auth->tokens[i] : match;
    }
    if (!match) {
        say(msg, msglen, "the bearer token is not one the station knows");
        return HTTP_AUTH_BAD_TOKEN;
    }
    who->name = match->name;
    who->role = match->role;
    if (!http_auth_role_allows(match->role, need)) {
        say(msg, msglen, "token '%s' has role %s; this endpoint needs %s", match->name, match->role,
            need_text(need));
        return HTTP_AUTH_FORBIDDEN;
    }
    return HTTP_AUTH_ALLOWED;
}

/* ---- audit -------------------------------------------------------------------------- */

static json_t *audit_detail(const struct http_audit_entry *e, int with_extra)
{
    json_t *d = json_pack("{s:o, s:o, s:i}", "method", http_json_string(e->method), "path",
                          http_json_string(e->path), "status", (int)e->status);
    if (d && with_extra && json_is_object(e->detail)) {
        const char *key;
        json_t *value;
        json_object_foreach(e->detail, key, value)
        {
            if (!json_object_get(d, key))
                json_object_set(d, key, value);
        }
    }
    if (d && !with_extra)
        json_object_set_new(d, "truncated", json_true());
    return d;
}

int http_audit_write(struct db *db, const struct http_audit_entry *e)
{
    struct db_audit a;
    memset(&a, 0, sizeof(a));
    a.ts_unix_ms = station_now_unix_ms();
    db_field_set(a.actor, sizeof(a.actor), e->who && e->who->name ? e->who->name : "");
    db_field_set(a.role, sizeof(a.role), e->who && e->who->role ? e->who->role : "");
    if (e->action)
        db_field_set(a.action, sizeof(a.action), e->action);
    else
        snprintf(a.action, sizeof(a.action), "%.15s %.47s", e->method, e->path);
    db_field_set(a.target, sizeof(a.target), e->target ? e->target : e->path);
    db_field_set(a.remote_addr, sizeof(a.remote_addr), e->remote_addr ? e->remote_addr : "");
    for (int with_extra = 1; with_extra >= 0; with_extra--) {
        json_t *d = audit_detail(e, with_extra);
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        size_t len = text ? strlen(text) : 0;
        if (text && len < sizeof(a.detail)) {
            memcpy(a.detail, text, len + 1);
            free(text);
            break;
        }
        free(text);
    }
    log_notice("audit: %s (%s) from %s: %s %s -> %u", a.actor[0] ? a.actor : "-",
               a.role[0] ? a.role : "no token", a.remote_addr[0] ? a.remote_addr : "?", a.action,
               a.target, e->status);
    if (!db)
        return 0;
    int r = db_audit_insert(db, &a, NULL);
    if (r < 0)
        log_err("audit: cannot record %s %s by %s: %s", a.action, a.target, a.actor,
                db_last_error(db));
    return r;
}
