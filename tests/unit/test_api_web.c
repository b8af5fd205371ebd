/* The dashboard's static files (daemon/api_web.c): names that climb, hide or escape the web
 * root are refused, a symlink out of the root is refused even though its name is plain,
 * types are right, files over the limit and directories are not served; then the same over
 * a real HTTP server: /, /web/..., 404 for everything refused, HEAD, and no token needed
 * even with open_reads = no. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api_web.h"
#include "config.h"
#include "http.h"
#include "rack.h"
#include "station.h"

#define DEADLINE_S 30

static const char index_html[] = "<!doctype html><title>flashrack</title>\n";
static const char app_js[] = "export const answer = 42;\n";

struct tree {
    char base[64];  /* mkdtemp: holds web/ and a secret outside it */
    char root[100]; /* base/web */
};

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void path_in(char *out, size_t size, const struct tree *t, const char *rel)
{
    int n = snprintf(out, size, "%s/%s", t->base, rel);
    assert_true(n > 0 && (size_t)n < size);
}

static void tree_make(struct tree *t)
{
    char p[200];
    snprintf(t->base, sizeof(t->base), "/tmp/test_api_web.XXXXXX");
    assert_non_null(mkdtemp(t->base));
    snprintf(t->root, sizeof(t->root), "%s/web", t->base);
    assert_int_equal(mkdir(t->root, 0755), 0);
    path_in(p, sizeof(p), t, "web/img");
    assert_int_equal(mkdir(p, 0755), 0);
    path_in(p, sizeof(p), t, "web/index.html");
    write_file(p, index_html, strlen(index_html));
    path_in(p, sizeof(p), t, "web/app.js");
    write_file(p, app_js, strlen(app_js));
    path_in(p, sizeof(p), t, "web/style.CSS");
    write_file(p, "body{}", 6);
    path_in(p, sizeof(p), t, "web/img/logo.svg");
    write_file(p, "<svg/>", 6);
    path_in(p, sizeof(p), t, "web/notes.md"); /* a type we do not serve */
    write_file(p, "# notes", 7);
    path_in(p, sizeof(p), t, "web/.hidden.js");
    write_file(p, "1", 1);
    path_in(p, sizeof(p), t, "secret.js"); /* outside the root */
    write_file(p, "SECRET", 6);
    char target[200];
    path_in(target, sizeof(target), t, "secret.js");
    path_in(p, sizeof(p), t, "web/link.js"); /* a plain name that leads out */
    assert_int_equal(symlink(target, p), 0);
    path_in(p, sizeof(p), t, "web/inside.js"); /* a symlink that stays inside is fine */
    assert_int_equal(symlink("app.js", p), 0);
    path_in(p, sizeof(p), t, "web/dir.js"); /* a directory with a served extension */
    assert_int_equal(mkdir(p, 0755), 0);
    /* one byte over the limit, as a sparse file */
    path_in(p, sizeof(p), t, "web/big.js");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), API_WEB_FILE_MAX + 1), 0);
    assert_int_equal(fclose(f), 0);
}

static void tree_remove(struct tree *t)
{
    static const char *const files[] = {
        "web/index.html", "web/app.js",  "web/style.CSS", "web/img/logo.svg", "web/notes.md",
        "web/.hidden.js", "web/link.js", "web/inside.js", "web/big.js",       "secret.js",
    };
    char p[200];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        path_in(p, sizeof(p), t, files[i]);
        assert_int_equal(unlink(p), 0);
    }
    static const char *const dirs[] = {"web/dir.js", "web/img", "web"};
    for (size_t i = 0; i < 3; i++) {
        path_in(p, sizeof(p), t, dirs[i]);
        assert_int_equal(rmdir(p), 0);
    }
    assert_int_equal(rmdir(t->base), 0);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(api_web_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(api_web_content_type("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(api_web_content_type("STYLE.CSS"), "text/css; charset=utf-8");
    assert_string_equal(api_web_content_type("img/logo.svg"), "image/svg+xml");
    assert_string_equal(api_web_content_type("i18n.json"), "application/json");
    assert_null(api_web_content_type("README.md"));
    assert_null(api_web_content_type("Makefile"));
    assert_null(api_web_content_type("a.js.bak"));
    assert_null(api_web_content_type("a.d/file")); /* the dot is in a directory name */
}

static void test_resolve_refuses(void **state)
{
    (void)state;
    struct tree t;
    tree_make(&t);
    char out[PATH_MAX];
    static const char *const bad_names[] = {
        "",
        "..",
        ".",
        "../secret.js",
        "img/../../secret.js",
        "img/..",
        "/etc/passwd",
        "//app.js",
        "img//logo.svg",
        "img/",
        ".hidden.js",
        "app.js/",
        "..\\secret.js",
        "app%00.js",
        "a b.js",
        "img/x/y.svg", /* deeper than API_WEB_DEPTH_MAX */
        "app.js?x=1",
        "~/app.js",
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        int r = api_web_resolve(t.root, bad_names[i], out, sizeof(out));
        if (r != -EINVAL)
            fail_msg("'%s': %d, want -EINVAL", bad_names[i], r);
    }
    char longname[API_WEB_NAME_MAX + 8];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname + API_WEB_NAME_MAX - 2, ".js", 4); /* 101 bytes */
    assert_int_equal(api_web_resolve(t.root, longname, out, sizeof(out)), -EINVAL);
    /* a relative root is refused too: what it means would depend on the working dir */
    assert_int_equal(api_web_resolve("web", "app.js", out, sizeof(out)), -EINVAL);

    /* plain names that do not lead to a file we serve */
    assert_int_equal(api_web_resolve(t.root, "missing.js", out, sizeof(out)), -ENOENT);
    assert_int_equal(api_web_resolve(t.root, "notes.md", out, sizeof(out)), -ENOENT);
    assert_int_equal(api_web_resolve(t.root, "link.js", out, sizeof(out)), -EACCES);
    char missing_root[120];
    snprintf(missing_root, sizeof(missing_root), "%s/nothing", t.base);
    assert_int_equal(api_web_resolve(missing_root, "app.js", out, sizeof(out)), -ENOENT);
    char small[8];
    assert_int_equal(api_web_resolve(t.root, "app.js", small, sizeof(small)), -ENAMETOOLONG);

    /* and the ones that do */
    assert_int_equal(api_web_resolve(t.root, "app.js", out, sizeof(out)), 0);
    char want[PATH_MAX + 8], real_root[PATH_MAX];
    assert_non_null(realpath(t.root, real_root));
    snprintf(want, sizeof(want), "%s/app.js", real_root);
    assert_string_equal(out, want);
    assert_int_equal(api_web_resolve(t.root, "inside.js", out, sizeof(out)), 0);
    assert_string_equal(out, want);
    assert_int_equal(api_web_resolve(t.root, "img/logo.svg", out, sizeof(out)), 0);
    tree_remove(&t);
}

static void test_read(void **state)
{
    (void)state;
    struct tree t;
    tree_make(&t);
    char *data = NULL;
    size_t len = 0;
    const char *type = NULL;
    assert_int_equal(api_web_read(t.root, "app.js", &data, &len, &type), 0);
    assert_int_equal(len, strlen(app_js));
    assert_memory_equal(data, app_js, len);
    assert_string_equal(type, "text/javascript; charset=utf-8");
    free(data);
    assert_int_equal(api_web_read(t.root, "style.CSS", &data, &len, &type), 0);
    assert_string_equal(type, "text/css; charset=utf-8");
    free(data);
    data = NULL;
    assert_int_equal(api_web_read(t.root, "big.js", &data, &len, &type), -EFBIG);
    assert_int_equal(api_web_read(t.root, "dir.js", &data, &len, &type), -EISDIR);
    assert_int_equal(api_web_read(t.root, "link.js", &data, &len, &type), -EACCES);
    assert_int_equal(api_web_read(t.root, "../secret.js", &data, &len, &type), -EINVAL);
    assert_null(data);
    tree_remove(&t);
}

/* ---- over HTTP: a station with just a rack and the server, on a loop thread ----------- */

struct fixture {
    uv_loop_t loop;
    struct station st;
    uv_thread_t thread;
    uv_async_t stop;
    bool http_closed;
    uint16_t port;
};

static void on_http_closed(void *ud)
{
    ((struct fixture *)ud)->http_closed = true;
}

static void on_stop(uv_async_t *async)
{
    struct fixture *f = async->data;
    http_close(f->st.http, on_http_closed, f);
    f->st.http = NULL;
    uv_close((uv_handle_t *)&f->stop, NULL);
}

static void loop_thread(void *arg)
{
    struct fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void fixture_start(struct fixture *f, const char *root)
{
    memset(f, 0, sizeof(*f));
    char text[512], err[256] = "";
    /* open_reads = no: the dashboard's files must load without a token all the same */
    snprintf(text, sizeof(text),
             "[http]\nlisten = 127.0.0.1:0\nweb_root = %s\n[auth]\nopen_reads = no\n"
             "token = operator:op-0123456789abcdef\n[slot A1]\nport = 1-1.1\n",
             root);
    if (config_load_string(text, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    f->st.started_unix_ms = station_now_unix_ms();
    assert_int_equal(rack_new(&f->st.cfg, NULL, &f->st.rack), 0);
    assert_int_equal(http_start(&f->st, &f->st.http), 0);
    f->port = http_port(f->st.http);
    assert_int_equal(uv_async_init(&f->loop, &f->stop, on_stop), 0);
    f->stop.data = f;
    assert_int_equal(uv_thread_create(&f->thread, loop_thread, f), 0);
}

static void fixture_stop(struct fixture *f)
{
    uv_async_send(&f->stop);
    assert_int_equal(uv_thread_join(&f->thread), 0);
    assert_true(f->http_closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rack_free(f->st.rack);
}

struct response {
    int status;
    char raw[16384];
    const char *body;
};

static void get(struct fixture *f, const char *method, const char *path, struct response *r)
{
    memset(r, 0, sizeof(*r));
    char req[1024];
    int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                       method, path);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {DEADLINE_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, r->raw + got, sizeof(r->raw) - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_msg("%s %s: no answer within %d s", method, path, DEADLINE_S);
        if (n == 0)
            break;
        got += (size_t)n;
        assert_true(got < sizeof(r->raw) - 1);
    }
    close(fd);
    r->raw[got] = '\0';
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
    char *sep = strstr(r->raw, "\r\n\r\n");
    assert_non_null(sep);
    *sep = '\0'; /* r->raw: status line and headers; r->body: the body */
    r->body = sep + 4;
}

static void expect_file(struct fixture *f, const char *path, const char *type, const char *body)
{
    struct response r;
    get(f, "GET", path, &r);
    if (r.status != 200)
        fail_msg("GET %s: %d %s", path, r.status, r.body);
    char header[160];
    snprintf(header, sizeof(header), "Content-Type: %s\r\n", type);
    if (!strstr(r.raw, header))
        fail_msg("GET %s: no '%s' in\n%s", path, type, r.raw);
    assert_non_null(strstr(r.raw, "Cache-Control: "));
    assert_string_equal(r.body, body);
}

static void expect_404(struct fixture *f, const char *path)
{
    struct response r;
    get(f, "GET", path, &r);
    if (r.status != 404)
        fail_msg("GET %s: %d, want 404: %s", path, r.status, r.body);
    assert_null(strstr(r.body, "SECRET"));
    assert_non_null(strstr(r.body, "\"not_found\""));
}

static void test_http(void **state)
{
    (void)state;
    struct tree t;
    tree_make(&t);
    struct fixture f;
    fixture_start(&f, t.root);

    expect_file(&f, "/", "text/html; charset=utf-8", index_html);
    /* the page's own switch (web/app.js) passes; any other query is refused as everywhere */
    expect_file(&f, "/?live=poll", "text/html; charset=utf-8", index_html);
    struct response q;
    get(&f, "GET", "/?lve=poll", &q);
    assert_int_equal(q.status, 400);
    expect_file(&f, "/web/index.html", "text/html; charset=utf-8", index_html);
    expect_file(&f, "/web/app.js", "text/javascript; charset=utf-8", app_js);
    expect_file(&f, "/web/style.CSS", "text/css; charset=utf-8", "body{}");
    expect_file(&f, "/web/img/logo.svg", "image/svg+xml", "<svg/>");
    expect_file(&f, "/web/app%2Ejs", "text/javascript; charset=utf-8", app_js);

    static const char *const refused[] = {
        "/web/../secret.js",
        "/web/%2e%2e/secret.js",
        "/web/..%2Fsecret.js",
        "/web/img/..%2F..%2Fsecret.js",
        "/web/%2Fetc%2Fpasswd",
        "/web/link.js",
        "/web/.hidden.js",
        "/web/app.js%00.html",
        "/web/notes.md",
        "/web/missing.js",
        "/web/big.js",
        "/web/dir.js",
        "/web/img",
        "/web/",
        "/web/img/x/y.svg",
        "/index.html",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        expect_404(&f, refused[i]);

    struct response r;
    get(&f, "HEAD", "/web/app.js", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    get(&f, "POST", "/web/app.js", &r);
    assert_int_equal(r.status, 405);
    /* the API itself still wants its token (open_reads = no) */
    get(&f, "GET", "/api/v1/slots", &r);
    assert_int_equal(r.status, 401);
    fixture_stop(&f);

    /* no dashboard installed: / says so */
    char missing[120];
    snprintf(missing, sizeof(missing), "%s/none", t.base);
    fixture_start(&f, missing);
    get(&f, "GET", "/", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "the dashboard is not installed"));
    fixture_stop(&f);
    tree_remove(&t);
}

static void test_config(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(config_load_string("[station]\nid = x\n", &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.http_web_root, "/usr/share/flashrack/web");
    assert_int_equal(config_load_string("[http]\nweb_root = /srv/web\n", &cfg, err, sizeof(err)),
                     0);
    assert_string_equal(cfg.http_web_root, "/srv/web");
    assert_true(config_load_string("[http]\nweb_root = web\n", &cfg, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "web_root: 'web' is not an absolute path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types), cmocka_unit_test(test_resolve_refuses),
        cmocka_unit_test(test_read),          cmocka_unit_test(test_config),
        cmocka_unit_test(test_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
