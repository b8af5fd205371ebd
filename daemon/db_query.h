/* Read-only aggregate queries over the attempt records, for the API's unit history, stats and
 * metrics (docs/http.md "Records"). Listing attempts themselves is db_attempts_list (db.h).
 *
 * Every window is [from_unix_ms, to_unix_ms) on ended_unix_ms, so running attempts are never
 * in a window. Errors as in db.h: 0 or a count on success, -errno with db_last_error() set.
 * Each call prepares its statements, binds every value and finalizes them before it returns:
 * no SQL is built from values, and nothing stays open between calls. */
#ifndef FLASHRACK_DB_QUERY_H
#define FLASHRACK_DB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Counts of finished attempts in a window, and the unit (IMEI) yields. */
struct db_stats {
    uint64_t attempts; /* pass + fail + aborted */
    uint64_t pass, fail, aborted;
    /* Units: distinct non-empty IMEIs with a pass or fail attempt in the window. Aborted
     * attempts are no verdict on the module (an operator pulled it, the daemon restarted) and
     * attempts without an IMEI cannot be tied to a module: neither counts for yields. */
    uint64_t units;
    uint64_t units_first_pass; /* the unit's first pass/fail attempt ever was a pass */
    uint64_t units_final_pass; /* its latest pass/fail attempt ended before `to` was a pass */
    /* Nearest-rank percentiles of duration_ms over the window's passes (0 without passes). */
    uint64_t pass_duration_p50_ms, pass_duration_p95_ms;
};

int db_stats_summary(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms,
                     struct db_stats *ret);

/* Passes per UTC hour in the window: cb(hour_start_unix_ms, passes) for each hour that has
 * any, oldest first. Returns the number of calls. cb returns as in db.h lists. */
int db_stats_hourly(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms,
                    int (*cb)(uint64_t hour_start_unix_ms, uint64_t passes, void *ud), void *ud);

/* Failed attempts in the window by fail_code, most frequent first (at most limit codes). */
int db_stats_fail_codes(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, int limit,
                        int (*cb)(const char *code, uint64_t count, void *ud), void *ud);

struct db_slot_stats {
    char slot[DB_LABEL_SIZE];
    uint64_t attempts, pass, fail, aborted;
};

/* Finished attempts in the window per slot label, in label order (at most limit slots). */
int db_stats_slots(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, int limit,
                   int (*cb)(const struct db_slot_stats *s, void *ud), void *ud);

/* The range of attempt ids (by_seq: of finish_seq values) of the attempts that ended in
 * [from_unix_ms, to_unix_ms) (to 0 = no upper bound), read from the window index alone:
 * a pager walks that range in id order instead of sorting the window's rows for every page.
 * *lo = *hi = 0 when none ended in the window. */
int db_window_range(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, bool by_seq,
                    int64_t *lo, int64_t *hi);

/* The file of db, for a second connection (db_open_readonly) on another thread: WAL lets it
 * read while db writes. -ENOENT for a database without a file (in memory), -ENAMETOOLONG. */
int db_file_path(struct db *db, char *out, size_t outlen);

/* What the records say about one module. */
struct db_unit {
    uint64_t attempts; /* all, running included */
    uint64_t pass, fail, aborted, running;
    int64_t first_id, latest_id; /* smallest and largest attempt id */
    /* The latest finished attempt: its result is the unit's verdict (DB_RESULT_ANY and id 0
     * while nothing finished yet). */
    int64_t verdict_id;
    enum db_result verdict;
    uint64_t verdict_unix_ms;
};

/* -ENOENT when no attempt has this IMEI. */
int db_unit_get(struct db *db, const char *imei, struct db_unit *ret);

/* Finished attempts with finish_seq > after_seq, counted by result into counts[result]
 * (added, not overwritten: the caller keeps running totals); *ret_max_seq becomes the
 * largest finish_seq seen (unchanged when there is none). Finished records never change, so
 * totals built this way are exact. */
int db_attempts_count_finished(struct db *db, int64_t after_seq, uint64_t counts[5],
                               int64_t *ret_max_seq);
/* Attempts still running. */
int db_attempts_count_running(struct db *db, uint64_t *ret);

#endif
