/* Byte transport under a protocol session: async USB bulk (libusb) or serial (libserialport),
 * both on the loop thread. At most one operation is outstanding per transport (the job layer
 * guarantees it). Completion callbacks always run later from the loop, never from inside the
 * call that started the operation.
 *
 * Status values: 0, -ETIMEDOUT (nothing within the timeout; a read may still return data
 * later), -ENODEV (device gone), -EPIPE (endpoint stalled), -EIO (other transport error),
 * -ECANCELED (transport_cancel). */
#ifndef FLASHRACK_TRANSPORT_H
#define FLASHRACK_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol.h"

struct transport;
struct usb_loop;
struct libusb_device;

/* data/len: bytes read (read), or NULL/bytes written (write). Valid during the call only. */
typedef void (*transport_cb)(struct transport *t, int status, const uint8_t *data, size_t len,
                             void *userdata);

struct transport_ops {
    int (*write)(struct transport *t, const uint8_t *data, size_t len, uint32_t timeout_ms,
                 transport_cb cb, void *userdata);
    int (*read)(struct transport *t, size_t max, uint32_t timeout_ms, transport_cb cb,
                void *userdata);
    int (*set_line)(struct transport *t, uint32_t baud, int dtr, int rts, transport_cb cb,
                    void *userdata);
    /* The outstanding operation completes with -ECANCELED (asynchronously). */
    void (*cancel)(struct transport *t);
    /* Cancels, releases the device, frees t; closed(userdata) runs once all is released. */
    void (*close)(struct transport *t, void (*closed)(void *userdata), void *userdata);
};

struct transport {
    const struct transport_ops *ops;
    struct proto_link link;
    char name[96]; /* "usb 1-1.2 if1" or "/dev/ttyACM0", for logs */
    uint64_t bytes_in, bytes_out;
};

static inline int transport_write(struct transport *t, const uint8_t *data, size_t len,
                                  uint32_t timeout_ms, transport_cb cb, void *userdata)
{
    return t->ops->write(t, data, len, timeout_ms, cb, userdata);
}
static inline int transport_read(struct transport *t, size_t max, uint32_t timeout_ms,
                                 transport_cb cb, void *userdata)
{
    return t->ops->read(t, max, timeout_ms, cb, userdata);
}
static inline int transport_set_line(struct transport *t, uint32_t baud, int dtr, int rts,
                                     transport_cb cb, void *userdata)
{
    return t->ops->set_line(t, baud, dtr, rts, cb, userdata);
}
static inline void transport_cancel(struct transport *t)
{
    t->ops->cancel(t);
}
static inline void transport_close(struct transport *t, void (*closed)(void *userdata),
                                   void *userdata)
{
    t->ops->close(t, closed, userdata);
}

/* Opens the device, claims interface_number (detaching a kernel driver if bound) and finds
 * its first bulk IN/OUT pair; interface_number -1 takes the first interface that has one. */
int transport_usb_open(struct usb_loop *u, struct libusb_device *dev, int interface_number,
                       struct transport **ret);
/* Opens a serial node non-blocking, raw 8N1 at baud, DTR and RTS asserted. */
int transport_serial_open(uv_loop_t *loop, const char *devnode, uint32_t baud,
                          struct transport **ret);

#endif
