/* The self-test over usbfs (loopback-usb, 1209:0001): async bulk transfers, ST_NXFER in
 * flight, SINK then SOURCE, then one IN left pending so an unplug can be observed as
 * LIBUSB_TRANSFER_NO_DEVICE. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "selftest_client.h"

#define EP_OUT 0x01
#define EP_IN  0x81

static void schedule_close(struct st_dev *d);
static void usb_source(struct st_dev *d);

static const char *status_name(enum libusb_transfer_status s)
{
    switch (s) {
    case LIBUSB_TRANSFER_COMPLETED:
        return "COMPLETED";
    case LIBUSB_TRANSFER_ERROR:
        return "ERROR";
    case LIBUSB_TRANSFER_TIMED_OUT:
        return "TIMED_OUT";
    case LIBUSB_TRANSFER_CANCELLED:
        return "CANCELLED";
    case LIBUSB_TRANSFER_STALL:
        return "STALL";
    case LIBUSB_TRANSFER_NO_DEVICE:
        return "NO_DEVICE";
    case LIBUSB_TRANSFER_OVERFLOW:
        return "OVERFLOW";
    }
    return "?";
}

static void track(struct st_dev *d, struct libusb_transfer *t, bool add)
{
    for (int i = 0; i < ST_NXFER + 2; i++) {
        if (add && !d->live[i]) {
            d->live[i] = t;
            d->inflight++;
            return;
        }
        if (!add && d->live[i] == t) {
            d->live[i] = NULL;
            d->inflight--;
            return;
        }
    }
}

static bool submit(struct st_dev *d, uint8_t ep, size_t len, const uint8_t *data,
                   libusb_transfer_cb_fn cb)
{
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    uint8_t *buf = malloc(len ? len : 1);
    if (!t || !buf)
        abort();
    if (data)
        memcpy(buf, data, len);
    libusb_fill_bulk_transfer(t, d->handle, ep, buf, (int)len, cb, d, 0);
    t->flags = LIBUSB_TRANSFER_FREE_BUFFER | LIBUSB_TRANSFER_FREE_TRANSFER;
    int r = libusb_submit_transfer(t);
    if (r < 0) {
        st_fail(d, "submit ep %02x: %s", ep, libusb_error_name(r));
        libusb_free_transfer(t);
        return false;
    }
    track(d, t, true);
    return true;
}

/* Every callback starts here; false: stop this stream (error, cancel, unplug). */
static bool completed(struct st_dev *d, struct libusb_transfer *t)
{
    track(d, t, false);
    if (t->status == LIBUSB_TRANSFER_COMPLETED) {
        if (!d->closing)
            return true;
    } else if (t->status == LIBUSB_TRANSFER_TIMED_OUT && d->phase == ST_TIMEOUT) {
        return true; /* expected: the idle device had nothing to send */
    } else if (t->status == LIBUSB_TRANSFER_NO_DEVICE && d->phase == ST_HOLD) {
        st_log("usb %s pending IN ended NO_DEVICE (%s LEFT)", d->port,
               d->left ? "after" : "before");
    } else if (!(t->status == LIBUSB_TRANSFER_CANCELLED && d->closing)) {
        st_fail(d, "transfer ep %02x in phase %d: %s", t->endpoint, d->phase,
                status_name(t->status));
    }
    d->closing = true;
    if (!d->inflight)
        schedule_close(d);
    return false;
}

static void fill_sink(struct st_dev *d);

static void on_reply(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (!completed(d, t))
        return;
    if (t->actual_length != 40) {
        st_fail(d, "SINK reply has %d bytes", t->actual_length);
        return;
    }
    if (!st_check_reply(d, t->buffer, d->sha))
        return;
    st_report(d, "sink", d->total, d->t0_ms);
    usb_source(d);
}

static void on_sink_out(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (!completed(d, t))
        return;
    if (t->actual_length != t->length) {
        st_fail(d, "OUT took %d of %d bytes", t->actual_length, t->length);
        return;
    }
    d->acked += (uint64_t)t->actual_length;
    fill_sink(d);
}

static void fill_sink(struct st_dev *d)
{
    uint8_t buf[ST_CHUNK];
    while (d->inflight < ST_NXFER && d->produced < d->total) {
        size_t n = d->total - d->produced < ST_CHUNK ? (size_t)(d->total - d->produced) : ST_CHUNK;
        st_gen_fill(&d->gen, buf, n);
        EVP_DigestUpdate(d->md, buf, n);
        d->produced += n;
        if (!submit(d, EP_OUT, n, buf, on_sink_out))
            return;
    }
    if (d->acked == d->total + 24 && d->inflight == 0 && d->phase == ST_SINK) {
        unsigned int len = 0;
        EVP_DigestFinal_ex(d->md, d->sha, &len);
        d->phase = ST_SINK_REPLY;
        submit(d, EP_IN, 512, NULL, on_reply);
    }
}

static void on_hold(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (completed(d, t))
        st_fail(d, "idle device sent %d bytes", t->actual_length);
}

static void on_timeout(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (!completed(d, t))
        return;
    if (t->status != LIBUSB_TRANSFER_TIMED_OUT || t->actual_length != 0) {
        st_fail(d, "IN on an idle device returned %d bytes", t->actual_length);
        return;
    }
    /* The timeout went through DISCARDURB; a second pending IN now waits for the unplug. */
    st_log("usb %s timeout ok after %" PRIu64 " ms", d->port, st_now_ms() - d->t0_ms);
    d->phase = ST_HOLD;
    if (submit(d, EP_IN, 512, NULL, on_hold))
        st_log("usb %s holding a pending IN", d->port);
}

static void top_up_source(struct st_dev *d);

static void on_source_in(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (!completed(d, t))
        return;
    uint8_t want[ST_CHUNK];
    size_t n = (size_t)t->actual_length;
    st_gen_fill(&d->gen, want, n);
    if (memcmp(want, t->buffer, n) != 0) {
        st_fail(d, "SOURCE data differs at byte %" PRIu64, d->received);
        d->closing = true;
        return;
    }
    d->received += n;
    d->requested -= (uint64_t)(t->length - t->actual_length); /* short transfer */
    top_up_source(d);
}

static void top_up_source(struct st_dev *d)
{
    while (d->inflight < ST_NXFER && d->requested < d->total) {
        size_t n =
            d->total - d->requested < ST_CHUNK ? (size_t)(d->total - d->requested) : ST_CHUNK;
        d->requested += n;
        if (!submit(d, EP_IN, n, NULL, on_source_in))
            return;
    }
    if (d->received == d->total && d->inflight == 0) {
        st_report(d, "source", d->total, d->t0_ms);
        d->phase = ST_TIMEOUT;
        d->t0_ms = st_now_ms();
        struct libusb_transfer *t = libusb_alloc_transfer(0);
        uint8_t *buf = malloc(512);
        if (!t || !buf)
            abort();
        libusb_fill_bulk_transfer(t, d->handle, EP_IN, buf, 512, on_timeout, d, 100);
        t->flags = LIBUSB_TRANSFER_FREE_BUFFER | LIBUSB_TRANSFER_FREE_TRANSFER;
        if (libusb_submit_transfer(t) == 0)
            track(d, t, true);
        else
            st_fail(d, "submit timeout probe");
    }
}

static void on_source_hdr(struct libusb_transfer *t)
{
    struct st_dev *d = t->user_data;
    if (!completed(d, t))
        return;
    d->phase = ST_SOURCE;
    top_up_source(d);
}

static void usb_source(struct st_dev *d)
{
    uint8_t cmd[24];
    uint32_t seed = 0x5EED0000u + d->addr;
    d->phase = ST_SOURCE_HDR;
    d->total = st_stream_bytes();
    d->received = d->requested = 0;
    d->t0_ms = st_now_ms();
    st_gen_init(&d->gen, seed);
    st_make_cmd(cmd, ST_OP_SOURCE, seed, d->total);
    submit(d, EP_OUT, sizeof(cmd), cmd, on_source_hdr);
}

static void do_close(uv_timer_t *t)
{
    struct st_dev *d = t->data;
    if (d->handle) {
        libusb_release_interface(d->handle, 0); /* fails with NO_DEVICE after an unplug */
        libusb_close(d->handle);
        d->handle = NULL;
        st_log("usb %s closed", d->port);
    }
    st_dev_release(d);
}

static void schedule_close(struct st_dev *d)
{
    /* libusb_close inside a transfer callback on the disconnect path deadlocks (1.0.26). */
    uv_timer_start(&d->defer, do_close, 0, 0);
}

/* A host that gives up mid-transfer (the daemon aborting a flash): every transfer is
 * cancelled (DISCARDURB) while the model's link still expects the rest, and the device is
 * closed. The runner then checks that the rack stays still and serves the others. */
static void abandon(uv_timer_t *t)
{
    struct st_dev *d = t->data;
    st_log("usb %s abandoned the SINK after %" PRIu64 " of %" PRIu64 " bytes queued", d->port,
           d->produced, d->total);
    st_usb_stop(d);
}

void st_usb_start(struct st_dev *d)
{
    int r = libusb_open(d->dev, &d->handle);
    if (r < 0) {
        st_fail(d, "open: %s", libusb_error_name(r));
        st_dev_release(d);
        return;
    }
    unsigned char product[64] = "";
    struct libusb_device_descriptor desc;
    libusb_get_device_descriptor(d->dev, &desc);
    r = libusb_get_string_descriptor_ascii(d->handle, desc.iProduct, product, sizeof(product));
    if (r < 0 || strcmp((char *)product, "Loopback USB") != 0)
        st_fail(d, "product string: %s", r < 0 ? libusb_error_name(r) : (char *)product);
    unsigned char serial[64] = "";
    if (libusb_get_string_descriptor_ascii(d->handle, desc.iSerialNumber, serial, sizeof(serial)) <
        0)
        serial[0] = '\0';
    bool give_up = strcmp((char *)serial, "ABANDON") == 0;
    /* The stream model has no vendor requests: the device must stall. */
    uint8_t b[4];
    r = libusb_control_transfer(d->handle, 0xc0, 0x42, 0, 0, b, sizeof(b), 1000);
    if (r != LIBUSB_ERROR_PIPE)
        st_fail(d, "vendor request should stall, got %s", libusb_error_name(r));
    r = libusb_claim_interface(d->handle, 0);
    if (r < 0) {
        st_fail(d, "claim: %s", libusb_error_name(r));
        schedule_close(d);
        return;
    }
    /* CDC line requests reach the model (the runner checks dtr/rts/baud in its stats). */
    static const uint8_t coding[7] = {0x00, 0x10, 0x0e, 0x00, 0, 0, 8}; /* 921600 8N1 */
    uint8_t back[7] = {0};
    r = libusb_control_transfer(d->handle, 0x21, 0x22, 0x0003, 0, NULL, 0, 1000);
    if (r != 0)
        st_fail(d, "SET_CONTROL_LINE_STATE: %s", libusb_error_name(r));
    r = libusb_control_transfer(d->handle, 0x21, 0x20, 0, 0, (uint8_t *)coding, 7, 1000);
    if (r != 7)
        st_fail(d, "SET_LINE_CODING: %s", libusb_error_name(r));
    r = libusb_control_transfer(d->handle, 0xa1, 0x21, 0, 0, back, 7, 1000);
    if (r != 7 || memcmp(back, coding, 7) != 0)
        st_fail(d, "GET_LINE_CODING: %d", r);
    uint8_t cmd[24];
    uint32_t seed = 0xC0DE0000u + d->addr;
    d->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
    d->phase = ST_SINK;
    d->total = st_stream_bytes();
    d->acked = d->produced = 0;
    d->t0_ms = st_now_ms();
    st_gen_init(&d->gen, seed);
    st_make_cmd(cmd, ST_OP_SINK, seed, d->total);
    if (submit(d, EP_OUT, sizeof(cmd), cmd, on_sink_out))
        fill_sink(d);
    if (give_up) /* plugged with a slow link_rate: the SINK is far from done by then */
        uv_timer_start(&d->defer, abandon, 300, 0);
}

void st_usb_stop(struct st_dev *d)
{
    d->closing = true;
    for (int i = 0; i < ST_NXFER + 2; i++)
        if (d->live[i])
            libusb_cancel_transfer(d->live[i]);
    if (!d->inflight && !d->released)
        schedule_close(d);
}
