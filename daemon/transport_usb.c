/* USB bulk transport on libusb's async API. Transfer completions arrive inside libusb's
 * event handling, where a user callback must not libusb_close; so every completion is handed
 * to the caller through usb_loop_defer, on the loop thread, after libusb returned. */
#include <errno.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop_usb.h"
#include "transport.h"

/* usbfs and many download ROMs handle at most this much per bulk transfer. */
#define USB_CHUNK_MAX (64u * 1024u)

enum usb_op { OP_NONE, OP_WRITE, OP_READ, OP_LINE };

struct usb_transport {
    struct transport base;
    struct usb_loop *u;
    libusb_device_handle *handle;
    int interface_number;
    uint8_t ep_in, ep_out;
    uint16_t mps_in;
    struct libusb_transfer *xfer;
    int in_flight;             /* xfer submitted, not yet completed */
    uint8_t *inbuf;            /* USB_CHUNK_MAX */
    size_t left_off, left_len; /* IN bytes received beyond what a read asked for */
    uint8_t ctrl[LIBUSB_CONTROL_SETUP_SIZE + 7];
    /* current operation */
    enum usb_op op;
    transport_cb cb;
    void *userdata;
    const uint8_t *wdata;
    size_t wlen, woff, rmax;
    uint64_t deadline_ms;
    uint32_t line_baud;
    int line_dtr, line_rts, line_step;
    /* completion waiting for delivery */
    int result_status;
    size_t result_len;
    const uint8_t *result_data;
    int delivery_queued;
    int closing;
    void (*closed)(void *userdata);
    void *closed_userdata;
};

static uint64_t now_ms(struct usb_transport *t)
{
    uv_loop_t *loop = usb_loop_uv(t->u);
    uv_update_time(loop);
    return uv_now(loop);
}

static void finalize_close(void *arg);

static void deliver(void *arg)
{
    struct usb_transport *t = arg;
    t->delivery_queued = 0;
    if (t->closing) {
        finalize_close(t);
        return;
    }
    transport_cb cb = t->cb;
    void *ud = t->userdata;
    t->op = OP_NONE;
    t->cb = NULL;
    if (cb)
        cb(&t->base, t->result_status, t->result_data, t->result_len, ud);
}

static void complete(struct usb_transport *t, int status, const uint8_t *data, size_t len)
{
    t->result_status = status;
    t->result_data = data;
    t->result_len = len;
    if (status == 0 && t->op == OP_READ)
        t->base.bytes_in += len;
    if (t->delivery_queued)
        return;
    t->delivery_queued = 1;
    if (usb_loop_defer(t->u, deliver, t) < 0) {
        /* Out of memory: deliver on the next timer tick is impossible; fail loudly. */
        log_err("usb: %s: cannot queue a completion", t->base.name);
        t->delivery_queued = 0;
    }
}

static int map_status(enum libusb_transfer_status s)
{
    switch (s) {
    case LIBUSB_TRANSFER_COMPLETED:
        return 0;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return -ETIMEDOUT;
    case LIBUSB_TRANSFER_CANCELLED:
        return -ECANCELED;
    case LIBUSB_TRANSFER_STALL:
        return -EPIPE;
    case LIBUSB_TRANSFER_NO_DEVICE:
        return -ENODEV;
    case LIBUSB_TRANSFER_ERROR:
    case LIBUSB_TRANSFER_OVERFLOW:
        return -EIO;
    }
    return -EIO;
}

static int map_libusb_error(int r)
{
    switch (r) {
    case LIBUSB_ERROR_NO_DEVICE:
        return -ENODEV;
    case LIBUSB_ERROR_BUSY:
        return -EBUSY;
    case LIBUSB_ERROR_ACCESS:
        return -EACCES;
    case LIBUSB_ERROR_NOT_FOUND:
        return -ENOENT;
    case LIBUSB_ERROR_NO_MEM:
        return -ENOMEM;
    case LIBUSB_ERROR_TIMEOUT:
        return -ETIMEDOUT;
    case LIBUSB_ERROR_PIPE:
        return -EPIPE;
    case LIBUSB_ERROR_INVALID_PARAM:
        return -EINVAL;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return -ENOTSUP;
    default:
        return -EIO;
    }
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *x);

static uint32_t remaining_ms(struct usb_transport *t)
{
    uint64_t now = now_ms(t);
    if (now >= t->deadline_ms)
        return 1; /* libusb treats 0 as "no timeout" */
    return (uint32_t)(t->deadline_ms - now);
}

static int submit(struct usb_transport *t)
{
    t->xfer->timeout = remaining_ms(t);
    int r = libusb_submit_transfer(t->xfer);
    if (r < 0)
        return map_libusb_error(r);
    t->in_flight = 1;
    usb_loop_kick(t->u);
    return 0;
}

static int submit_write_chunk(struct usb_transport *t)
{
    size_t n = t->wlen - t->woff;
    if (n > USB_CHUNK_MAX)
        n = USB_CHUNK_MAX;
    /* libusb's buffer is not const, but an OUT transfer only reads it. */
    libusb_fill_bulk_transfer(t->xfer, t->handle, t->ep_out,
                              (uint8_t *)(uintptr_t)(t->wdata + t->woff), (int)n, on_transfer, t,
                              0);
    return submit(t);
}

static int submit_read(struct usb_transport *t)
{
    /* Ask for whole packets so the device can never overflow the buffer. */
    size_t n = t->rmax < USB_CHUNK_MAX ? t->rmax : USB_CHUNK_MAX;
    size_t mps = t->mps_in ? t->mps_in : 512;
    n = (n + mps - 1) / mps * mps;
    if (n > USB_CHUNK_MAX)
        n = USB_CHUNK_MAX;
    libusb_fill_bulk_transfer(t->xfer, t->handle, t->ep_in, t->inbuf, (int)n, on_transfer, t, 0);
    return submit(t);
}

static int submit_line(struct usb_transport *t)
{
    /* CDC ACM class requests on the interface: SET_LINE_CODING (only when a baud is given),
     * then SET_CONTROL_LINE_STATE. Download ROMs use the latter as a "host is here" kick. */
    if (t->line_step == 0 && t->line_baud) {
        libusb_fill_control_setup(t->ctrl, 0x21, 0x20, 0, (uint16_t)t->interface_number, 7);
        uint8_t *d = t->ctrl + LIBUSB_CONTROL_SETUP_SIZE;
        d[0] = (uint8_t)t->line_baud;
        d[1] = (uint8_t)(t->line_baud >> 8);
        d[2] = (uint8_t)(t->line_baud >> 16);
        d[3] = (uint8_t)(t->line_baud >> 24);
        d[4] = 0; /* 1 stop bit */
        d[5] = 0; /* no parity */
        d[6] = 8; /* data bits */
    } else {
        t->line_step = 1;
        uint16_t state = (uint16_t)((t->line_dtr ? 1 : 0) | (t->line_rts ? 2 : 0));
        libusb_fill_control_setup(t->ctrl, 0x21, 0x22, state, (uint16_t)t->interface_number, 0);
    }
    libusb_fill_control_transfer(t->xfer, t->handle, t->ctrl, on_transfer, t, 0);
    return submit(t);
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *x)
{
    struct usb_transport *t = x->user_data;
    t->in_flight = 0;
    int status = map_status(x->status);
    if (t->closing) {
        if (!t->delivery_queued) {
            t->delivery_queued = 1;
            usb_loop_defer(t->u, deliver, t);
        }
        return;
    }
    switch (t->op) {
    case OP_WRITE:
        t->woff += (size_t)x->actual_length;
        t->base.bytes_out += (size_t)x->actual_length;
        if (status == 0 && t->woff < t->wlen) {
            int r = submit_write_chunk(t);
            if (r < 0)
                complete(t, r, NULL, t->woff);
            return;
        }
        complete(t, status, NULL, t->woff);
        return;
    case OP_READ:
        if (status == 0 && x->actual_length == 0) {
            int r = submit_read(t); /* zero-length packet: keep waiting for data */
            if (r < 0)
                complete(t, r, NULL, 0);
            return;
        }
        if (status == 0) {
            size_t got = (size_t)x->actual_length;
            size_t give = got < t->rmax ? got : t->rmax;
            t->left_off = give;
            t->left_len = got - give;
            complete(t, 0, t->inbuf, give);
            return;
        }
        complete(t, status, NULL, 0);
        return;
    case OP_LINE:
        /* A vendor-class download port may not implement CDC requests: a STALL is fine. */
        if (status == -EPIPE)
            status = 0;
        if (status == 0 && t->line_step == 0) {
            t->line_step = 1;
            int r = submit_line(t);
            if (r < 0)
                complete(t, r, NULL, 0);
            return;
        }
        complete(t, status, NULL, 0);
        return;
    case OP_NONE:
        return;
    }
}

static int begin(struct usb_transport *t, enum usb_op op, uint32_t timeout_ms, transport_cb cb,
                 void *userdata)
{
    if (t->closing)
        return -EBADF;
    if (t->op != OP_NONE || t->in_flight || t->delivery_queued)
        return -EBUSY;
    t->op = op;
    t->cb = cb;
    t->userdata = userdata;
    t->deadline_ms = now_ms(t) + (timeout_ms ? timeout_ms : 1);
    return 0;
}

static int usb_write(struct transport *base, const uint8_t *data, size_t len, uint32_t timeout_ms,
                     transport_cb cb, void *userdata)
{
    struct usb_transport *t = (struct usb_transport *)base;
    int r = begin(t, OP_WRITE, timeout_ms, cb, userdata);
    if (r < 0)
        return r;
    t->wdata = data;
    t->wlen = len;
    t->woff = 0;
    if (len == 0) {
        complete(t, 0, NULL, 0);
        return 0;
    }
    r = submit_write_chunk(t);
    if (r < 0)
        t->op = OP_NONE;
    return r;
}

static int usb_read(struct transport *base, size_t max, uint32_t timeout_ms, transport_cb cb,
                    void *userdata)
{
    struct usb_transport *t = (struct usb_transport *)base;
    if (max == 0)
        return -EINVAL;
    int r = begin(t, OP_READ, timeout_ms, cb, userdata);
    if (r < 0)
        return r;
    t->rmax = max;
    if (t->left_len) {
        size_t give = t->left_len < max ? t->left_len : max;
        const uint8_t *p = t->inbuf + t->left_off;
        t->left_off += give;
        t->left_len -= give;
        complete(t, 0, p, give);
        return 0;
    }
    r = submit_read(t);
    if (r < 0)
        t->op = OP_NONE;
    return r;
}

static int usb_set_line(struct transport *base, uint32_t baud, int dtr, int rts, transport_cb cb,
                        void *userdata)
{
    struct usb_transport *t = (struct usb_transport *)base;
    int r = begin(t, OP_LINE, 2000, cb, userdata);
    if (r < 0)
        return r;
    t->line_baud = baud;
    t->line_dtr = dtr;
    t->line_rts = rts;
    t->line_step = 0;
    r = submit_line(t);
    if (r < 0)
        t->op = OP_NONE;
    return r;
}

static void usb_cancel(struct transport *base)
{
    struct usb_transport *t = (struct usb_transport *)base;
    if (t->in_flight)
        libusb_cancel_transfer(t->xfer); /* completes later as CANCELLED */
}

static void finalize_close(void *arg)
{
    struct usb_transport *t = arg;
    if (t->in_flight || t->delivery_queued)
        return; /* the cancellation's completion calls us again */
    libusb_release_interface(t->handle, t->interface_number);
    libusb_close(t->handle);
    libusb_free_transfer(t->xfer);
    void (*closed)(void *) = t->closed;
    void *ud = t->closed_userdata;
    free(t->inbuf);
    free(t);
    if (closed)
        closed(ud);
}

static void usb_close(struct transport *base, void (*closed)(void *userdata), void *userdata)
{
    struct usb_transport *t = (struct usb_transport *)base;
    t->closing = 1;
    t->closed = closed;
    t->closed_userdata = userdata;
    if (t->in_flight) {
        libusb_cancel_transfer(t->xfer);
        return;
    }
    if (!t->delivery_queued) {
        t->delivery_queued = 1;
        if (usb_loop_defer(t->u, deliver, t) < 0) {
            t->delivery_queued = 0;
            finalize_close(t);
        }
    }
}

static const struct transport_ops usb_ops = {
    .write = usb_write,
    .read = usb_read,
    .set_line = usb_set_line,
    .cancel = usb_cancel,
    .close = usb_close,
};

static int find_bulk_pair(libusb_device *dev, int want, int *ret_if, uint8_t *ret_in,
                          uint8_t *ret_out, uint16_t *ret_mps_in, uint16_t *ret_mps_out)
{
    struct libusb_config_descriptor *cfg;
    int r = libusb_get_active_config_descriptor(dev, &cfg);
    if (r < 0)
        return map_libusb_error(r);
    int found = -ENOENT;
    for (int i = 0; i < cfg->bNumInterfaces && found < 0; i++) {
        const struct libusb_interface *itf = &cfg->interface[i];
        for (int a = 0; a < itf->num_altsetting && found < 0; a++) {
            const struct libusb_interface_descriptor *alt = &itf->altsetting[a];
            if (want >= 0 && alt->bInterfaceNumber != want)
                continue;
            uint8_t in = 0, out = 0;
            uint16_t mps_in = 0, mps_out = 0;
            for (int e = 0; e < alt->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
                if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
                    continue;
                if ((ep->bEndpointAddress & 0x80) && !in) {
                    in = ep->bEndpointAddress;
                    mps_in = ep->wMaxPacketSize;
                } else if (!(ep->bEndpointAddress & 0x80) && !out) {
                    out = ep->bEndpointAddress;
                    mps_out = ep->wMaxPacketSize;
                }
            }
            if (in && out) {
                *ret_if = alt->bInterfaceNumber;
                *ret_in = in;
                *ret_out = out;
                *ret_mps_in = mps_in;
                *ret_mps_out = mps_out;
                found = 0;
            }
        }
    }
    libusb_free_config_descriptor(cfg);
    return found;
}

int transport_usb_open(struct usb_loop *u, libusb_device *dev, int interface_number,
                       struct transport **ret)
{
    struct usb_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    uint16_t mps_out = 0;
    int r = find_bulk_pair(dev, interface_number, &t->interface_number, &t->ep_in, &t->ep_out,
                           &t->mps_in, &mps_out);
    if (r < 0)
        goto fail;
    t->inbuf = malloc(USB_CHUNK_MAX);
    t->xfer = libusb_alloc_transfer(0);
    if (!t->inbuf || !t->xfer) {
        r = -ENOMEM;
        goto fail;
    }
    r = libusb_open(dev, &t->handle);
    if (r < 0) {
        r = map_libusb_error(r);
        goto fail;
    }
    libusb_set_auto_detach_kernel_driver(t->handle, 1);
    r = libusb_claim_interface(t->handle, t->interface_number);
    if (r < 0) {
        r = map_libusb_error(r);
        libusb_close(t->handle);
        goto fail;
    }
    struct libusb_device_descriptor desc;
    libusb_get_device_descriptor(dev, &desc);
    t->u = u;
    t->base.ops = &usb_ops;
    t->base.link.kind = PROTO_LINK_USB_BULK;
    t->base.link.vid = desc.idVendor;
    t->base.link.pid = desc.idProduct;
    t->base.link.max_packet = mps_out;
    uint8_t ports[8];
    char path[RACK_PATH_MAX] = "?";
    int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
    if (n > 0)
        rack_format_port_path(libusb_get_bus_number(dev), ports, n, path, sizeof(path));
    snprintf(t->base.name, sizeof(t->base.name), "usb %s if%d", path, t->interface_number);
    *ret = &t->base;
    return 0;
fail:
    if (t->xfer)
        libusb_free_transfer(t->xfer);
    free(t->inbuf);
    free(t);
    return r;
}
