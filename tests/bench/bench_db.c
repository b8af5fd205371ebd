/* Database throughput: how many attempt records per second the station can write, alone and
 * in batches, and how fast an API/MES pager reads them back. Prints figures; asserts
 * nothing about time (machines are noisy), only that every row arrived.
 *
 *   bench_db [attempts (default 100000)] [directory (default $TMPDIR or /tmp)]
 */
#include "db.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
#define PAGE  1000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, struct db *db, int r)
{
    fprintf(stderr, "bench_db: %s: %s (%s)\n", what, strerror(-r), db ? db_last_error(db) : "");
    exit(1);
}

/* A production-like record: 32 slots, 4 work orders, about 1 in 20 units retried. */
static void fill(struct db_attempt *a, int i)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->station_id, sizeof(a->station_id), "station-07");
    snprintf(a->slot, sizeof(a->slot), "%c%d", 'A' + (i % 32) / 8, i % 8 + 1);
    snprintf(a->usb_path, sizeof(a->usb_path), "1-4.%d.%d", (i % 32) / 8 + 1, i % 8 + 1);
    snprintf(a->operator_name, sizeof(a->operator_name), "op-%d", i % 3);
    snprintf(a->work_order, sizeof(a->work_order), "WO-2024-%04d", i / 25000);
    snprintf(a->lot, sizeof(a->lot), "LOT-%d", i / 5000);
    snprintf(a->module_model, sizeof(a->module_model), "EC800M");
    snprintf(a->ordering_code, sizeof(a->ordering_code), "EC800MCNGA-I05-SGNSA");
    snprintf(a->submodel, sizeof(a->submodel), "CNGA");
    snprintf(a->platform, sizeof(a->platform), "asr");
    snprintf(a->imei, sizeof(a->imei), "86%013d", i % 20 == 19 ? i - 1 : i);
    snprintf(a->revision_before, sizeof(a->revision_before), "EC800MCNGAR01A01M08");
    snprintf(a->package_name, sizeof(a->package_name), "QPY_OCPU_V0001_EC800M_CNGA_FW.zip");
    snprintf(a->package_version, sizeof(a->package_version), "V0001");
    snprintf(a->package_sha256, sizeof(a->package_sha256), "%064d", 7);
    snprintf(a->protocol, sizeof(a->protocol), "asr");
    a->started_unix_ms = 1700000000000ULL + (uint64_t)i * 1000;
}

static void one_attempt(struct db *db, int i)
{
    struct db_attempt a;
    int r;

    fill(&a, i);
    r = db_attempt_begin(db, &a, NULL);
    if (r < 0)
        die("begin", db, r);
    snprintf(a.revision_after, sizeof(a.revision_after), "EC800MCNGAR06A01M08");
    a.result = i % 50 == 7 ? DB_RESULT_FAIL : DB_RESULT_PASS;
    if (a.result == DB_RESULT_FAIL) {
        snprintf(a.fail_stage, sizeof(a.fail_stage), "flash");
        snprintf(a.fail_code, sizeof(a.fail_code), "timeout");
        snprintf(a.fail_message, sizeof(a.fail_message), "no answer to FLASH_DATA in 5000 ms");
    }
    a.ended_unix_ms = a.started_unix_ms + 60000;
    a.duration_ms = 60000;
    a.bytes_written = 7340032;
    r = db_attempt_finish(db, &a);
    if (r < 0)
        die("finish", db, r);
}

static struct db *fresh(const char *path)
{
    char err[512], side[600];
    struct db *db = NULL;
    int r;

    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    r = db_open(path, &db, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench_db: %s\n", err);
        exit(1);
    }
    return db;
}

static int count_row(const struct db_attempt *a, void *userdata)
{
    int64_t *last = userdata;

    last[0] = a->finish_seq ? a->finish_seq : a->id;
    last[1] = a->id;
    return 0;
}

/* Pages through everything the way the API does; returns rows seen. */
static long page_all(struct db *db, enum db_attempt_order order, double *secs)
{
    struct db_attempt_filter f = {.order = order};
    int64_t last[2] = {0, 0}, cursor = 0;
    double t0 = now_s();
    long rows = 0;

    for (;;) {
        int r = db_attempts_list(db, &f, cursor, PAGE, count_row, last);
        if (r < 0)
            die("list", db, r);
        rows += r;
        if (r < PAGE)
            break;
        cursor = order == DB_ORDER_FINISH_ASC ? last[0] : last[1];
    }
    *secs = now_s() - t0;
    return rows;
}

static long long file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
    char dir[512], path[600];
    double t0, t, ts;
    struct db *db;
    long rows;

    if (n <= 0) {
        fprintf(stderr, "usage: bench_db [attempts] [directory]\n");
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/flashrack-bench-db-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/station.db", dir);
    printf("bench_db: %d attempts (begin + finish each), WAL, synchronous=NORMAL, in %s\n", n, dir);

    /* 1. Every begin and every finish its own transaction: what the daemon does. */
    db = fresh(path);
    t0 = now_s();
    for (int i = 0; i < n; i++)
        one_attempt(db, i);
    t = now_s() - t0;
    printf("  individual transactions: %8.2f s  %9.0f attempts/s  %6.1f us per begin+finish\n", t,
           n / t, t * 1e6 / n);
    {
        char wal[700];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        printf("  database file after:     %lld bytes (+ WAL %lld bytes)\n", file_size(path),
               file_size(wal));
    }

    /* 2. Reading back with the cursor, in id order and in finish order (the MES pager). */
    rows = page_all(db, DB_ORDER_ID_ASC, &ts);
    printf("  list by id, pages of %d:     %ld rows in %6.3f s  %9.0f rows/s\n", PAGE, rows, ts,
           rows / ts);
    if (rows != n)
        die("list by id lost rows", db, -EIO);
    rows = page_all(db, DB_ORDER_FINISH_ASC, &ts);
    printf("  list by finish, pages of %d: %ld rows in %6.3f s  %9.0f rows/s\n", PAGE, rows, ts,
           rows / ts);
    if (rows != n)
        die("list by finish lost rows", db, -EIO);
    {
        /* Unit history lookups (GET /units/{imei}). */
        int64_t last[2];
        int lookups = 1000, found = 0;
        t0 = now_s();
        for (int i = 0; i < lookups; i++) {
            char imei[20];
            struct db_attempt_filter f = {.imei = imei};
            snprintf(imei, sizeof(imei), "86%013d", (int)(((long)i * 7919) % n) / 20 * 20 + 18);
            int r = db_attempts_list(db, &f, 0, 100, count_row, last);
            if (r < 0)
                die("imei lookup", db, r);
            found += r;
        }
        t = now_s() - t0;
        printf("  imei history lookups:    %d in %6.3f s  %6.1f us each (%d rows)\n", lookups, t,
               t * 1e6 / lookups, found);
    }
    db_close(db);

    /* 3. The same writes grouped, BATCH attempts per transaction. */
    db = fresh(path);
    t0 = now_s();
    for (int i = 0; i < n; i += BATCH) {
        int r = db_begin(db);
        if (r < 0)
            die("db_begin", db, r);
        for (int k = i; k < n && k < i + BATCH; k++)
            one_attempt(db, k);
        r = db_commit(db);
        if (r < 0)
            die("db_commit", db, r);
    }
    t = now_s() - t0;
    printf("  batches of %d:         %8.2f s  %9.0f attempts/s  %6.1f us per begin+finish\n", BATCH,
           t, n / t, t * 1e6 / n);
    db_close(db);
    printf("  database file:           %lld bytes (%.0f bytes per attempt)\n", file_size(path),
           (double)file_size(path) / n);

    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
