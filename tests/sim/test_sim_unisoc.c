/* Sessions against the "unisoc" model, driven by a tiny scripted host written here from the
 * protocol notes (its own framing code, not the model's), under a virtual clock: the 8910
 * PDL -> FDL1 -> FDL2 path and the 8850 ROM -> FDL1 -> FDL2 path, whole and byte at a time,
 * the §6 checks, and every fault knob. */
#include "sim.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

/* ---- the host: framing per notes §2 ---- */

static uint16_t h_crc(const uint8_t *p, size_t n)
{
    uint16_t c = 0;
    while (n--) {
        c ^= (uint16_t)(*p++ << 8);
        for (int i = 0; i < 8; i++)
            c = (uint16_t)((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
    }
    return c;
}

static uint16_t h_sum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    s = (s >> 16) + (s & 0xFFFF);
    s += s >> 16;
    return (uint16_t)~s;
}

struct host {
    struct sim_model *m;
    uint64_t now;
    bool crc, escape, bytewise;
    uint8_t in[70000];
    size_t in_len;
    uint16_t type;
    uint8_t payload[0x3100];
    size_t len;
    unsigned logs; /* 0xFF LOG frames skipped */
};

static void h_pump(struct host *h)
{
    for (;;) {
        size_t cap = sizeof(h->in) - h->in_len;
        size_t n = sim_model_tx(h->m, 0, h->in + h->in_len, cap > 512 ? 512 : cap, h->now);
        if (!n)
            return;
        h->in_len += n;
    }
}

/* Moves the virtual clock to the model's next event; false if it has none. */
static bool h_wait(struct host *h, uint64_t deadline)
{
    uint64_t due = sim_model_next_event_ms(h->m, h->now);
    /* Something due now was already served by the last pump: waiting cannot help. */
    if (due == SIM_NEVER || due > deadline || due <= h->now)
        return false;
    h->now = due;
    return true;
}

static void h_write(struct host *h, const uint8_t *p, size_t n)
{
    size_t off = 0;
    int stuck = 0;
    while (off < n) {
        size_t want = h->bytewise ? 1 : n - off;
        size_t k = sim_model_rx(h->m, 0, p + off, want, h->now);
        off += k;
        if (k)
            continue;
        size_t before = h->in_len;
        h_pump(h); /* the device holds input while its answer waits */
        if (h->in_len == before && !h_wait(h, h->now + 60000))
            assert_true(++stuck < 3);
    }
}

static void h_send(struct host *h, uint16_t type, const void *payload, size_t len)
{
    uint8_t raw[0x3100], wire[2 * 0x3100 + 4];
    raw[0] = (uint8_t)(type >> 8);
    raw[1] = (uint8_t)type;
    raw[2] = (uint8_t)(len >> 8);
    raw[3] = (uint8_t)len;
    if (len)
        memcpy(raw + 4, payload, len);
    uint16_t c = h->crc ? h_crc(raw, 4 + len) : h_sum(raw, 4 + len);
    raw[4 + len] = (uint8_t)(c >> 8);
    raw[5 + len] = (uint8_t)c;
    size_t w = 0;
    wire[w++] = 0x7E;
    for (size_t i = 0; i < len + 6; i++) {
        if (h->escape && (raw[i] == 0x7E || raw[i] == 0x7D)) {
            wire[w++] = 0x7D;
            wire[w++] = raw[i] ^ 0x20;
        } else {
            wire[w++] = raw[i];
        }
    }
    wire[w++] = 0x7E;
    h_write(h, wire, w);
}

/* Parses one frame from h->in. 1 = frame, 0 = need more, -EBADMSG = bad check. */
static int h_parse(struct host *h)
{
    size_t s = 0;
    while (s < h->in_len && h->in[s] != 0x7E)
        s++;
    size_t e = s + 1;
    while (e < h->in_len && h->in[e] == 0x7E)
        s = e++; /* empty frames */
    uint8_t raw[0x3110];
    size_t n = 0;
    bool esc = false;
    for (; e < h->in_len; e++) {
        uint8_t b = h->in[e];
        if (h->escape && b == 0x7E)
            break;
        if (!h->escape && n >= 4 && n == (size_t)(raw[2] << 8 | raw[3]) + 6)
            break;
        if (h->escape && b == 0x7D) {
            esc = true;
            continue;
        }
        raw[n++] = esc ? b ^ 0x20 : b;
        esc = false;
    }
    if (e >= h->in_len)
        return 0;
    memmove(h->in, h->in + e + 1, h->in_len - e - 1);
    h->in_len -= e + 1;
    if (n < 6)
        return -EBADMSG;
    uint16_t got = (uint16_t)(raw[n - 2] << 8 | raw[n - 1]);
    if ((h->crc ? h_crc(raw, n - 2) : h_sum(raw, n - 2)) != got)
        return -EBADMSG;
    h->type = (uint16_t)(raw[0] << 8 | raw[1]);
    h->len = n - 6;
    memcpy(h->payload, raw + 4, h->len);
    return 1;
}

/* Waits for a reply frame (skipping 0xFF LOG frames): its type, -EBADMSG or -ETIMEDOUT. */
static int h_recv(struct host *h)
{
    uint64_t deadline = h->now + 20000;
    for (;;) {
        h_pump(h);
        int r = h_parse(h);
        if (r == 1 && h->type == 0xFF) {
            h->logs++;
            continue;
        }
        if (r == 1)
            return h->type;
        if (r < 0)
            return r;
        if (!h_wait(h, deadline))
            return -ETIMEDOUT;
    }
}

static int h_cmd(struct host *h, uint16_t type, const void *payload, size_t len)
{
    h_send(h, type, payload, len);
    return h_recv(h);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int h_start(struct host *h, uint32_t addr, uint32_t size)
{
    uint8_t p[8];
    be32(p, addr);
    be32(p + 4, size);
    return h_cmd(h, 0x01, p, 8);
}

/* START/MIDST/END of an image; returns the first non-ACK reply or 0x80. */
static int h_download(struct host *h, uint32_t addr, const uint8_t *img, size_t size, size_t chunk)
{
    int r = h_start(h, addr, (uint32_t)size);
    for (size_t off = 0; r == 0x80 && off < size; off += chunk)
        r = h_cmd(h, 0x02, img + off, size - off < chunk ? size - off : chunk);
    return r == 0x80 ? h_cmd(h, 0x03, NULL, 0) : r;
}

/* PDL packet per notes §4.1; returns the reply status or -ETIMEDOUT. */
static int h_pdl(struct host *h, uint32_t cmd, uint32_t a1, uint32_t a2, const void *extra,
                 size_t n)
{
    uint8_t b[8 + 12 + 0x800];
    b[0] = 0xAE;
    le32(b + 1, (uint32_t)(12 + n));
    b[5] = 0xFF;
    b[6] = b[7] = 0;
    le32(b + 8, cmd);
    le32(b + 12, a1);
    le32(b + 16, a2);
    if (n)
        memcpy(b + 20, extra, n);
    h_write(h, b, 20 + n);
    /* EXEC has no reply when it works: wait 1 s for an error status only. */
    uint64_t deadline = h->now + (cmd == 7 ? 1000 : 5000);
    for (;;) {
        h_pump(h);
        if (h->in_len >= 12) {
            assert_int_equal(h->in[0], 0xAE);
            int st = h->in[8] | h->in[9] << 8;
            memmove(h->in, h->in + 12, h->in_len - 12);
            h->in_len -= 12;
            return st;
        }
        if (!h_wait(h, deadline))
            return -ETIMEDOUT;
    }
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    p[0] = 0x7E; /* always something to escape */
    p[1] = 0x7D;
}

static void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Value of stats key, copied into a static buffer ("" when absent). */
static const char *stat(struct host *h, const char *key)
{
    static char buf[SIM_STATS_MAX], val[256];
    assert_true(sim_model_stats(h->m, buf, sizeof(buf)) > 0);
    size_t kl = strlen(key);
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == '=') {
            size_t vl = strcspn(l + kl + 1, "\n");
            snprintf(val, sizeof(val), "%.*s", (int)vl, l + kl + 1);
            return val;
        }
    }
    return "";
}

static void h_open(struct host *h, const char *opts)
{
    memset(h, 0, sizeof(*h));
    char err[SIM_ERR_MAX];
    if (sim_model_create("unisoc", opts, &h->m, err, sizeof(err)) < 0)
        fail_msg("create: %s", err);
    h->escape = true;
    h->now = 1000;
    sim_model_start(h->m, h->now);
}

#define FDL1_SIZE 0x33A0
#define FDL2_SIZE 0x4C00
#define IMG_ADDR  0x604E0000u
#define IMG_SIZE  0x5002

static uint8_t fdl1[FDL1_SIZE], fdl2[FDL2_SIZE], img[IMG_SIZE];

/* 8910: PDL load of HOST_FDL, then FDL1 check-baud/connect/baud, FDL2 load and EXEC. */
static void to_fdl2_8910(struct host *h)
{
    fill(fdl1, sizeof(fdl1), 1);
    fill(fdl2, sizeof(fdl2), 2);
    assert_int_equal(h_pdl(h, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(h_pdl(h, 4, 0x8000C0, FDL1_SIZE, "PDL1", 5), 0);
    for (uint32_t i = 0, off = 0; off < FDL1_SIZE; i++, off += 0x800) {
        uint32_t n = FDL1_SIZE - off < 0x800 ? FDL1_SIZE - off : 0x800;
        assert_int_equal(h_pdl(h, 5, i, n, fdl1 + off, n), 0);
    }
    assert_int_equal(h_pdl(h, 6, 0, 0, "\x1c\x3c\x6e\x06", 4), 0);
    assert_int_equal(h_pdl(h, 7, 0, 0, NULL, 0), -ETIMEDOUT);
    const uint8_t burst[4] = {0x7E, 0x7E, 0x7E, 0x7E};
    h_write(h, burst, 4);
    assert_int_equal(h_recv(h), 0x81);
    assert_int_equal(h_cmd(h, 0x00, NULL, 0), 0x80);
    uint8_t baud[4] = {0, 1, 0xC2, 0};
    assert_int_equal(h_cmd(h, 0x09, baud, 4), 0x80);
    assert_int_equal(h_download(h, 0x810000, fdl2, FDL2_SIZE, 0x840), 0x80);
    assert_int_equal(h_cmd(h, 0x04, NULL, 0), 0x80);
    assert_int_equal(h_cmd(h, 0x00, NULL, 0), 0x80);
}

/* Reads the NV through 0xFE000003 in 0x3000 chunks (notes §4.4). */
static size_t read_nv(struct host *h, uint8_t *nv, size_t cap)
{
    size_t got = 0;
    for (;;) {
        uint8_t p[12];
        be32(p, 0xFE000003u);
        be32(p + 4, 0x3000);
        be32(p + 8, (uint32_t)got);
        assert_int_equal(h_cmd(h, 0x06, p, 12), 0x93);
        assert_true(got + h->len <= cap);
        memcpy(nv + got, h->payload, h->len);
        got += h->len;
        if (h->len < 0x3000)
            return got;
    }
}

static int write_nv(struct host *h, const uint8_t *nv, size_t len, uint32_t sum_xor)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += nv[i];
    uint8_t p[12];
    be32(p, 0xFE000003u);
    be32(p + 4, (uint32_t)len);
    be32(p + 8, sum ^ sum_xor);
    int r = h_cmd(h, 0x01, p, 12);
    if (r == 0x80)
        r = h_cmd(h, 0x02, nv, len);
    return r == 0x80 ? h_cmd(h, 0x03, NULL, 0) : r;
}

static void session_8910(bool bytewise)
{
    struct host h;
    h_open(&h, "chip=8910");
    h.bytewise = bytewise;
    to_fdl2_8910(&h);
    uint8_t nv[0x1000];
    size_t nv_len = read_nv(&h, nv, sizeof(nv));
    assert_true(nv_len > 16);
    fill(img, sizeof(img), 3);
    uint8_t er[8];
    be32(er, IMG_ADDR);
    be32(er + 4, 0x60000);
    assert_int_equal(h_cmd(&h, 0x0A, er, 8), 0x80);
    assert_int_equal(h_download(&h, IMG_ADDR, img, IMG_SIZE, 0x800), 0x80);
    assert_int_equal(write_nv(&h, nv, nv_len, 0), 0x80);
    assert_int_equal(h_cmd(&h, 0x05, NULL, 0), 0x80);
    char action[SIM_ACTION_MAX];
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now), 0);
    assert_true(h_wait(&h, h.now + 5000));
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now), 1);
    assert_string_equal(action, "unplug");
    char want[65], key[40];
    sha_hex(img, IMG_SIZE, want);
    snprintf(key, sizeof(key), "region_0x%08x", IMG_ADDR);
    char expect[120];
    snprintf(expect, sizeof(expect), "%u:%s", IMG_SIZE, want);
    assert_string_equal(stat(&h, key), expect);
    sha_hex(fdl1, FDL1_SIZE, want);
    assert_string_equal(stat(&h, "fdl1_sha256"), want);
    sha_hex(fdl2, FDL2_SIZE, want);
    assert_string_equal(stat(&h, "fdl2_sha256"), want);
    assert_string_equal(stat(&h, "nv_intact"), "1");
    assert_string_equal(stat(&h, "naks"), "0");
    assert_string_equal(stat(&h, "state"), "gone");
    sim_model_destroy(h.m);
}

static void test_8910_happy(void **state)
{
    (void)state;
    session_8910(false);
}

static void test_8910_happy_bytewise(void **state)
{
    (void)state;
    session_8910(true);
}

static void test_8850_happy(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,reset_replug=quectel-at,log_every=3");
    h.bytewise = true;
    h.crc = true;
    fill(fdl1, sizeof(fdl1), 4);
    fill(fdl2, sizeof(fdl2), 5);
    const uint8_t burst[3] = {0x7E, 0x7E, 0x7E};
    h_write(&h, burst, 3);
    assert_int_equal(h_recv(&h), 0x81);
    assert_int_equal(h.len, 6);
    assert_memory_equal(h.payload, "SPRD3", 6);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_download(&h, 0x838000, fdl1, FDL1_SIZE, 0x210), 0x80);
    assert_int_equal(h_cmd(&h, 0x04, NULL, 0), 0x80); /* CRC-framed ACK from the ROM */
    h.crc = false;
    /* A single flag followed by silence is a check-baud too. */
    h_write(&h, burst, 1);
    assert_int_equal(h_recv(&h), 0x81);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_download(&h, 0x810000, fdl2, FDL2_SIZE, 0x840), 0x80);
    assert_int_equal(h_cmd(&h, 0x04, NULL, 0), 0x80);
    assert_int_equal(h_cmd(&h, 0x21, NULL, 0), 0x80); /* transcode off from now on */
    h.escape = false;
    fill(img, sizeof(img), 6);
    assert_int_equal(h_download(&h, IMG_ADDR, img, IMG_SIZE, 0x3000), 0x80);
    assert_int_equal(h_cmd(&h, 0x05, NULL, 0), 0x80);
    char action[SIM_ACTION_MAX];
    assert_true(h_wait(&h, h.now + 5000));
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now), 1);
    assert_string_equal(action, "replug quectel-at");
    char want[65], expect[120];
    sha_hex(img, IMG_SIZE, want);
    snprintf(expect, sizeof(expect), "%u:%s", IMG_SIZE, want);
    assert_string_equal(stat(&h, "region_0x604e0000"), expect);
    assert_string_equal(stat(&h, "nv_intact"), "1");
    assert_string_equal(stat(&h, "transcode"), "0");
    assert_true(h.logs >= 5); /* log_every=3 over ~30 replies */
    sim_model_destroy(h.m);
}

/* A host that repeats its check-baud because the VER is late writes flags while the VER
 * waits unread: the device takes them (one VER for the burst) and the session goes on. */
static void test_repeated_check_baud(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850");
    const uint8_t flag = 0x7E;
    assert_int_equal(sim_model_rx(h.m, 0, &flag, 1, h.now), 1);
    h.now += 1000; /* the lone flag's idle time: the VER is queued, the host has not read it */
    assert_int_equal(sim_model_rx(h.m, 0, &flag, 1, h.now), 1);
    assert_int_equal(sim_model_rx(h.m, 0, &flag, 1, h.now), 1);
    h.crc = true;
    assert_int_equal(h_recv(&h), 0x81);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_string_equal(stat(&h, "bad_frames"), "0");
    sim_model_destroy(h.m);
}

/* ---- §6 checks ---- */

static void test_fdl2_checks(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8910");
    to_fdl2_8910(&h);
    uint8_t d[0x900] = {0};
    assert_int_equal(h_cmd(&h, 0x02, d, 16), 0x86);          /* MIDST without START */
    assert_int_equal(h_cmd(&h, 0x03, NULL, 0), 0x86);        /* END without START */
    assert_int_equal(h_cmd(&h, 0x01, d, 10), 0x82);          /* START length */
    assert_int_equal(h_start(&h, 0x12345678, 16), 0x89);     /* unknown address */
    assert_int_equal(h_start(&h, 0x60FFF000, 0x2000), 0x8A); /* past the flash end */
    assert_int_equal(h_cmd(&h, 0x01, d, 76), 0x89);          /* by name: no table */
    assert_int_equal(h_start(&h, 0xFE000003u, 16), 0x82);    /* NV needs a checksum */
    assert_int_equal(h_start(&h, IMG_ADDR, 32), 0x80);
    assert_int_equal(h_start(&h, IMG_ADDR, 32), 0x80);      /* identical retry */
    assert_int_equal(h_start(&h, IMG_ADDR + 64, 32), 0x87); /* another START while open */
    assert_int_equal(h_cmd(&h, 0x02, d, 16), 0x80);
    assert_int_equal(h_cmd(&h, 0x02, d, 18), 0x8A);    /* more than announced */
    assert_int_equal(h_cmd(&h, 0x02, d, 0x802), 0x8B); /* chunk over the buffer */
    assert_int_equal(h_cmd(&h, 0x03, NULL, 0), 0x88);  /* early END */
    assert_int_equal(h_cmd(&h, 0x02, d, 3), 0x8B);     /* odd payload */
    assert_int_equal(h_cmd(&h, 0x00, d, 2), 0x82);     /* CONNECT with payload */
    assert_int_equal(h_cmd(&h, 0x44, NULL, 0), 0x83);  /* unknown command */
    uint8_t rf[8];
    be32(rf, IMG_ADDR);
    be32(rf + 4, 0x3002);
    assert_int_equal(h_cmd(&h, 0x06, rf, 8), 0x82); /* read too large */
    be32(rf + 4, 0x10);
    assert_int_equal(h_cmd(&h, 0x06, rf, 8), 0x93);
    assert_int_equal(h.len, 0x10);
    uint8_t baud[4] = {0, 0, 0x30, 0x39};
    assert_int_equal(h_cmd(&h, 0x09, baud, 4), 0x85);
    /* a frame with a broken check gets VERIFY_ERROR and changes nothing */
    const uint8_t broken[] = {0x7E, 0, 0, 0, 0, 0x12, 0x34, 0x7E};
    h_write(&h, broken, sizeof(broken));
    assert_int_equal(h_recv(&h), 0x8B);
    /* NV: wrong byte sum, then a stale CRC, both OPERATION_FAILED; NV stays intact */
    uint8_t nv[0x1000];
    size_t nv_len = read_nv(&h, nv, sizeof(nv));
    assert_int_equal(write_nv(&h, nv, nv_len, 1), 0x84);
    nv[nv_len - 8] ^= 0x40;
    assert_int_equal(write_nv(&h, nv, nv_len, 0), 0x84);
    assert_string_equal(stat(&h, "nv_intact"), "1");
    assert_string_equal(stat(&h, "last_error"), "NV image CRC-16 mismatch");
    /* an explicit NV erase is obeyed */
    uint8_t er[8];
    be32(er, 0xFE000001u);
    be32(er + 4, 0);
    assert_int_equal(h_cmd(&h, 0x0A, er, 8), 0x80);
    assert_string_equal(stat(&h, "nv_intact"), "0");
    sim_model_destroy(h.m);
}

static void test_rom_checks(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850");
    h.crc = true;
    uint8_t d[0x300] = {0};
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);    /* frames without check-baud are fine */
    assert_int_equal(h_cmd(&h, 0x04, NULL, 0), 0x82);    /* EXEC before a download */
    assert_int_equal(h_cmd(&h, 0x21, NULL, 0), 0x83);    /* no transcode switch in the ROM */
    assert_int_equal(h_start(&h, 0x60000000, 16), 0x89); /* the ROM loads RAM only */
    assert_int_equal(h_start(&h, 0x838000, 0x100000), 0x8A);
    assert_int_equal(h_start(&h, 0x838000, 0x300), 0x80);
    assert_int_equal(h_cmd(&h, 0x02, d, 0x212), 0x8B); /* > 528 bytes in the ROM */
    /* the sum instead of the CRC is refused in the ROM stage */
    h.crc = false;
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), -EBADMSG); /* reply is CRC-framed */
    sim_model_destroy(h.m);
}

static void test_pdl_checks(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8910");
    uint8_t d[16] = {0};
    assert_int_equal(h_pdl(&h, 5, 0, 16, d, 16), 1);               /* MID without START */
    assert_int_equal(h_pdl(&h, 4, 0x8000C0, 0x100, "PDL2", 5), 1); /* not PDL1 */
    assert_int_equal(h_pdl(&h, 4, 0x60000000, 0x100, "PDL1", 5), 3);
    assert_int_equal(h_pdl(&h, 4, 0x8000C0, 0x100000, "PDL1", 5), 6);
    assert_int_equal(h_pdl(&h, 4, 0x8000C0, 32, "PDL1", 5), 0);
    assert_int_equal(h_pdl(&h, 5, 1, 16, d, 16), 1); /* index must start at 0 */
    assert_int_equal(h_pdl(&h, 5, 0, 15, d, 16), 6); /* length field vs data */
    assert_int_equal(h_pdl(&h, 5, 0, 16, d, 16), 0);
    assert_int_equal(h_pdl(&h, 6, 0, 0, "\0\0\0\0", 4), 6); /* END before all data */
    assert_int_equal(h_pdl(&h, 7, 0, 0, NULL, 0), 1);       /* EXEC refused */
    assert_int_equal(h_pdl(&h, 1, 0, 0, NULL, 0), 1);       /* still PDL: no flash ops */
    assert_int_equal(h_pdl(&h, 99, 0, 0, NULL, 0), 2);
    /* BSL bytes to the PDL ROM vanish: a host speaking the wrong protocol hears nothing */
    const uint8_t burst[4] = {0x7E, 0x7E, 0x7E, 0x7E};
    h_write(&h, burst, 4);
    assert_int_equal(h_recv(&h), -ETIMEDOUT);
    sim_model_destroy(h.m);
}

/* ---- fault knobs ---- */

static void test_fault_bad_check(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,bad_check_at=2");
    h.crc = true;
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), -EBADMSG);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    sim_model_destroy(h.m);
}

static void test_fault_nak_chunk(void **state)
{
    (void)state;
    struct host h;
    /* chunks 1..7 load the FDLs (PDL 7 + FDL1 10), so chunk 19 is the 2nd image chunk */
    h_open(&h, "chip=8910,nak_chunk=19");
    to_fdl2_8910(&h);
    assert_string_equal(stat(&h, "chunks"), "17");
    fill(img, sizeof(img), 9);
    assert_int_equal(h_start(&h, IMG_ADDR, IMG_SIZE), 0x80);
    assert_int_equal(h_cmd(&h, 0x02, img, 0x800), 0x80);
    assert_int_equal(h_cmd(&h, 0x02, img + 0x800, 0x800), 0x8B);
    for (size_t off = 0x800; off < IMG_SIZE; off += 0x800) /* the host retries the chunk */
        assert_int_equal(
            h_cmd(&h, 0x02, img + off, IMG_SIZE - off < 0x800 ? IMG_SIZE - off : 0x800), 0x80);
    assert_int_equal(h_cmd(&h, 0x03, NULL, 0), 0x80);
    char want[65], expect[120];
    sha_hex(img, IMG_SIZE, want);
    snprintf(expect, sizeof(expect), "%u:%s", IMG_SIZE, want);
    assert_string_equal(stat(&h, "region_0x604e0000"), expect);
    assert_string_equal(stat(&h, "naks"), "1");
    sim_model_destroy(h.m);
}

static void test_fault_silence(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,silent_after=2");
    h.crc = true;
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), -ETIMEDOUT);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), -ETIMEDOUT);
    assert_string_equal(stat(&h, "frames"), "4");
    sim_model_destroy(h.m);
}

static void test_fault_drop_reply(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,drop_reply=2");
    h.crc = true;
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), 0x80);
    assert_int_equal(h_start(&h, 0x838000, 0x100), -ETIMEDOUT); /* the ACK is lost */
    assert_int_equal(h_start(&h, 0x838000, 0x100), 0x80);       /* a retry is accepted */
    sim_model_destroy(h.m);
}

static void test_fault_unplug(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8910,unplug_at_chunk=20");
    to_fdl2_8910(&h);
    fill(img, sizeof(img), 10);
    assert_int_equal(h_download(&h, IMG_ADDR, img, IMG_SIZE, 0x800), -ETIMEDOUT);
    char action[SIM_ACTION_MAX];
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now), 1);
    assert_string_equal(action, "unplug");
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now), 0);
    assert_string_equal(stat(&h, "state"), "gone");
    assert_string_equal(stat(&h, "regions"), "0");
    assert_string_equal(stat(&h, "bytes_written"), "4096"); /* chunks 18 and 19 */
    sim_model_destroy(h.m);
}

static void test_fault_slow_flash(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8910,flash_rate=1024");
    to_fdl2_8910(&h);
    fill(img, sizeof(img), 11);
    assert_int_equal(h_start(&h, IMG_ADDR, IMG_SIZE), 0x80);
    uint64_t t0 = h.now;
    h_send(&h, 0x02, img, 0x800);
    h_pump(&h);
    assert_int_equal(h.in_len, 0); /* still programming */
    assert_int_equal(sim_model_next_event_ms(h.m, h.now), t0 + 2000);
    /* A host that gave up (an aborted flash) never reads the ACK: once it is ready, the
     * model waits for the host, not for time (sim.h), so no past time is asked for. */
    assert_int_equal(sim_model_next_event_ms(h.m, t0 + 2000), SIM_NEVER);
    assert_int_equal(sim_model_next_event_ms(h.m, t0 + 60000), SIM_NEVER);
    assert_int_equal(h_recv(&h), 0x80);
    assert_true(h.now >= t0 + 2000); /* virtual clock: 2048 bytes at 1024 B/s */
    sim_model_destroy(h.m);
}

static void test_fault_identity(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,rom_ver=SPRD4,chip_id=0x1234");
    h.crc = true;
    const uint8_t burst[4] = {0x7E, 0x7E, 0x7E, 0x7E};
    h_write(&h, burst, 4);
    assert_int_equal(h_recv(&h), 0x81);
    assert_memory_equal(h.payload, "SPRD4", 6);
    assert_int_equal(h_cmd(&h, 0x07, NULL, 0), 0x94);
    assert_int_equal(h.len, 4);
    assert_int_equal(h.payload[2] << 8 | h.payload[3], 0x1234);
    sim_model_destroy(h.m);
    /* the 8850 behind a PDL host: PDL CONNECT gets no answer */
    h_open(&h, "chip=8850");
    assert_int_equal(h_pdl(&h, 0, 0, 0, NULL, 0), -ETIMEDOUT);
    sim_model_destroy(h.m);
}

static void test_exec_incompatible(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,incompatible=1,exec_delay_ms=3000");
    h.crc = true;
    fill(fdl1, 0x400, 12);
    assert_int_equal(h_download(&h, 0x838000, fdl1, 0x400, 0x210), 0x80);
    assert_int_equal(h_cmd(&h, 0x04, NULL, 0), 0x80);
    h.crc = false;
    assert_int_equal(h_download(&h, 0x810000, fdl1, 0x400, 0x840), 0x80);
    uint64_t t0 = h.now;
    assert_int_equal(h_cmd(&h, 0x04, NULL, 0), 0x96);
    assert_true(h.now >= t0 + 3000);
    assert_string_equal(stat(&h, "state"), "fdl2");
    sim_model_destroy(h.m);
}

static void test_reset_stay(void **state)
{
    (void)state;
    struct host h;
    h_open(&h, "chip=8850,reset_stay=1");
    h.crc = true;
    assert_int_equal(h_cmd(&h, 0x05, NULL, 0), 0x80);
    assert_int_equal(sim_model_next_event_ms(h.m, h.now), SIM_NEVER);
    char action[SIM_ACTION_MAX];
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now + 100000), 0);
    assert_int_equal(h_cmd(&h, 0x00, NULL, 0), -ETIMEDOUT); /* deaf after the reset */
    assert_string_equal(stat(&h, "state"), "reset");
    sim_model_destroy(h.m);
}

static void test_bad_options(void **state)
{
    (void)state;
    struct sim_model *m = NULL;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_model_create("unisoc", "chip=9999", &m, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_model_create("unisoc", "imei=12", &m, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_model_create("unisoc", "nak_code=300", &m, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_model_create("unisoc", "bogus=1", &m, err, sizeof(err)), -EINVAL);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_check_baud), cmocka_unit_test(test_8910_happy),
        cmocka_unit_test(test_8910_happy_bytewise), cmocka_unit_test(test_8850_happy),
        cmocka_unit_test(test_fdl2_checks),         cmocka_unit_test(test_rom_checks),
        cmocka_unit_test(test_pdl_checks),          cmocka_unit_test(test_fault_bad_check),
        cmocka_unit_test(test_fault_nak_chunk),     cmocka_unit_test(test_fault_silence),
        cmocka_unit_test(test_fault_drop_reply),    cmocka_unit_test(test_fault_unplug),
        cmocka_unit_test(test_fault_slow_flash),    cmocka_unit_test(test_fault_identity),
        cmocka_unit_test(test_exec_incompatible),   cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_reset_stay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
