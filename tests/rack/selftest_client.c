/* Stand-in daemon for the rack self-test: libusb + libserialport + libuv only, no flashrack
 * code. It integrates libusb into libuv the way usb-test-harness.md §3.5 says, sends
 * READY=1 to $NOTIFY_SOCKET, and for every 1209:xxxx device that arrives runs a SINK and a
 * SOURCE of the stream loopback protocol (written here from the protocol text), over usbfs
 * for 1209:0001 and over the ttyACM found with sp_list_ports for 1209:0002. Afterwards it
 * keeps a transfer going so the test can pull the device and watch the error arrive.
 *
 * Log lines on stderr start with "selftest <monotonic ms>:"; a check that fails logs
 * "FAIL" and makes the exit status 1. SELFTEST_MIB sets the stream size (default 4). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libserialport.h>
#include <libusb.h>
#include <openssl/evp.h>
#include <uv.h>

#include "selftest_client.h"

static struct {
    uv_loop_t *loop;
    libusb_context *ctx;
    libusb_hotplug_callback_handle hotplug;
    uv_timer_t usb_timer;
    struct upoll *polls;
    uv_signal_t sigterm, sigint;
    struct st_dev *devs;
    uint64_t stream_bytes;
    int failures;
    bool stopping;
} st;

struct upoll {
    uv_poll_t h;
    int fd;
    struct upoll *next;
};

uint64_t st_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

void st_log(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "selftest %" PRIu64 ": %s\n", st_now_ms(), msg);
}

void st_fail(struct st_dev *d, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st_log("FAIL %s %s: %s", d && d->tty_mode ? "tty" : "usb", d ? d->port : "-", msg);
    st.failures++;
}

uv_loop_t *st_loop(void)
{
    return st.loop;
}

uint64_t st_stream_bytes(void)
{
    return st.stream_bytes;
}

bool st_stopping(void)
{
    return st.stopping;
}

/* ---- the loopback protocol, host side ---- */

void st_gen_init(struct st_gen *g, uint32_t seed)
{
    g->x = seed ? seed : 0x9E3779B9u;
    g->pos = 4;
}

void st_gen_fill(struct st_gen *g, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (g->pos == 4) {
            g->x ^= g->x << 13;
            g->x ^= g->x >> 17;
            g->x ^= g->x << 5;
            for (int k = 0; k < 4; k++)
                g->word[k] = (uint8_t)(g->x >> (8 * k));
            g->pos = 0;
        }
        out[i] = g->word[g->pos++];
    }
}

void st_make_cmd(uint8_t out[24], uint32_t op, uint32_t seed, uint64_t length)
{
    memcpy(out, "FRLB", 4);
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (uint8_t)(op >> (8 * i));
        out[8 + i] = (uint8_t)(seed >> (8 * i));
        out[12 + i] = 0;
    }
    for (int i = 0; i < 8; i++)
        out[16 + i] = (uint8_t)(length >> (8 * i));
}

bool st_check_reply(struct st_dev *d, const uint8_t reply[40], const uint8_t sha[32])
{
    uint32_t status = reply[4] | reply[5] << 8 | reply[6] << 16 | (uint32_t)reply[7] << 24;
    if (memcmp(reply, "FRLR", 4) != 0) {
        st_fail(d, "reply magic %02x%02x%02x%02x", reply[0], reply[1], reply[2], reply[3]);
        return false;
    }
    if (status != 0) {
        st_fail(d, "device says status %" PRIu32 " for the SINK", status);
        return false;
    }
    if (memcmp(reply + 8, sha, 32) != 0) {
        st_fail(d, "device SHA-256 differs from ours");
        return false;
    }
    return true;
}

void st_report(struct st_dev *d, const char *what, uint64_t bytes, uint64_t t0_ms)
{
    uint64_t ms = st_now_ms() - t0_ms;
    double mbs = ms ? (double)bytes / 1e6 / ((double)ms / 1000.0) : 0.0;
    st_log("%s %s %s ok %" PRIu64 " bytes in %" PRIu64 " ms (%.1f MB/s)",
           d->tty_mode ? "tty" : "usb", d->port, what, bytes, ms, mbs);
}

/* ---- libusb inside libuv (§3.5) ---- */

static void usb_handle(void);

static void on_usb_timer(uv_timer_t *t)
{
    (void)t;
    usb_handle();
}

static void usb_rearm(void)
{
    struct timeval tv;
    uv_update_time(st.loop);
    if (libusb_get_next_timeout(st.ctx, &tv) == 1)
        uv_timer_start(&st.usb_timer, on_usb_timer,
                       (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u + 1, 0);
    else
        uv_timer_stop(&st.usb_timer);
}

static void usb_handle(void)
{
    struct timeval zero = {0, 0};
    libusb_handle_events_timeout_completed(st.ctx, &zero, NULL);
    usb_rearm();
}

static void on_usb_poll(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status; /* POLLERR arrives as status < 0: libusb must still look at the fd */
    (void)events;
    usb_handle();
}

static void pollfd_added(int fd, short events, void *user)
{
    (void)user;
    struct upoll *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->fd = fd;
    p->h.data = p;
    int r = uv_poll_init(st.loop, &p->h, fd);
    if (r < 0) {
        st_fail(NULL, "uv_poll_init(%d): %s", fd, uv_strerror(r));
        free(p);
        return;
    }
    uv_poll_start(&p->h, (events & POLLIN ? UV_READABLE : 0) | (events & POLLOUT ? UV_WRITABLE : 0),
                  on_usb_poll);
    p->next = st.polls;
    st.polls = p;
}

static void free_poll(uv_handle_t *h)
{
    free(h->data);
}

static void pollfd_removed(int fd, void *user)
{
    (void)user;
    for (struct upoll **pp = &st.polls; *pp; pp = &(*pp)->next) {
        if ((*pp)->fd != fd)
            continue;
        struct upoll *p = *pp;
        *pp = p->next;
        uv_poll_stop(&p->h);
        uv_close((uv_handle_t *)&p->h, free_poll);
        return;
    }
}

/* ---- devices ---- */

static struct st_dev *find_dev(libusb_device *dev)
{
    for (struct st_dev *d = st.devs; d; d = d->next)
        if (d->dev == dev)
            return d;
    return NULL;
}

static void on_arrival(uv_timer_t *t)
{
    struct st_dev *d = t->data;
    if (d->tty_mode)
        st_tty_start(d);
    else
        st_usb_start(d);
}

static int on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *user)
{
    (void)ctx;
    (void)user;
    struct libusb_device_descriptor desc;
    libusb_get_device_descriptor(dev, &desc);
    /* The physical port path, "B-P.P", from libusb (works for a departed device too). */
    char port[32];
    uint8_t ports[8];
    int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
    int len = snprintf(port, sizeof(port), "%u-", libusb_get_bus_number(dev));
    for (int i = 0; i < n && len < (int)sizeof(port); i++)
        len += snprintf(port + len, sizeof(port) - (size_t)len, "%s%u", i ? "." : "", ports[i]);
    if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
        struct st_dev *d = calloc(1, sizeof(*d));
        if (!d)
            abort();
        d->dev = libusb_ref_device(dev);
        d->bus = libusb_get_bus_number(dev);
        d->addr = libusb_get_device_address(dev);
        d->tty_mode = desc.idProduct == 0x0002;
        snprintf(d->port, sizeof(d->port), "%s", port);
        d->next = st.devs;
        st.devs = d;
        st_log("arrived %04x:%04x port %s bus %u addr %u", desc.idVendor, desc.idProduct, d->port,
               d->bus, d->addr);
        /* No I/O inside a libusb callback: continue from the loop. */
        uv_timer_init(st.loop, &d->defer);
        d->defer.data = d;
        uv_timer_start(&d->defer, on_arrival, 0, 0);
    } else {
        struct st_dev *d = find_dev(dev);
        st_log("left %04x:%04x port %s", desc.idVendor, desc.idProduct, port);
        if (d) {
            d->left = true;
            d->left_ms = st_now_ms();
        }
    }
    return 0;
}

static void dev_closed(uv_handle_t *h)
{
    struct st_dev *d = h->data;
    for (struct st_dev **pp = &st.devs; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    libusb_unref_device(d->dev);
    EVP_MD_CTX_free(d->md);
    free(d);
    if (st.stopping && !st.devs)
        uv_stop(st.loop);
}

void st_dev_release(struct st_dev *d)
{
    /* Called from the loop (never from a libusb callback) once nothing is in flight. */
    if (d->released)
        return;
    d->released = true;
    uv_timer_stop(&d->defer);
    uv_close((uv_handle_t *)&d->defer, dev_closed);
}

/* ---- startup and shutdown ---- */

static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        st_log("no NOTIFY_SOCKET, not announcing readiness");
        return;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const char msg[] = "READY=1\nSTATUS=selftest client waiting for devices";
    if (fd < 0 || sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        st_fail(NULL, "sd_notify to %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)s;
    st_log("signal %d: shutting down", sig);
    st.stopping = true;
    libusb_hotplug_deregister_callback(st.ctx, st.hotplug);
    for (struct st_dev *d = st.devs; d; d = d->next) {
        if (d->tty_mode)
            st_tty_stop(d);
        else
            st_usb_stop(d);
    }
    uv_signal_stop(&st.sigterm);
    uv_signal_stop(&st.sigint);
    usb_handle();
    if (!st.devs)
        uv_stop(st.loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(void)
{
    const char *mib = getenv("SELFTEST_MIB");
    st.stream_bytes = (uint64_t)(mib ? strtoull(mib, NULL, 10) : 4) << 20;
    st.loop = uv_default_loop();
    int r = libusb_init(&st.ctx);
    if (r < 0) {
        fprintf(stderr, "libusb_init: %s\n", libusb_error_name(r));
        return 1;
    }
    uv_timer_init(st.loop, &st.usb_timer);
    libusb_set_pollfd_notifiers(st.ctx, pollfd_added, pollfd_removed, NULL);
    const struct libusb_pollfd **fds = libusb_get_pollfds(st.ctx);
    for (size_t i = 0; fds && fds[i]; i++)
        pollfd_added(fds[i]->fd, fds[i]->events, NULL);
    libusb_free_pollfds(fds);
    r = libusb_hotplug_register_callback(
        st.ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
        LIBUSB_HOTPLUG_ENUMERATE, 0x1209, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
        on_hotplug, NULL, &st.hotplug);
    if (r < 0) {
        fprintf(stderr, "hotplug: %s\n", libusb_error_name(r));
        return 1;
    }
    uv_signal_init(st.loop, &st.sigterm);
    uv_signal_init(st.loop, &st.sigint);
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    usb_rearm();
    notify_ready();
    st_log("ready, stream size %" PRIu64 " bytes", st.stream_bytes);

    uv_run(st.loop, UV_RUN_DEFAULT);

    /* The loop stops once every device is released after SIGTERM. libusb_exit removes its
     * own pollfds through the notifier; what is left (timers, signals) is closed here. */
    libusb_exit(st.ctx);
    uv_walk(st.loop, close_walk, NULL);
    uv_run(st.loop, UV_RUN_DEFAULT);
    uv_loop_close(st.loop);
    st_log("exit, %d failure(s)", st.failures);
    return st.failures ? 1 : 0;
}
