/* Uevent delivery like the kernel's, for umockdev's uevent sender.
 *
 * libumockdev (uevent_sender.c, 0.17) sends each uevent with one non-blocking sendmsg() to
 * every listener's socket, $UMOCKDEV_DIR/event<fd>, and abort()s the whole rack when it
 * fails. The preload makes a listener's netlink socket an AF_UNIX datagram socket, whose
 * queue holds net.unix.max_dgram_qlen datagrams (10 by default): a module's plug sends a
 * burst of events (device, interfaces, usb-serial ports, ttys; a listener's filter keeps a
 * few of them), and some modules re-enumerating in the same main-loop turn can fill a
 * listener that has not been scheduled yet. The kernel's netlink queue is ~200 kB and a full
 * one drops the event for that listener; the rack process died instead (the 5,000-cycle
 * soak after 1,601 cycles).
 *
 * This definition of sendmsg() in the executable comes before libc's for libumockdev (the
 * executable is first in the symbol lookup scope). For a uevent socket it waits for room
 * (poll POLLOUT on the connected socket: the peer's queue) up to UEVENT_WAIT_MS and then
 * drops the event like the kernel, counted and logged; a listener that needed the whole
 * wait is "stuck" and gets no further wait until its queue has room again, so a stopped
 * daemon (signal STOP) cannot hold the rack's main loop. Everything else passes through.
 * The waits are outside the rack's lock: ioctls keep being served meanwhile.
 *
 * "hold-uevents SUBSYSTEM" keeps that subsystem's uevents (to every listener, in order) until
 * "release-uevents". A daemon reads USB hotplug (libusb's monitor) and ttys (its own monitor)
 * from two sockets, in no fixed order between them; holding the tty events reproduces at will
 * the order that once in ~2,000 soak cycles let a new module on a port arrive while the old
 * module's ttys were still listed. (Only the tty monitor's filter passes tty events, so the
 * hold delays nothing else.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "rack_app.h"
#include "vrack.h"

#define UEVENT_WAIT_MS 2000
#define STUCK_MAX      16

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

#define HOLD_MAX 4096 /* held uevents; more are sent at once (a test that forgot to release) */

struct held_uevent {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t len;
    unsigned char data[]; /* header and properties, as one datagram */
};

static struct {
    pthread_mutex_t lock;
    sendmsg_fn real;
    struct rack_uevent_stats stats;
    char stuck[STUCK_MAX][sizeof(((struct sockaddr_un *)0)->sun_path)];
    char hold_match[48]; /* "\0SUBSYSTEM=tty\0" while holding, else empty */
    size_t hold_match_len;
    GPtrArray *held; /* struct held_uevent *, oldest first */
} ue = {.lock = PTHREAD_MUTEX_INITIALIZER};

static sendmsg_fn real_sendmsg(void)
{
    pthread_mutex_lock(&ue.lock);
    if (!ue.real)
        ue.real = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
    sendmsg_fn f = ue.real;
    pthread_mutex_unlock(&ue.lock);
    return f;
}

/* $UMOCKDEV_DIR/event<digits>: where the preload binds a client's uevent socket. */
static bool is_uevent_socket(const struct msghdr *msg, const char **path)
{
    /* umockdev names the peer with msg_namelen 0 (a whole sockaddr_un, connected socket) */
    const struct sockaddr_un *sa = msg ? msg->msg_name : NULL;
    if (!sa || (msg->msg_namelen != 0 && msg->msg_namelen != sizeof(*sa)) ||
        sa->sun_family != AF_UNIX)
        return false;
    const char *dir = getenv("UMOCKDEV_DIR");
    size_t dl = dir ? strlen(dir) : 0;
    const char *p = sa->sun_path;
    if (!dl || strnlen(p, sizeof(sa->sun_path)) >= sizeof(sa->sun_path) ||
        strncmp(p, dir, dl) != 0 || strncmp(p + dl, "/event", 6) != 0 || !p[dl + 6] ||
        strspn(p + dl + 6, "0123456789") != strlen(p + dl + 6))
        return false;
    *path = p;
    return true;
}

static int stuck_index(const char *path)
{
    for (int i = 0; i < STUCK_MAX; i++)
        if (strcmp(ue.stuck[i], path) == 0)
            return i;
    return -1;
}

static bool is_stuck(const char *path)
{
    pthread_mutex_lock(&ue.lock);
    bool stuck = stuck_index(path) >= 0;
    pthread_mutex_unlock(&ue.lock);
    return stuck;
}

static void set_stuck(const char *path, bool stuck)
{
    pthread_mutex_lock(&ue.lock);
    int i = stuck_index(path);
    if (stuck && i < 0 && (i = stuck_index("")) >= 0)
        snprintf(ue.stuck[i], sizeof(ue.stuck[i]), "%s", path);
    else if (!stuck && i >= 0)
        ue.stuck[i][0] = '\0';
    pthread_mutex_unlock(&ue.lock);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Keeps a copy of the uevent if its subsystem is held; true if it was kept. */
static bool hold(const struct msghdr *msg, const char *path)
{
    size_t len = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    pthread_mutex_lock(&ue.lock);
    bool held = false;
    if (ue.hold_match_len && ue.held && ue.held->len < HOLD_MAX) {
        struct held_uevent *h = g_malloc(sizeof(*h) + len);
        snprintf(h->path, sizeof(h->path), "%s", path);
        h->len = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++) {
            memcpy(h->data + h->len, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
            h->len += msg->msg_iov[i].iov_len;
        }
        held = memmem(h->data, h->len, ue.hold_match, ue.hold_match_len) != NULL;
        if (held)
            g_ptr_array_add(ue.held, h);
        else
            g_free(h);
    }
    pthread_mutex_unlock(&ue.lock);
    return held;
}

int rack_uevents_hold(const char *subsystem)
{
    if (!*subsystem || strlen(subsystem) > 32 || strchr(subsystem, '='))
        return -EINVAL;
    pthread_mutex_lock(&ue.lock);
    /* ACTION= always comes first, so the key is preceded by a NUL */
    int n = snprintf(ue.hold_match, sizeof(ue.hold_match), "%cSUBSYSTEM=%s%c", 0, subsystem, 0);
    ue.hold_match_len = (size_t)n;
    if (!ue.held)
        ue.held = g_ptr_array_new_with_free_func(g_free);
    pthread_mutex_unlock(&ue.lock);
    return 0;
}

size_t rack_uevents_release(void)
{
    pthread_mutex_lock(&ue.lock);
    ue.hold_match_len = 0;
    GPtrArray *held = ue.held;
    ue.held = NULL;
    pthread_mutex_unlock(&ue.lock);
    size_t n = held ? held->len : 0;
    for (size_t i = 0; i < n; i++) {
        /* as umockdev sends: a connected datagram socket per event and listener */
        struct held_uevent *h = g_ptr_array_index(held, i);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) { /* else: listener gone */
            struct iovec iov = {.iov_base = h->data, .iov_len = h->len};
            struct msghdr m = {.msg_name = &sa, .msg_namelen = 0, .msg_iov = &iov, .msg_iovlen = 1};
            if (sendmsg(fd, &m, 0) < 0)
                fprintf(stderr, "rack %" G_GUINT64_FORMAT ": held uevent to %s: %s\n",
                        vrack_now_ms(), h->path, g_strerror(errno));
        }
        close(fd);
    }
    if (held)
        g_ptr_array_free(held, TRUE);
    return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    sendmsg_fn real = real_sendmsg();
    const char *path;
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!is_uevent_socket(msg, &path))
        return real(fd, msg, flags);
    if (hold(msg, path)) {
        size_t len = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++)
            len += msg->msg_iov[i].iov_len;
        return (ssize_t)len;
    }
    ssize_t n = real(fd, msg, flags);
    if (n >= 0 || errno != EAGAIN) {
        /* (an event the listener's filter rejects is "sent" even to a full queue, so only
         * room in the queue ends a listener's stuck state) */
        struct pollfd room = {.fd = fd, .events = POLLOUT};
        if (n >= 0 && is_stuck(path) && poll(&room, 1, 0) == 1 && (room.revents & POLLOUT))
            set_stuck(path, false);
        return n;
    }
    bool stuck = is_stuck(path);
    uint64_t t0 = mono_ms(), waited = 0;
    while (!stuck && waited < UEVENT_WAIT_MS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, (int)(UEVENT_WAIT_MS - waited)) < 0 && errno != EINTR)
            break;
        waited = mono_ms() - t0;
        n = real(fd, msg, flags);
        if (n >= 0 || errno != EAGAIN)
            break;
    }
    if (n < 0 && errno != EAGAIN)
        return n; /* not a full queue: umockdev's own handling (abort) */
    size_t len = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    pthread_mutex_lock(&ue.lock);
    if (n >= 0) {
        ue.stats.waited++;
        if (waited > ue.stats.max_wait_ms)
            ue.stats.max_wait_ms = waited;
    } else {
        ue.stats.dropped++;
    }
    pthread_mutex_unlock(&ue.lock);
    if (n < 0)
        set_stuck(path, true);
    if (n >= 0) {
        fprintf(stderr,
                "rack %" G_GUINT64_FORMAT ": uevent to %s: queue full, sent after %" PRIu64 " ms\n",
                vrack_now_ms(), path, waited);
        return n;
    }
    /* The kernel drops a uevent for a listener whose queue is full; so does the rack. */
    fprintf(stderr,
            "rack %" G_GUINT64_FORMAT ": uevent to %s: queue full for %" PRIu64
            " ms, event dropped%s\n",
            vrack_now_ms(), path, waited, stuck ? " (stuck since an earlier drop)" : "");
    return (ssize_t)len;
}

struct rack_uevent_stats rack_uevent_stats(void)
{
    pthread_mutex_lock(&ue.lock);
    struct rack_uevent_stats s = ue.stats;
    pthread_mutex_unlock(&ue.lock);
    return s;
}
