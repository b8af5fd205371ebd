/* The MES outbox (schema version 2): one row per finished attempt, queued by triggers in the
 * same statement that makes the attempt final (db_attempt_finish, db_attempts_abort_running),
 * so a record is final and queued, or neither, whatever crashes when. mes.c drains it.
 *
 * Delivery is at least once: a row stays 'pending' until the MES acknowledged it, and a
 * request that was in flight when the daemon died is sent again after the restart with the
 * same Idempotency-Key (the attempt UUID), which is how the MES recognises it.
 *
 * While queued, attempts.mes_state is "pending"; db_outbox_delivered sets it to "delivered"
 * in the same transaction as the outbox row. (db_attempt_finish does not write the new
 * mes_state back into the caller's struct: re-read the attempt when it matters.)
 *
 * Errors as in db.h: 0 or a count on success, -errno with db_last_error() set. Each call
 * prepares its statement, binds every value and finalizes it before returning. */
#ifndef FLASHRACK_DB_OUTBOX_H
#define FLASHRACK_DB_OUTBOX_H

#include <stdint.h>

#include "db.h"

enum db_outbox_state {
    DB_OUTBOX_PENDING = 1,
    DB_OUTBOX_DELIVERED,
    DB_OUTBOX_FAILED, /* set only by hand: an operator gave the record up */
};
/* "pending", "delivered", "failed"; NULL if out of range. */
const char *db_outbox_state_to_string(enum db_outbox_state s);

struct db_outbox_entry {
    int64_t attempt_id;
    enum db_outbox_state state;
    uint32_t tries;             /* sends that got an answer or a network error */
    uint64_t queued_unix_ms;    /* the attempt's ended_unix_ms */
    uint64_t next_try_unix_ms;  /* not before this (0 = at once) */
    uint64_t last_try_unix_ms;  /* when the last send ended (0 = never) */
    uint64_t delivered_unix_ms; /* 0 unless delivered */
    int last_status;            /* HTTP status of the last send, 0 for a network error */
    char last_error[DB_MESSAGE_SIZE];
};

/* Pending rows due at now_ms (next_try_unix_ms <= now_ms), earliest next_try first (then
 * attempt id), at most limit (> 0), through cb as in db.h lists. Returns the count. */
int db_outbox_due(struct db *db, uint64_t now_ms, int limit,
                  int (*cb)(const struct db_outbox_entry *e, void *userdata), void *userdata);

/* The earliest next_try_unix_ms of pending rows that are due strictly after now_ms:
 * 0 and *ret set, or -ENOENT when there is none. */
int db_outbox_next_due(struct db *db, uint64_t now_ms, uint64_t *ret);

/* Counts of rows per state (any pointer may be NULL). */
int db_outbox_counts(struct db *db, int64_t *pending, int64_t *delivered, int64_t *failed);

/* The MES acknowledged the attempt: the row becomes 'delivered' (tries + 1, last_status,
 * delivered and last_try at now_ms) and attempts.mes_state "delivered", in one transaction.
 * -ENOENT: no such row; -EALREADY: not pending (nothing changes). */
int db_outbox_delivered(struct db *db, int64_t attempt_id, uint64_t now_ms, int http_status);

/* A send failed: tries + 1, last_try = now_ms, next_try = next_try_ms, last_status and
 * last_error (untrusted text: cut and cleaned like db_field_set). *ret_tries (optional) gets
 * the new count. -ENOENT: no such row; -EALREADY: not pending. */
int db_outbox_retry_later(struct db *db, int64_t attempt_id, uint64_t now_ms, uint64_t next_try_ms,
                          int http_status, const char *error, uint32_t *ret_tries);

/* Fills *ret; -ENOENT if the attempt has no outbox row (running, or finished before schema
 * version 2). */
int db_outbox_get(struct db *db, int64_t attempt_id, struct db_outbox_entry *ret);

#endif
