/* A real HTTP receiver for the MES tests (push and interlock): libmicrohttpd with a thread per
 * connection. It reads each request's body (bounded), holds the answer delay_ms or until
 * release is set, counts the requests in flight, and asks the test's answer callback for the
 * status and the body to send. One copy, so the two MES tests exercise the same server. */
#ifndef FLASHRACK_TEST_HTTP_RECEIVER_H
#define FLASHRACK_TEST_HTTP_RECEIVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct http_receiver;

/* Runs with rx->lock held once the body is in: returns the status, sets *text to the body
 * (copied before the lock is released). */
typedef unsigned (*http_receiver_answer_fn)(struct http_receiver *rx, struct MHD_Connection *conn,
                                            const char *body, size_t len, const char **text);

struct http_receiver {
    struct MHD_Daemon *mhd;
    uint16_t port;
    pthread_mutex_t lock;
    int active, max_active; /* requests in flight now, and the most at once */
    int delay_ms;           /* hold each answer this long ... */
    volatile int release;   /* ... or until this is set */
    http_receiver_answer_fn answer;
};

struct http_receiver_upload {
    char buf[8192];
    size_t len;
};

static inline enum MHD_Result http_receiver_on_request(void *cls, struct MHD_Connection *conn,
                                                       const char *url, const char *method,
                                                       const char *version, const char *data,
                                                       size_t *size, void **con_cls)
{
    struct http_receiver *rx = cls;
    struct http_receiver_upload *up = *con_cls;

    (void)url, (void)method, (void)version;
    if (!up) {
        *con_cls = up = calloc(1, sizeof(*up));
        return up ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t room = sizeof(up->buf) - 1 - up->len;
        size_t n = *size < room ? *size : room;
        memcpy(up->buf + up->len, data, n);
        up->len += n;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rx->lock);
    if (++rx->active > rx->max_active)
        rx->max_active = rx->active;
    pthread_mutex_unlock(&rx->lock);
    for (int waited = 0; waited < rx->delay_ms && !rx->release; waited += 5)
        usleep(5000);

    pthread_mutex_lock(&rx->lock);
    const char *text = "";
    unsigned status = rx->answer(rx, conn, up->buf, up->len, &text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    rx->active--;
    pthread_mutex_unlock(&rx->lock);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static inline void http_receiver_on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                                         enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    free(*con_cls);
    *con_cls = NULL;
}

static inline void http_receiver_start(struct http_receiver *rx, http_receiver_answer_fn answer)
{
    rx->answer = answer;
    pthread_mutex_init(&rx->lock, NULL);
    rx->mhd =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                         NULL, http_receiver_on_request, rx, MHD_OPTION_NOTIFY_COMPLETED,
                         http_receiver_on_done, rx, MHD_OPTION_END);
    assert_non_null(rx->mhd);
    rx->port = MHD_get_daemon_info(rx->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static inline void http_receiver_stop(struct http_receiver *rx)
{
    rx->release = 1;
    MHD_stop_daemon(rx->mhd);
    pthread_mutex_destroy(&rx->lock);
}

#endif
