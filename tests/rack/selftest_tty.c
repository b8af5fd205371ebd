/* The self-test over a tty (loopback-tty, 1209:0002): find the ttyACM that belongs to the
 * USB device with sp_list_ports (transport USB, same bus and address), open it with
 * libserialport, run SINK and SOURCE with non-blocking I/O on a uv_poll, then keep a SOURCE
 * streaming so an unplug can be observed as a hangup (write -> EIO). */
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "selftest_client.h"

#define HOLD_LENGTH   (1ull << 40)
#define HOLD_TICK_MS  10
#define HOLD_READ_MAX 8192 /* ~0.8 MB/s: a live transfer that leaves the CPU to the rest */

static void tty_closed(uv_handle_t *h)
{
    st_dev_release(h->data);
}

static void tty_close(struct st_dev *d)
{
    if (d->closing)
        return;
    d->closing = true;
    uv_timer_stop(&d->defer);
    if (d->poll_open)
        uv_poll_stop(&d->poll);
    if (d->sp) {
        sp_close(d->sp);
        sp_free_port(d->sp);
        d->sp = NULL;
    }
    st_log("tty %s closed", d->port);
    if (d->poll_open)
        uv_close((uv_handle_t *)&d->poll, tty_closed);
    else
        st_dev_release(d);
}

static void hangup(struct st_dev *d, const char *why)
{
    /* A hung-up tty reads as EOF and refuses writes with EIO, as after a USB unplug. */
    int n = sp_nonblocking_write(d->sp, "x", 1);
    int e = n < 0 ? sp_last_error_code() : 0;
    if (e == EAGAIN) /* a full buffer, not a hangup: see pump() */
        n = 0;
    if (d->phase != ST_HOLD)
        st_fail(d, "tty went away in phase %d (%s; write gave %d, %s)", d->phase, why, n,
                strerror(e));
    else if (n >= 0 || e != EIO)
        st_fail(d, "after hangup write gave %d (%s)", n, strerror(e));
    else
        st_log("tty %s hangup: write -> EIO (%s LEFT)", d->port, d->left ? "after" : "before");
    tty_close(d);
}

static void start_source(struct st_dev *d, uint64_t length, enum st_phase phase)
{
    uint32_t seed = 0x7777000u + d->addr;
    st_make_cmd(d->out, ST_OP_SOURCE, seed, length);
    d->out_len = 24;
    d->out_off = 0;
    st_gen_init(&d->gen, seed);
    d->total = length;
    d->received = 0;
    d->phase = phase;
    d->t0_ms = st_now_ms();
}

static void consume(struct st_dev *d, const uint8_t *buf, size_t n)
{
    if (d->phase == ST_SINK || d->phase == ST_SINK_REPLY) {
        if (d->reply_len + n > sizeof(d->reply) || d->phase == ST_SINK) {
            st_fail(d, "unexpected %zu bytes during SINK", n);
            tty_close(d);
            return;
        }
        memcpy(d->reply + d->reply_len, buf, n);
        d->reply_len += n;
        if (d->reply_len < sizeof(d->reply))
            return;
        if (!st_check_reply(d, d->reply, d->sha)) {
            tty_close(d);
            return;
        }
        st_report(d, "sink", d->total, d->t0_ms);
        start_source(d, st_stream_bytes(), ST_SOURCE);
        return;
    }
    uint8_t want[ST_CHUNK];
    st_gen_fill(&d->gen, want, n);
    if (memcmp(want, buf, n) != 0 || d->received + n > d->total) {
        st_fail(d, "SOURCE data differs near byte %" PRIu64, d->received);
        tty_close(d);
        return;
    }
    d->received += n;
    if (d->phase == ST_HOLD && !d->streaming) {
        d->streaming = true;
        st_log("tty %s streaming", d->port);
    }
    if (d->phase == ST_SOURCE && d->received == d->total) {
        st_report(d, "source", d->total, d->t0_ms);
        start_source(d, HOLD_LENGTH, ST_HOLD);
    }
}

static void refill(struct st_dev *d)
{
    if (d->phase != ST_SINK || d->out_off < d->out_len)
        return;
    if (d->produced == d->total) {
        unsigned int len = 0;
        EVP_DigestFinal_ex(d->md, d->sha, &len);
        d->phase = ST_SINK_REPLY;
        return;
    }
    size_t n = d->total - d->produced < ST_CHUNK ? (size_t)(d->total - d->produced) : ST_CHUNK;
    st_gen_fill(&d->gen, d->out, n);
    EVP_DigestUpdate(d->md, d->out, n);
    d->produced += n;
    d->out_len = n;
    d->out_off = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);
static void hold_tick(uv_timer_t *t);

static void pump(struct st_dev *d)
{
    uint8_t buf[ST_CHUNK];
    while (d->phase != ST_HOLD || d->out_off < d->out_len) {
        bool progress = false;
        refill(d);
        if (d->out_off < d->out_len) {
            int n = sp_nonblocking_write(d->sp, d->out + d->out_off, d->out_len - d->out_off);
            /* libserialport 0.1.1 reports a full tty buffer (EAGAIN) as a failure. */
            if (n < 0 && sp_last_error_code() == EAGAIN)
                n = 0;
            if (n < 0) {
                char why[64];
                snprintf(why, sizeof(why), "write failed: %s", strerror(sp_last_error_code()));
                hangup(d, why);
                return;
            }
            d->out_off += (size_t)n;
            progress |= n > 0;
            refill(d); /* the SINK reply may be in the very next read */
        }
        int n = sp_nonblocking_read(d->sp, buf, sizeof(buf));
        if (n < 0) {
            hangup(d, "read failed");
            return;
        }
        if (n > 0) {
            consume(d, buf, (size_t)n);
            if (d->closing)
                return;
            progress = true;
        }
        if (!progress)
            break;
    }
    if (d->phase == ST_HOLD && d->out_off == d->out_len) {
        /* Streaming, throttled: read on a timer; the poll only watches for the hangup
         * (POLLHUP/POLLERR are reported whatever the events asked for). */
        uv_poll_start(&d->poll, UV_DISCONNECT, on_poll);
        if (!uv_is_active((uv_handle_t *)&d->defer))
            uv_timer_start(&d->defer, hold_tick, HOLD_TICK_MS, HOLD_TICK_MS);
        return;
    }
    int ev = UV_READABLE | UV_DISCONNECT | (d->out_off < d->out_len ? UV_WRITABLE : 0);
    uv_poll_start(&d->poll, ev, on_poll);
}

static void hold_tick(uv_timer_t *t)
{
    struct st_dev *d = t->data;
    uint8_t buf[HOLD_READ_MAX];
    int n = sp_nonblocking_read(d->sp, buf, sizeof(buf));
    if (n < 0) {
        hangup(d, "read failed");
        return;
    }
    if (n > 0)
        consume(d, buf, (size_t)n);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct st_dev *d = h->data;
    if (d->closing)
        return;
    /* POLLERR comes as status < 0; POLLHUP may come as "readable" with nothing to read. */
    int waiting = events & UV_READABLE ? sp_input_waiting(d->sp) : 1;
    if (status < 0 || (events & UV_DISCONNECT) || waiting <= 0) {
        char why[96];
        snprintf(why, sizeof(why), "poll status %d events %d waiting %d", status, events, waiting);
        hangup(d, why);
        return;
    }
    pump(d);
}

static void open_port(struct st_dev *d)
{
    int fd = -1;
    if (sp_open(d->sp, SP_MODE_READ_WRITE) != SP_OK || sp_set_baudrate(d->sp, 115200) != SP_OK ||
        sp_set_bits(d->sp, 8) != SP_OK || sp_set_parity(d->sp, SP_PARITY_NONE) != SP_OK ||
        sp_set_stopbits(d->sp, 1) != SP_OK ||
        sp_set_flowcontrol(d->sp, SP_FLOWCONTROL_NONE) != SP_OK ||
        sp_get_port_handle(d->sp, &fd) != SP_OK) {
        char *msg = sp_last_error_message();
        st_fail(d, "open %s: %s", sp_get_port_name(d->sp), msg);
        sp_free_error_message(msg);
        tty_close(d);
        return;
    }
    int r = uv_poll_init(st_loop(), &d->poll, fd);
    if (r < 0) {
        st_fail(d, "uv_poll_init: %s", uv_strerror(r));
        tty_close(d);
        return;
    }
    d->poll.data = d;
    d->poll_open = true;
    uint8_t cmd[24];
    uint32_t seed = 0xACAC0000u + d->addr;
    d->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
    d->total = st_stream_bytes();
    d->produced = 0;
    d->reply_len = 0;
    st_gen_init(&d->gen, seed);
    st_make_cmd(cmd, ST_OP_SINK, seed, d->total);
    memcpy(d->out, cmd, sizeof(cmd));
    d->out_len = sizeof(cmd);
    d->out_off = 0;
    d->phase = ST_SINK;
    d->t0_ms = st_now_ms();
    pump(d);
}

static void discover(uv_timer_t *t)
{
    struct st_dev *d = t->data;
    struct sp_port **list = NULL;
    if (sp_list_ports(&list) == SP_OK) {
        for (size_t i = 0; list[i] && !d->sp; i++) {
            int bus = -1, addr = -1, vid = -1, pid = -1;
            if (sp_get_port_transport(list[i]) != SP_TRANSPORT_USB ||
                sp_get_port_usb_bus_address(list[i], &bus, &addr) != SP_OK || bus != d->bus ||
                addr != d->addr)
                continue;
            sp_get_port_usb_vid_pid(list[i], &vid, &pid);
            if (vid != 0x1209 || pid != 0x0002)
                st_fail(d, "%s reports %04x:%04x", sp_get_port_name(list[i]), vid, pid);
            sp_copy_port(list[i], &d->sp);
            st_log("tty %s is %s (bus %d addr %d, \"%s\", serial %s) after %d tries", d->port,
                   sp_get_port_name(d->sp), bus, addr, sp_get_port_description(d->sp),
                   sp_get_port_usb_serial(d->sp), d->tries + 1);
        }
        sp_free_port_list(list);
    }
    if (d->sp) {
        uv_timer_stop(t);
        open_port(d);
    } else if (++d->tries >= 200 || st_stopping()) {
        /* The tty appears after its USB device, as with cdc_acm; 10 s is plenty. */
        uv_timer_stop(t);
        if (!st_stopping())
            st_fail(d, "no tty with bus %u address %u after %d tries", d->bus, d->addr, d->tries);
        tty_close(d);
    }
}

/* cdc_acm owns both interfaces of the ACM device: usbfs must say so. */
static void check_driver(struct st_dev *d)
{
    libusb_device_handle *h = NULL;
    int r = libusb_open(d->dev, &h);
    if (r < 0) {
        st_fail(d, "libusb_open: %s", libusb_error_name(r));
        return;
    }
    if ((r = libusb_kernel_driver_active(h, 0)) != 1)
        st_fail(d, "kernel_driver_active(0) = %d, want 1 (cdc_acm)", r);
    if ((r = libusb_claim_interface(h, 1)) != LIBUSB_ERROR_BUSY)
        st_fail(d, "claiming the cdc_acm data interface gave %s, want BUSY", libusb_error_name(r));
    if ((r = libusb_control_transfer(h, 0x21, 0x22, 3, 0, NULL, 0, 1000)) >= 0)
        st_fail(d, "class request to a driver-owned interface went through");
    libusb_close(h);
    st_log("tty %s usbfs view ok (cdc_acm bound, interface busy)", d->port);
}

void st_tty_start(struct st_dev *d)
{
    check_driver(d);
    d->tries = 0;
    uv_timer_start(&d->defer, discover, 0, 50);
}

void st_tty_stop(struct st_dev *d)
{
    if (!d->sp) {
        uv_timer_stop(&d->defer);
        if (!d->released && !d->closing)
            tty_close(d);
        return;
    }
    tty_close(d);
}
