/* The records read side (docs/http.md "Records"): attempts with a cursor and filters (JSON or
 * a streamed CSV export), one attempt with its wire trace, the history of one module, and
 * yield statistics (api_stats.c). Everything but the statistics is read from the database on
 * the loop thread with short, bounded queries: a page is at most API_PAGE_MAX rows, a CSV
 * export is fetched API_CSV_PAGE rows at a time as the socket drains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "api_records.h"
#include "db.h"
#include "db_query.h"
#include "log.h"
#include "station.h"
#include "uuid.h"

#define API_PAGE_DEFAULT 100
#define API_PAGE_MAX     1000

static bool have_db(struct http_request *req)
{
    if (http_request_station(req)->db)
        return true;
    http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                     "the station has no database");
    return false;
}

static void reply_db_error(struct http_request *req, int r, const char *what)
{
    struct db *db = http_request_station(req)->db;
    http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot read %s: %s (%s)",
                     what, strerror(-r), db_last_error(db));
}

/* ---- filters ------------------------------------------------------------------------ */

#ifdef HTTP_HAVE_TEXT_REPLIES
/* A text filter: absent is NULL (no filter); present must be non-empty, fit the column and be
 * printable UTF-8 (anything else could never match a stored value). */
static int query_text(struct http_request *req, const char *name, size_t size, const char **ret)
{
    const char *v = http_query_string(req, name);
    *ret = NULL;
    if (!v)
        return 0;
    char clean[DB_LABEL_SIZE];
    size_t len = strlen(v);
    if (len == 0 || len >= size || db_field_set(clean, sizeof(clean), v) < 0 ||
        strcmp(clean, v) != 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "query parameter '%s' must be 1 to %zu bytes of printable UTF-8", name,
                         size - 1);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}
#endif

/* Parses the filter members common to the list and the CSV export. */
static int parse_filter(struct http_request *req, struct db_attempt_filter *f)
{
    uint64_t from, to;
    memset(f, 0, sizeof(*f));
    if (http_query_u64(req, "from", 0, INT64_MAX, 0, &from) < 0 ||
        http_query_u64(req, "to", 1, INT64_MAX, 0, &to) < 0)
        return -EINVAL;
    if (from && to && from >= to) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "'from' (%llu) must be before 'to' (%llu)", (unsigned long long)from,
                         (unsigned long long)to);
        return -EINVAL;
    }
    f->from_unix_ms = from;
    f->to_unix_ms = to;
#ifdef HTTP_HAVE_TEXT_REPLIES
    const char *result;
    if (query_text(req, "imei", DB_IMEI_SIZE, &f->imei) < 0 ||
        query_text(req, "work_order", DB_LABEL_SIZE, &f->work_order) < 0 ||
        query_text(req, "slot", DB_LABEL_SIZE, &f->slot) < 0 ||
        query_text(req, "result", DB_LABEL_SIZE, &result) < 0)
        return -EINVAL;
    if (result) {
        int res = db_result_from_string(result);
        if (res < 0) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "query parameter 'result' must be running, pass, fail or aborted");
            return -EINVAL;
        }
        f->result = (enum db_result)res;
    }
#endif
    return 0;
}

/* since_id pages on the attempt id (every attempt, running ones included, in start order);
 * since_seq pages on finish_seq (finished attempts only, in the order they became final). */
static int parse_cursor(struct http_request *req, struct db_attempt_filter *f, int64_t *cursor)
{
    uint64_t since_id, since_seq;
    if (http_query_u64(req, "since_id", 0, INT64_MAX, UINT64_MAX, &since_id) < 0 ||
        http_query_u64(req, "since_seq", 0, INT64_MAX, UINT64_MAX, &since_seq) < 0)
        return -EINVAL;
    if (since_id != UINT64_MAX && since_seq != UINT64_MAX) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "give either 'since_id' or 'since_seq', not both");
        return -EINVAL;
    }
    f->order = since_seq != UINT64_MAX ? DB_ORDER_FINISH_ASC : DB_ORDER_ID_ASC;
    *cursor = (int64_t)(since_seq != UINT64_MAX  ? since_seq
                        : since_id == UINT64_MAX ? 0
                                                 : since_id);
    return 0;
}

/* ---- attempts list ------------------------------------------------------------------ */

struct page {
    json_t *list;
    int64_t next; /* cursor to go on from */
    bool more;
};

static int add_attempt(const struct db_attempt *a, void *ud)
{
    return json_array_append_new(ud, api_attempt_json(a)) < 0 ? -ENOMEM : 0;
}

/* Fetches up to limit attempts after cursor into a fresh page. */
static int fetch_page(struct http_request *req, const struct db_attempt_filter *f, int64_t cursor,
                      int limit, struct page *p)
{
    struct api_pager pager;
    *p = (struct page){.list = json_array()};
    if (!p->list) {
        http_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return -ENOMEM;
    }
    int r = api_pager_init(&pager, http_request_station(req)->db, f, cursor);
    if (r == 0)
        r = api_pager_next(&pager, limit, add_attempt, p->list);
    if (r < 0) {
        json_decref(p->list);
        reply_db_error(req, r, "attempts");
        return r;
    }
    p->next = pager.cursor;
    p->more = pager.more;
    return 0;
}

static void get_attempts(struct http_request *req)
{
    struct db_attempt_filter f;
    int64_t cursor;
    uint64_t limit;
    if (parse_filter(req, &f) < 0 || parse_cursor(req, &f, &cursor) < 0)
        return;
#ifdef HTTP_HAVE_TEXT_REPLIES
    const char *format = http_query_string(req, "format");
    if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "query parameter 'format' must be json or csv");
        return;
    }
    if (format && strcmp(format, "csv") == 0) {
        /* An export may be as large as the records: no limit unless one is given. */
        if (http_query_u64(req, "limit", 1, INT64_MAX, INT64_MAX, &limit) < 0 || !have_db(req))
            return;
        api_attempts_csv(req, &f, cursor, limit);
        return;
    }
#endif
    if (http_query_u64(req, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, &limit) < 0 ||
        !have_db(req))
        return;
    struct page p;
    if (fetch_page(req, &f, cursor, (int)limit, &p) < 0)
        return;
    bool by_seq = f.order == DB_ORDER_FINISH_ASC;
    http_reply_json(req, MHD_HTTP_OK,
                    json_pack("{s:o, s:I, s:b}", "attempts", p.list,
                              by_seq ? "next_since_seq" : "next_since_id", (json_int_t)p.next,
                              "more", p.more));
}

/* ---- one attempt and its log -------------------------------------------------------- */

/* A log_ref is written by the daemon ("attempts/<uuid>.log"), but the database is a file
 * anyone with the sqlite3 CLI can edit: only plain relative paths below data_dir are read. */
static bool log_ref_ok(const char *ref)
{
    size_t seg = 0;
    if (!ref[0] || ref[0] == '/')
        return false;
    for (const char *p = ref;; p++) {
        if (*p == '/' || *p == '\0') {
            const char *start = p - seg;
            if (seg == 0 || (seg == 1 && start[0] == '.') ||
                (seg == 2 && start[0] == '.' && start[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = 0;
            continue;
        }
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';
        if (!plain)
            return false;
        seg++;
    }
}

static json_t *log_error(const char *ref, const char *fmt, const char *detail)
{
    char message[256];
    snprintf(message, sizeof(message), fmt, detail);
    return json_pack("{s:o, s:n, s:b, s:n, s:s}", "ref", http_json_string(ref), "bytes",
                     "truncated", 0, "text", "error", message);
}

/* {"ref","bytes","truncated","text"}: the last API_LOG_MAX bytes of data_dir/ref (the end
 * of a wire trace is where the failure is), or the same with "error" and a null text. */
static json_t *log_json(const char *data_dir, const char *ref)
{
    if (!ref[0])
        return json_null();
    if (!log_ref_ok(ref))
        return log_error(ref, "%s", "log_ref is not a plain path below data_dir: not read");
    char path[PATH_MAX], real[PATH_MAX], base[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", data_dir, ref) >= (int)sizeof(path))
        return log_error(ref, "%s", "path too long");
    /* No symlink anywhere may lead out of data_dir either. */
    if (!realpath(data_dir, base) || !realpath(path, real))
        return log_error(ref, "cannot read the log: %s", strerror(errno));
    size_t blen = strlen(base);
    if (strncmp(real, base, blen) != 0 || (real[blen] != '/' && blen != 1))
        return log_error(ref, "%s", "log_ref leads outside data_dir: not read");
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        return log_error(ref, "cannot read the log: %s", strerror(errno));
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return log_error(ref, "%s", "the log is not a regular file");
    }
    uint64_t size = (uint64_t)sb.st_size, want = size < API_LOG_MAX ? size : API_LOG_MAX;
    char *buf = malloc(want + 1);
    ssize_t got = buf ? pread(fd, buf, want, (off_t)(size - want)) : -1;
    int e = errno;
    close(fd);
    if (got < 0) {
        free(buf);
        return log_error(ref, "cannot read the log: %s", strerror(buf ? e : ENOMEM));
    }
    size_t len = api_text_clean(buf, (size_t)got);
    json_t *text = json_stringn(buf, len);
    free(buf);
    return json_pack("{s:o, s:I, s:b, s:o}", "ref", http_json_string(ref), "bytes",
                     (json_int_t)size, "truncated", size > want, "text", text ? text : json_null());
}

/* "{id}" is a decimal id or an attempt UUID (the MES Idempotency-Key). */
static void get_attempt(struct http_request *req)
{
    struct station *st = http_request_station(req);
    const char *key = http_request_param(req, "id");
    struct db_attempt a;
    int r;
    if (!have_db(req))
        return;
    if (uuid_is_valid(key)) {
        r = db_attempt_get_by_uuid(st->db, key, &a);
    } else {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(key, &end, 10);
        if (key[0] < '0' || key[0] > '9' || *end || errno || id == 0 || id > INT64_MAX) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "attempt '%s' is neither an id (1 and up) nor a UUID", key);
            return;
        }
        r = db_attempt_get(st->db, (int64_t)id, &a);
    }
    if (r == -ENOENT) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no attempt '%s'", key);
        return;
    }
    if (r < 0) {
        reply_db_error(req, r, "the attempt");
        return;
    }
    json_t *body = api_attempt_json(&a);
    if (body && json_object_set_new(body, "log", log_json(st->cfg.data_dir, a.log_ref)) < 0) {
        json_decref(body);
        body = NULL;
    }
    http_reply_json(req, MHD_HTTP_OK, body);
}

/* ---- units -------------------------------------------------------------------------- */

static void get_unit(struct http_request *req)
{
    struct station *st = http_request_station(req);
    const char *imei = http_request_param(req, "imei");
    struct db_attempt_filter f = {.imei = imei, .order = DB_ORDER_ID_ASC};
    uint64_t since_id, limit;
    struct db_unit u;
    if (http_query_u64(req, "since_id", 0, INT64_MAX, 0, &since_id) < 0 ||
        http_query_u64(req, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, &limit) < 0 ||
        !have_db(req))
        return;
    char clean[DB_IMEI_SIZE];
    if (strlen(imei) >= DB_IMEI_SIZE || db_field_set(clean, sizeof(clean), imei) < 0 ||
        strcmp(clean, imei) != 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "IMEI '%s' is not 1 to %d bytes of printable UTF-8", imei,
                         DB_IMEI_SIZE - 1);
        return;
    }
    int r = db_unit_get(st->db, imei, &u);
    if (r == -ENOENT) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no attempt with IMEI '%s'", imei);
        return;
    }
    if (r < 0) {
        reply_db_error(req, r, "the unit history");
        return;
    }
    struct page p;
    if (fetch_page(req, &f, (int64_t)since_id, (int)limit, &p) < 0)
        return;
    json_t *verdict = u.verdict_id ? json_string(db_result_to_string(u.verdict)) : json_null();
    http_reply_json(
        req, MHD_HTTP_OK,
        json_pack("{s:o, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:b}",
                  "imei", http_json_string(imei), "attempts_total", (json_int_t)u.attempts,
                  "counts", "pass", (json_int_t)u.pass, "fail", (json_int_t)u.fail, "aborted",
                  (json_int_t)u.aborted, "running", (json_int_t)u.running, "first_attempt_id",
                  (json_int_t)u.first_id, "latest_attempt_id", (json_int_t)u.latest_id, "verdict",
                  verdict, "verdict_attempt_id",
                  u.verdict_id ? json_integer(u.verdict_id) : json_null(), "verdict_unix_ms",
                  u.verdict_id ? json_integer((json_int_t)u.verdict_unix_ms) : json_null(),
                  "attempts", p.list, "next_since_id", (json_int_t)p.next, "more", p.more));
}

#ifdef HTTP_HAVE_TEXT_REPLIES
static const char *const attempts_query[] = {"since_id", "since_seq", "imei", "work_order",
                                             "result",   "slot",      "from", "to",
                                             "limit",    "format",    NULL};
#else
static const char *const attempts_query[] = {"since_id", "since_seq", "from", "to", "limit", NULL};
#endif
static const char *const unit_query[] = {"since_id", "limit", NULL};
static const char *const stats_query[] = {"from", "to", NULL};

const struct http_route api_records_routes[] = {
    {.methods = HTTP_GET,
     .pattern = "/api/v1/attempts",
     .query = attempts_query,
     .handler = get_attempts},
    {.methods = HTTP_GET,
     .pattern = "/api/v1/attempts/{id}",
     .query = NULL,
     .handler = get_attempt},
    {.methods = HTTP_GET,
     .pattern = "/api/v1/units/{imei}",
     .query = unit_query,
     .handler = get_unit},
    {.methods = HTTP_GET,
     .pattern = "/api/v1/stats",
     .query = stats_query,
     .handler = api_stats_get},
    {.handler = NULL},
};
