/* Packages and recipes over real sockets (docs/http.md "Packages", "Recipes"): the upload
 * streamed to the catalogue with its bounds (413 by Content-Length and chunked, 415, 400 for
 * names, 503 over max_uploads, a client that leaves mid-body), inspect on a worker (201, 422),
 * the same bytes again (200), list/one/delete, and recipe activation with its conflicts, on a
 * station whose loop runs on its own thread (loop_fixture.h) with a real workflow and cache.
 * Packages come from flashrack-mkpkg. Flashing with them: tests/e2e/packages_rack.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "pkg_catalog.h"
#include "rack.h"
#include "station.h"
#include "workflow.h"

#define WAIT_S 60
#define SUP    "sup-0123456789abcdef"
#define OPER   "op-0123456789abcdef"

/* loop_fixture.h declares struct fixture: its fields and these. */
#define LOOP_FIXTURE_EXTRA                                                                         \
    char dir[64], pkgdir[128], catalogue[PATH_MAX + 16];                                           \
    char ec800m[256], ec800m_b[256], ec200u[256];
#include "loop_fixture.h"

static void on_closed(void *ud)
{
    ((struct fixture *)ud)->http_closed = true;
}

static void fixture_on_stop(struct fixture *f)
{
    workflow_stop(f->st.workflow, "test over");
    pkg_catalog_stop(f->st.packages);
    http_close(f->st.http, on_closed, f);
    f->st.http = NULL;
}

/* mkpkg --firmware NAME DIR: the package's path into out. */
static void make_package(const char *firmware, const char *dir, char *out, size_t size)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s/tests/mkpkg/flashrack-mkpkg' --firmware %s '%s'",
             getenv("FLASHRACK_BUILD_DIR"), firmware, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int)size, p));
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(pclose(p), 0);
}

static struct fixture *fixture_start(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_non_null(getenv("FLASHRACK_BUILD_DIR"));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_api_packages.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->pkgdir, sizeof(f->pkgdir), "%s/in", f->dir);
    mkdir(f->pkgdir, 0750);
    char other[160];
    snprintf(other, sizeof(other), "%s/other", f->dir);
    mkdir(other, 0750);
    make_package("QPY_OCPU_V0005_EC800M_CNLE_FW", f->pkgdir, f->ec800m, sizeof(f->ec800m));
    make_package("QPY_OCPU_V0006_EC800M_CNLE_FW", other, f->ec800m_b, sizeof(f->ec800m_b));
    make_package("QPY_OCPU_V0001_EC200U_CNAA_FW", f->pkgdir, f->ec200u, sizeof(f->ec200u));
    char text[2048], err[256] = "";
    snprintf(text, sizeof(text),
             "[station]\nid = pkg-test\n[http]\nlisten = 127.0.0.1:0\n"
             "[storage]\ndatabase = %s/db\ndata_dir = %s/data\ncache_dir = %s/cache\n"
             "[auth]\ntoken = supervisor:lead:" SUP "\ntoken = operator:" OPER "\n"
             "[packages]\nmax_upload_mb = 1\nmax_uploads = 1\n"
             "[recipe cfg-ec200u]\npackage = %s\n[slot A1]\nport = 1-1.1\n",
             f->dir, f->dir, f->dir, f->ec200u);
    if (config_load_string(text, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    mkdir(f->st.cfg.data_dir, 0750);
    snprintf(f->catalogue, sizeof(f->catalogue), "%s/packages", f->st.cfg.data_dir);
    assert_int_equal(db_open(f->st.cfg.db_path, &f->st.db, err, sizeof(err)), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    f->st.started_unix_ms = station_now_unix_ms();
    assert_int_equal(rack_new(&f->st.cfg, f->st.db, &f->st.rack), 0);
    assert_int_equal(workflow_new(&f->st, &f->st.workflow), 0);
    assert_int_equal(pkg_catalog_new(&f->st, &f->st.packages), 0);
    while (workflow_pending(f->st.workflow)) /* the config recipe's package */
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(http_start(&f->st, &f->st.http), 0);
    f->port = http_port(f->st.http);
    assert_int_equal(fixture_thread_start(f), 0);
    return f;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

static void fixture_stop(struct fixture *f)
{
    assert_int_equal(fixture_thread_join(f), 0);
    assert_true(f->http_closed);
    while (uv_run(&f->loop, UV_RUN_NOWAIT)) /* loads still on a worker finish into nothing */
        ;
    pkg_catalog_free(f->st.packages);
    assert_int_equal(workflow_free(f->st.workflow), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rack_free(f->st.rack);
    db_close(f->st.db);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
}

static int temp_folders(struct fixture *f)
{
    DIR *d = opendir(f->catalogue);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, ".upload-", 8) == 0;
    closedir(d);
    return n;
}

/* ---- the client ---------------------------------------------------------------------------- */

struct reply {
    int status;
    char *raw;
    json_t *json;
};

static void reply_clear(struct reply *r)
{
    json_decref(r->json);
    free(r->raw);
    memset(r, 0, sizeof(*r));
}

static int dial(struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {WAIT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413): the reply tells */
        p += n;
        len -= (size_t)n;
    }
}

/* Reads to EOF and parses status and JSON body (Connection: close). */
static void read_reply(int fd, struct reply *r)
{
    size_t cap = 65536, got = 0;
    r->raw = malloc(cap);
    assert_non_null(r->raw);
    for (;;) {
        if (got + 1 >= cap) {
            cap *= 2;
            r->raw = realloc(r->raw, cap);
            assert_non_null(r->raw);
        }
        ssize_t n = recv(fd, r->raw + got, cap - got - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fail_msg("no reply within %d s", WAIT_S);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    r->raw[got] = '\0';
    if (sscanf(r->raw, "HTTP/1.1 %d", &r->status) != 1)
        return;
    char *body = strstr(r->raw, "\r\n\r\n");
    if (body && body[4])
        r->json = json_loads(body + 4, 0, NULL);
}

/* One request; body (len bytes) with Content-Length, or chunked in pieces of 64 KiB. */
static void request(struct fixture *f, const char *method, const char *target, const char *token,
                    const char *ctype, const void *body, size_t len, bool chunked, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    int fd = dial(f);
    char head[1024];
    int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n",
                     method, target);
    if (token)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body && chunked)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Transfer-Encoding: chunked\r\n");
    else if (body)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    send_all(fd, head, (size_t)n);
    if (body && chunked) {
        for (size_t off = 0; off < len; off += 65536) {
            size_t k = len - off < 65536 ? len - off : 65536;
            char size[32];
            send_all(fd, size, (size_t)snprintf(size, sizeof(size), "%zx\r\n", k));
            send_all(fd, (const char *)body + off, k);
            send_all(fd, "\r\n", 2);
        }
        send_all(fd, "0\r\n\r\n", 5);
    } else if (body) {
        send_all(fd, body, len);
    }
    read_reply(fd, r);
}

static void *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    void *data = malloc(*len ? *len : 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, *len, fp), *len);
    fclose(fp);
    return data;
}

static void upload_file(struct fixture *f, const char *path, const char *name, struct reply *r)
{
    size_t len;
    void *data = slurp(path, &len);
    char target[300];
    snprintf(target, sizeof(target), "/api/v1/packages?name=%s", name);
    request(f, "POST", target, SUP, "application/octet-stream", data, len, false, r);
    free(data);
}

static void expect_error(struct reply *r, int status, const char *code, const char *in_message)
{
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->raw);
    json_t *e = json_object_get(r->json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (in_message && (!msg || !strstr(msg, in_message)))
        fail_msg("message '%s' does not say '%s'", msg ? msg : "", in_message);
    reply_clear(r);
}

static const char *member(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_upload_list_get(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    struct reply r;
    char sha[65];

    upload_file(f, f->ec800m, "QPY_OCPU_V0005_EC800M_CNLE_FW.zip", &r);
    if (r.status != 201)
        fail_msg("upload: %s", r.raw);
    snprintf(sha, sizeof(sha), "%s", member(r.json, "sha256"));
    assert_true(pkg_catalog_is_sha256(sha));
    assert_string_equal(member(r.json, "source"), "upload");
    assert_string_equal(member(r.json, "platform"), "asr");
    assert_string_equal(member(r.json, "firmware"), "QPY_OCPU_V0005_EC800M_CNLE_FW");
    assert_string_equal(member(r.json, "series"), "EC800M");
    assert_string_equal(member(r.json, "sub_model"), "CNLE");
    assert_string_equal(member(r.json, "version"), "V0005");
    assert_string_equal(member(r.json, "uploaded_by"), "lead");
    assert_true(json_integer_value(json_object_get(r.json, "flash_size")) > 0);
    assert_true(json_is_array(json_object_get(r.json, "warnings")));
    assert_int_equal(json_array_size(json_object_get(r.json, "recipes")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "in_use")), 0);
    reply_clear(&r);

    /* The same bytes under another name: 200, the first object. */
    upload_file(f, f->ec800m, "copy.zip", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(member(r.json, "sha256"), sha);
    assert_string_equal(member(r.json, "name"), "QPY_OCPU_V0005_EC800M_CNLE_FW.zip");
    reply_clear(&r);

    /* The list: the upload, then the config recipe's package. */
    request(f, "GET", "/api/v1/packages", NULL, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "packages");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(member(json_array_get(list, 0), "sha256"), sha);
    json_t *cfg = json_array_get(list, 1);
    assert_string_equal(member(cfg, "source"), "config");
    assert_string_equal(member(cfg, "series"), "EC200U");
    assert_true(json_is_null(json_object_get(cfg, "uploaded_at")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "recipes"), 0)),
                        "cfg-ec200u");
    char cfg_sha[65];
    snprintf(cfg_sha, sizeof(cfg_sha), "%s", member(cfg, "sha256"));
    reply_clear(&r);

    char path[128];
    snprintf(path, sizeof(path), "/api/v1/packages/%s", sha);
    request(f, "GET", path, NULL, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(member(r.json, "version"), "V0005");
    reply_clear(&r);
    request(f, "GET", "/api/v1/packages/ABC", NULL, NULL, NULL, 0, false, &r);
    expect_error(&r, 400, "bad_request", "sha256");
    request(f, "GET",
            "/api/v1/packages/0000000000000000000000000000000000000000000000000000000000000000",
            NULL, NULL, NULL, 0, false, &r);
    expect_error(&r, 404, "not_found", NULL);

    /* Delete: an operator may not; a config package never; the upload: 204, then 404. */
    request(f, "DELETE", path, OPER, NULL, NULL, 0, false, &r);
    expect_error(&r, 403, "forbidden", NULL);
    char cfg_path[128];
    snprintf(cfg_path, sizeof(cfg_path), "/api/v1/packages/%s", cfg_sha);
    request(f, "DELETE", cfg_path, SUP, NULL, NULL, 0, false, &r);
    expect_error(&r, 409, "conflict", "configuration");
    request(f, "DELETE", path, SUP, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 204);
    reply_clear(&r);
    request(f, "DELETE", path, SUP, NULL, NULL, 0, false, &r);
    expect_error(&r, 404, "not_found", NULL);
    char folder[PATH_MAX + 100];
    snprintf(folder, sizeof(folder), "%s/%s", f->catalogue, sha);
    struct stat st;
    assert_int_equal(stat(folder, &st), -1);
    fixture_stop(f);
}

static void test_upload_refusals(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    struct reply r;
    static char big[(1 << 20) + 4096];
    memset(big, 'x', sizeof(big));

    request(f, "POST", "/api/v1/packages?name=a.zip", OPER, "application/octet-stream", "x", 1,
            false, &r);
    expect_error(&r, 403, "forbidden", NULL);
    request(f, "POST", "/api/v1/packages", SUP, "application/octet-stream", "x", 1, false, &r);
    expect_error(&r, 400, "bad_request", "'name'");
    request(f, "POST", "/api/v1/packages?name=.x.zip", SUP, "application/octet-stream", "x", 1,
            false, &r);
    expect_error(&r, 400, "bad_request", "starts with '.'");
    request(f, "POST", "/api/v1/packages?name=a%2Fb.zip", SUP, "application/octet-stream", "x", 1,
            false, &r);
    expect_error(&r, 400, "bad_request", "'/'");
    request(f, "POST", "/api/v1/packages?name=a.zip&x=1", SUP, "application/octet-stream", "x", 1,
            false, &r);
    expect_error(&r, 400, "bad_request", "unknown query parameter");
    request(f, "POST", "/api/v1/packages?name=a.zip", SUP, "application/json", "{}", 2, false, &r);
    expect_error(&r, 415, "unsupported_media_type", NULL);
    request(f, "POST", "/api/v1/packages?name=a.zip", SUP, "application/octet-stream", "", 0, false,
            &r);
    expect_error(&r, 400, "bad_request", "empty");
    /* Over max_upload_mb = 1: by Content-Length at once; chunked when it crosses. */
    request(f, "POST", "/api/v1/packages?name=big.bin", SUP, "application/octet-stream", big,
            sizeof(big), false, &r);
    expect_error(&r, 413, "payload_too_large", "max_upload_mb");
    request(f, "POST", "/api/v1/packages?name=big.bin", SUP, "application/octet-stream", big,
            sizeof(big), true, &r);
    expect_error(&r, 413, "payload_too_large", "nothing was kept");
    /* Not a package: 422 with the parser's reason, nothing kept. */
    static const char junk[] = "PK\003\004 this is not really a zip archive";
    request(f, "POST", "/api/v1/packages?name=junk.zip", SUP, "application/octet-stream", junk,
            sizeof(junk) - 1, false, &r);
    expect_error(&r, 422, "package_invalid", "junk.zip: ");
    assert_int_equal(temp_folders(f), 0);
    request(f, "GET", "/api/v1/packages", NULL, NULL, NULL, 0, false, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "packages")), 1); /* config's */
    reply_clear(&r);

    /* One upload at a time (max_uploads = 1): a second waits its turn with 503; the first
     * client leaves mid-body, and its temp folder goes with it. */
    int fd = dial(f);
    static const char head[] = "POST /api/v1/packages?name=slow.zip HTTP/1.1\r\nHost: t\r\n"
                               "Authorization: Bearer " SUP "\r\nContent-Length: 100000\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n";
    send_all(fd, head, sizeof(head) - 1);
    send_all(fd, big, 5000);
    time_t deadline = time(NULL) + WAIT_S;
    while (temp_folders(f) != 1 && time(NULL) < deadline)
        usleep(10000);
    assert_int_equal(temp_folders(f), 1);
    request(f, "POST", "/api/v1/packages?name=b.zip", SUP, "application/octet-stream", "x", 1,
            false, &r);
    expect_error(&r, 503, "too_many_uploads", "max_uploads");
    close(fd);
    deadline = time(NULL) + WAIT_S;
    while (temp_folders(f) != 0 && time(NULL) < deadline)
        usleep(10000);
    assert_int_equal(temp_folders(f), 0);
    upload_file(f, f->ec800m, "after.zip", &r); /* the slot is free again */
    assert_int_equal(r.status, 201);
    reply_clear(&r);
    fixture_stop(f);
}

static void put_recipe(struct fixture *f, const char *name, const char *body, struct reply *r)
{
    char target[128];
    snprintf(target, sizeof(target), "/api/v1/recipes/%s", name);
    request(f, "PUT", target, SUP, "application/json", body, strlen(body), false, r);
}

struct audit_count {
    int n;
};

static int count_audit(const struct db_audit *a, void *ud)
{
    struct audit_count *c = ud;
    c->n += strncmp(a->action, "recipe.", 7) == 0;
    return 0;
}

static void job_audit(struct fixture *f, void *arg)
{
    assert_true(db_audit_list(f->st.db, 0, 1000, count_audit, arg) >= 0);
}

static void test_recipes(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    struct reply r;
    char sha[65], sha_b[65], body[256], path[128];

    /* The file name carries the identity: upload under the names mkpkg gave. */
    upload_file(f, f->ec800m, strrchr(f->ec800m, '/') + 1, &r);
    assert_int_equal(r.status, 201);
    snprintf(sha, sizeof(sha), "%s", member(r.json, "sha256"));
    reply_clear(&r);
    upload_file(f, f->ec800m_b, strrchr(f->ec800m_b, '/') + 1, &r);
    assert_int_equal(r.status, 201);
    snprintf(sha_b, sizeof(sha_b), "%s", member(r.json, "sha256"));
    reply_clear(&r);

    snprintf(body, sizeof(body), "{\"package\":\"%s\",\"options\":\"x=1\"}", sha);
    put_recipe(f, "ec800m", body, &r);
    if (r.status != 201)
        fail_msg("PUT: %s", r.raw);
    assert_string_equal(member(r.json, "state"), "ready");
    assert_string_equal(member(r.json, "source"), "api");
    assert_string_equal(member(r.json, "options"), "x=1");
    assert_string_equal(member(r.json, "created_by"), "lead");
    assert_string_equal(member(json_object_get(r.json, "package"), "sha256"), sha);
    reply_clear(&r);
    put_recipe(f, "ec800m", body, &r); /* the same again: replaced, 200 */
    assert_int_equal(r.status, 200);
    reply_clear(&r);

    /* Refusals, each naming why. */
    snprintf(body, sizeof(body), "{\"package\":\"%s\"}", sha_b);
    put_recipe(f, "ec800m-b", body, &r);
    expect_error(&r, 409, "conflict", "recipe ec800m ");
    put_recipe(f, "cfg-ec200u", body, &r);
    expect_error(&r, 409, "conflict", "configuration file");
    put_recipe(f, "x",
               "{\"package\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
               &r);
    expect_error(&r, 404, "not_found", "upload");
    put_recipe(f, "x", "{\"package\":\"abc\"}", &r);
    expect_error(&r, 400, "bad_request", "'package'");
    put_recipe(f, "x", "{\"pkg\":1}", &r);
    expect_error(&r, 400, "bad_request", "unknown field 'pkg'");
    put_recipe(f, "bad%20name", body, &r);
    expect_error(&r, 400, "bad_request", "letters, digits");
    snprintf(body, sizeof(body), "{\"package\":\"%s\",\"options\":7}", sha_b);
    put_recipe(f, "x", body, &r);
    expect_error(&r, 400, "bad_request", "'options'");

    /* The table: the config's recipe, then the API's. */
    request(f, "GET", "/api/v1/recipes", NULL, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "recipes");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(member(json_array_get(list, 0), "name"), "cfg-ec200u");
    assert_string_equal(member(json_array_get(list, 0), "source"), "config");
    assert_string_equal(member(json_array_get(list, 0), "state"), "ready");
    assert_string_equal(member(json_array_get(list, 1), "name"), "ec800m");
    reply_clear(&r);

    /* The package a recipe uses stays; the recipe goes, then the package may. */
    snprintf(path, sizeof(path), "/api/v1/packages/%s", sha);
    request(f, "GET", path, NULL, NULL, NULL, 0, false, &r);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "recipes"), 0)),
                        "ec800m");
    reply_clear(&r);
    request(f, "DELETE", path, SUP, NULL, NULL, 0, false, &r);
    expect_error(&r, 409, "conflict", "ec800m");
    request(f, "DELETE", "/api/v1/recipes/cfg-ec200u", SUP, NULL, NULL, 0, false, &r);
    expect_error(&r, 409, "conflict", "configuration file");
    request(f, "DELETE", "/api/v1/recipes/ec800m", OPER, NULL, NULL, 0, false, &r);
    expect_error(&r, 403, "forbidden", NULL);
    request(f, "DELETE", "/api/v1/recipes/ec800m", SUP, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 204);
    reply_clear(&r);
    request(f, "DELETE", "/api/v1/recipes/ec800m", SUP, NULL, NULL, 0, false, &r);
    expect_error(&r, 404, "not_found", NULL);
    /* Now the other EC800M package fits: no conflict left. */
    put_recipe(f, "ec800m-b", body, &r);
    expect_error(&r, 400, "bad_request", "'options'"); /* (body still has options 7) */
    snprintf(body, sizeof(body), "{\"package\":\"%s\"}", sha_b);
    put_recipe(f, "ec800m-b", body, &r);
    assert_int_equal(r.status, 201);
    reply_clear(&r);
    request(f, "DELETE", path, SUP, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 204);
    reply_clear(&r);

    struct audit_count ac = {0};
    run_on_loop(f, job_audit, &ac);
    assert_true(ac.n >= 12); /* every recipe call, refused or not */
    fixture_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_list_get),
        cmocka_unit_test(test_upload_refusals),
        cmocka_unit_test(test_recipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
