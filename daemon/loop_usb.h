/* libusb inside the libuv loop: libusb's pollfds watched by uv_poll handles, its timeouts by
 * a uv_timer, and hotplug events delivered on the loop thread but OUTSIDE libusb's event
 * handling (libusb forbids synchronous I/O and libusb_close inside its callbacks), through a
 * deferred queue drained by a 0 ms timer. */
#ifndef FLASHRACK_LOOP_USB_H
#define FLASHRACK_LOOP_USB_H

#include <libusb.h>
#include <stdint.h>
#include <uv.h>

#include "rack.h"

struct usb_loop;

/* arrived: 1 for arrival, 0 for departure. dev is valid only during the call; dev->usb may be
 * referenced with libusb_ref_device to keep it. */
typedef void (*usb_hotplug_fn)(void *userdata, int arrived, const struct rack_device *dev);

int usb_loop_new(uv_loop_t *loop, struct usb_loop **ret);
/* Registers the hotplug callback; devices already present are reported first. */
int usb_loop_start_hotplug(struct usb_loop *u, usb_hotplug_fn fn, void *userdata);
libusb_context *usb_loop_context(struct usb_loop *u);
uv_loop_t *usb_loop_uv(struct usb_loop *u);
/* Run fn(arg) on the loop thread after the current libusb event handling returned.
 * This is the only safe place to libusb_close a handle from a transfer callback. */
int usb_loop_defer(struct usb_loop *u, void (*fn)(void *arg), void *arg);
/* Makes libusb look at its fds/timeouts again (after submitting transfers). */
void usb_loop_kick(struct usb_loop *u);
/* Deregisters hotplug, closes every uv handle; done() runs once all are closed. The libusb
 * context is exited then. Every device handle must have been closed before. */
void usb_loop_close(struct usb_loop *u, void (*done)(void *userdata), void *userdata);

/* Fills the port path, ids and the sysfs strings of a libusb device. */
int usb_describe_device(libusb_device *dev, struct rack_device *ret);

#endif
