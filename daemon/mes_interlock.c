/* The MES pre-flash interlock (see mes_interlock.h). */
#include "mes_interlock.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mes_curl.h"

/* ---- pure parts ---- */

enum mes_interlock_verdict mes_interlock_verdict_of(long status)
{
    if (status >= 200 && status <= 299)
        return MES_INTERLOCK_CLEARED;
    /* A wrong token, a proxy asking for one, a slow or rate-limiting MES: nothing about the
     * unit, so not a refusal that would send a good unit to the rework bin. */
    if (status == 401 || status == 407 || status == 408 || status == 429)
        return MES_INTERLOCK_NO_ANSWER;
    if (status >= 400 && status <= 499)
        return MES_INTERLOCK_REFUSED;
    return MES_INTERLOCK_NO_ANSWER;
}

/* Length of the well-formed UTF-8 character at s (n bytes left), 0 when it is not one
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Copies text (n bytes, a line or a JSON string) as one clean line: see the header. */
static void sanitise(const char *text, size_t n, char *out, size_t outlen)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t cap = outlen - 1, o = 0, i = 0;
    bool space = false, cut = false;

    if (cap > MES_INTERLOCK_REASON_MAX + 3)
        cap = MES_INTERLOCK_REASON_MAX + 3;
    /* Room for "..." when the text does not fit. */
    size_t room = cap >= 3 ? cap - 3 : 0;
    while (i < n) {
        size_t len = utf8_len(s + i, n - i);
        /* C1 controls and the bidirectional overrides and isolates (U+202A..E,
         * U+2066..9) could make the operator's screen show something else than was sent. */
        bool c1 = len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
        bool bidi = len == 3 && s[i] == 0xe2 &&
                    ((s[i + 1] == 0x80 && s[i + 2] >= 0xaa && s[i + 2] <= 0xae) ||
                     (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9));
        bool blank = len == 0 || s[i] < 0x20 || s[i] == 0x7f || s[i] == ' ' || c1 || bidi;
        if (blank) {
            space = o > 0; /* leading blanks vanish, inner runs become one space */
            i += len ? len : 1;
            continue;
        }
        if (o + (space ? 1 : 0) + len > room) {
            cut = true;
            break;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    if (cut && cap >= 3) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static const char *json_reason(json_t *o, size_t *ret_len)
{
    static const char *const keys[] = {"reason", "message", "error"};

    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (json_is_string(v) && json_string_length(v) > 0) {
            *ret_len = json_string_length(v);
            return json_string_value(v);
        }
    }
    return NULL;
}

void mes_interlock_reason(const char *body, size_t len, char *out, size_t outlen)
{
    size_t i = 0;

    if (!outlen)
        return;
    out[0] = '\0';
    if (!body)
        return;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i < len && body[i] == '{') {
        json_t *o = json_loadb(body + i, len - i, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        if (json_is_object(o)) {
            size_t n = 0;
            const char *r = json_reason(o, &n);
            if (r)
                sanitise(r, n, out, outlen);
            json_decref(o);
            return; /* a JSON answer without a reason gives none: its text is no reason */
        }
        json_decref(o);
    }
    /* Text: the first line (the rest of a proxy's error page or a stack trace is noise). */
    size_t end = i;
    while (end < len && body[end] != '\n' && body[end] != '\r')
        end++;
    sanitise(body + i, end - i, out, outlen);
}

json_t *mes_interlock_request_json(const struct db_attempt *a, const char *recipe)
{
    /* Names as in the attempt record (docs/mes-integration.md), so the MES reads one
     * vocabulary; attempt_uuid ties the answer to the record that follows. */
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                     "s:s, s:s, s:s, s:s}",
                     "attempt_uuid", a->attempt_uuid, "station_id", a->station_id, "slot", a->slot,
                     "usb_path", a->usb_path, "attempt_no", a->attempt_no, "imei", a->imei,
                     "module_model", a->module_model, "ordering_code", a->ordering_code, "submodel",
                     a->submodel, "revision_before", a->revision_before, "operator",
                     a->operator_name, "work_order", a->work_order, "lot", a->lot, "recipe",
                     recipe ? recipe : "", "platform", a->platform, "package_name", a->package_name,
                     "package_version", a->package_version, "package_sha256", a->package_sha256);
}

/* ---- the call ---- */

struct mes_interlock_call {
    struct mes_curl *curl;
    CURL *easy;
    struct curl_slist *headers;
    mes_interlock_fn cb;
    void *ud;
    char body[MES_INTERLOCK_BODY_MAX];
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct mes_interlock_call *c = userp;
    size_t n = size * nmemb, room = sizeof(c->body) - c->body_len;

    /* Bounded: the start of an answer carries the reason; the rest is dropped. */
    memcpy(c->body + c->body_len, data, n < room ? n : room);
    c->body_len += n < room ? n : room;
    return n;
}

static void on_curl_closed(void *ud)
{
    free(ud);
}

/* Ends the call: the easy handle goes (it is out of the multi handle already, or removed
 * here), the multi handle closes and frees the call once its uv handles closed. */
static void call_end(struct mes_interlock_call *c, bool in_multi)
{
    if (c->easy) {
        if (in_multi)
            mes_curl_remove(c->curl, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    mes_curl_free(c->curl, on_curl_closed, c);
}

static void on_done(void *ud, CURL *easy, CURLcode res)
{
    struct mes_interlock_call *c = ud;
    struct mes_interlock_answer ans;
    long status = 0;

    memset(&ans, 0, sizeof(ans));
    if (res == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    ans.status = status;
    ans.verdict = res == CURLE_OK ? mes_interlock_verdict_of(status) : MES_INTERLOCK_NO_ANSWER;
    if (res != CURLE_OK) {
        snprintf(ans.detail, sizeof(ans.detail), "%s%s%.200s", curl_easy_strerror(res),
                 c->errbuf[0] ? ": " : "", c->errbuf);
    } else if (ans.verdict == MES_INTERLOCK_REFUSED) {
        mes_interlock_reason(c->body, c->body_len, ans.detail, sizeof(ans.detail));
    } else if (ans.verdict == MES_INTERLOCK_NO_ANSWER) {
        char reason[MES_INTERLOCK_REASON_MAX + 4];
        mes_interlock_reason(c->body, c->body_len, reason, sizeof(reason));
        snprintf(ans.detail, sizeof(ans.detail), "HTTP %ld%s%s", status, reason[0] ? ": " : "",
                 reason);
    }
    mes_interlock_fn cb = c->cb;
    void *cb_ud = c->ud;
    call_end(c, false); /* c stays allocated until the loop closed its handles */
    cb(cb_ud, &ans);
}

static int call_setup(struct mes_interlock_call *c, const struct config_mes *cfg, const char *json)
{
    c->headers = curl_slist_append(NULL, "Accept: application/json, text/plain");
    if (!c->headers)
        return -ENOMEM;
    return mes_curl_post(c->easy, cfg, cfg->interlock.url, cfg->interlock.timeout_ms, &c->headers,
                         json, on_body, c, c->errbuf);
}

int mes_interlock_start(uv_loop_t *loop, const struct config_mes *cfg, const struct db_attempt *a,
                        const char *recipe, mes_interlock_fn cb, void *ud,
                        struct mes_interlock_call **ret)
{
    struct mes_interlock_call *c;
    json_t *body;
    char *json;
    int r;

    if (!cfg->interlock.url[0])
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cb = cb;
    c->ud = ud;
    r = mes_curl_new(loop, on_done, c, &c->curl);
    if (r < 0) {
        free(c);
        return r;
    }
    body = mes_interlock_request_json(a, recipe);
    json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    c->easy = json ? curl_easy_init() : NULL;
    r = c->easy ? call_setup(c, cfg, json) : -ENOMEM;
    free(json);
    if (r == 0)
        r = mes_curl_add(c->curl, c->easy);
    if (r < 0) {
        call_end(c, false);
        return r;
    }
    *ret = c;
    return 0;
}

void mes_interlock_cancel(struct mes_interlock_call *call)
{
    if (call)
        call_end(call, true);
}
