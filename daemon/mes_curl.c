/* libcurl multi inside the libuv loop (see mes_curl.h). */
#include "mes_curl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

struct mes_sock {
    uv_poll_t poll;
    struct mes_curl *mc;
    curl_socket_t fd;
    struct mes_sock *next;
};

struct mes_curl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout */
    struct mes_sock *socks;
    mes_curl_done_fn done;
    void *ud;
    bool stopping;
    int closing; /* handles whose close callback is outstanding */
    void (*closed)(void *ud);
    void *closed_ud;
};

static void maybe_closed(struct mes_curl *mc)
{
    if (mc->closing > 0)
        return;
    void (*closed)(void *ud) = mc->closed;
    void *ud = mc->closed_ud;
    free(mc);
    curl_global_cleanup();
    if (closed)
        closed(ud);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct mes_sock *s = h->data;
    struct mes_curl *mc = s->mc;

    free(s);
    mc->closing--;
    if (mc->stopping)
        maybe_closed(mc);
}

static void sock_close(struct mes_curl *mc, struct mes_sock *s)
{
    for (struct mes_sock **p = &mc->socks; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    mc->closing++;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Hands every finished transfer to its owner. The owner may free mc from done(): nothing of
 * mc is touched after that (the memory itself stays until the close callbacks ran). */
static void check_done(struct mes_curl *mc)
{
    CURLMsg *msg;
    int left;

    while (!mc->stopping && (msg = curl_multi_info_read(mc->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result; /* msg is invalid after remove_handle */
        curl_multi_remove_handle(mc->multi, easy);
        mc->done(mc->ud, easy, res);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct mes_sock *s = h->data;
    struct mes_curl *mc = s->mc;
    int flags, running;

    if (mc->stopping)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(mc->multi, s->fd, flags, &running);
    check_done(mc);
}

/* CURLMOPT_SOCKETFUNCTION: what to watch on one of curl's sockets. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct mes_curl *mc = userp;
    struct mes_sock *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (!mc->stopping) /* inside curl_multi_cleanup the socket is going anyway */
                curl_multi_assign(mc->multi, fd, NULL);
            sock_close(mc, s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        if (uv_poll_init_socket(mc->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->mc = mc;
        s->fd = fd;
        s->poll.data = s;
        s->next = mc->socks;
        mc->socks = s;
        curl_multi_assign(mc->multi, fd, s);
    }
    events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
    events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct mes_curl *mc = t->data;
    int running;

    if (mc->stopping)
        return;
    curl_multi_socket_action(mc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(mc);
}

/* CURLMOPT_TIMERFUNCTION: curl must not be called back from inside this callback, so even a
 * 0 ms timeout goes through the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct mes_curl *mc = userp;

    (void)multi;
    if (mc->stopping)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&mc->timer);
    else
        uv_timer_start(&mc->timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int mes_curl_new(uv_loop_t *loop, mes_curl_done_fn done, void *ud, struct mes_curl **ret)
{
    struct mes_curl *mc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    mc = calloc(1, sizeof(*mc));
    if (!mc) {
        curl_global_cleanup();
        return -ENOMEM;
    }
    mc->loop = loop;
    mc->done = done;
    mc->ud = ud;
    mc->multi = curl_multi_init();
    if (!mc->multi) {
        free(mc);
        curl_global_cleanup();
        return -EIO;
    }
    curl_multi_setopt(mc->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(mc->multi, CURLMOPT_SOCKETDATA, mc);
    curl_multi_setopt(mc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(mc->multi, CURLMOPT_TIMERDATA, mc);
    uv_timer_init(loop, &mc->timer);
    mc->timer.data = mc;
    *ret = mc;
    return 0;
}

int mes_curl_add(struct mes_curl *mc, CURL *easy)
{
    if (mc->stopping)
        return -ESHUTDOWN;
    return curl_multi_add_handle(mc->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void mes_curl_remove(struct mes_curl *mc, CURL *easy)
{
    if (!mc->stopping)
        curl_multi_remove_handle(mc->multi, easy);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mes_curl *mc = h->data;

    mc->closing--;
    maybe_closed(mc);
}

void mes_curl_free(struct mes_curl *mc, void (*closed)(void *ud), void *ud)
{
    if (!mc || mc->stopping)
        return;
    mc->stopping = true;
    mc->closed = closed;
    mc->closed_ud = ud;
    /* May still report sockets removed (pooled connections): closed through sock_close. */
    curl_multi_cleanup(mc->multi);
    mc->multi = NULL;
    while (mc->socks)
        sock_close(mc, mc->socks);
    mc->closing++;
    uv_close((uv_handle_t *)&mc->timer, on_timer_closed);
}

int mes_curl_post(CURL *easy, const struct config_mes *cfg, const char *url, uint32_t timeout_ms,
                  struct curl_slist **headers, const char *body, curl_write_callback write,
                  void *ud, char *errbuf)
{
    char auth[sizeof(cfg->token) + 32];
    const char *const lines[] = {"Content-Type: application/json",
                                 "Expect:", /* no 100-continue wait */
                                 cfg->token[0] ? auth : NULL};
    CURL *e = easy;
    int bad = 0;

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->token);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && lines[i]; i++) {
        struct curl_slist *h = curl_slist_append(*headers, lines[i]);
        if (!h)
            return -ENOMEM;
        *headers = h;
    }
    bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "flashrackd/" FLASHRACK_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg->tls_verify ? 1L : 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg->tls_verify ? 2L : 0L) != CURLE_OK;
    if (cfg->ca_file[0])
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, ud) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    return bad ? -EIO : 0;
}
