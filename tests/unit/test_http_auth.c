/* Tokens and roles of the HTTP API: the [auth] config section, the constant-time token
 * compare, the per-route decision (401 / 403 / allowed) and the audit log entries. The HTTP
 * side (headers, status codes, audit of real calls) is in test_api_control.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "http_auth.h"

#define OP_TOKEN  "op-0123456789abcdef"
#define SUP_TOKEN "sup-0123456789abcdef"
#define ADM_TOKEN "adm-0123456789abcdef"
#define MES_TOKEN "mes-0123456789abcdef"

static const char four_tokens[] = "[auth]\n"
                                  "token = operator:line3-tablet:" OP_TOKEN "\n"
                                  "token = supervisor:" SUP_TOKEN "\n"
                                  "token = admin:it.admin@plant:" ADM_TOKEN "\n"
                                  "token = mes:" MES_TOKEN "\n";

static void load(const char *text, struct config *cfg)
{
    char err[512] = "";
    if (config_load_string(text, cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
}

/* Loading fails, with a message that mentions want and never the secret. */
static void load_fails(const char *text, const char *want, const char *secret)
{
    struct config *cfg = malloc(sizeof(*cfg));
    assert_non_null(cfg);
    char err[512] = "";
    assert_int_equal(config_load_string(text, cfg, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("error '%s' does not mention '%s'", err, want);
    if (secret && strstr(err, secret))
        fail_msg("error '%s' quotes the token", err);
    free(cfg);
}

static void test_config_section(void **state)
{
    (void)state;
    struct config *cfg = malloc(sizeof(*cfg));
    assert_non_null(cfg);
    load("", cfg);
    assert_int_equal(cfg->auth.token_count, 0);
    assert_int_equal(cfg->auth.open_reads, 1); /* today's reads stay open */

    load(four_tokens, cfg);
    assert_int_equal(cfg->auth.token_count, 4);
    assert_string_equal(cfg->auth.tokens[0].role, "operator");
    assert_string_equal(cfg->auth.tokens[0].name, "line3-tablet");
    assert_string_equal(cfg->auth.tokens[0].secret, OP_TOKEN);
    assert_string_equal(cfg->auth.tokens[1].role, "supervisor");
    assert_string_equal(cfg->auth.tokens[1].name, "supervisor"); /* no name: the role */
    assert_string_equal(cfg->auth.tokens[2].name, "it.admin@plant");
    assert_string_equal(cfg->auth.tokens[3].role, "mes");
    /* The secret buffer is zero-padded: the constant-time compare reads all of it. */
    for (size_t i = strlen(OP_TOKEN); i < sizeof(cfg->auth.tokens[0].secret); i++)
        assert_int_equal(cfg->auth.tokens[0].secret[i], 0);

    load("[auth]\nopen_reads = no\n", cfg);
    assert_int_equal(cfg->auth.open_reads, 0);
    load("[auth]\nopen_reads = yes\n", cfg);
    assert_int_equal(cfg->auth.open_reads, 1);
    free(cfg);

    load_fails("[auth]\nopen_reads = maybe\n", "open_reads", NULL);
    load_fails("[auth]\ntoken = root:" OP_TOKEN "\n", "ROLE one of", OP_TOKEN);
    load_fails("[auth]\ntoken = " OP_TOKEN "\n", "ROLE one of", OP_TOKEN);
    load_fails("[auth]\ntoken = operator:short\n", "16 to 128", "short");
    load_fails("[auth]\ntoken = operator:abc def ghi jkl mno p\n", "16 to 128", "abc def");
    load_fails("[auth]\ntoken = operator:tab:let:" OP_TOKEN "\n", "16 to 128", OP_TOKEN);
    load_fails("[auth]\ntoken = operator::" OP_TOKEN "\n", "NAME", OP_TOKEN);
    load_fails("[auth]\ntoken = operator:bad name:" OP_TOKEN "\n", "NAME", OP_TOKEN);
    load_fails("[auth]\ntoken = operator:a:" OP_TOKEN "\ntoken = admin:b:" OP_TOKEN "\n",
               "already the token of a", OP_TOKEN);
    char long_token[200];
    memset(long_token, 'x', 129);
    long_token[129] = '\0';
    char text[300];
    snprintf(text, sizeof(text), "[auth]\ntoken = admin:%s\n", long_token);
    load_fails(text, "16 to 128", long_token);
    snprintf(text, sizeof(text), "[auth]\ntoken = admin:%.128s\n", long_token);
    cfg = malloc(sizeof(*cfg));
    assert_non_null(cfg);
    load(text, cfg); /* 128 is the most */
    free(cfg);
}

static void pad(char out[CONFIG_TOKEN_MAX + 1], const char *s)
{
    memset(out, 0, CONFIG_TOKEN_MAX + 1);
    memcpy(out, s, strlen(s));
}

static void test_token_equal(void **state)
{
    (void)state;
    char secret[CONFIG_TOKEN_MAX + 1];
    pad(secret, OP_TOKEN);
    assert_true(http_auth_token_equal(OP_TOKEN, secret));
    assert_false(http_auth_token_equal("Op-0123456789abcdef", secret)); /* first byte */
    assert_false(http_auth_token_equal("op-0123456789abcdeF", secret)); /* last byte */
    assert_false(http_auth_token_equal("op-0123456789abcde", secret));  /* a prefix */
    assert_false(http_auth_token_equal(OP_TOKEN "0", secret));          /* longer */
    assert_false(http_auth_token_equal("", secret));
    char huge[400];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    pad(secret, "");
    memset(secret, 'a', CONFIG_TOKEN_MAX);
    assert_false(http_auth_token_equal(huge, secret)); /* same first 128 bytes, then more */
    huge[CONFIG_TOKEN_MAX] = '\0';
    assert_true(http_auth_token_equal(huge, secret));
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(http_auth_effective_role(HTTP_ROLE_DEFAULT, 1), HTTP_ROLE_READ);
    assert_int_equal(http_auth_effective_role(HTTP_ROLE_DEFAULT, 0), HTTP_ROLE_ADMIN);
    assert_int_equal(http_auth_effective_role(HTTP_ROLE_OPERATOR, 0), HTTP_ROLE_OPERATOR);
    assert_int_equal(http_auth_effective_role(HTTP_ROLE_PUBLIC, 1), HTTP_ROLE_PUBLIC);

    static const struct {
        const char *role;
        int read, operator_, supervisor, admin;
    } table[] = {
        {"mes", 1, 0, 0, 0},      {"operator", 1, 1, 0, 0}, {"supervisor", 1, 1, 1, 0},
        {"admin", 1, 1, 1, 1},    {"root", 0, 0, 0, 0},     {"", 0, 0, 0, 0},
        {"Operator", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const char *r = table[i].role;
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_PUBLIC), 1);
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_READ), table[i].read);
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_OPERATOR), table[i].operator_);
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_SUPERVISOR), table[i].supervisor);
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_ADMIN), table[i].admin);
        assert_int_equal(http_auth_role_allows(r, HTTP_ROLE_DEFAULT), table[i].admin);
    }
    assert_int_equal(http_auth_role_allows(NULL, HTTP_ROLE_READ), 0);
}

struct check_case {
    enum http_role need;
    const char *header;
    enum http_auth_verdict want;
    const char *name; /* who->name when a token was recognized */
    const char *in_msg;
};

static void run_cases(const struct config_auth *auth, const struct check_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct check_case *c = &cases[i];
        struct http_auth_who who = {NULL, NULL};
        char msg[320];
        enum http_auth_verdict v =
            http_auth_check(auth, c->need, c->header, &who, msg, sizeof(msg));
        if (v != c->want)
            fail_msg("case %zu (%s): verdict %d, want %d (%s)", i, c->header ? c->header : "none",
                     v, c->want, msg);
        assert_non_null(who.name);
        assert_non_null(who.role);
        assert_string_equal(who.name, c->name ? c->name : "");
        if (c->in_msg && !strstr(msg, c->in_msg))
            fail_msg("case %zu: message '%s' does not mention '%s'", i, msg, c->in_msg);
        if (v == HTTP_AUTH_ALLOWED && msg[0])
            fail_msg("case %zu: a message for an allowed call: %s", i, msg);
        for (size_t t = 0; t < auth->token_count; t++)
            if (strstr(msg, auth->tokens[t].secret))
                fail_msg("case %zu: the message quotes a token: %s", i, msg);
    }
}

static void test_check(void **state)
{
    (void)state;
    struct config *cfg = malloc(sizeof(*cfg));
    assert_non_null(cfg);
    load(four_tokens, cfg);
    const struct check_case open_cases[] = {
        {HTTP_ROLE_PUBLIC, NULL, HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_PUBLIC, "Bearer nonsense-nonsense", HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_READ, NULL, HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_READ, "Bearer " MES_TOKEN, HTTP_AUTH_ALLOWED, "mes", NULL},
        {HTTP_ROLE_READ, "Bearer wrong-0123456789abcdef", HTTP_AUTH_BAD_TOKEN, NULL, "not one"},
        {HTTP_ROLE_OPERATOR, NULL, HTTP_AUTH_NO_TOKEN, NULL, "an operator, supervisor or admin"},
        {HTTP_ROLE_OPERATOR, "Bearer " OP_TOKEN, HTTP_AUTH_ALLOWED, "line3-tablet", NULL},
        {HTTP_ROLE_OPERATOR, "bearer  " OP_TOKEN, HTTP_AUTH_ALLOWED, "line3-tablet", NULL},
        {HTTP_ROLE_OPERATOR, "BEARER " SUP_TOKEN, HTTP_AUTH_ALLOWED, "supervisor", NULL},
        {HTTP_ROLE_OPERATOR, "Bearer " MES_TOKEN, HTTP_AUTH_FORBIDDEN, "mes", "role mes"},
        {HTTP_ROLE_OPERATOR, "Basic b3A6cGFzcw==", HTTP_AUTH_BAD_TOKEN, NULL, "Bearer <token>"},
        {HTTP_ROLE_OPERATOR, "Bearer", HTTP_AUTH_BAD_TOKEN, NULL, "Bearer <token>"},
        {HTTP_ROLE_OPERATOR, "Bearer ", HTTP_AUTH_BAD_TOKEN, NULL, "malformed"},
        {HTTP_ROLE_OPERATOR, "Bearer " OP_TOKEN " x", HTTP_AUTH_BAD_TOKEN, NULL, "malformed"},
        {HTTP_ROLE_OPERATOR, "Bearer op-0123456789abcde\xc3\xa9", HTTP_AUTH_BAD_TOKEN, NULL,
         "malformed"},
        {HTTP_ROLE_OPERATOR, "Bearer " OP_TOKEN "0", HTTP_AUTH_BAD_TOKEN, NULL, "not one"},
        {HTTP_ROLE_SUPERVISOR, "Bearer " OP_TOKEN, HTTP_AUTH_FORBIDDEN, "line3-tablet",
         "a supervisor or admin token"},
        {HTTP_ROLE_SUPERVISOR, "Bearer " SUP_TOKEN, HTTP_AUTH_ALLOWED, "supervisor", NULL},
        {HTTP_ROLE_ADMIN, "Bearer " SUP_TOKEN, HTTP_AUTH_FORBIDDEN, "supervisor", "an admin"},
        {HTTP_ROLE_ADMIN, "Bearer " ADM_TOKEN, HTTP_AUTH_ALLOWED, "it.admin@plant", NULL},
        {HTTP_ROLE_DEFAULT, "Bearer " SUP_TOKEN, HTTP_AUTH_FORBIDDEN, "supervisor", "an admin"},
    };
    run_cases(&cfg->auth, open_cases, sizeof(open_cases) / sizeof(open_cases[0]));

    cfg->auth.open_reads = 0;
    const struct check_case closed_cases[] = {
        {HTTP_ROLE_PUBLIC, NULL, HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_READ, NULL, HTTP_AUTH_NO_TOKEN, NULL, "needs a token"},
        {HTTP_ROLE_READ, "Bearer " MES_TOKEN, HTTP_AUTH_ALLOWED, "mes", NULL},
        {HTTP_ROLE_READ, "Bearer " OP_TOKEN, HTTP_AUTH_ALLOWED, "line3-tablet", NULL},
    };
    run_cases(&cfg->auth, closed_cases, sizeof(closed_cases) / sizeof(closed_cases[0]));

    load("", cfg); /* no tokens: reads open, writes refused with a clear reason */
    const struct check_case none_cases[] = {
        {HTTP_ROLE_READ, NULL, HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_READ, "Bearer whatever-0123456789", HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_OPERATOR, NULL, HTTP_AUTH_NOT_CONFIGURED, NULL, "auth is not configured"},
        {HTTP_ROLE_OPERATOR, "Bearer whatever-0123456789", HTTP_AUTH_NOT_CONFIGURED, NULL,
         "auth is not configured"},
    };
    run_cases(&cfg->auth, none_cases, sizeof(none_cases) / sizeof(none_cases[0]));
    cfg->auth.open_reads = 0;
    const struct check_case none_closed[] = {
        {HTTP_ROLE_PUBLIC, NULL, HTTP_AUTH_ALLOWED, NULL, NULL},
        {HTTP_ROLE_READ, NULL, HTTP_AUTH_NOT_CONFIGURED, NULL, "auth is not configured"},
    };
    run_cases(&cfg->auth, none_closed, sizeof(none_closed) / sizeof(none_closed[0]));
    free(cfg);
}

/* ---- audit ------------------------------------------------------------------------------ */

struct audit_rows {
    struct db_audit rows[8];
    size_t n;
};

static int collect(const struct db_audit *a, void *userdata)
{
    struct audit_rows *rows = userdata;
    if (rows->n < 8)
        rows->rows[rows->n++] = *a;
    return 0;
}

static void test_audit_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_http_auth.XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/flashrack.db", dir);
    struct db *db;
    assert_int_equal(db_open(path, &db, err, sizeof(err)), 0);

    struct http_auth_who who = {"line3-tablet", "operator"};
    json_t *detail = json_pack("{s:s, s:i, s:s}", "reason", "jam", "n", 3, "status", "mine");
    struct http_audit_entry e = {.who = &who,
                                 .remote_addr = "192.0.2.7",
                                 .method = "POST",
                                 .path = "/api/v1/slots/A1/pause",
                                 .status = 200,
                                 .action = "slot.pause",
                                 .target = "A1",
                                 .detail = detail};
    assert_int_equal(http_audit_write(db, &e), 0);
    json_decref(detail);

    /* Defaults: action "METHOD path", target the path; who "" for no token. */
    struct http_auth_who nobody = {"", ""};
    e = (struct http_audit_entry){
        .who = &nobody, .method = "PUT", .path = "/api/v1/context", .status = 400};
    assert_int_equal(http_audit_write(db, &e), 0);

    /* A detail too long for the column keeps the request and says so. */
    char *big = malloc(DB_DETAIL_SIZE * 2);
    assert_non_null(big);
    memset(big, 'x', DB_DETAIL_SIZE * 2 - 1);
    big[DB_DETAIL_SIZE * 2 - 1] = '\0';
    detail = json_pack("{s:s}", "big", big);
    e = (struct http_audit_entry){.who = &who,
                                  .method = "PUT",
                                  .path = "/api/v1/context",
                                  .status = 200,
                                  .action = "context.set",
                                  .detail = detail};
    assert_int_equal(http_audit_write(db, &e), 0);
    assert_int_equal(http_audit_write(NULL, &e), 0); /* no database: the log line only */
    json_decref(detail);
    free(big);

    struct audit_rows rows = {.n = 0};
    assert_int_equal(db_audit_list(db, 0, 8, collect, &rows), 3);
    assert_int_equal(rows.n, 3);
    assert_string_equal(rows.rows[0].actor, "line3-tablet");
    assert_string_equal(rows.rows[0].role, "operator");
    assert_string_equal(rows.rows[0].action, "slot.pause");
    assert_string_equal(rows.rows[0].target, "A1");
    assert_string_equal(rows.rows[0].remote_addr, "192.0.2.7");
    assert_true(rows.rows[0].ts_unix_ms > 1600000000000ull);
    json_t *d = json_loads(rows.rows[0].detail, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(d, "path")), "/api/v1/slots/A1/pause");
    assert_int_equal(json_integer_value(json_object_get(d, "status")), 200); /* not "mine" */
    assert_string_equal(json_string_value(json_object_get(d, "reason")), "jam");
    assert_int_equal(json_integer_value(json_object_get(d, "n")), 3);
    json_decref(d);

    assert_string_equal(rows.rows[1].actor, "");
    assert_string_equal(rows.rows[1].action, "PUT /api/v1/context");
    assert_string_equal(rows.rows[1].target, "/api/v1/context");
    assert_string_equal(rows.rows[1].remote_addr, "");

    d = json_loads(rows.rows[2].detail, 0, NULL);
    assert_non_null(d);
    assert_true(json_is_true(json_object_get(d, "truncated")));
    assert_null(json_object_get(d, "big"));
    assert_int_equal(json_integer_value(json_object_get(d, "status")), 200);
    json_decref(d);

    db_close(db);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[80];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_section), cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_roles),          cmocka_unit_test(test_check),
        cmocka_unit_test(test_audit_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
