/* INI configuration. Every key is validated where it is read, and the whole file is checked
 * afterwards (duplicate labels and ports, positions inside the rack). */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct parse_ctx {
    struct config *cfg;
    char msg[512]; /* first problem found; the caller adds "file:line: " */
    int failed;
};

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->station_id, sizeof(cfg->station_id), "station-1");
    snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
    snprintf(cfg->http_listen, sizeof(cfg->http_listen), "127.0.0.1:8080");
    snprintf(cfg->http_web_root, sizeof(cfg->http_web_root), "/usr/share/flashrack/web");
    snprintf(cfg->db_path, sizeof(cfg->db_path), "/var/lib/flashrack/flashrack.db");
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "/var/lib/flashrack");
    snprintf(cfg->cache_dir, sizeof(cfg->cache_dir), "/var/cache/flashrack");
    cfg->rack_rows = 1;
    cfg->rack_columns = 8;
    cfg->limits.max_jobs = 64;
    cfg->limits.no_progress_timeout_ms = 30000;
    cfg->limits.job_timeout_ms = 30 * 60 * 1000;
    cfg->limits.reenumerate_timeout_ms = 60000;
    cfg->limits.max_job_steps = 100000000;
    cfg->limits.http_max_connections = 64;
    cfg->limits.http_max_body_bytes = 1 << 20;
    cfg->limits.wire_ring_frames = 64;
    cfg->flow.retries = 2;
    cfg->flow.retry_delay_ms = 2000;
    cfg->flow.reboot_timeout_ms = 120000;
    cfg->auth.open_reads = 1;
    cfg->mes.tls_verify = 1;
    cfg->mes.timeout_ms = 10000;
    cfg->mes.max_in_flight = 4;
    cfg->mes.backoff_min_ms = 1000;
    cfg->mes.backoff_max_ms = 300000;
    cfg->mes.interlock.timeout_ms = 5000;
    cfg->packages.max_upload_mb = 1024;
    cfg->packages.max_uploads = 2;
}

__attribute__((format(printf, 2, 3))) static int fail(struct parse_ctx *ctx, const char *fmt, ...)
{
    if (ctx->failed)
        return 0;
    ctx->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    va_end(ap);
    return 0;
}

static int set_string(struct parse_ctx *ctx, char *dst, size_t size, const char *section,
                      const char *key, const char *value)
{
    if (strlen(value) >= size)
        return fail(ctx, "[%s] %s: value longer than %zu characters", section, key, size - 1);
    snprintf(dst, size, "%s", value);
    return 1;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    if (!*s)
        return -EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}

static int set_u32(struct parse_ctx *ctx, uint32_t *dst, uint32_t min, uint32_t max,
                   const char *section, const char *key, const char *value)
{
    uint64_t v = 0;
    if (parse_u64(value, max, &v) < 0 || v < min)
        return fail(ctx, "[%s] %s: '%s' is not a whole number from %u to %u", section, key, value,
                    min, max);
    *dst = (uint32_t)v;
    return 1;
}

static int set_int(struct parse_ctx *ctx, int *dst, int min, int max, const char *section,
                   const char *key, const char *value)
{
    uint32_t v = 0;
    if (!set_u32(ctx, &v, (uint32_t)min, (uint32_t)max, section, key, value))
        return 0;
    *dst = (int)v;
    return 1;
}

/* Port patterns are USB port paths "B-P[.P]..." or fnmatch globs over them. */
static int valid_port_pattern(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789-.*?[]!", *p))
            return 0;
    return 1;
}

static struct config_recipe *recipe_section(struct parse_ctx *ctx, const char *section)
{
    const char *name = section + 7; /* after "recipe " */
    struct config *cfg = ctx->cfg;
    for (size_t i = 0; i < cfg->recipe_count; i++)
        if (strcmp(cfg->recipes[i].name, name) == 0)
            return &cfg->recipes[i];
    if (cfg->recipe_count >= CONFIG_MAX_RECIPES) {
        fail(ctx, "[%s]: more than %d recipes", section, CONFIG_MAX_RECIPES);
        return NULL;
    }
    if (!*name || strlen(name) >= CONFIG_LABEL_MAX) {
        fail(ctx, "[%s]: a recipe name has 1 to %d characters", section, CONFIG_LABEL_MAX - 1);
        return NULL;
    }
    struct config_recipe *r = &cfg->recipes[cfg->recipe_count++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    return r;
}

static struct config_slot *slot_section(struct parse_ctx *ctx, const char *section)
{
    const char *label = section + 5; /* after "slot " */
    struct config *cfg = ctx->cfg;
    for (size_t i = 0; i < cfg->slot_count; i++)
        if (strcmp(cfg->slots[i].label, label) == 0)
            return &cfg->slots[i];
    if (cfg->slot_count >= CONFIG_MAX_SLOTS) {
        fail(ctx, "[%s]: more than %d slots", section, CONFIG_MAX_SLOTS);
        return NULL;
    }
    if (!*label || strlen(label) >= CONFIG_LABEL_MAX) {
        fail(ctx, "[%s]: a slot label has 1 to %d characters", section, CONFIG_LABEL_MAX - 1);
        return NULL;
    }
    for (const char *p = label; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.')) {
            fail(ctx, "[%s]: slot labels use letters, digits, '-', '_' and '.'", section);
            return NULL;
        }
    }
    struct config_slot *slot = &cfg->slots[cfg->slot_count++];
    memset(slot, 0, sizeof(*slot));
    snprintf(slot->label, sizeof(slot->label), "%s", label);
    return slot;
}

static int parse_hex16(const char *s, size_t len, uint16_t *ret)
{
    if (len == 0 || len > 4)
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return -EINVAL;
        v = v * 16 + (unsigned)d;
    }
    *ret = (uint16_t)v;
    return 0;
}

/* "2c7c:0901:3:at" -> vid, pid, interface, role */
static int add_usb_id(struct parse_ctx *ctx, const char *value)
{
    struct config *cfg = ctx->cfg;
    if (cfg->usb_id_count >= CONFIG_USB_IDS_MAX)
        return fail(ctx, "[usb] id: more than %d extra ids", CONFIG_USB_IDS_MAX);
    struct config_usb_id *id = &cfg->usb_ids[cfg->usb_id_count];
    const char *c1 = strchr(value, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    uint16_t iface = 0;
    if (!c3 || parse_hex16(value, (size_t)(c1 - value), &id->vid) < 0 ||
        parse_hex16(c1 + 1, (size_t)(c2 - c1 - 1), &id->pid) < 0 || c3 - c2 - 1 < 1 ||
        c3 - c2 - 1 > 2 || parse_hex16(c2 + 1, (size_t)(c3 - c2 - 1), &iface) < 0 || iface > 31 ||
        !c3[1] || strlen(c3 + 1) >= sizeof(id->role))
        return fail(ctx, "[usb] id: '%s' is not VID:PID:INTERFACE:ROLE (e.g. 2c7c:0901:3:at)",
                    value);
    id->interface_number = (int8_t)iface;
    snprintf(id->role, sizeof(id->role), "%s", c3 + 1);
    cfg->usb_id_count++;
    return 1;
}

/* [auth] token = ROLE:NAME:TOKEN or ROLE:TOKEN. Messages never quote the token itself. */
static int add_token(struct parse_ctx *ctx, const char *value)
{
    static const char *const roles[] = {"operator", "supervisor", "admin", "mes"};
    static const char token_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-._~+/="; /* RFC 6750 b64token */
    struct config_auth *auth = &ctx->cfg->auth;
    if (auth->token_count >= CONFIG_TOKENS_MAX)
        return fail(ctx, "[auth] token: more than %d tokens", CONFIG_TOKENS_MAX);
    struct config_token *t = &auth->tokens[auth->token_count];
    const char *c1 = strchr(value, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    size_t role_len = c1 ? (size_t)(c1 - value) : 0;
    for (size_t i = 0; c1 && i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strlen(roles[i]) == role_len && memcmp(value, roles[i], role_len) == 0)
            snprintf(t->role, sizeof(t->role), "%s", roles[i]);
    if (!t->role[0])
        return fail(ctx, "[auth] token: expected ROLE:NAME:TOKEN or ROLE:TOKEN with ROLE one of "
                         "operator, supervisor, admin, mes");
    const char *secret = c2 ? c2 + 1 : c1 + 1;
    size_t name_len = c2 ? (size_t)(c2 - c1 - 1) : 0;
    if (c2 &&
        (name_len == 0 || name_len >= sizeof(t->name) ||
         strspn(c1 + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.@") <
             name_len))
        return fail(ctx, "[auth] token: a NAME has 1 to %zu letters, digits, '-', '_', '.', '@'",
                    sizeof(t->name) - 1);
    size_t len = strlen(secret);
    if (len < CONFIG_TOKEN_MIN || len > CONFIG_TOKEN_MAX || strspn(secret, token_chars) != len)
        return fail(ctx,
                    "[auth] token (%s): a TOKEN has %d to %d characters of A-Z a-z 0-9 - . _ ~ + "
                    "/ = (e.g. from: openssl rand -hex 32)",
                    t->role, CONFIG_TOKEN_MIN, CONFIG_TOKEN_MAX);
    for (size_t i = 0; i < auth->token_count; i++)
        if (strcmp(auth->tokens[i].secret, secret) == 0)
            return fail(ctx, "[auth] token: this TOKEN is already the token of %s",
                        auth->tokens[i].name);
    if (!c2) /* no name: the audit log names the role */
        name_len = strlen(t->role);
    memcpy(t->name, c2 ? c1 + 1 : t->role, name_len);
    memcpy(t->secret, secret, len + 1);
    auth->token_count++;
    return 1;
}

/* [mes] url and interlock_url: "" (off) or an http(s) URL with a host. */
static int mes_url(struct parse_ctx *ctx, const char *key, const char *value, char *dst,
                   size_t size)
{
    size_t scheme = strncasecmp(value, "https://", 8) == 0  ? 8
                    : strncasecmp(value, "http://", 7) == 0 ? 7
                                                            : 0;
    int printable = 1;
    for (const char *p = value; *p; p++)
        printable &= *p > 0x20 && *p < 0x7f;
    if (*value && (!scheme || !value[scheme] || value[scheme] == '/' || !printable))
        return fail(ctx, "[mes] %s: '%s' is not an http:// or https:// URL with a host (no spaces)",
                    key, value);
    return set_string(ctx, dst, size, "mes", key, value);
}

/* [mes]: the push target and the pre-flash interlock. Messages never quote the token. */
static int mes_key(struct parse_ctx *ctx, const char *key, const char *value)
{
    struct config_mes *mes = &ctx->cfg->mes;
    if (strcmp(key, "url") == 0)
        return mes_url(ctx, key, value, mes->url, sizeof(mes->url));
    if (strcmp(key, "interlock_url") == 0)
        return mes_url(ctx, key, value, mes->interlock.url, sizeof(mes->interlock.url));
    if (strcmp(key, "interlock_timeout_ms") == 0)
        return set_u32(ctx, &mes->interlock.timeout_ms, 100, 600000, "mes", key, value);
    if (strcmp(key, "interlock_on_error") == 0) {
        if (strcmp(value, "block") != 0 && strcmp(value, "allow") != 0)
            return fail(ctx, "[mes] interlock_on_error: '%s' is not block or allow", value);
        mes->interlock.allow_on_error = strcmp(value, "allow") == 0;
        return 1;
    }
    if (strcmp(key, "token") == 0) {
        size_t len = strlen(value);
        if (len >= sizeof(mes->token) ||
            strspn(value,
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != len)
            return fail(ctx, "[mes] token: at most %zu characters of A-Z a-z 0-9 - . _ ~ + / =",
                        sizeof(mes->token) - 1);
        memcpy(mes->token, value, len + 1);
        return 1;
    }
    if (strcmp(key, "ca_file") == 0)
        return set_string(ctx, mes->ca_file, sizeof(mes->ca_file), "mes", key, value);
    if (strcmp(key, "tls_verify") == 0) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            return fail(ctx, "[mes] tls_verify: '%s' is not yes or no", value);
        mes->tls_verify = strcmp(value, "yes") == 0;
        return 1;
    }
    if (strcmp(key, "timeout_ms") == 0)
        return set_u32(ctx, &mes->timeout_ms, 100, 600000, "mes", key, value);
    if (strcmp(key, "max_in_flight") == 0)
        return set_u32(ctx, &mes->max_in_flight, 1, 64, "mes", key, value);
    if (strcmp(key, "backoff_min_ms") == 0)
        return set_u32(ctx, &mes->backoff_min_ms, 10, 3600000, "mes", key, value);
    if (strcmp(key, "backoff_max_ms") == 0)
        return set_u32(ctx, &mes->backoff_max_ms, 10, 86400000, "mes", key, value);
    return fail(ctx, "unknown key '%s' in section [mes]", key);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    struct parse_ctx *ctx = user;
    struct config *cfg = ctx->cfg;
    if (ctx->failed)
        return 0;
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
    if (IS("station", "id"))
        return set_string(ctx, cfg->station_id, sizeof(cfg->station_id), section, key, value);
    if (IS("station", "log_level")) {
        enum log_level level;
        if (log_level_from_string(value, &level) < 0)
            return fail(ctx,
                        "[station] log_level: '%s' is not err, warning, notice, info or "
                        "debug",
                        value);
        return set_string(ctx, cfg->log_level, sizeof(cfg->log_level), section, key, value);
    }
    if (IS("http", "listen")) {
        char host[64];
        uint16_t port;
        if (config_split_listen(value, host, sizeof(host), &port) < 0)
            return fail(ctx, "[http] listen: '%s' is not HOST:PORT", value);
        return set_string(ctx, cfg->http_listen, sizeof(cfg->http_listen), section, key, value);
    }
    if (IS("http", "web_root")) {
        /* relative would depend on the daemon's working directory */
        if (value[0] != '/')
            return fail(ctx, "[http] web_root: '%s' is not an absolute path", value);
        return set_string(ctx, cfg->http_web_root, sizeof(cfg->http_web_root), section, key, value);
    }
    if (IS("http", "max_connections"))
        return set_u32(ctx, &cfg->limits.http_max_connections, 1, 10000, section, key, value);
    if (IS("http", "max_body_bytes"))
        return set_u32(ctx, &cfg->limits.http_max_body_bytes, 1024, 1u << 30, section, key, value);
    if (IS("storage", "database"))
        return set_string(ctx, cfg->db_path, sizeof(cfg->db_path), section, key, value);
    if (IS("storage", "data_dir"))
        return set_string(ctx, cfg->data_dir, sizeof(cfg->data_dir), section, key, value);
    if (IS("storage", "cache_dir"))
        return set_string(ctx, cfg->cache_dir, sizeof(cfg->cache_dir), section, key, value);
    if (IS("rack", "rows"))
        return set_int(ctx, &cfg->rack_rows, 1, 64, section, key, value);
    if (IS("rack", "columns"))
        return set_int(ctx, &cfg->rack_columns, 1, 64, section, key, value);
    if (IS("limits", "max_jobs"))
        return set_u32(ctx, &cfg->limits.max_jobs, 1, 1024, section, key, value);
    if (IS("limits", "no_progress_timeout_ms"))
        return set_u32(ctx, &cfg->limits.no_progress_timeout_ms, 100, 3600000, section, key, value);
    if (IS("limits", "job_timeout_ms"))
        return set_u32(ctx, &cfg->limits.job_timeout_ms, 1000, 86400000, section, key, value);
    if (IS("limits", "reenumerate_timeout_ms"))
        return set_u32(ctx, &cfg->limits.reenumerate_timeout_ms, 100, 3600000, section, key, value);
    if (IS("limits", "wire_ring_frames"))
        return set_u32(ctx, &cfg->limits.wire_ring_frames, 0, 4096, section, key, value);
    if (IS("limits", "max_job_steps")) {
        uint64_t v;
        if (parse_u64(value, UINT64_MAX, &v) < 0 || v < 1000)
            return fail(ctx, "[limits] max_job_steps: '%s' is not a number >= 1000", value);
        cfg->limits.max_job_steps = v;
        return 1;
    }
    if (IS("usb", "id"))
        return add_usb_id(ctx, value);
    if (IS("flow", "retries"))
        return set_u32(ctx, &cfg->flow.retries, 0, 10, section, key, value);
    if (IS("flow", "retry_delay_ms"))
        return set_u32(ctx, &cfg->flow.retry_delay_ms, 0, 600000, section, key, value);
    if (IS("flow", "reboot_timeout_ms"))
        return set_u32(ctx, &cfg->flow.reboot_timeout_ms, 1000, 3600000, section, key, value);
    if (IS("flow", "at_options"))
        return set_string(ctx, cfg->flow.at_options, sizeof(cfg->flow.at_options), section, key,
                          value);
    if (IS("packages", "max_upload_mb"))
        return set_u32(ctx, &cfg->packages.max_upload_mb, 1, 65536, section, key, value);
    if (IS("packages", "max_uploads"))
        return set_u32(ctx, &cfg->packages.max_uploads, 1, 16, section, key, value);
    if (IS("auth", "token"))
        return add_token(ctx, value);
    if (IS("auth", "open_reads")) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            return fail(ctx, "[auth] open_reads: '%s' is not yes or no", value);
        cfg->auth.open_reads = strcmp(value, "yes") == 0;
        return 1;
    }
#undef IS
    if (strcmp(section, "mes") == 0)
        return mes_key(ctx, key, value);
    if (strncmp(section, "recipe ", 7) == 0) {
        struct config_recipe *recipe = recipe_section(ctx, section);
        if (!recipe)
            return 0;
        if (strcmp(key, "package") == 0) {
            if (!*value)
                return fail(ctx, "[%s] package: empty path", section);
            return set_string(ctx, recipe->package, sizeof(recipe->package), section, key, value);
        }
        if (strcmp(key, "options") == 0)
            return set_string(ctx, recipe->options, sizeof(recipe->options), section, key, value);
    }
    if (strncmp(section, "slot ", 5) == 0) {
        struct config_slot *slot = slot_section(ctx, section);
        if (!slot)
            return 0;
        if (strcmp(key, "port") == 0) {
            if (!valid_port_pattern(value))
                return fail(ctx,
                            "[%s] port: '%s' is not a USB port path like 1-1.2 (globs "
                            "* ? [] allowed)",
                            section, value);
            return set_string(ctx, slot->port, sizeof(slot->port), section, key, value);
        }
        if (strcmp(key, "row") == 0)
            return set_int(ctx, &slot->row, 1, 64, section, key, value);
        if (strcmp(key, "column") == 0)
            return set_int(ctx, &slot->column, 1, 64, section, key, value);
    }
    return fail(ctx, "unknown key '%s' in section [%s]", key, section);
}

/* Whole-file checks after every key was read. */
static int validate(struct parse_ctx *ctx)
{
    struct config *cfg = ctx->cfg;
    if (cfg->mes.backoff_min_ms > cfg->mes.backoff_max_ms)
        return fail(ctx, "[mes] backoff_min_ms %u is above backoff_max_ms %u",
                    cfg->mes.backoff_min_ms, cfg->mes.backoff_max_ms);
    for (size_t i = 0; i < cfg->recipe_count; i++)
        if (!cfg->recipes[i].package[0])
            return fail(ctx, "[recipe %s] has no package", cfg->recipes[i].name);
    for (size_t i = 0; i < cfg->slot_count; i++) {
        struct config_slot *s = &cfg->slots[i];
        if (!s->port[0])
            return fail(ctx, "[slot %s] has no port", s->label);
        if ((s->row == 0) != (s->column == 0))
            return fail(ctx, "[slot %s] gives only one of row and column", s->label);
        if (s->row == 0) {
            /* Unplaced slots fill the rack row by row in file order. */
            s->row = (int)(i / (size_t)cfg->rack_columns) + 1;
            s->column = (int)(i % (size_t)cfg->rack_columns) + 1;
        }
        if (s->row > cfg->rack_rows || s->column > cfg->rack_columns)
            return fail(ctx, "[slot %s] position row %d column %d is outside the %dx%d rack",
                        s->label, s->row, s->column, cfg->rack_rows, cfg->rack_columns);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(cfg->slots[k].port, s->port) == 0)
                return fail(ctx, "[slot %s] port %s is already slot %s", s->label, s->port,
                            cfg->slots[k].label);
            if (cfg->slots[k].row == s->row && cfg->slots[k].column == s->column)
                return fail(ctx, "[slot %s] row %d column %d is already slot %s", s->label, s->row,
                            s->column, cfg->slots[k].label);
        }
    }
    return 1;
}

/* r is inih's result: 0, or the first line with a syntax error or a rejected key. */
static int finish(struct parse_ctx *ctx, int r, const char *name, char *err, size_t errlen)
{
    if (r > 0) {
        snprintf(err, errlen, "%s:%d: %s", name, r, ctx->failed ? ctx->msg : "syntax error");
        return -EINVAL;
    }
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot read (%s)", name, r == -2 ? "out of memory" : "I/O");
        return r == -2 ? -ENOMEM : -EIO;
    }
    if (!validate(ctx)) {
        snprintf(err, errlen, "%s: %s", name, ctx->msg);
        return -EINVAL;
    }
    return 0;
}

int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    struct parse_ctx ctx = {.cfg = cfg};
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int r = ini_parse_file(f, handler, &ctx);
    fclose(f);
    return finish(&ctx, r, path, err, errlen);
}

int config_load_string(const char *text, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    struct parse_ctx ctx = {.cfg = cfg};
    int r = ini_parse_string(text, handler, &ctx);
    return finish(&ctx, r, "<config>", err, errlen);
}

int config_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *ret_port)
{
    const char *colon;
    size_t hl;
    const char *h = listen;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - listen);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    uint64_t port;
    if (parse_u64(colon + 1, 65535, &port) < 0)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *ret_port = (uint16_t)port;
    return 0;
}

const struct config_slot *config_slot_for_port(const struct config *cfg, const char *port_path)
{
    for (size_t i = 0; i < cfg->slot_count; i++)
        if (strcmp(cfg->slots[i].port, port_path) == 0)
            return &cfg->slots[i];
    for (size_t i = 0; i < cfg->slot_count; i++)
        if (fnmatch(cfg->slots[i].port, port_path, 0) == 0)
            return &cfg->slots[i];
    return NULL;
}

const struct config_slot *config_slot_by_label(const struct config *cfg, const char *label)
{
    for (size_t i = 0; i < cfg->slot_count; i++)
        if (strcmp(cfg->slots[i].label, label) == 0)
            return &cfg->slots[i];
    return NULL;
}
