/* MES push: the outbox drained through libcurl's multi interface inside the libuv loop
 * (mes_curl.h).
 *
 * Flow: pump() lists due outbox rows, starts a request for each one that is not in flight
 * (up to max_in_flight), and arms the wake timer for the next due row or the next poll.
 * Finished transfers come back through on_transfer_done(), which writes the outcome to the
 * outbox (one short transaction) and pumps again on the next loop turn. In-flight rows are
 * never written before they end, so a crash leaves them pending and the next run resends
 * them. */
#include "mes.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_records.h"
#include "db_outbox.h"
#include "log.h"
#include "mes_curl.h"
#include "station.h"

#define MES_BODY_SNIPPET     200   /* bytes of an error answer kept for last_error */
#define MES_WARN_INTERVAL_MS 30000 /* at most one failure warning per interval */

struct mes_req {
    struct mes *m;
    CURL *easy;
    struct curl_slist *headers;
    int64_t attempt_id;
    uint32_t tries; /* before this send */
    char uuid[DB_UUID_SIZE];
    char body[MES_BODY_SNIPPET + 1];
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
    struct mes_req *next;
};

struct mes {
    uv_loop_t *loop;
    struct db *db;
    struct config_mes cfg;
    struct mes_curl *curl; /* the transfers (mes_curl.h) */
    uv_timer_t wake;       /* next due row or next poll */
    struct mes_req *reqs;
    uint32_t in_flight;
    uint32_t rng;
    bool stopping;
    bool failing;             /* a failure was logged and no send succeeded since */
    uint64_t warned_ms;       /* when the last failure warning was logged */
    uint64_t failed_unwarned; /* failures since then */
    int closing;              /* handles whose close callback is outstanding */
    void (*done)(void *ud);
    void *done_ud;
    struct mes_stats stats;
};

/* ---- pure parts ---- */

uint64_t mes_backoff_ms(uint32_t min_ms, uint32_t max_ms, uint32_t tries, uint32_t random)
{
    uint64_t d = min_ms ? min_ms : 1, half, floor_ms = min_ms / 2;

    if (max_ms < min_ms)
        max_ms = min_ms;
    for (uint32_t i = 1; i < tries && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    half = d / 2;
    d = half + (half + (d & 1)) * (uint64_t)random / UINT32_MAX;
    return d < floor_ms ? floor_ms : d;
}

int mes_status_delivered(long status)
{
    return (status >= 200 && status <= 299) || status == 409;
}

json_t *mes_attempt_json(const struct db_attempt *a)
{
    /* The attempts API's record, so pull and push cannot drift apart; mes_state goes: it
     * describes this very delivery ("pending") and means nothing to the receiver. */
    json_t *o = api_attempt_json(a);

    if (o)
        json_object_del(o, "mes_state");
    return o;
}

/* ---- handles ---- */

static void maybe_done(struct mes *m)
{
    if (m->closing > 0)
        return;
    void (*done)(void *ud) = m->done;
    void *ud = m->done_ud;
    free(m);
    if (done)
        done(ud);
}

/* ---- requests ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct mes_req *req = userp;
    size_t n = size * nmemb, room = MES_BODY_SNIPPET - req->body_len;

    /* The answer matters only as a hint in last_error: keep its start, drop the rest. */
    memcpy(req->body + req->body_len, data, n < room ? n : room);
    req->body_len += n < room ? n : room;
    req->body[req->body_len] = '\0';
    return n;
}

static void req_free(struct mes_req *req)
{
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);
    free(req);
}

static uint32_t next_random(struct mes *m)
{
    /* xorshift32: jitter needs spread, not secrecy */
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 17;
    m->rng ^= m->rng << 5;
    return m->rng;
}

static void reschedule(struct mes *m, int64_t attempt_id, uint32_t tries, int status,
                       const char *error)
{
    uint64_t now = station_now_unix_ms();
    uint64_t delay =
        mes_backoff_ms(m->cfg.backoff_min_ms, m->cfg.backoff_max_ms, tries + 1, next_random(m));
    int r = db_outbox_retry_later(m->db, attempt_id, now, now + delay, status, error, NULL);

    m->stats.failed++;
    m->failed_unwarned++;
    /* An outage fails every record, over and over: one warning per interval, details at
     * debug level. */
    if (!m->warned_ms || now - m->warned_ms >= MES_WARN_INTERVAL_MS) {
        log_warning("mes: %" PRIu64 " sends failed since the last report, latest attempt %" PRId64
                    " (%s); retrying with backoff",
                    m->failed_unwarned, attempt_id, error);
        m->warned_ms = now;
        m->failed_unwarned = 0;
        m->failing = true;
    }
    log_debug("mes: attempt %" PRId64 " failed (%s), try %u, next in %" PRIu64 " ms", attempt_id,
              error, tries + 1, delay);
    if (r < 0) /* the row stays pending as it was: it is simply sent again */
        log_err("mes: cannot record the failed try of attempt %" PRId64 ": %s", attempt_id,
                db_last_error(m->db));
}

static int req_setup(struct mes *m, struct mes_req *req, const char *body)
{
    char key[64 + DB_UUID_SIZE];
    struct curl_slist *h;

    snprintf(key, sizeof(key), "Idempotency-Key: %s", req->uuid);
    h = curl_slist_append(NULL, key);
    if (!h)
        return -ENOMEM;
    req->headers = h;
    int r = mes_curl_post(req->easy, &m->cfg, m->cfg.url, m->cfg.timeout_ms, &req->headers, body,
                          on_body, req, req->errbuf);
    if (r == 0 && curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) != CURLE_OK)
        r = -EIO;
    return r;
}

static void req_start(struct mes *m, const struct db_outbox_entry *e)
{
    struct db_attempt a;
    struct mes_req *req;
    json_t *json;
    char *body = NULL;
    int r = db_attempt_get(m->db, e->attempt_id, &a);

    if (r < 0) {
        reschedule(m, e->attempt_id, e->tries, 0, db_last_error(m->db));
        return;
    }
    req = calloc(1, sizeof(*req));
    json = req ? mes_attempt_json(&a) : NULL;
    body = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (req) {
        req->m = m;
        req->attempt_id = e->attempt_id;
        req->tries = e->tries;
        memcpy(req->uuid, a.attempt_uuid, sizeof(req->uuid));
        req->easy = curl_easy_init();
    }
    r = body && req->easy ? req_setup(m, req, body) : -ENOMEM;
    free(body);
    if (r == 0)
        r = mes_curl_add(m->curl, req->easy);
    if (r < 0) {
        if (req)
            req_free(req);
        reschedule(m, e->attempt_id, e->tries, 0, "cannot build the request (out of memory)");
        return;
    }
    req->next = m->reqs;
    m->reqs = req;
    m->in_flight++;
    m->stats.sent++;
}

static void req_finish(struct mes *m, struct mes_req *req, CURLcode res)
{
    long status = 0;
    char error[DB_MESSAGE_SIZE];
    uint64_t now = station_now_unix_ms();

    if (res == CURLE_OK)
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
    if (res == CURLE_OK && mes_status_delivered(status)) {
        int r = db_outbox_delivered(m->db, req->attempt_id, now, (int)status);
        m->stats.delivered++;
        if (m->failing)
            log_notice("mes: delivering again (attempt %" PRId64 " accepted with HTTP %ld)",
                       req->attempt_id, status);
        m->failing = false;
        log_debug("mes: attempt %" PRId64 " %s delivered, HTTP %ld, try %u", req->attempt_id,
                  req->uuid, status, req->tries + 1);
        /* -EALREADY: marked by hand meanwhile; anything else leaves it pending, so resent */
        if (r < 0 && r != -EALREADY)
            log_err("mes: attempt %" PRId64 " was delivered but cannot be marked so: %s",
                    req->attempt_id, db_last_error(m->db));
        return;
    }
    if (res != CURLE_OK)
        snprintf(error, sizeof(error), "%s%s%s", curl_easy_strerror(res),
                 req->errbuf[0] ? ": " : "", req->errbuf);
    else
        snprintf(error, sizeof(error), "HTTP %ld%s%s", status, req->body_len ? ": " : "",
                 req->body);
    reschedule(m, req->attempt_id, req->tries, (int)status, error);
}

static void on_wake(uv_timer_t *t);

/* A transfer ended (mes_curl.h): record its outcome, then look at the outbox again on the
 * next loop turn (once for all the transfers that ended together). */
static void on_transfer_done(void *ud, CURL *easy, CURLcode res)
{
    struct mes *m = ud;
    struct mes_req *req;
    char *priv = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    req = (struct mes_req *)priv;
    for (struct mes_req **p = &m->reqs; *p; p = &(*p)->next) {
        if (*p == req) {
            *p = req->next;
            break;
        }
    }
    m->in_flight--;
    req_finish(m, req, res);
    req_free(req);
    if (!m->stopping)
        uv_timer_start(&m->wake, on_wake, 0, 0);
}

/* ---- scheduling ---- */

struct due_ctx {
    struct mes *m;
    struct db_outbox_entry rows[64];
    uint32_t n, want;
};

static int on_due(const struct db_outbox_entry *e, void *userdata)
{
    struct due_ctx *c = userdata;

    for (struct mes_req *r = c->m->reqs; r; r = r->next)
        if (r->attempt_id == e->attempt_id)
            return 0;
    c->rows[c->n++] = *e;
    return c->n >= c->want ? 1 : 0;
}

static void pump(struct mes *m);

static void on_wake(uv_timer_t *t)
{
    pump(t->data);
}

static void pump(struct mes *m)
{
    static struct due_ctx c; /* one loop thread; keeps 40 KiB off the stack */
    uint64_t now = station_now_unix_ms(), next, delay = MES_POLL_MS;
    int r = 0;

    if (m->stopping)
        return;
    c = (struct due_ctx){.m = m, .want = m->cfg.max_in_flight - m->in_flight};
    if (c.want > 0) {
        /* in-flight rows are still pending and come back from the query: skip past them */
        r = db_outbox_due(m->db, now, (int)(c.want + m->in_flight), on_due, &c);
        if (r < 0)
            log_err("mes: cannot read the outbox: %s", db_last_error(m->db));
    }
    for (uint32_t i = 0; i < c.n; i++)
        req_start(m, &c.rows[i]);
    if (db_outbox_next_due(m->db, now, &next) == 0 && next - now < delay)
        delay = next - now;
    uv_timer_start(&m->wake, on_wake, delay, 0);
}

void mes_kick(struct mes *m)
{
    if (m && !m->stopping)
        uv_timer_start(&m->wake, on_wake, 0, 0);
}

void mes_get_stats(const struct mes *m, struct mes_stats *ret)
{
    *ret = m->stats;
    ret->in_flight = m->in_flight;
}

int mes_start(uv_loop_t *loop, struct db *db, const struct config_mes *cfg, struct mes **ret)
{
    struct mes *m;

    if (!cfg->url[0])
        return -EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->db = db;
    m->cfg = *cfg;
    m->rng = (uint32_t)(uv_hrtime() ^ ((uint64_t)getpid() << 16)) | 1u;
    int r = mes_curl_new(loop, on_transfer_done, m, &m->curl);
    if (r < 0) {
        free(m);
        return r;
    }
    uv_timer_init(loop, &m->wake);
    m->wake.data = m;
    if (!cfg->tls_verify)
        log_warning("mes: [mes] tls_verify = no: the MES server's certificate is not checked");
    log_notice("mes: pushing finished attempts to %s (at most %u requests at once)", cfg->url,
               cfg->max_in_flight);
    uv_timer_start(&m->wake, on_wake, 0, 0);
    *ret = m;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mes *m = h->data;

    m->closing--;
    maybe_done(m);
}

static void on_curl_closed(void *ud)
{
    struct mes *m = ud;

    m->closing--;
    maybe_done(m);
}

void mes_stop(struct mes *m, void (*done)(void *ud), void *ud)
{
    if (!m || m->stopping)
        return;
    m->stopping = true;
    m->done = done;
    m->done_ud = ud;
    if (m->in_flight)
        log_notice("mes: stopping; %u requests cancelled, their records stay queued", m->in_flight);
    while (m->reqs) {
        struct mes_req *req = m->reqs;
        m->reqs = req->next;
        mes_curl_remove(m->curl, req->easy);
        req_free(req);
    }
    m->in_flight = 0;
    m->closing += 2;
    mes_curl_free(m->curl, on_curl_closed, m);
    uv_close((uv_handle_t *)&m->wake, on_timer_closed);
}
