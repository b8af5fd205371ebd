/* The MES pre-flash interlock (docs/mes-integration.md "Interlock"): before a module that the
 * guard has matched to a recipe is switched to download mode, one POST of the unit's identity
 * to [mes] interlock_url asks the MES whether it may be flashed.
 *
 *   2xx                          cleared: the flow goes on to the switch
 *   4xx but 401, 407, 408, 429   refused: the attempt fails at guard as mes_rejected, with the
 *                                MES's reason (never retried, nothing written to the module)
 *   anything else: no answer in interlock_timeout_ms, a refused connection, TLS, 3xx, 5xx,
 *   and the four statuses above (they say nothing about the unit: a wrong token, a busy MES)
 *                                no answer: [mes] interlock_on_error decides (block or allow)
 *
 * Each call has its own curl multi handle (mes_curl.h, the push's loop glue) that closes with
 * the call: the push's handle exists only while a push URL is set and restarts on reload,
 * and an idle interlock keeps no pooled connection that would hold the loop open at shutdown.
 * Calls are rare (one per module), so losing connection reuse costs nothing that matters. */
#ifndef FLASHRACK_MES_INTERLOCK_H
#define FLASHRACK_MES_INTERLOCK_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "db.h"

#define MES_INTERLOCK_BODY_MAX   4096 /* bytes of an answer read; the rest is dropped */
#define MES_INTERLOCK_REASON_MAX 200  /* bytes of the MES's reason kept (plus "...") */

enum mes_interlock_verdict {
    MES_INTERLOCK_CLEARED = 0,
    MES_INTERLOCK_REFUSED,
    MES_INTERLOCK_NO_ANSWER,
};

struct mes_interlock_answer {
    enum mes_interlock_verdict verdict;
    long status; /* HTTP status, 0 when none came */
    /* refused: the MES's reason ("" when it gave none); no answer: what went wrong */
    char detail[MES_INTERLOCK_REASON_MAX + 120];
};

/* ---- pure parts (unit-tested) ---------------------------------------------------------- */

/* What an HTTP status means; 0 (no answer at all) is MES_INTERLOCK_NO_ANSWER. */
enum mes_interlock_verdict mes_interlock_verdict_of(long status);

/* The MES's reason from an answer body of len bytes (not terminated; untrusted): the string
 * field "reason", else "message", else "error" of a JSON object; else the first non-empty
 * line of the text. Control characters and bytes that are not UTF-8 become spaces, runs of
 * spaces one, and it is cut (on a character boundary, marked "...") to fit
 * MES_INTERLOCK_REASON_MAX and outlen. "" when the body says nothing. */
void mes_interlock_reason(const char *body, size_t len, char *out, size_t outlen);

/* The request body: the unit as the attempt record names it so far (identity, job context,
 * the guard's package) plus the recipe. NULL only when out of memory. */
json_t *mes_interlock_request_json(const struct db_attempt *a, const char *recipe);

/* ---- the call ------------------------------------------------------------------------------ */

struct mes_interlock_call;

/* The answer; called once from the loop, never from inside mes_interlock_start. The call is
 * over then: forget its pointer (it is freed after the callback returns). */
typedef void (*mes_interlock_fn)(void *ud, const struct mes_interlock_answer *answer);

/* Starts the POST to cfg->interlock.url (must be set; token and TLS keys of cfg apply).
 * -EINVAL without a URL, -ENOMEM, -EIO when libcurl refuses; cb is not called then. */
int mes_interlock_start(uv_loop_t *loop, const struct config_mes *cfg, const struct db_attempt *a,
                        const char *recipe, mes_interlock_fn cb, void *ud,
                        struct mes_interlock_call **ret);

/* Cancels a call whose callback has not run: it is never called. NULL does nothing. */
void mes_interlock_cancel(struct mes_interlock_call *call);

#endif
