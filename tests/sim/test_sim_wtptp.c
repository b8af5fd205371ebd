/* Sessions against the "asr1803" model (EC200A WTPTP download), driven by a small scripted host
 * written here from ../shared/protocols/asr.md §3 (its own packet code, not the model's), under
 * a virtual clock: the ROM -> DKB -> FBF flow whole and byte at a time, slow and fast data,
 * the §4 checks, the TIM/FBF header checks, the options and every fault knob. */
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

/* ---- the host ---- */

struct host {
    struct sim_model *m;
    uint64_t now;
    bool bytewise;
    uint8_t seq;
    char action[SIM_ACTION_MAX];
};

struct st {
    uint8_t cmd, seq, cid, status, flags, dlen;
    uint8_t data[256];
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static struct host *h_new(const char *opts)
{
    struct host *h = calloc(1, sizeof(*h));
    char err[SIM_ERR_MAX] = "";
    int r = sim_model_create("asr1803", opts, &h->m, err, sizeof(err));
    if (r < 0)
        fprintf(stderr, "create: %s\n", err);
    assert_int_equal(r, 0);
    sim_model_start(h->m, 0);
    return h;
}

static void h_free(struct host *h)
{
    sim_model_destroy(h->m);
    free(h);
}

static void h_write(struct host *h, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t k = sim_model_rx(h->m, 0, p + off, h->bytewise ? 1 : n - off, h->now);
        assert_true(k > 0); /* the tests read every reply before sending on */
        off += k;
    }
}

/* One tx call = one bulk IN transfer; waits on the virtual clock up to 10 s. 0 if nothing. */
static size_t h_read(struct host *h, uint8_t *buf, size_t cap)
{
    uint64_t deadline = h->now + 10000;
    for (;;) {
        size_t n = sim_model_tx(h->m, 0, buf, cap, h->now);
        if (n)
            return n;
        uint64_t due = sim_model_next_event_ms(h->m, h->now);
        if (due == SIM_NEVER || due > deadline || due <= h->now)
            return 0;
        h->now = due;
    }
}

static void h_cmd(struct host *h, uint8_t cmd, uint8_t seq, uint8_t flags, const void *data,
                  uint32_t len)
{
    uint8_t *p = malloc(8 + len);
    p[0] = cmd, p[1] = seq, p[2] = 0, p[3] = flags;
    put32(p + 4, len);
    if (len)
        memcpy(p + 8, data, len);
    h_write(h, p, 8 + len);
    free(p);
}

static void h_status(struct host *h, struct st *s)
{
    uint8_t b[512];
    size_t n = h_read(h, b, sizeof(b));
    assert_true(n >= 6);
    s->cmd = b[0], s->seq = b[1], s->cid = b[2], s->status = b[3], s->flags = b[4];
    s->dlen = b[5];
    assert_int_equal(n, 6 + (size_t)s->dlen);
    memcpy(s->data, b + 6, s->dlen);
}

/* Sends a command and expects that status for it. */
static void h_expect(struct host *h, uint8_t cmd, uint8_t seq, uint8_t flags, const void *data,
                     uint32_t len, uint8_t status, struct st *s)
{
    h_cmd(h, cmd, seq, flags, data, len);
    h_status(h, s);
    assert_int_equal(s->cmd, cmd);
    assert_int_equal(s->seq, seq);
    assert_int_equal(s->status, status);
}

static void h_preamble(struct host *h)
{
    static const uint8_t pre[4] = {0x00, 0xD3, 0x02, 0x2B};
    uint8_t b[16];
    h_write(h, pre, 4);
    assert_int_equal(h_read(h, b, sizeof(b)), 4);
    static const uint8_t ack[4] = {0};
    assert_memory_equal(b, ack, 4);
    h->seq = 0;
}

static void h_getversion(struct host *h, size_t want_len, const char *ver)
{
    struct st s;
    h_expect(h, 0x20, 0, 0, NULL, 0, 0, &s);
    assert_int_equal(s.dlen, want_len);
    char v[5] = {(char)s.data[3], (char)s.data[2], (char)s.data[1], (char)s.data[0], 0};
    char p[5] = {(char)s.data[11], (char)s.data[10], (char)s.data[9], (char)s.data[8], 0};
    assert_string_equal(v, ver);
    assert_string_equal(p, "NZA3");
}

/* Drains MESSAGE; returns how many came, stores type<<8|code of each in out. */
static size_t h_messages(struct host *h, uint32_t *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct st s;
        h_expect(h, 0x2B, 0, 0, NULL, 0, 0, &s);
        if (s.dlen == 0)
            return n;
        assert_int_equal(s.dlen, 6);
        if (n < cap)
            out[n] = (uint32_t)s.data[0] << 24 | get32(s.data + 2);
        n++;
    }
}

/* The per-image exchange of notes §3.3. fast: request fast mode; chunk: DATA payload size. */
static int h_image(struct host *h, uint32_t want_id, const uint8_t *img, uint32_t len, bool fast,
                   uint32_t chunk)
{
    struct st s;
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &s);
    assert_int_equal(s.dlen, 4);
    assert_int_equal(get32(s.data), want_id);
    uint8_t ack = 0;
    h_expect(h, 0x27, 0, 0, &ack, 1, 0, &s);
    uint32_t sent = 0;
    while (sent < len) {
        uint8_t rem[4];
        put32(rem, len - sent);
        h_expect(h, 0x2A, ++h->seq, fast ? 4 : 0, rem, 4, 0, &s);
        assert_int_equal(s.dlen, 4);
        uint32_t buf = get32(s.data);
        assert_true(buf > 0 && buf <= len - sent);
        if (fast) {
            assert_true(s.flags & 4);
            while (sent < len) { /* raw, buf-sized pieces, one status at the end */
                uint32_t k = len - sent < buf ? len - sent : buf;
                h_write(h, img + sent, k);
                sent += k;
            }
            h_status(h, &s);
            assert_int_equal(s.cmd, 0x22);
            assert_int_equal(s.status, 0);
            break;
        }
        assert_false(s.flags & 4);
        for (uint32_t done = 0; done < buf;) {
            uint32_t k = buf - done < chunk ? buf - done : chunk;
            h_expect(h, 0x22, ++h->seq, 0, img + sent, k, 0, &s);
            done += k;
            sent += k;
        }
    }
    h_cmd(h, 0x30, 0, 0, NULL, 0);
    h_status(h, &s);
    assert_int_equal(s.cmd, 0x30);
    return s.status;
}

static void h_disconnect(struct host *h)
{
    struct st s;
    h_expect(h, 0x31, 0, 0, NULL, 0, 0, &s);
}

/* Waits for the model's action (re-enumeration). */
static bool h_action(struct host *h)
{
    uint64_t deadline = h->now + 60000;
    for (;;) {
        if (sim_model_take_action(h->m, h->action, sizeof(h->action), h->now) == 1)
            return true;
        uint64_t due = sim_model_next_event_ms(h->m, h->now);
        if (due == SIM_NEVER || due > deadline)
            return false;
        h->now = due > h->now ? due : h->now + 1;
    }
}

static const char *stat(struct host *h, const char *key)
{
    static char stats[SIM_STATS_MAX], val[256];
    assert_true(sim_model_stats(h->m, stats, sizeof(stats)) > 0);
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=", key);
    for (const char *p = stats; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, pat, strlen(pat)) == 0) {
            size_t n = strcspn(p + strlen(pat), "\n");
            snprintf(val, sizeof(val), "%.*s", (int)n, p + strlen(pat));
            return val;
        }
    }
    return "";
}

/* ---- images built from the notes ---- */

#define FBF_A 0x46424641u /* "FBFA" */
#define FBF_B 0x00000808u

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* TIM v3.4 (§3.6): 14 header words, then 24-word records {id, next, flash, load, size, ...}. */
static uint8_t *make_tim(uint32_t version, const uint32_t *ids, uint32_t n, size_t *len)
{
    size_t rec = version == 0x030500   ? 108
                 : version == 0x030200 ? 64
                 : version == 0x030101 ? 60
                                       : 96;
    *len = 56 + n * rec + 16;
    uint8_t *p = calloc(1, *len);
    put32(p, version);
    put32(p + 4, 0x54494D48);
    put32(p + 44, n);
    for (uint32_t i = 0; i < n; i++) {
        put32(p + 56 + i * rec, ids[i]);
        put32(p + 56 + i * rec + 16, 1000 + i);
    }
    return p;
}

/* FBF_h as received (README layout): MasterBlockHeader, DeviceHeader at 76, then data. */
static uint8_t *make_fbf(uint32_t chip, uint32_t opt, uint32_t nimg, size_t len, uint32_t seed)
{
    uint8_t *p = pattern(len, seed);
    memset(p, 0, 76 + 124 + nimg * 52);
    put32(p + 52, 1);
    put32(p + 60, 76);
    put32(p + 76 + 104, opt);
    put32(p + 76 + 108, chip);
    put32(p + 76 + 120, nimg);
    return p;
}

/* The model's record of an image: its size and SHA-256. */
static void expect_image(struct host *h, const char *key, const uint8_t *p, size_t n)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    char want[128];
    int w = snprintf(want, sizeof(want), "%zu:", n);
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        w += snprintf(want + w, sizeof(want) - (size_t)w, "%02x", md[i]);
    assert_string_equal(stat(h, key), want);
}

struct set {
    uint8_t *rom_tim, *dkb, *bl_tim, *fa, *fb;
    size_t rom_tim_len, dkb_len, bl_tim_len, fa_len, fb_len;
};

static void set_make(struct set *s)
{
    static const uint32_t rom_ids[] = {0x54494D48, 0x444B4249};
    static const uint32_t bl_ids[] = {0x54494D48, FBF_A, FBF_B};
    s->rom_tim = make_tim(0x030400, rom_ids, 2, &s->rom_tim_len);
    s->dkb_len = 40000;
    s->dkb = pattern(s->dkb_len, 7);
    s->bl_tim = make_tim(0x030500, bl_ids, 3, &s->bl_tim_len);
    s->fa_len = 200000;
    s->fa = make_fbf(15, 1, 2, s->fa_len, 11);
    s->fb_len = 70001;
    s->fb = make_fbf(15, 1, 1, s->fb_len, 12);
    /* the firmware revision marker of test packages (sim.h), inside the application image */
    memcpy(s->fb + 30000, SIM_FWREV_MARKER "EC200AEUAAR01A01M08", 36);
    s->fb[30036] = 0;
}

static void set_free(struct set *s)
{
    free(s->rom_tim), free(s->dkb), free(s->bl_tim), free(s->fa), free(s->fb);
}

static void rom_half(struct host *h, const struct set *s)
{
    uint32_t msgs[4];
    h_preamble(h);
    assert_int_equal(h_messages(h, msgs, 4), 0);
    h_getversion(h, 12, "1000");
    assert_int_equal(h_image(h, 0x54494D48, s->rom_tim, (uint32_t)s->rom_tim_len, false, 16376), 0);
    assert_int_equal(h_image(h, 0x444B4249, s->dkb, (uint32_t)s->dkb_len, false, 16376), 0);
    h_disconnect(h);
}

static void bl_half(struct host *h, const struct set *s)
{
    uint32_t msgs[8];
    h_preamble(h);
    assert_int_equal(h_messages(h, msgs, 8), 0);
    h_getversion(h, 24, "3311");
    assert_int_equal(h_image(h, 0x54494D48, s->bl_tim, (uint32_t)s->bl_tim_len, true, 16376), 0);
    assert_int_equal(h_image(h, FBF_A, s->fa, (uint32_t)s->fa_len, true, 16376), 0);
    assert_int_equal(h_messages(h, msgs, 8), 2);
    assert_int_equal(msgs[0], 2u << 24 | 200000);
    assert_int_equal(msgs[1], 0u << 24 | 2);
    assert_int_equal(h_image(h, FBF_B, s->fb, (uint32_t)s->fb_len, false, 5000), 0);
    assert_int_equal(h_messages(h, msgs, 8), 3);
    assert_int_equal(msgs[0], 2u << 24 | 70001);
    assert_int_equal(msgs[1], 4u << 24 | 0x08000000);
    assert_int_equal(msgs[2], 0u << 24 | 2);
    h_disconnect(h);
}

static void expect_bl_images(struct host *h, const struct set *s)
{
    expect_image(h, "img_bl_TIMH", s->bl_tim, s->bl_tim_len);
    expect_image(h, "img_bl_FBFA", s->fa, s->fa_len);
    expect_image(h, "img_bl_0x00000808", s->fb, s->fb_len);
}

/* ---- tests ---- */

/* The whole session; *state says whether the host writes one byte at a time. */
static void test_session(void **state)
{
    struct set s;
    set_make(&s);
    struct host *h = h_new("reset_replug=quectel-ec200a-at,unit=EC200A.EUAA.869710030000011.-");
    h->bytewise = *(const bool *)*state;
    rom_half(h, &s);
    assert_string_equal(stat(h, "state"), "dkb_boot");
    uint64_t t0 = h->now;
    assert_true(h_action(h));
    assert_true(h->now >= t0 + 500);
    char want[SIM_ACTION_MAX];
    snprintf(want, sizeof(want),
             "replug asr1803-dl stage=bl image_base=2 byte_base=%zu "
             "reset_replug=quectel-ec200a-at unit=EC200A.EUAA.869710030000011.-",
             s.rom_tim_len + s.dkb_len);
    assert_string_equal(h->action, want);
    assert_string_equal(stat(h, "state"), "bl");
    bl_half(h, &s);
    t0 = h->now;
    assert_true(h_action(h));
    assert_true(h->now >= t0 + 200);
    assert_string_equal(h->action, "replug quectel-ec200a-at unit=EC200A.EUAA.869710030000011.- "
                                   "revision=EC200AEUAAR01A01M08");
    assert_string_equal(stat(h, "state"), "gone");
    expect_image(h, "img_rom_TIMH", s.rom_tim, s.rom_tim_len);
    expect_image(h, "img_rom_DKBI", s.dkb, s.dkb_len);
    expect_bl_images(h, &s);
    assert_string_equal(stat(h, "images"), "5");
    assert_string_equal(stat(h, "fast_images"), "2");
    assert_string_equal(stat(h, "naks"), "0");
    assert_string_equal(stat(h, "seq_errors"), "0");
    assert_string_equal(stat(h, "fbf_chip_id"), "15");
    assert_string_equal(stat(h, "tim_version"), "0x030500");
    h_free(h);
    set_free(&s);
}

/* A fresh model made from the re-enumeration action (what the rack does) runs the BL half and
 * keeps counting images over the session for the fault knobs. */
static void test_rack_replug_carries_options(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    struct host *h = h_new("nack_image=4,reset_replug=quectel-ec200a-at,dkb_boot_ms=50");
    rom_half(h, &s);
    assert_true(h_action(h));
    assert_true(strncmp(h->action, "replug asr1803-dl ", 18) == 0);
    char opts[SIM_ACTION_MAX];
    snprintf(opts, sizeof(opts), "%s", h->action + 18);
    for (char *c = opts; *c; c++)
        if (*c == ' ')
            *c = ',';
    h_free(h);
    h = h_new(opts);
    assert_string_equal(stat(h, "image_base"), "2");
    h_preamble(h);
    h_getversion(h, 24, "3311");
    assert_int_equal(h_image(h, 0x54494D48, s.bl_tim, (uint32_t)s.bl_tim_len, true, 16376), 0);
    assert_int_equal(h_image(h, FBF_A, s.fa, (uint32_t)s.fa_len, true, 16376), 1); /* image 4 */
    assert_string_equal(stat(h, "last_nack_code"), "0x91");
    uint32_t msgs[4];
    assert_int_equal(h_messages(h, msgs, 4), 1);
    assert_int_equal(msgs[0], 1u << 24 | 0x91); /* the error report */
    /* sent again: image 5 now, accepted */
    assert_int_equal(h_image(h, FBF_A, s.fa, (uint32_t)s.fa_len, true, 16376), 0);
    assert_int_equal(h_messages(h, msgs, 4), 2);
    assert_int_equal(h_image(h, FBF_B, s.fb, (uint32_t)s.fb_len, true, 16376), 0);
    h_disconnect(h);
    assert_true(h_action(h));
    assert_string_equal(h->action, "replug quectel-ec200a-at revision=EC200AEUAAR01A01M08");
    expect_bl_images(h, &s);
    h_free(h);
    set_free(&s);
}

/* SEQ is a u8: 16-byte buffers make the DKB take 626 DATAHEADER/DATA packets. A preamble
 * before each image (QDloader's loop, notes §3.4) restarts SEQ but keeps the image list. */
static void test_seq_wraps(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    struct host *h = h_new("rom_buf=16");
    h_preamble(h);
    assert_int_equal(h_image(h, 0x54494D48, s.rom_tim, (uint32_t)s.rom_tim_len, false, 16), 0);
    h_preamble(h);
    assert_int_equal(h_image(h, 0x444B4249, s.dkb, 5000, false, 16376), 0);
    assert_string_equal(stat(h, "seq_errors"), "0");
    assert_string_equal(stat(h, "slow_images"), "2");
    expect_image(h, "img_rom_DKBI", s.dkb, 5000);
    h_free(h);
    set_free(&s);
}

/* Checks of notes §4 outside a clean session. */
static void test_order_checks(void **state)
{
    (void)state;
    struct host *h = h_new(NULL);
    struct st s;
    uint32_t msgs[4];
    /* before the preamble: NACK, error report 0x95 */
    h_expect(h, 0x20, 0, 0, NULL, 0, 1, &s);
    assert_true((s.flags & 3) == 3);
    /* a broken preamble gets no answer */
    static const uint8_t badpre[4] = {0x00, 0xD3, 0x02, 0x2C};
    h_write(h, badpre, 4);
    uint8_t b[64];
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    assert_string_equal(stat(h, "bad_packets"), "1");
    h_preamble(h);
    assert_int_equal(h_messages(h, msgs, 4), 1);
    assert_int_equal(msgs[0], 1u << 24 | 0x95);
    /* wrong LEN, unsupported and unknown commands */
    uint8_t x[4] = {0};
    h_expect(h, 0x20, 0, 0, x, 1, 1, &s);
    assert_string_equal(stat(h, "last_nack_code"), "0x02");
    h_expect(h, 0x24, 0, 0, x, 4, 1, &s);
    assert_string_equal(stat(h, "last_nack_code"), "0x05");
    /* an unframeable packet: NACK 0x9B, the rest of the burst is dropped */
    uint8_t junk[20] = {0x10, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x20, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(sim_model_rx(h->m, 0, junk, sizeof(junk), h->now), sizeof(junk));
    h_status(h, &s);
    assert_int_equal(s.status, 1);
    assert_string_equal(stat(h, "last_nack_code"), "0x9b");
    assert_int_equal(h_read(h, b, sizeof(b)), 0); /* the GETVERSION inside was dropped */
    /* data before SELECT/VERIFY */
    put32(x, 100);
    h_expect(h, 0x2A, 1, 0, x, 4, 1, &s);
    h_expect(h, 0x27, 0, 0, x, 1, 1, &s);    /* VERIFYIMAGE without SELECTIMAGE */
    h_expect(h, 0x22, 1, 0, x, 4, 1, &s);    /* DATA without DATAHEADER */
    h_expect(h, 0x30, 0, 0, NULL, 0, 1, &s); /* DONE without data */
    /* VERIFYIMAGE(1): declined, the same image is asked for again */
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &s);
    uint8_t one = 1, zero = 0, two = 2;
    h_expect(h, 0x27, 0, 0, &one, 1, 0, &s);
    assert_string_equal(stat(h, "declined"), "1");
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &s);
    assert_int_equal(get32(s.data), 0x54494D48);
    h_expect(h, 0x27, 0, 0, &two, 1, 1, &s);
    h_expect(h, 0x27, 0, 0, &zero, 1, 0, &s);
    /* SEQ: the first DATAHEADER after a preamble is 1 */
    put32(x, 0);
    h_expect(h, 0x2A, 1, 0, x, 4, 1, &s); /* remaining 0 */
    assert_string_equal(stat(h, "last_nack_code"), "0x94");
    put32(x, 0x10001);
    h_expect(h, 0x2A, 1, 0, x, 4, 1, &s); /* a TIM above 64 KiB */
    put32(x, 300);
    h_expect(h, 0x2A, 2, 0, x, 4, 2, &s);
    assert_string_equal(stat(h, "seq_errors"), "1");
    h_expect(h, 0x2A, 1, 4, x, 4, 0, &s);
    assert_int_equal(get32(s.data), 300);
    assert_false(s.flags & 4);               /* the ROM does not grant fast mode */
    h_expect(h, 0x26, 0, 0, NULL, 0, 1, &s); /* SELECTIMAGE while open */
    uint8_t data[400] = {0};
    h_expect(h, 0x22, 2, 0, data, 301, 1, &s); /* more than the buffer */
    h_expect(h, 0x22, 3, 0, data, 100, 2, &s); /* SEQ skipped */
    h_expect(h, 0x22, 2, 0, data, 100, 0, &s);
    h_expect(h, 0x30, 0, 0, NULL, 0, 1, &s); /* DONE early */
    put32(x, 100);
    h_expect(h, 0x2A, 3, 0, x, 4, 1, &s); /* next DATAHEADER before the buffer is used */
    h_expect(h, 0x22, 3, 0, data, 200, 0, &s);
    h_expect(h, 0x2A, 4, 0, x, 4, 1, &s); /* nothing missing any more */
    /* DONE: 300 zero bytes are no TIM */
    h_expect(h, 0x30, 0, 0, NULL, 0, 1, &s);
    assert_string_equal(stat(h, "last_nack_code"), "0x6a");
    assert_non_null(strstr(stat(h, "last_error"), "TIMH"));
    assert_string_equal(stat(h, "requested"), "TIMH");
    assert_string_equal(stat(h, "images"), "0");
    h_free(h);
}

static void test_tim_checks(void **state)
{
    (void)state;
    static const uint32_t no_dkb[] = {0x54494D48, 0x4F424D49};
    static const uint32_t only_tim[] = {0x54494D48, 0x54494D48};
    size_t len;
    uint8_t *t = make_tim(0x030400, no_dkb, 2, &len);
    struct host *h = h_new(NULL);
    h_preamble(h);
    assert_int_equal(h_image(h, 0x54494D48, t, (uint32_t)len, false, 16376), 1);
    assert_non_null(strstr(stat(h, "last_error"), "DKBI"));
    free(t);
    h_free(h);
    /* BL: a TIM that lists nothing to flash */
    t = make_tim(0x030400, only_tim, 2, &len);
    h = h_new("stage=bl");
    h_preamble(h);
    h_getversion(h, 24, "3311");
    assert_int_equal(h_image(h, 0x54494D48, t, (uint32_t)len, true, 16376), 1);
    assert_string_equal(stat(h, "last_nack_code"), "0x6a");
    free(t);
    h_free(h);
}

static void bl_to_fbf(struct host *h, const struct set *s)
{
    h_preamble(h);
    assert_int_equal(h_image(h, 0x54494D48, s->bl_tim, (uint32_t)s->bl_tim_len, true, 16376), 0);
}

static void test_fbf_checks(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    /* wrong chip, then garbage, then the right one */
    struct host *h = h_new("stage=bl");
    bl_to_fbf(h, &s);
    uint8_t *f14 = make_fbf(14, 1, 1, 5000, 3), *junk = pattern(5000, 4);
    assert_int_equal(h_image(h, FBF_A, f14, 5000, true, 16376), 1);
    assert_string_equal(stat(h, "last_nack_code"), "0x05");
    assert_int_equal(h_image(h, FBF_A, junk, 5000, true, 16376), 1);
    assert_string_equal(stat(h, "last_nack_code"), "0x98");
    assert_int_equal(h_image(h, FBF_A, s.fa, (uint32_t)s.fa_len, true, 16376), 0);
    h_free(h);
    /* fbf_check=0 takes anything; OptValue 0 keeps the device in BL after DISCONNECT */
    h = h_new("stage=bl,fbf_check=0,reset_replug=quectel-ec200a-at");
    bl_to_fbf(h, &s);
    assert_int_equal(h_image(h, FBF_A, junk, 5000, true, 16376), 0);
    h_free(h);
    uint8_t *f0 = make_fbf(15, 0, 1, 5000, 3);
    h = h_new("stage=bl,reset_replug=quectel-ec200a-at");
    bl_to_fbf(h, &s);
    assert_int_equal(h_image(h, FBF_A, f0, 5000, true, 16376), 0);
    assert_int_equal(h_image(h, FBF_B, f0, 5000, true, 16376), 0);
    struct st st;
    h_expect(h, 0x26, 0, 0, NULL, 0, 1, &st); /* nothing left */
    h_disconnect(h);
    assert_false(h_action(h));
    assert_string_equal(stat(h, "state"), "bl");
    assert_string_equal(stat(h, "fbf_opt_value"), "0");
    h_free(h);
    free(f14), free(junk), free(f0);
    set_free(&s);
}

/* Step k of one image: SELECTIMAGE, VERIFYIMAGE, DATAHEADER, the data, DONE. */
static void image_step(struct host *h, size_t k, bool fast, const uint8_t *img)
{
    uint8_t zero = 0, rem[4];
    put32(rem, 5000);
    if (k == 0)
        h_cmd(h, 0x26, 0, 0, NULL, 0);
    else if (k == 1)
        h_cmd(h, 0x27, 0, 0, &zero, 1);
    else if (k == 2)
        h_cmd(h, 0x2A, ++h->seq, fast ? 4 : 0, rem, 4);
    else if (k == 3 && fast)
        h_write(h, img, 5000);
    else if (k == 3)
        h_cmd(h, 0x22, ++h->seq, 0, img, 5000);
    else
        h_cmd(h, 0x30, 0, 0, NULL, 0);
}

static void test_nack_at_each_command(void **state)
{
    (void)state;
    static const char *const at[] = {"select", "verify", "header", "data", "done"};
    struct set s;
    set_make(&s);
    for (int fast = 0; fast < 2; fast++) {
        for (size_t i = 0; i < 5; i++) {
            char opts[96];
            snprintf(opts, sizeof(opts), "stage=bl,nack_image=2,nack_at=%s,nack_code=0x21", at[i]);
            struct host *h = h_new(opts);
            bl_to_fbf(h, &s);
            struct st st = {0};
            for (size_t k = 0; k <= i; k++) { /* every step before the faulty one is ACKed */
                assert_int_equal(st.status, 0);
                image_step(h, k, fast, s.fa);
                h_status(h, &st);
            }
            assert_int_equal(st.status, 1);
            assert_string_equal(stat(h, "last_nack_code"), "0x21");
            assert_non_null(strstr(stat(h, "last_error"), "image 2"));
            if (i == 4 || (fast && i == 3)) { /* a refused whole image is closed */
                h_expect(h, 0x30, 0, 0, NULL, 0, 1, &st);
                assert_string_equal(stat(h, "images"), "1");
            } else { /* the fault happens once: the same command again is ACKed */
                h->seq = (uint8_t)(h->seq - (i >= 2));
                image_step(h, i, fast, s.fa);
                h_status(h, &st);
                assert_int_equal(st.status, 0);
            }
            h_free(h);
        }
    }
    set_free(&s);
}

static void test_bad_reply(void **state)
{
    (void)state;
    struct host *h = h_new("bad_reply=1");
    static const uint8_t pre[4] = {0x00, 0xD3, 0x02, 0x2B};
    uint8_t b[64];
    h_write(h, pre, 4);
    assert_int_equal(h_read(h, b, sizeof(b)), 4);
    assert_int_equal(b[3], 0x55);
    h_free(h);
    static const char *const kinds[] = {"cmd", "status", "dlen"};
    for (int k = 0; k < 3; k++) {
        char opts[64];
        snprintf(opts, sizeof(opts), "bad_reply=2,bad_kind=%s", kinds[k]);
        h = h_new(opts);
        h_preamble(h);
        h_cmd(h, 0x20, 0, 0, NULL, 0);
        size_t n = h_read(h, b, sizeof(b));
        assert_int_equal(n, 18);
        if (k == 0)
            assert_int_equal(b[0], 0x20 ^ 0xFF);
        if (k == 1)
            assert_int_equal(b[3], 0x55);
        if (k == 2)
            assert_int_equal(b[5], 16);
        struct st s; /* the next reply is fine again */
        h_expect(h, 0x20, 0, 0, NULL, 0, 0, &s);
        h_free(h);
    }
}

static void test_silence(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    struct host *h = h_new("silent_after=2");
    h_preamble(h);
    struct st st;
    h_expect(h, 0x20, 0, 0, NULL, 0, 0, &st);
    h_cmd(h, 0x20, 0, 0, NULL, 0);
    uint8_t b[64];
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    h_free(h);
    /* silent from the DATAHEADER of image 2 (the BL's first FBF image) */
    h = h_new("stage=bl,silent_image=2");
    bl_to_fbf(h, &s);
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &st);
    uint8_t zero = 0, rem[4];
    h_expect(h, 0x27, 0, 0, &zero, 1, 0, &st);
    put32(rem, 1000);
    h_cmd(h, 0x2A, ++h->seq, 4, rem, 4);
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    h_cmd(h, 0x2B, 0, 0, NULL, 0);
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    h_free(h);
    set_free(&s);
}

static void test_unplug_after_bytes(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    /* ROM slow mode: 8 bytes into the DKB's second DATA */
    char opts[64];
    snprintf(opts, sizeof(opts), "unplug_after_bytes=%zu", s.rom_tim_len + 16376 + 8);
    struct host *h = h_new(opts);
    h_preamble(h);
    assert_int_equal(h_image(h, 0x54494D48, s.rom_tim, (uint32_t)s.rom_tim_len, false, 16376), 0);
    struct st st;
    uint8_t zero = 0, rem[4], b[64];
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &st);
    h_expect(h, 0x27, 0, 0, &zero, 1, 0, &st);
    put32(rem, (uint32_t)s.dkb_len);
    h_expect(h, 0x2A, ++h->seq, 0, rem, 4, 0, &st);
    h_expect(h, 0x22, ++h->seq, 0, s.dkb, 16376, 0, &st);
    h_cmd(h, 0x22, ++h->seq, 0, s.dkb + 16376, 8);
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    assert_true(h_action(h));
    assert_string_equal(h->action, "unplug");
    assert_string_equal(stat(h, "state"), "gone");
    h_free(h);
    /* BL fast mode, carried byte_base: 1000 bytes into the first FBF image */
    snprintf(opts, sizeof(opts), "stage=bl,byte_base=50000,unplug_after_bytes=%zu",
             50000 + s.bl_tim_len + 1000);
    h = h_new(opts);
    bl_to_fbf(h, &s);
    h_expect(h, 0x26, 0, 0, NULL, 0, 0, &st);
    h_expect(h, 0x27, 0, 0, &zero, 1, 0, &st);
    put32(rem, (uint32_t)s.fa_len);
    h_expect(h, 0x2A, ++h->seq, 4, rem, 4, 0, &st);
    assert_int_equal(sim_model_rx(h->m, 0, s.fa, 4096, h->now), 4096);
    assert_true(h_action(h));
    assert_string_equal(h->action, "unplug");
    assert_string_equal(stat(h, "data_bytes"), "1396");
    h_free(h);
    set_free(&s);
}

/* flash_rate: DONE is ACKed, MESSAGE says busy, SELECTIMAGE is refused until ready. */
static void test_slow_flash(void **state)
{
    (void)state;
    struct set s;
    set_make(&s);
    struct host *h = h_new("stage=bl,flash_rate=100000,reset_replug=quectel-ec200a-at");
    bl_to_fbf(h, &s);
    uint64_t t0 = h->now;
    assert_int_equal(h_image(h, FBF_A, s.fa, (uint32_t)s.fa_len, true, 16376), 0);
    uint32_t msgs[4];
    assert_int_equal(h_messages(h, msgs, 4), 1);
    assert_int_equal(msgs[0], 0u << 24 | 1); /* busy */
    assert_string_equal(stat(h, "state"), "programming");
    struct st st;
    h_expect(h, 0x26, 0, 0, NULL, 0, 1, &st);
    assert_int_equal(h_messages(h, msgs, 4), 1); /* its error report */
    assert_int_equal(sim_model_next_event_ms(h->m, h->now), t0 + 2000);
    h->now = t0 + 1999;
    assert_int_equal(h_messages(h, msgs, 4), 0);
    h->now = t0 + 2000;
    assert_int_equal(h_messages(h, msgs, 4), 2);
    assert_int_equal(msgs[1], 0u << 24 | 2);
    /* the last image: DISCONNECT while programming, the reboot follows it */
    assert_int_equal(h_image(h, FBF_B, s.fb, (uint32_t)s.fb_len, true, 16376), 0);
    t0 = h->now;
    h_disconnect(h);
    assert_string_equal(stat(h, "state"), "rebooting");
    assert_true(h_action(h));
    assert_true(h->now >= t0 + 701 + 200);
    assert_string_equal(h->action, "replug quectel-ec200a-at revision=EC200AEUAAR01A01M08");
    h_free(h);
    set_free(&s);
}

static void test_versions_and_preambles(void **state)
{
    (void)state;
    struct host *h = h_new("processor=CRN1,rom_version=1234,rom_date=0x01022019");
    h_preamble(h);
    struct st s;
    h_expect(h, 0x20, 0, 0, NULL, 0, 0, &s);
    assert_memory_equal(s.data, "4321", 4);
    assert_int_equal(get32(s.data + 4), 0x01022019);
    assert_memory_equal(s.data + 8, "1NRC", 4);
    h_free(h);
    h = h_new("stage=bl,ddr_id=0A0B,dkb_version=9999");
    h_preamble(h);
    h_expect(h, 0x20, 0, 0, NULL, 0, 0, &s);
    assert_int_equal(s.dlen, 24);
    assert_memory_equal(s.data, "9999", 4);
    assert_memory_equal(s.data + 12, "0A0B", 4);
    assert_int_equal(get32(s.data + 16), 0x08000000);
    assert_int_equal(get32(s.data + 20), 0x001840C8);
    h_free(h);
    static const uint8_t pre[4] = {0x00, 0xD3, 0x02, 0x2B};
    uint8_t b[16];
    h = h_new("preamble_reply=6");
    h_write(h, pre, 4);
    assert_int_equal(h_read(h, b, sizeof(b)), 6);
    h_free(h);
    h = h_new("preamble_reply=echo");
    h_write(h, pre, 4);
    assert_int_equal(h_read(h, b, sizeof(b)), 4);
    assert_memory_equal(b, pre, 4);
    h_free(h);
}

/* One command at a time; reset_stay; a ROM DISCONNECT without the DKB. */
static void test_flow_and_disconnects(void **state)
{
    (void)state;
    struct host *h = h_new("reset_stay=1");
    static const uint8_t pre[4] = {0x00, 0xD3, 0x02, 0x2B};
    h_write(h, pre, 4);
    assert_int_equal(sim_model_rx(h->m, 0, pre, 4, h->now), 0); /* reply unread */
    uint8_t b[16];
    assert_int_equal(h_read(h, b, sizeof(b)), 4);
    h_disconnect(h);
    assert_false(h_action(h));
    assert_string_equal(stat(h, "state"), "rom");
    struct st s;
    h_expect(h, 0x20, 0, 0, NULL, 0, 1, &s); /* a new session needs a preamble */
    h_free(h);
    struct set st;
    set_make(&st);
    h = h_new("stage=bl,reset_stay=1");
    bl_to_fbf(h, &st);
    assert_int_equal(h_image(h, FBF_A, st.fa, (uint32_t)st.fa_len, true, 16376), 0);
    assert_int_equal(h_image(h, FBF_B, st.fb, (uint32_t)st.fb_len, true, 16376), 0);
    h_disconnect(h);
    assert_false(h_action(h));
    assert_string_equal(stat(h, "state"), "rebooting");
    assert_int_equal(sim_model_rx(h->m, 0, pre, 4, h->now), 4); /* deaf */
    assert_int_equal(h_read(h, b, sizeof(b)), 0);
    h_free(h);
    set_free(&st);
}

static void test_bad_options(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "stage=dkb",    "rom_buf=0",        "bl_buf=0x200000",  "processor=NZA", "nack_at=later",
        "bad_kind=crc", "preamble_reply=5", "reset_replug=a b", "fast=2",        "nack_code=0",
        "bogus=1",      "dkb_replug=",      "flash_rate=-1",    "ddr_id=12345",  "unit=EC200A",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sim_model *m = NULL;
        char err[SIM_ERR_MAX] = "";
        assert_true(sim_model_create("asr1803", bad[i], &m, err, sizeof(err)) < 0);
        assert_true(err[0] != '\0');
        assert_null(m);
    }
    /* options that would not fit into the re-enumeration action */
    char big[400];
    snprintf(big, sizeof(big), "reset_replug=%s,processor=ABCD,rom_version=1111",
             "p123456789012345678901234567890123456789012345678901234567890");
    struct sim_model *m = NULL;
    char err[SIM_ERR_MAX] = "";
    assert_int_equal(sim_model_create("asr1803", big, &m, err, sizeof(err)), 0);
    sim_model_destroy(m);
    strcat(big, ",dkb_replug=q123456789012345678901234567890123456789012345678901234567890");
    assert_int_equal(sim_model_create("asr1803", big, &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "carry"));
    /* 13 options: too many to carry from the ROM, fine for a model that starts in BL */
    const char *many = "fast=1,rom_fast=0,fbf_check=1,chip_id=15,rom_buf=64,bl_buf=64,"
                       "max_image=99999,nack_code=2,bad_reply=0,silent_after=0,silent_image=0,"
                       "flash_rate=0,dkb_boot_ms=1";
    assert_int_equal(sim_model_create("asr1803", many, &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too many"));
    char bl[300];
    snprintf(bl, sizeof(bl), "%s,stage=bl", many);
    assert_int_equal(sim_model_create("asr1803", bl, &m, err, sizeof(err)), 0);
    sim_model_destroy(m);
}

static bool whole = false, bytewise = true;

int main(void)
{
    const struct CMUnitTest tests[] = {
        {"test_session_whole", test_session, NULL, NULL, &whole},
        {"test_session_bytewise", test_session, NULL, NULL, &bytewise},
        cmocka_unit_test(test_rack_replug_carries_options),
        cmocka_unit_test(test_seq_wraps),
        cmocka_unit_test(test_order_checks),
        cmocka_unit_test(test_tim_checks),
        cmocka_unit_test(test_fbf_checks),
        cmocka_unit_test(test_nack_at_each_command),
        cmocka_unit_test(test_bad_reply),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_unplug_after_bytes),
        cmocka_unit_test(test_slow_flash),
        cmocka_unit_test(test_versions_and_preambles),
        cmocka_unit_test(test_flow_and_disconnects),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
