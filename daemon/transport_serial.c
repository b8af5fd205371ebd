/* Serial transport: libserialport for opening and line settings, non-blocking reads and
 * writes driven by a uv_poll on the port's fd, one uv_timer for timeouts and for delivering
 * completions that were ready at once (callbacks never run inside the starting call). */
#include <errno.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "log.h"
#include "transport.h"

#define SERIAL_READ_MAX (64u * 1024u)

enum serial_op { OP_NONE, OP_WRITE, OP_READ, OP_LINE };

struct serial_transport {
    struct transport base;
    uv_loop_t *loop;
    struct sp_port *port;
    uv_poll_t poll;
    uv_timer_t timer;
    int polling;
    int handles_open;
    uint8_t *buf;
    enum serial_op op;
    transport_cb cb;
    void *userdata;
    const uint8_t *wdata;
    size_t wlen, woff, rmax;
    /* a result ready to be delivered by the 0 ms timer */
    int ready;
    int ready_status;
    size_t ready_len;
    void (*closed)(void *userdata);
    void *closed_userdata;
};

static int map_sp_error(enum sp_return r)
{
    if (r == SP_ERR_FAIL) {
        int e = sp_last_error_code();
        /* A hung-up tty (device unplugged) reads as EIO or ENXIO. */
        if (e == EIO || e == ENXIO || e == ENODEV)
            return -ENODEV;
        return e ? -e : -EIO;
    }
    if (r == SP_ERR_MEM)
        return -ENOMEM;
    if (r == SP_ERR_ARG)
        return -EINVAL;
    return -EIO;
}

static int would_block(void)
{
    int e = sp_last_error_code();
    return e == EAGAIN || e == EWOULDBLOCK;
}

static void finish(struct serial_transport *t, int status, const uint8_t *data, size_t len)
{
    if (t->polling) {
        uv_poll_stop(&t->poll);
        t->polling = 0;
    }
    uv_timer_stop(&t->timer);
    t->ready = 0;
    transport_cb cb = t->cb;
    void *ud = t->userdata;
    t->op = OP_NONE;
    t->cb = NULL;
    if (status == 0 && data)
        t->base.bytes_in += len;
    if (cb)
        cb(&t->base, status, data, len, ud);
}

static void on_timer(uv_timer_t *timer)
{
    struct serial_transport *t = timer->data;
    if (t->ready) {
        finish(t, t->ready_status, t->op == OP_READ ? t->buf : NULL, t->ready_len);
        return;
    }
    finish(t, -ETIMEDOUT, NULL, t->op == OP_WRITE ? t->woff : 0);
}

/* Completes later, from the timer, with this result. */
static void finish_soon(struct serial_transport *t, int status, size_t len)
{
    t->ready = 1;
    t->ready_status = status;
    t->ready_len = len;
    if (t->polling) {
        uv_poll_stop(&t->poll);
        t->polling = 0;
    }
    uv_timer_start(&t->timer, on_timer, 0, 0);
}

/* Returns >0 bytes read, 0 nothing yet, <0 error. */
static int try_read(struct serial_transport *t)
{
    size_t max = t->rmax < SERIAL_READ_MAX ? t->rmax : SERIAL_READ_MAX;
    enum sp_return r = sp_nonblocking_read(t->port, t->buf, max);
    if (r == SP_ERR_FAIL && would_block())
        return 0;
    if (r < 0)
        return map_sp_error(r);
    return (int)r;
}

/* Returns 1 when all is written, 0 when the fd is full, <0 on error. */
static int try_write(struct serial_transport *t)
{
    while (t->woff < t->wlen) {
        enum sp_return r = sp_nonblocking_write(t->port, t->wdata + t->woff, t->wlen - t->woff);
        if (r == SP_ERR_FAIL && would_block())
            return 0; /* libserialport 0.1.1 reports a full tty buffer as a failure */
        if (r < 0)
            return map_sp_error(r);
        if (r == 0)
            return 0;
        t->woff += (size_t)r;
        t->base.bytes_out += (size_t)r;
    }
    return 1;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct serial_transport *t = p->data;
    if (status < 0) {
        finish(t, -ENODEV, NULL, 0);
        return;
    }
    if (t->op == OP_READ && (events & (UV_READABLE | UV_DISCONNECT))) {
        int n = try_read(t);
        /* Readable with nothing to read is a hang-up on Linux ttys. */
        if (n == 0)
            n = -ENODEV;
        if (n < 0)
            finish(t, n, NULL, 0);
        else
            finish(t, 0, t->buf, (size_t)n);
    } else if (t->op == OP_WRITE) {
        int r = try_write(t);
        if (r != 0)
            finish(t, r < 0 ? r : 0, NULL, t->woff);
    }
}

static int begin(struct serial_transport *t, enum serial_op op, transport_cb cb, void *userdata)
{
    if (!t->port)
        return -EBADF;
    if (t->op != OP_NONE)
        return -EBUSY;
    t->op = op;
    t->cb = cb;
    t->userdata = userdata;
    t->ready = 0;
    return 0;
}

static void wait_for(struct serial_transport *t, int events, uint32_t timeout_ms)
{
    uv_poll_start(&t->poll, events | UV_DISCONNECT, on_poll);
    t->polling = 1;
    uv_update_time(t->loop);
    uv_timer_start(&t->timer, on_timer, timeout_ms ? timeout_ms : 1, 0);
}

static int serial_write(struct transport *base, const uint8_t *data, size_t len,
                        uint32_t timeout_ms, transport_cb cb, void *userdata)
{
    struct serial_transport *t = (struct serial_transport *)base;
    int r = begin(t, OP_WRITE, cb, userdata);
    if (r < 0)
        return r;
    t->wdata = data;
    t->wlen = len;
    t->woff = 0;
    r = try_write(t);
    if (r != 0)
        finish_soon(t, r < 0 ? r : 0, t->woff);
    else
        wait_for(t, UV_WRITABLE, timeout_ms);
    return 0;
}

static int serial_read(struct transport *base, size_t max, uint32_t timeout_ms, transport_cb cb,
                       void *userdata)
{
    struct serial_transport *t = (struct serial_transport *)base;
    if (max == 0)
        return -EINVAL;
    int r = begin(t, OP_READ, cb, userdata);
    if (r < 0)
        return r;
    t->rmax = max;
    int n = try_read(t);
    if (n != 0)
        finish_soon(t, n < 0 ? n : 0, n < 0 ? 0 : (size_t)n);
    else
        wait_for(t, UV_READABLE, timeout_ms);
    return 0;
}

static int serial_set_line(struct transport *base, uint32_t baud, int dtr, int rts, transport_cb cb,
                           void *userdata)
{
    struct serial_transport *t = (struct serial_transport *)base;
    int r = begin(t, OP_LINE, cb, userdata);
    if (r < 0)
        return r;
    enum sp_return sr = SP_OK;
    if (baud) {
        sr = sp_set_baudrate(t->port, (int)baud);
        if (sr == SP_OK)
            t->base.link.baud = baud;
    }
    if (sr == SP_OK)
        sr = sp_set_dtr(t->port, dtr ? SP_DTR_ON : SP_DTR_OFF);
    if (sr == SP_OK)
        sr = sp_set_rts(t->port, rts ? SP_RTS_ON : SP_RTS_OFF);
    finish_soon(t, sr == SP_OK ? 0 : map_sp_error(sr), 0);
    return 0;
}

static void serial_cancel(struct transport *base)
{
    struct serial_transport *t = (struct serial_transport *)base;
    if (t->op != OP_NONE)
        finish_soon(t, -ECANCELED, t->op == OP_WRITE ? t->woff : 0);
}

static void on_closed(uv_handle_t *h)
{
    struct serial_transport *t = h->data;
    if (--t->handles_open > 0)
        return;
    void (*closed)(void *) = t->closed;
    void *ud = t->closed_userdata;
    free(t->buf);
    free(t);
    if (closed)
        closed(ud);
}

static void serial_close(struct transport *base, void (*closed)(void *userdata), void *userdata)
{
    struct serial_transport *t = (struct serial_transport *)base;
    t->closed = closed;
    t->closed_userdata = userdata;
    t->op = OP_NONE; /* a pending operation is dropped: its callback never runs */
    t->cb = NULL;
    uv_close((uv_handle_t *)&t->poll, on_closed);
    uv_close((uv_handle_t *)&t->timer, on_closed);
    if (t->port) {
        sp_close(t->port);
        sp_free_port(t->port);
        t->port = NULL;
    }
}

static const struct transport_ops serial_ops = {
    .write = serial_write,
    .read = serial_read,
    .set_line = serial_set_line,
    .cancel = serial_cancel,
    .close = serial_close,
};

int transport_serial_open(uv_loop_t *loop, const char *devnode, uint32_t baud,
                          struct transport **ret)
{
    struct serial_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->buf = malloc(SERIAL_READ_MAX);
    if (!t->buf) {
        free(t);
        return -ENOMEM;
    }
    int r;
    enum sp_return sr = sp_get_port_by_name(devnode, &t->port);
    if (sr != SP_OK) {
        r = sr == SP_ERR_ARG ? -ENOENT : map_sp_error(sr);
        goto fail;
    }
    sr = sp_open(t->port, SP_MODE_READ_WRITE);
    if (sr != SP_OK) {
        r = map_sp_error(sr);
        sp_free_port(t->port);
        goto fail;
    }
    struct sp_port_config *pc = NULL;
    sr = sp_new_config(&pc);
    if (sr == SP_OK) {
        sp_set_config_baudrate(pc, (int)(baud ? baud : 115200));
        sp_set_config_bits(pc, 8);
        sp_set_config_parity(pc, SP_PARITY_NONE);
        sp_set_config_stopbits(pc, 1);
        sp_set_config_flowcontrol(pc, SP_FLOWCONTROL_NONE);
        sp_set_config_dtr(pc, SP_DTR_ON);
        sp_set_config_rts(pc, SP_RTS_ON);
        sr = sp_set_config(t->port, pc);
        sp_free_config(pc);
    }
    if (sr != SP_OK) {
        r = map_sp_error(sr);
        sp_close(t->port);
        sp_free_port(t->port);
        goto fail;
    }
    int fd = -1;
    sp_get_port_handle(t->port, &fd);
    /* Keep other programs (ModemManager, a stray terminal) off the port while we flash. */
    if (ioctl(fd, TIOCEXCL) < 0)
        log_debug("serial: %s: TIOCEXCL refused: %s", devnode, strerror(errno));
    r = uv_poll_init(loop, &t->poll, fd);
    if (r < 0) {
        sp_close(t->port);
        sp_free_port(t->port);
        goto fail;
    }
    uv_timer_init(loop, &t->timer);
    t->poll.data = t;
    t->timer.data = t;
    t->handles_open = 2;
    t->loop = loop;
    t->base.ops = &serial_ops;
    t->base.link.kind = PROTO_LINK_SERIAL;
    t->base.link.baud = baud ? baud : 115200;
    int vid = 0, pid = 0;
    if (sp_get_port_usb_vid_pid(t->port, &vid, &pid) == SP_OK) {
        t->base.link.vid = (uint16_t)vid;
        t->base.link.pid = (uint16_t)pid;
    }
    snprintf(t->base.name, sizeof(t->base.name), "%s", devnode);
    *ret = &t->base;
    return 0;
fail:
    free(t->buf);
    free(t);
    return r;
}
