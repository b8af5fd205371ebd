/* An attempt record on the wire: one field table for the JSON object and the CSV row, so the
 * two formats cannot drift apart, and the streamed CSV export. */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_records.h"
#include "db_query.h"
#include "log.h"
#include "station.h"

#define API_CSV_PAGE 200 /* rows read per refill of the export buffer */

enum field_kind {
    K_TEXT,
    K_ID,    /* int64_t */
    K_INT,   /* int */
    K_U64,   /* uint64_t */
    K_FINAL, /* uint64_t that a running attempt does not have yet: null / empty */
    K_SEQ,   /* int64_t finish_seq, 0 while running: null / empty */
    K_RESULT,
};

struct wire_field {
    const char *name;
    enum field_kind kind;
    size_t off;
};

#define F(name, kind, member)                                                                      \
    {                                                                                              \
        name, kind, offsetof(struct db_attempt, member)                                            \
    }
static const struct wire_field fields[] = {
    F("id", K_ID, id),
    F("attempt_uuid", K_TEXT, attempt_uuid),
    F("station_id", K_TEXT, station_id),
    F("slot", K_TEXT, slot),
    F("usb_path", K_TEXT, usb_path),
    F("operator", K_TEXT, operator_name),
    F("work_order", K_TEXT, work_order),
    F("lot", K_TEXT, lot),
    F("module_model", K_TEXT, module_model),
    F("ordering_code", K_TEXT, ordering_code),
    F("submodel", K_TEXT, submodel),
    F("platform", K_TEXT, platform),
    F("imei", K_TEXT, imei),
    F("revision_before", K_TEXT, revision_before),
    F("revision_after", K_TEXT, revision_after),
    F("package_name", K_TEXT, package_name),
    F("package_version", K_TEXT, package_version),
    F("package_sha256", K_TEXT, package_sha256),
    F("protocol", K_TEXT, protocol),
    F("attempt_no", K_INT, attempt_no),
    F("started_unix_ms", K_U64, started_unix_ms),
    F("ended_unix_ms", K_FINAL, ended_unix_ms),
    F("duration_ms", K_FINAL, duration_ms),
    F("bytes_written", K_U64, bytes_written),
    F("result", K_RESULT, result),
    F("fail_stage", K_TEXT, fail_stage),
    F("fail_code", K_TEXT, fail_code),
    F("fail_message", K_TEXT, fail_message),
    F("log_ref", K_TEXT, log_ref),
    F("mes_state", K_TEXT, mes_state),
    F("finish_seq", K_SEQ, finish_seq),
};
#undef F
#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

/* The field as a number, or false when it has no value (running attempt). */
static bool field_number(const struct db_attempt *a, const struct wire_field *f, int64_t *ret)
{
    const char *p = (const char *)a + f->off;
    switch (f->kind) {
    case K_ID:
        memcpy(ret, p, sizeof(int64_t));
        return true;
    case K_SEQ:
        memcpy(ret, p, sizeof(int64_t));
        return *ret != 0;
    case K_INT: {
        int v;
        memcpy(&v, p, sizeof(v));
        *ret = v;
        return true;
    }
    case K_U64:
    case K_FINAL: {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        *ret = v > INT64_MAX ? INT64_MAX : (int64_t)v;
        return f->kind == K_U64 || a->result != DB_RESULT_RUNNING;
    }
    default:
        return false;
    }
}

static const char *field_text(const struct db_attempt *a, const struct wire_field *f)
{
    if (f->kind == K_RESULT) {
        const char *s = db_result_to_string(a->result);
        return s ? s : "";
    }
    return (const char *)a + f->off;
}

json_t *api_attempt_json(const struct db_attempt *a)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < FIELD_COUNT; i++) {
        const struct wire_field *f = &fields[i];
        int64_t n;
        json_t *v;
        if (f->kind == K_TEXT || f->kind == K_RESULT)
            v = http_json_string(field_text(a, f));
        else
            v = field_number(a, f, &n) ? json_integer(n) : json_null();
        if (json_object_set_new(o, f->name, v) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

size_t api_text_clean(char *text, size_t len)
{
    unsigned char *s = (unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok && n == 2)
            ok = c >= 0xc2; /* overlong */
        if (ok && n == 3)
            ok = !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0);
        if (ok && n == 4)
            ok = c <= 0xf4 && !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
        if (ok && n == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f))
            ok = false;
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
    return len;
}

/* ---- paging -------------------------------------------------------------------------- */

int api_pager_init(struct api_pager *p, struct db *db, const struct db_attempt_filter *f,
                   int64_t cursor)
{
    bool by_seq = f->order == DB_ORDER_FINISH_ASC;
    *p = (struct api_pager){.db = db, .f = *f, .cursor = cursor, .hi = INT64_MAX};
    if (!f->from_unix_ms && !f->to_unix_ms)
        return 0;
    p->window = true;
    p->from = f->from_unix_ms;
    p->to = f->to_unix_ms;
    p->f.from_unix_ms = p->f.to_unix_ms = 0;
    int64_t lo;
    int r = db_window_range(db, p->from, p->to, by_seq, &lo, &p->hi);
    if (r < 0)
        return r;
    if (p->hi == 0 || p->hi <= cursor)
        p->done = true;
    else if (lo - 1 > cursor)
        p->cursor = lo - 1;
    return 0;
}

struct pager_ctx {
    struct api_pager *p;
    int (*cb)(const struct db_attempt *a, void *ud);
    void *ud;
    int want, delivered;
    bool stopped;
};

static int pager_row(const struct db_attempt *a, void *ud)
{
    struct pager_ctx *c = ud;
    struct api_pager *p = c->p;
    int64_t key = p->f.order == DB_ORDER_FINISH_ASC ? a->finish_seq : a->id;
    bool match = !p->window || (a->result != DB_RESULT_RUNNING && a->ended_unix_ms >= p->from &&
                                (!p->to || a->ended_unix_ms < p->to));
    if (key > p->hi) {
        p->done = true;
        c->stopped = true;
        return 1;
    }
    if (match && c->delivered == c->want) { /* one more than asked: there is more */
        p->more = true;
        c->stopped = true;
        return 1;
    }
    p->cursor = key;
    if (!match)
        return 0;
    c->delivered++;
    return c->cb(a, c->ud);
}

int api_pager_next(struct api_pager *p, int want, int (*cb)(const struct db_attempt *a, void *ud),
                   void *ud)
{
    struct pager_ctx c = {.p = p, .cb = cb, .ud = ud, .want = want};
    p->more = false;
    while (!p->done && !p->more) {
        /* Without a window every row matches: want + 1 rows settle "more". In a window,
         * rows outside it are skipped, so read in larger steps. */
        int batch = p->window ? 500 : want - c.delivered + 1;
        c.stopped = false;
        int r = db_attempts_list(p->db, &p->f, p->cursor, batch, pager_row, &c);
        if (r < 0)
            return r;
        if (r < batch && !c.stopped)
            p->done = true;
    }
    return c.delivered;
}

#ifdef HTTP_HAVE_TEXT_REPLIES

/* ---- CSV export ---------------------------------------------------------------------- */

struct csv_stream {
    struct api_pager pager;
    char imei[DB_IMEI_SIZE], work_order[DB_LABEL_SIZE], slot[DB_LABEL_SIZE];
    uint64_t left; /* rows still to send */
    char *buf;
    size_t len, cap, off;
    bool header_done, eof, failed;
};

static bool put(struct csv_stream *s, const char *text, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 16 * 1024;
        while (cap < s->len + n)
            cap *= 2;
        char *grown = realloc(s->buf, cap);
        if (!grown)
            return false;
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    return true;
}

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled. */
static bool put_field(struct csv_stream *s, const char *v, bool last)
{
    bool ok = true;
    if (v[strcspn(v, ",\"\r\n")] == '\0') {
        ok = put(s, v, strlen(v));
    } else {
        ok = put(s, "\"", 1);
        for (const char *p = v; ok && *p; p++)
            ok = *p == '"' ? put(s, "\"\"", 2) : put(s, p, 1);
        ok = ok && put(s, "\"", 1);
    }
    return ok && (last ? put(s, "\r\n", 2) : put(s, ",", 1));
}

static int csv_row(const struct db_attempt *a, void *ud)
{
    struct csv_stream *s = ud;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const struct wire_field *f = &fields[i];
        char num[24] = "";
        int64_t n;
        const char *v = num;
        if (f->kind == K_TEXT || f->kind == K_RESULT)
            v = field_text(a, f);
        else if (field_number(a, f, &n))
            snprintf(num, sizeof(num), "%" PRId64, n);
        if (!put_field(s, v, i + 1 == FIELD_COUNT))
            return -ENOMEM;
    }
    s->left--;
    return 0;
}

/* Refills the buffer with the header (first time) and the next page of rows. */
static int csv_refill(struct csv_stream *s)
{
    s->len = s->off = 0;
    if (!s->header_done) {
        s->header_done = true;
        for (size_t i = 0; i < FIELD_COUNT; i++)
            if (!put_field(s, fields[i].name, i + 1 == FIELD_COUNT))
                return -ENOMEM;
    }
    int page = s->left < API_CSV_PAGE ? (int)s->left : API_CSV_PAGE;
    int r = page ? api_pager_next(&s->pager, page, csv_row, s) : 0;
    if (r < 0) {
        log_err("http: CSV export stopped: %s (%s)", strerror(-r), db_last_error(s->pager.db));
        return r;
    }
    if (s->left == 0 || !s->pager.more)
        s->eof = true;
    return 0;
}

static long csv_read(void *ud, char *out, size_t max)
{
    struct csv_stream *s = ud;
    while (s->off == s->len) {
        if (s->eof || s->failed)
            return s->failed ? -1 : 0;
        if (csv_refill(s) < 0)
            s->failed = true;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(out, s->buf + s->off, n);
    s->off += n;
    return (long)n;
}

static void csv_free(void *ud)
{
    struct csv_stream *s = ud;
    free(s->buf);
    free(s);
}

static const char *copy_field(char *dst, size_t size, const char *src)
{
    if (!src || !*src)
        return NULL;
    snprintf(dst, size, "%s", src); /* the caller checked it fits */
    return dst;
}

void api_attempts_csv(struct http_request *req, const struct db_attempt_filter *f, int64_t cursor,
                      uint64_t limit)
{
    struct csv_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        http_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    struct db *db = http_request_station(req)->db;
    struct db_attempt_filter copy = *f;
    copy.imei = copy_field(s->imei, sizeof(s->imei), f->imei);
    copy.work_order = copy_field(s->work_order, sizeof(s->work_order), f->work_order);
    copy.slot = copy_field(s->slot, sizeof(s->slot), f->slot);
    s->left = limit;
    /* The first page is read now, so a database error is still a proper 500. */
    if (api_pager_init(&s->pager, db, &copy, cursor) < 0 || csv_refill(s) < 0) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "cannot read attempts: %s", db_last_error(db));
        csv_free(s);
        return;
    }
    http_reply_stream(req, MHD_HTTP_OK, "text/csv; charset=utf-8; header=present", csv_read, s,
                      csv_free);
}

#endif
