/* libusb inside libuv (docs/architecture.md §1, usb-test-harness.md §3.5). */
#include "loop_usb.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct usb_pollfd {
    struct usb_loop *u;
    int fd;
    uv_poll_t poll;
    struct usb_pollfd *next;
};

struct deferred {
    void (*fn)(void *arg);
    void *arg;
    struct deferred *next;
};

struct hotplug_item {
    struct usb_loop *u;
    int arrived;
    libusb_device *dev;
};

struct usb_loop {
    uv_loop_t *loop;
    libusb_context *ctx;
    struct usb_pollfd *fds;
    uv_timer_t timeout_timer; /* libusb's next timeout (a safety net: Linux uses a timerfd) */
    uv_timer_t defer_timer;   /* drains the deferred queue right after event handling */
    struct deferred *dq_head, *dq_tail;
    libusb_hotplug_callback_handle hotplug;
    int hotplug_registered;
    usb_hotplug_fn fn;
    void *userdata;
    int open_handles; /* uv handles not yet closed */
    int closing;
    void (*done)(void *userdata);
    void *done_userdata;
};

static void handle_events(struct usb_loop *u);
static void on_timeout_timer(uv_timer_t *t);

static void rearm_timeout(struct usb_loop *u)
{
    struct timeval tv;
    if (u->closing)
        return;
    int r = libusb_get_next_timeout(u->ctx, &tv);
    if (r == 1) {
        uint64_t ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec + 999) / 1000u;
        uv_update_time(u->loop);
        uv_timer_start(&u->timeout_timer, on_timeout_timer, ms, 0);
    } else {
        uv_timer_stop(&u->timeout_timer);
    }
}

static void on_timeout_timer(uv_timer_t *t)
{
    handle_events(t->data);
}

static void handle_events(struct usb_loop *u)
{
    struct timeval zero = {0, 0};
    int r = libusb_handle_events_timeout_completed(u->ctx, &zero, NULL);
    if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED)
        log_warning("usb: event handling failed: %s", libusb_strerror(r));
    rearm_timeout(u);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status; /* POLLERR arrives as status < 0: libusb must still see it (disconnect) */
    (void)events;
    struct usb_pollfd *pf = p->data;
    handle_events(pf->u);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct usb_loop *u = h->data;
    if (h->type == UV_POLL) {
        struct usb_pollfd *pf = (struct usb_pollfd *)h->data;
        u = pf->u;
        free(pf);
    }
    u->open_handles--;
    if (u->closing && u->open_handles == 0) {
        libusb_exit(u->ctx);
        void (*done)(void *) = u->done;
        void *ud = u->done_userdata;
        free(u);
        if (done)
            done(ud);
    }
}

static void add_pollfd(int fd, short events, void *user_data)
{
    struct usb_loop *u = user_data;
    struct usb_pollfd *pf = calloc(1, sizeof(*pf));
    if (!pf) {
        log_err("usb: out of memory watching fd %d", fd);
        return;
    }
    pf->u = u;
    pf->fd = fd;
    int r = uv_poll_init(u->loop, &pf->poll, fd);
    if (r < 0) {
        log_err("usb: cannot watch libusb fd %d: %s", fd, uv_strerror(r));
        free(pf);
        return;
    }
    pf->poll.data = pf;
    int uv_events = ((events & POLLIN) ? UV_READABLE : 0) | ((events & POLLOUT) ? UV_WRITABLE : 0);
    uv_poll_start(&pf->poll, uv_events, on_poll);
    pf->next = u->fds;
    u->fds = pf;
    u->open_handles++;
}

static void remove_pollfd(int fd, void *user_data)
{
    struct usb_loop *u = user_data;
    for (struct usb_pollfd **pp = &u->fds; *pp; pp = &(*pp)->next) {
        if ((*pp)->fd == fd) {
            struct usb_pollfd *pf = *pp;
            *pp = pf->next;
            uv_close((uv_handle_t *)&pf->poll, on_handle_closed);
            return;
        }
    }
}

static void drain_deferred(uv_timer_t *t)
{
    struct usb_loop *u = t->data;
    /* Items deferred while draining run on the next turn, so a callback that defers again
     * cannot starve the loop. */
    struct deferred *d = u->dq_head;
    u->dq_head = u->dq_tail = NULL;
    while (d) {
        struct deferred *next = d->next;
        d->fn(d->arg);
        free(d);
        d = next;
    }
}

int usb_loop_defer(struct usb_loop *u, void (*fn)(void *arg), void *arg)
{
    struct deferred *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->fn = fn;
    d->arg = arg;
    if (u->dq_tail)
        u->dq_tail->next = d;
    else
        u->dq_head = d;
    u->dq_tail = d;
    if (!uv_is_active((uv_handle_t *)&u->defer_timer))
        uv_timer_start(&u->defer_timer, drain_deferred, 0, 0);
    return 0;
}

static void sysfs_string(const char *port_path, const char *attr, char *out, size_t outlen)
{
    char path[128];
    out[0] = '\0';
    snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/%s", port_path, attr);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    /* Device strings are untrusted: keep printable ASCII only, cut at the first newline. */
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '\n' || out[i] == '\r') {
            out[i] = '\0';
            break;
        }
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    }
}

int usb_describe_device(libusb_device *dev, struct rack_device *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct libusb_device_descriptor desc;
    int r = libusb_get_device_descriptor(dev, &desc);
    if (r < 0)
        return -EIO;
    uint8_t ports[8];
    int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
    if (n <= 0)
        return -ENODEV; /* a root hub has no port path: never a slot */
    ret->usb = dev;
    ret->bus = libusb_get_bus_number(dev);
    ret->address = libusb_get_device_address(dev);
    ret->vid = desc.idVendor;
    ret->pid = desc.idProduct;
    ret->device_class = desc.bDeviceClass;
    r = rack_format_port_path(ret->bus, ports, n, ret->port_path, sizeof(ret->port_path));
    if (r < 0)
        return r;
    sysfs_string(ret->port_path, "manufacturer", ret->manufacturer, sizeof(ret->manufacturer));
    sysfs_string(ret->port_path, "product", ret->product, sizeof(ret->product));
    sysfs_string(ret->port_path, "serial", ret->serial, sizeof(ret->serial));
    return 0;
}

static void deliver_hotplug(void *arg)
{
    struct hotplug_item *item = arg;
    struct usb_loop *u = item->u;
    struct rack_device d;
    int r = usb_describe_device(item->dev, &d);
    if (r == 0 && u->fn && !u->closing)
        u->fn(u->userdata, item->arrived, &d);
    else if (r < 0 && r != -ENODEV)
        log_debug("usb: cannot describe device: %s", strerror(-r));
    libusb_unref_device(item->dev);
    free(item);
}

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user_data)
{
    (void)ctx;
    struct usb_loop *u = user_data;
    struct hotplug_item *item = calloc(1, sizeof(*item));
    if (!item) {
        log_err("usb: out of memory queueing a hotplug event");
        return 0;
    }
    item->u = u;
    item->arrived = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;
    item->dev = libusb_ref_device(dev);
    if (usb_loop_defer(u, deliver_hotplug, item) < 0) {
        libusb_unref_device(dev);
        free(item);
    }
    return 0;
}

int usb_loop_new(uv_loop_t *loop, struct usb_loop **ret)
{
    struct usb_loop *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->loop = loop;
    int r = libusb_init(&u->ctx);
    if (r < 0) {
        log_err("usb: libusb_init failed: %s", libusb_strerror(r));
        free(u);
        return -EIO;
    }
    uv_timer_init(loop, &u->timeout_timer);
    u->timeout_timer.data = u;
    uv_timer_init(loop, &u->defer_timer);
    u->defer_timer.data = u;
    u->open_handles = 2;

    libusb_set_pollfd_notifiers(u->ctx, add_pollfd, remove_pollfd, u);
    const struct libusb_pollfd **fds = libusb_get_pollfds(u->ctx);
    for (size_t i = 0; fds && fds[i]; i++)
        add_pollfd(fds[i]->fd, fds[i]->events, u);
    libusb_free_pollfds(fds);
    *ret = u;
    return 0;
}

int usb_loop_start_hotplug(struct usb_loop *u, usb_hotplug_fn fn, void *userdata)
{
    if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        log_err("usb: this libusb has no hotplug support");
        return -ENOTSUP;
    }
    u->fn = fn;
    u->userdata = userdata;
    int r = libusb_hotplug_register_callback(
        u->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
        LIBUSB_HOTPLUG_ENUMERATE, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
        LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, u, &u->hotplug);
    if (r < 0) {
        log_err("usb: cannot register hotplug callback: %s", libusb_strerror(r));
        return -EIO;
    }
    u->hotplug_registered = 1;
    return 0;
}

libusb_context *usb_loop_context(struct usb_loop *u)
{
    return u->ctx;
}

uv_loop_t *usb_loop_uv(struct usb_loop *u)
{
    return u->loop;
}

void usb_loop_kick(struct usb_loop *u)
{
    rearm_timeout(u);
}

void usb_loop_close(struct usb_loop *u, void (*done)(void *userdata), void *userdata)
{
    if (u->hotplug_registered) {
        libusb_hotplug_deregister_callback(u->ctx, u->hotplug);
        u->hotplug_registered = 0;
    }
    /* Drop what is still queued (unrefs devices) without delivering it. */
    u->closing = 1;
    drain_deferred(&u->defer_timer);
    u->done = done;
    u->done_userdata = userdata;
    libusb_set_pollfd_notifiers(u->ctx, NULL, NULL, NULL);
    while (u->fds) {
        struct usb_pollfd *pf = u->fds;
        u->fds = pf->next;
        uv_close((uv_handle_t *)&pf->poll, on_handle_closed);
    }
    uv_close((uv_handle_t *)&u->timeout_timer, on_handle_closed);
    uv_close((uv_handle_t *)&u->defer_timer, on_handle_closed);
}
