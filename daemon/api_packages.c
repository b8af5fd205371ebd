/* Packages over the API (docs/http.md "Packages"): upload streamed to disk and inspected on a
 * worker, list, one, delete. The catalogue itself is pkg_catalog.c; recipes are
 * api_recipes.c. The server checked the token and the query before a handler runs and writes
 * every call to the audit log once answered. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "db.h"
#include "db_packages.h"
#include "http_auth.h"
#include "http_priv.h" /* http_request_header */
#include "log.h"
#include "pkg_cache.h"
#include "pkg_catalog.h"
#include "pkg_load.h"
#include "pkg_upload.h"
#include "station.h"
#include "workflow.h"

/* What inspect found, copied out of struct pkg on the worker (no JSON off the loop). */
struct inspect_result {
    const char *platform, *layout; /* static strings */
    char firmware[160], series[16], sub_model[8], version[16];
    char flash_file[PKG_PATH_MAX];
    uint64_t flash_size;
    struct pkg_warnings warnings;
};

struct upload_ctx {
    struct pkg_catalog *c;
    struct station *st;
    struct pkg_upload *u;
    char who[64];
    /* after the body */
    uv_work_t work;
    struct http_deferred *d;
    char sha256[65];
    uint64_t size;
    int status;
    char err[768];
    struct inspect_result in;
};

static void upload_ctx_free(void *state)
{
    struct upload_ctx *x = state;
    if (!x)
        return;
    pkg_upload_discard(x->u);
    unsigned *uploads = pkg_catalog_uploads(x->c);
    if (*uploads)
        (*uploads)--;
    free(x);
}

/* ---- the body ------------------------------------------------------------------------------ */

static int upload_begin(struct http_request *req, int has_length, uint64_t declared, void **state)
{
    struct station *st = http_request_station(req);
    struct pkg_catalog *c = st->packages;
    const char *name = http_query_string(req, "name");
    uint64_t limit = (uint64_t)st->cfg.packages.max_upload_mb << 20;
    char err[256];
    if (!c || !st->db || pkg_catalog_stopped(c)) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the station has no package catalogue (no database, or stopping)");
        return -EAGAIN;
    }
    if (!name) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "query parameter 'name' (the package's file name) is required");
        return -EINVAL;
    }
    if (pkg_upload_check_name(name, err, sizeof(err)) < 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "query parameter 'name': %s",
                         err);
        return -EINVAL;
    }
    http_request_audit(req, "package.upload", name, NULL);
    const char *type = http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (type && strncasecmp(type, "application/json", 16) == 0) {
        http_reply_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                         "the body is the package file itself (application/octet-stream), not "
                         "JSON");
        return -EINVAL;
    }
    if (has_length && declared > limit) {
        http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                         "a package of %llu bytes is over the upload limit of %u MiB ([packages] "
                         "max_upload_mb)",
                         (unsigned long long)declared, st->cfg.packages.max_upload_mb);
        return -EFBIG;
    }
    unsigned *uploads = pkg_catalog_uploads(c);
    if (*uploads >= st->cfg.packages.max_uploads) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_uploads",
                         "%u uploads are in progress, the limit ([packages] max_uploads): try "
                         "again when one is done",
                         *uploads);
        return -EBUSY;
    }
    struct upload_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->c = c;
    x->st = st;
    const struct http_auth_who *who = http_request_who(req);
    snprintf(x->who, sizeof(x->who), "%s", who->name ? who->name : "");
    int r = pkg_upload_begin(pkg_catalog_dir(c), name, limit, &x->u, err, sizeof(err));
    if (r < 0) {
        free(x);
        log_err("packages: %s", err);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err);
        return r;
    }
    (*uploads)++;
    *state = x;
    return 0;
}

static int upload_data(struct http_request *req, void *state, const char *buf, size_t len)
{
    struct upload_ctx *x = state;
    char err[512];
    int r = pkg_upload_write(x->u, buf, len, err, sizeof(err));
    /* Over the limit: the file is gone at once, and the rest of the body is read and dropped
     * (libmicrohttpd cannot answer in the middle of a body); the end answers 413. */
    if (r == -EFBIG || r == 0)
        return 0;
    log_err("packages: upload: %s", err);
    http_request_audit(req, "package.upload", pkg_upload_name(x->u), NULL);
    http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err);
    return r;
}

static const struct http_upload_ops upload_ops = {
    .begin = upload_begin,
    .data = upload_data,
    .free = upload_ctx_free,
};

/* ---- inspect on a worker ------------------------------------------------------------------- */

static void inspect_work(uv_work_t *w)
{
    struct upload_ctx *x = w->data;
    struct pkg_limits lim;
    pkg_limits_default(&lim);
    struct pkg_source *src = NULL;
    struct pkg *p = NULL;
    x->status = pkg_load_path(pkg_upload_path(x->u), &lim, &src, x->err, sizeof(x->err));
    if (x->status == 0)
        x->status = pkg_load_open(src, &lim, &p, x->err, sizeof(x->err));
    if (x->status == 0) {
        struct inspect_result *in = &x->in;
        in->platform = pkg_platform_to_string(p->platform);
        in->layout = p->layout ? p->layout : "";
        snprintf(in->firmware, sizeof(in->firmware), "%s", p->name);
        snprintf(in->series, sizeof(in->series), "%s", p->ident.series);
        snprintf(in->sub_model, sizeof(in->sub_model), "%s", p->ident.submodel);
        snprintf(in->version, sizeof(in->version), "%s", p->ident.version);
        snprintf(in->flash_file, sizeof(in->flash_file), "%s", p->flash_file);
        in->flash_size = p->flash_len;
        in->warnings = p->warnings;
    }
    pkg_free(p);
    pkg_source_free(src);
}

/* The parser's message without the temp folder ("x.zip: no flashable file" rather than
 * "/var/lib/.../.upload-Ab12Cd/x.zip: ..."). */
static void strip_folder(char *msg, const char *folder)
{
    size_t n = strlen(folder);
    char *p;
    while ((p = strstr(msg, folder)) && p[n] == '/')
        memmove(p, p + n + 1, strlen(p + n + 1) + 1);
}

static char *inspect_text(const struct upload_ctx *x)
{
    const struct inspect_result *in = &x->in;
    json_t *warnings = json_array();
    for (unsigned i = 0; i < in->warnings.count && i < PKG_WARN_MAX; i++)
        json_array_append_new(warnings, http_json_string(in->warnings.text[i]));
    json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:I, s:o}", "layout", in->layout, "firmware",
                          http_json_string(in->firmware), "flash_file", in->flash_file,
                          "uploaded_by", http_json_string(x->who), "flash_size",
                          (json_int_t)in->flash_size, "warnings", warnings);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* An existing catalogue row as the answer (same bytes again: 200). */
static void reply_existing(struct upload_ctx *x, struct http_deferred *d, struct db_package *p)
{
    json_t *o = pkg_catalog_package_json(x->c, p);
    http_deferred_audit(d, "package.upload", p->name,
                        json_pack("{s:s, s:s}", "sha256", p->sha256, "result", "exists"));
    http_deferred_reply_json(d, MHD_HTTP_OK, o);
}

static void inspect_done(uv_work_t *w, int status)
{
    struct upload_ctx *x = w->data;
    struct http_deferred *d = x->d;
    const char *name = pkg_upload_name(x->u);
    if (status < 0 || x->status < 0) {
        strip_folder(x->err, pkg_upload_folder(x->u));
        log_notice("packages: %s refused: %s", name, x->err);
        http_deferred_audit(d, "package.upload", name,
                            json_pack("{s:s, s:s}", "result", "invalid", "error", x->err));
        if (!x->err[0])
            snprintf(x->err, sizeof(x->err), "the package could not be read");
        /* the parser's messages mostly name the file already */
        size_t n = strlen(name);
        int named = strncmp(x->err, name, n) == 0 && x->err[n] == ':';
        http_deferred_reply_error(d, 422, "package_invalid", "%s%s%s", named ? "" : name,
                                  named ? "" : ": ", x->err);
        upload_ctx_free(x);
        return;
    }
    struct db *db = x->st->db;
    struct db_package p;
    char path[PATH_MAX];
    int r = pkg_upload_commit(x->u, x->sha256, path, sizeof(path));
    if (r == -EEXIST) {
        if (db_package_get(db, x->sha256, &p) == 0) {
            reply_existing(x, d, &p);
            db_package_clear(&p);
            upload_ctx_free(x);
            return;
        }
        /* A folder without a row: an earlier delete that could not remove it. */
        char stale[PATH_MAX];
        snprintf(stale, sizeof(stale), "%s/%s", pkg_catalog_dir(x->c), x->sha256);
        r = pkg_upload_remove_folder(stale);
        if (r == 0)
            r = pkg_upload_commit(x->u, x->sha256, path, sizeof(path));
    }
    if (r < 0) {
        http_deferred_reply_error(d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "cannot store %s in %s: %s", name, pkg_catalog_dir(x->c),
                                  strerror(-r));
        upload_ctx_free(x);
        return;
    }
    memset(&p, 0, sizeof(p));
    snprintf(p.sha256, sizeof(p.sha256), "%s", x->sha256);
    db_field_set(p.name, sizeof(p.name), name);
    db_field_set(p.platform, sizeof(p.platform), x->in.platform);
    db_field_set(p.series, sizeof(p.series), x->in.series);
    db_field_set(p.submodel, sizeof(p.submodel), x->in.sub_model);
    db_field_set(p.version, sizeof(p.version), x->in.version);
    db_field_set(p.path, sizeof(p.path), path);
    p.size = x->size;
    p.added_unix_ms = station_now_unix_ms();
    p.inspect_json = inspect_text(x);
    r = p.inspect_json ? db_package_upsert(db, &p) : -ENOMEM;
    if (r < 0) {
        unlink(path);
        char *slash = strrchr(path, '/');
        if (slash)
            *slash = '\0';
        rmdir(path);
        http_deferred_reply_error(d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "cannot add %s to the catalogue: %s", name, db_last_error(db));
    } else {
        log_notice("packages: %s uploaded by %s: %s %s %s %s, sha256 %s", name, x->who,
                   x->in.platform, x->in.series, x->in.sub_model, x->in.version, x->sha256);
        http_deferred_audit(d, "package.upload", name,
                            json_pack("{s:s, s:I, s:s}", "sha256", x->sha256, "size",
                                      (json_int_t)x->size, "result", "added"));
        http_deferred_reply_json(d, MHD_HTTP_CREATED, pkg_catalog_package_json(x->c, &p));
    }
    free(p.inspect_json);
    upload_ctx_free(x);
}

static void post_package(struct http_request *req)
{
    struct upload_ctx *x = http_request_upload_take(req);
    if (!x) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "no upload state");
        return;
    }
    const char *name = pkg_upload_name(x->u);
    http_request_audit(req, "package.upload", name, NULL);
    int r = pkg_upload_finish(x->u, x->sha256, &x->size);
    if (r == -EFBIG) {
        http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                         "the upload of %llu bytes is over the limit of %u MiB ([packages] "
                         "max_upload_mb); nothing was kept",
                         (unsigned long long)pkg_upload_size(x->u),
                         http_request_station(req)->cfg.packages.max_upload_mb);
    } else if (r < 0) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "the upload of %s could not be finished: %s", name, strerror(-r));
    } else if (x->size == 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "the body is empty: send the package file itself");
    } else {
        struct db_package p;
        if (db_package_get(x->st->db, x->sha256, &p) == 0) {
            http_request_audit(req, "package.upload", p.name,
                               json_pack("{s:s, s:s}", "sha256", p.sha256, "result", "exists"));
            http_reply_json(req, MHD_HTTP_OK, pkg_catalog_package_json(x->c, &p));
            db_package_clear(&p);
        } else if (!(x->d = http_request_defer(req))) {
            http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        } else {
            x->work.data = x;
            r = uv_queue_work(x->st->loop, &x->work, inspect_work, inspect_done);
            if (r == 0)
                return; /* inspect_done answers and frees */
            http_deferred_reply_error(x->d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                      "cannot start the inspection: %s", uv_strerror(r));
        }
    }
    upload_ctx_free(x);
}

/* ---- list, one, delete --------------------------------------------------------------------- */

struct list_ctx {
    struct pkg_catalog *c;
    json_t *list, *seen;
};

static int add_row(const struct db_package *p, void *ud)
{
    struct list_ctx *l = ud;
    json_t *o = pkg_catalog_package_json(l->c, p);
    if (!o)
        return -ENOMEM;
    json_object_set_new(l->seen, p->sha256, json_true());
    return json_array_append_new(l->list, o) < 0 ? -ENOMEM : 0;
}

static bool have_catalogue(struct http_request *req)
{
    struct station *st = http_request_station(req);
    if (st->packages && st->db)
        return true;
    http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                     "the station has no package catalogue (no database)");
    return false;
}

static void get_packages(struct http_request *req)
{
    if (!have_catalogue(req))
        return;
    struct station *st = http_request_station(req);
    struct list_ctx l = {st->packages, json_array(), json_object()};
    if (db_catalog_list(st->db, add_row, &l) < 0) {
        json_decref(l.list);
        json_decref(l.seen);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s",
                         db_last_error(st->db));
        return;
    }
    /* then the packages of config recipes that are not in the catalogue, in config order */
    struct workflow_recipe_view v;
    for (size_t i = 0; workflow_recipe(st->workflow, i, &v) == 0; i++) {
        if (v.api || !v.entry || json_object_get(l.seen, pkg_entry_sha256(v.entry)))
            continue;
        json_t *o = pkg_catalog_find_json(st->packages, pkg_entry_sha256(v.entry));
        json_object_set_new(l.seen, pkg_entry_sha256(v.entry), json_true());
        if (o)
            json_array_append_new(l.list, o);
    }
    json_decref(l.seen);
    http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "packages", l.list));
}

/* The {sha256} of the path: 400 unless 64 lowercase hex digits. */
static const char *sha_param(struct http_request *req)
{
    const char *sha = http_request_param(req, "sha256");
    if (pkg_catalog_is_sha256(sha))
        return sha;
    http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                     "'%s' is not a sha256 (64 lowercase hex digits)", sha ? sha : "");
    return NULL;
}

static void get_package(struct http_request *req)
{
    const char *sha = have_catalogue(req) ? sha_param(req) : NULL;
    if (!sha)
        return;
    json_t *o = pkg_catalog_find_json(http_request_station(req)->packages, sha);
    if (o)
        http_reply_json(req, MHD_HTTP_OK, o);
    else
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no package %s", sha);
}

static void delete_package(struct http_request *req)
{
    const char *sha = have_catalogue(req) ? sha_param(req) : NULL;
    if (!sha)
        return;
    struct station *st = http_request_station(req);
    struct pkg_catalog *c = st->packages;
    http_request_audit(req, "package.delete", sha, NULL);
    struct db_package p;
    if (db_package_get(st->db, sha, &p) < 0) {
        json_t *o = pkg_catalog_find_json(c, sha);
        if (o)
            http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                             "package %s belongs to a recipe of the configuration file: the file "
                             "is the user's, edit the configuration to stop using it",
                             sha);
        else
            http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no package %s", sha);
        json_decref(o);
        return;
    }
    json_t *names = pkg_catalog_recipes_using(c, sha);
    char slots[256];
    size_t users = workflow_package_users(st->workflow, sha, slots, sizeof(slots));
    if (json_array_size(names)) {
        char *list = json_dumps(names, JSON_COMPACT);
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                         "package %s is used by recipe %s: delete or change the recipe first",
                         p.name, list ? list : "?");
        free(list);
    } else if (users) {
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                         "package %s is being flashed on slot %s: wait for the attempt to end",
                         p.name, slots);
    } else if (db_package_recipe_count(st->db, sha) != 0 || db_package_delete(st->db, sha) < 0) {
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict", "package %s cannot be deleted: %s",
                         p.name, db_last_error(st->db));
    } else {
        /* the bytes go; a job that maps them keeps its mapping until it ends */
        unlink(p.path);
        char *slash = strrchr(p.path, '/');
        if (slash)
            *slash = '\0';
        if (rmdir(p.path) != 0)
            log_warning("packages: cannot remove %s: %s", p.path, strerror(errno));
        log_notice("packages: %s (%s) deleted", p.name, sha);
        http_request_audit(req, "package.delete", sha,
                           json_pack("{s:o}", "name", http_json_string(p.name)));
        http_reply_no_content(req);
    }
    json_decref(names);
    db_package_clear(&p);
}

static const char *const upload_query[] = {"name", NULL};

const struct http_route api_packages_routes[] = {
    {.methods = HTTP_GET, .pattern = "/api/v1/packages", .handler = get_packages},
    {.methods = HTTP_POST,
     .pattern = "/api/v1/packages",
     .query = upload_query,
     .handler = post_package,
     .role = HTTP_ROLE_SUPERVISOR,
     .upload = &upload_ops},
    {.methods = HTTP_GET, .pattern = "/api/v1/packages/{sha256}", .handler = get_package},
    {.methods = HTTP_DELETE,
     .pattern = "/api/v1/packages/{sha256}",
     .handler = delete_package,
     .role = HTTP_ROLE_SUPERVISOR},
    {0},
};
