/* Shared by api_records.c, api_records_fmt.c and api_stats.c: how an attempt record looks on
 * the wire. */
#ifndef FLASHRACK_API_RECORDS_H
#define FLASHRACK_API_RECORDS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

/* Bytes of an attempt's log shown by GET /api/v1/attempts/{id} (its end, when longer). */
#define API_LOG_MAX (256 * 1024)

/* Every field of the record, in the column order of the CSV export; fields that a running
 * attempt does not have yet (ended_unix_ms, duration_ms, finish_seq) are null. */
json_t *api_attempt_json(const struct db_attempt *a);

/* Makes text[0..len) valid UTF-8 in place for a JSON string: invalid bytes and control
 * characters other than newline and tab become '?'. Returns len. */
size_t api_text_clean(char *text, size_t len);

/* Pages through the attempts matching a filter for the list, the unit history and the CSV
 * export. With a time window (from/to) it does not let SQLite sort the window's rows on
 * every page: it reads the window's id range from the window index once
 * (db_window_range), walks that range in id (or finish_seq) order and keeps the rows that
 * ended in the window. */
struct api_pager {
    struct db *db;
    struct db_attempt_filter f; /* as given to db_attempts_list: no time bounds */
    uint64_t from, to;          /* the window (to 0: none), checked per row */
    bool window;
    int64_t cursor; /* id (finish_seq in finish order) to go on after */
    int64_t hi;     /* the last id/finish_seq that can match */
    bool more;      /* a row after the last one delivered matches */
    bool done;      /* nothing after cursor matches */
};

/* f's strings are borrowed (keep them alive while paging). Returns 0 or -errno. */
int api_pager_init(struct api_pager *p, struct db *db, const struct db_attempt_filter *f,
                   int64_t cursor);
/* Hands up to want matching rows to cb (which returns 0, or < 0 to fail); returns how many,
 * or -errno. Afterwards p->cursor is where to go on, and p->more / p->done say whether
 * anything is left. */
int api_pager_next(struct api_pager *p, int want, int (*cb)(const struct db_attempt *a, void *ud),
                   void *ud);

/* GET /api/v1/stats (api_stats.c): computed on a worker with its own read-only connection. */
void api_stats_get(struct http_request *req);

#ifdef HTTP_HAVE_TEXT_REPLIES
/* Answers with the attempts matching f after cursor as RFC 4180 CSV (header row, CRLF),
 * at most limit rows, streamed: rows are read API_CSV_PAGE at a time as the client drains
 * the previous ones, so memory stays bounded however many match. f's strings are copied. */
void api_attempts_csv(struct http_request *req, const struct db_attempt_filter *f, int64_t cursor,
                      uint64_t limit);
#endif

#endif
