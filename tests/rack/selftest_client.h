/* Shared by the parts of the rack self-test client (selftest_client.c, selftest_usb.c,
 * selftest_tty.c). Everything runs on the libuv loop thread. */
#ifndef FLASHRACK_SELFTEST_CLIENT_H
#define FLASHRACK_SELFTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libserialport.h>
#include <libusb.h>
#include <openssl/evp.h>
#include <uv.h>

#define ST_NXFER     8
#define ST_CHUNK     65536
#define ST_OP_SINK   1
#define ST_OP_SOURCE 2

struct st_gen {
    uint32_t x;
    uint8_t word[4];
    unsigned pos;
};

enum st_phase { ST_SINK, ST_SINK_REPLY, ST_SOURCE_HDR, ST_SOURCE, ST_TIMEOUT, ST_HOLD };

struct st_dev {
    struct st_dev *next;
    libusb_device *dev;
    libusb_device_handle *handle;
    uint8_t bus, addr;
    char port[32];
    bool tty_mode, left, released, closing;
    uint64_t left_ms;
    uv_timer_t defer;
    enum st_phase phase;
    /* stream */
    struct st_gen gen;
    EVP_MD_CTX *md;
    uint8_t sha[32];
    uint64_t total, produced, acked, requested, received, t0_ms;
    /* usb */
    struct libusb_transfer *live[ST_NXFER + 2];
    int inflight;
    /* tty */
    struct sp_port *sp;
    uv_poll_t poll;
    bool poll_open, streaming;
    int tries;
    uint8_t out[ST_CHUNK];
    size_t out_len, out_off;
    uint8_t reply[40];
    size_t reply_len;
};

uint64_t st_now_ms(void);
void st_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void st_fail(struct st_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uv_loop_t *st_loop(void);
uint64_t st_stream_bytes(void);
bool st_stopping(void);
void st_dev_release(struct st_dev *d);

void st_gen_init(struct st_gen *g, uint32_t seed);
void st_gen_fill(struct st_gen *g, uint8_t *out, size_t n);
void st_make_cmd(uint8_t out[24], uint32_t op, uint32_t seed, uint64_t length);
bool st_check_reply(struct st_dev *d, const uint8_t reply[40], const uint8_t sha[32]);
void st_report(struct st_dev *d, const char *what, uint64_t bytes, uint64_t t0_ms);

/* selftest_usb.c */
void st_usb_start(struct st_dev *d);
void st_usb_stop(struct st_dev *d);

/* selftest_tty.c */
void st_tty_start(struct st_dev *d);
void st_tty_stop(struct st_dev *d);

#endif
