/* The dashboard's static files (web/): GET / is index.html, GET /web/NAME and
 * /web/DIR/NAME are the files under [http] web_root.
 *
 * The path comes from the client, so it is checked twice: each segment must be a plain name
 * (letters, digits, '-', '_', '.', not starting with '.', so no "..", no hidden files, no
 * NUL, no '/' or '\\' smuggled in by %2F), and the resolved path (realpath, which follows
 * symlinks) must still lie inside the resolved web root. Only the file types the dashboard
 * uses are served, each with its Content-Type; anything else is a 404, as is a file over
 * API_WEB_FILE_MAX. The files are small and local, so reading one on the loop thread costs
 * less than handing it to a worker (docs/http.md "Dashboard").
 *
 * The routes are public (HTTP_ROLE_PUBLIC): a browser cannot send a bearer token when it
 * loads a page, and the page must load to ask for one. The files hold no station data. */
#include "api_web.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "station.h"

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *api_web_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* One path segment as the dashboard names its files: nothing that could climb, hide or
 * escape, and short enough for any file system. */
static bool plain_name(const char *s, size_t len)
{
    if (len == 0 || len > API_WEB_NAME_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

int api_web_resolve(const char *root, const char *rel, char *out, size_t size)
{
    if (!root || root[0] != '/' || !rel || !*rel || rel[0] == '/')
        return -EINVAL;
    size_t segments = 0;
    for (const char *p = rel;;) {
        size_t n = strcspn(p, "/");
        if (!plain_name(p, n) || ++segments > API_WEB_DEPTH_MAX)
            return -EINVAL;
        if (!p[n])
            break;
        p += n + 1;
    }
    if (!api_web_content_type(rel))
        return -ENOENT; /* not a type we serve: as if it were not there */

    char real_root[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, real_root))
        return -errno;
    int n = snprintf(joined, sizeof(joined), "%s/%s", real_root, rel);
    if (n < 0 || (size_t)n >= sizeof(joined))
        return -ENAMETOOLONG;
    if (!realpath(joined, real))
        return -errno;
    /* A symlink may point anywhere: what counts is where it ends up. */
    size_t rl = strlen(real_root);
    bool inside = strncmp(real, real_root, rl) == 0 && (real[rl] == '/' || rl == 1);
    if (!inside)
        return -EACCES;
    if (strlen(real) >= size)
        return -ENAMETOOLONG;
    memcpy(out, real, strlen(real) + 1);
    return 0;
}

int api_web_read(const char *root, const char *rel, char **data, size_t *len, const char **type)
{
    char path[PATH_MAX];
    int r = api_web_resolve(root, rel, path, sizeof(path));
    if (r < 0)
        return r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return S_ISDIR(sb.st_mode) ? -EISDIR : -ENOENT;
    }
    if (sb.st_size > API_WEB_FILE_MAX) {
        close(fd);
        return -EFBIG;
    }
    /* +1: one byte more than stat said tells a file that grew meanwhile */
    size_t cap = (size_t)sb.st_size + 1, got = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t k = read(fd, buf + got, cap - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = -errno;
            break;
        }
        if (k == 0)
            break;
        got += (size_t)k;
        if (got == cap) {
            r = -EFBIG; /* it is being rewritten: a reload gets the whole file */
            break;
        }
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    *data = buf;
    *len = got;
    *type = api_web_content_type(rel);
    return 0;
}

static void serve(struct http_request *req, const char *rel)
{
    const char *root = http_request_station(req)->cfg.http_web_root;
    char *data = NULL;
    size_t len = 0;
    const char *type = NULL;
    int r = api_web_read(root, rel, &data, &len, &type);
    if (r == 0) {
        http_reply_text(req, MHD_HTTP_OK, type, data, len);
        return;
    }
    if (r == -ENOMEM) {
        http_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    /* Everything else looks the same from outside: a path that climbs, a symlink out of the
     * root and a missing file must not be told apart. The log says which it was. */
    if (r != -ENOENT && r != -EINVAL)
        log_warning("http: dashboard file '%s' under %s not served: %s", rel, root, strerror(-r));
    if (strcmp(rel, "index.html") == 0 && r == -ENOENT)
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                         "the dashboard is not installed ([http] web_root = %s)", root);
    else
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no dashboard file '%s'", rel);
}

static void get_index(struct http_request *req)
{
    serve(req, "index.html");
}

static void get_file(struct http_request *req)
{
    serve(req, http_request_param(req, "file"));
}

static void get_dir_file(struct http_request *req)
{
    char rel[2 * HTTP_SEGMENT_MAX + 2];
    snprintf(rel, sizeof(rel), "%s/%s", http_request_param(req, "dir"),
             http_request_param(req, "file"));
    serve(req, rel);
}

/* The page's own switch (web/app.js: ?live=poll forces polling, ?live=stream the stream); the
 * page reads it, the station only has to let it through. */
static const char *const index_query[] = {"live", NULL};

const struct http_route api_web_routes[] = {
    {.methods = HTTP_GET,
     .pattern = "/",
     .handler = get_index,
     .role = HTTP_ROLE_PUBLIC,
     .query = index_query},
    {.methods = HTTP_GET, .pattern = "/web/{file}", .handler = get_file, .role = HTTP_ROLE_PUBLIC},
    {.methods = HTTP_GET,
     .pattern = "/web/{dir}/{file}",
     .handler = get_dir_file,
     .role = HTTP_ROLE_PUBLIC},
    {.handler = NULL},
};
