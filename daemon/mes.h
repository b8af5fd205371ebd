/* MES push (docs/mes-integration.md): drains the outbox (db_outbox.h) by POSTing each
 * finished attempt as JSON to [mes] url with "Idempotency-Key: <attempt uuid>".
 *
 * libcurl's multi interface runs inside the station's libuv loop (mes_curl.h): nothing
 * blocks the loop. At most [mes] max_in_flight requests run at once.
 *
 * A 2xx or 409 answer marks the row delivered. Anything else (another status, a timeout, a
 * refused connection, a TLS failure) schedules the row again after
 * mes_backoff_ms(min, max, tries): exponential, with jitter, capped. Rows are picked earliest
 * next_try first, so a record that keeps failing never holds back the others.
 *
 * Restarts: the outbox is the only state. A request in flight when the daemon stops (or is
 * killed) leaves its row pending; the next run sends it again with the same key. */
#ifndef FLASHRACK_MES_H
#define FLASHRACK_MES_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "db.h"

/* The outbox is looked at this often when nothing else wakes the sender: the upper bound of
 * the delay between an attempt becoming final and its first send. */
#define MES_POLL_MS 500

struct mes;

struct mes_stats {
    uint64_t sent;      /* requests started */
    uint64_t delivered; /* answered 2xx or 409 */
    uint64_t failed;    /* sends that will be retried */
    uint32_t in_flight;
};

/* Starts the sender on loop, reading and updating the outbox through db (which must stay
 * open until the stop completed). cfg->url must be set; cfg is copied. Returns -EINVAL for
 * an empty URL, -ENOMEM, or -EIO when libcurl cannot be set up. */
int mes_start(uv_loop_t *loop, struct db *db, const struct config_mes *cfg, struct mes **ret);

/* Looks at the outbox now instead of at the next poll (after a record was queued). */
void mes_kick(struct mes *m);

/* Stops sending: in-flight requests are cancelled (their rows stay pending), the handles are
 * closed, and done(ud) is called from the loop once the last one closed; m is freed then.
 * m NULL does nothing (done is not called). */
void mes_stop(struct mes *m, void (*done)(void *ud), void *ud);

void mes_get_stats(const struct mes *m, struct mes_stats *ret);

/* ---- pure parts (unit-tested) ---------------------------------------------------------- */

/* Delay before the next try after `tries` failed sends (tries >= 1): d = min(max_ms,
 * min_ms * 2^(tries-1)), then a point in [d/2, d] chosen by random (uniform over uint32),
 * but never below min_ms / 2. Jitter spreads the retries of many records that failed
 * together (an MES outage) instead of sending them in lockstep. */
uint64_t mes_backoff_ms(uint32_t min_ms, uint32_t max_ms, uint32_t tries, uint32_t random);

/* True for an HTTP status that means "the MES has the record": 2xx, and 409 (it had it
 * already: a repeat of a delivered Idempotency-Key). */
int mes_status_delivered(long status);

/* The request body: the attempt record exactly as the attempts API shows it
 * (api_attempt_json), without mes_state (docs/mes-integration.md "Push"). NULL only when out
 * of memory. */
json_t *mes_attempt_json(const struct db_attempt *a);

#endif
