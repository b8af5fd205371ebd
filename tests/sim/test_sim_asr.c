/* Sessions against the "asr" model (by name, through the registry), driven by a small scripted
 * host written here from the notes (its own SMUX framing, not the model's) under a virtual
 * clock: the whole Crane session of §2.4, byte at a time too, the checks of §4 and every fault
 * knob. Blobs come from asr/asr_fixtures.h (hand-built from the notes). */
#include "sim.h"
#include "asr/asr_fixtures.h"

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
    size_t chunk; /* data bytes per ABOOT_DATA frame */
    uint8_t in[1 << 16];
    size_t in_len;
    unsigned type; /* last frame received */
    uint8_t p[4096];
    size_t n;
    char text[256]; /* last ABOOT_CMD reply, NUL-terminated */
    unsigned hb, infos, other;
    char action[SIM_ACTION_MAX];
};

static void h_pump(struct host *h)
{
    for (;;) {
        size_t cap = sizeof(h->in) - h->in_len;
        size_t n = sim_model_tx(h->m, 0, h->in + h->in_len, cap > 512 ? 512 : cap, h->now);
        if (!n)
            break;
        h->in_len += n;
    }
    if (!h->action[0])
        sim_model_take_action(h->m, h->action, sizeof(h->action), h->now);
}

/* Moves the virtual clock to the model's next event, if there is one before deadline. */
static bool h_wait(struct host *h, uint64_t deadline)
{
    uint64_t due = sim_model_next_event_ms(h->m, h->now);
    if (due == SIM_NEVER || due > deadline)
        return false;
    h->now = due > h->now ? due : h->now + 1;
    return true;
}

static void h_write(struct host *h, const uint8_t *p, size_t n)
{
    size_t off = 0;
    int stuck = 0;
    while (off < n) {
        size_t k = sim_model_rx(h->m, 0, p + off, h->bytewise ? 1 : n - off, h->now);
        off += k;
        if (k)
            continue;
        size_t before = h->in_len;
        h_pump(h); /* a busy device holds input until its reply is out */
        if (h->in_len == before && !h_wait(h, h->now + 60000))
            assert_true(++stuck < 3);
    }
}

/* Host-side framing, per notes §2.1. */
static void h_send(struct host *h, unsigned type, const void *payload, size_t len)
{
    static uint8_t w[2 * 4200 + 8];
    const uint8_t *p = payload;
    size_t n = 0;
    w[n++] = 0x7E;
    if (type) {
        w[n++] = 0x7D;
        w[n++] = (uint8_t)(0x20 + type);
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0x7E || p[i] == 0x7D) {
            w[n++] = 0x7D;
            w[n++] = p[i] ^ 0x20;
        } else {
            w[n++] = p[i];
        }
    }
    w[n++] = 0x7E;
    h_write(h, w, n);
}

static void h_cmd_send(struct host *h, const char *cmd)
{
    h_send(h, 3, cmd, strlen(cmd));
}

/* Takes one frame out of the inbox; 1 = frame, 0 = incomplete. */
static int h_parse(struct host *h)
{
    for (;;) {
        size_t s = 0;
        while (s < h->in_len && h->in[s] != 0x7E)
            s++;
        size_t e = s + 1;
        while (e < h->in_len && h->in[e] != 0x7E)
            e++;
        if (e >= h->in_len)
            return 0;
        size_t i = s + 1;
        h->type = 0;
        h->n = 0;
        if (e - i >= 2 && h->in[i] == 0x7D && h->in[i + 1] >= 0x20 && h->in[i + 1] <= 0x25) {
            h->type = h->in[i + 1] - 0x20u;
            i += 2;
        }
        for (; i < e; i++) {
            uint8_t b = h->in[i];
            if (b == 0x7D && i + 1 < e)
                b = h->in[++i] ^ 0x20;
            h->p[h->n++] = b;
        }
        bool empty = e == s + 1;
        memmove(h->in, h->in + e + 1, h->in_len - e - 1);
        h->in_len -= e + 1;
        if (empty)
            continue;
        memcpy(h->text, h->p, h->n < 255 ? h->n : 255);
        h->text[h->n < 255 ? h->n : 255] = '\0';
        return 1;
    }
}

/* Lets ms of virtual time pass while reading what the device sends. */
static void h_idle(struct host *h, uint64_t ms)
{
    uint64_t end = h->now + ms;
    h_pump(h);
    while (h_wait(h, end))
        h_pump(h);
    h->now = end;
    h_pump(h);
    while (h_parse(h)) {
        h->hb += h->type == 5;
        h->other += h->type != 5; /* anything else arriving while idle */
    }
}

/* Next frame of `want` type, heartbeats (and INFO lines when waiting for a command reply)
 * counted and skipped; -ETIMEDOUT after timeout_ms of virtual time. */
static int h_recv(struct host *h, unsigned want, uint64_t timeout_ms)
{
    uint64_t deadline = h->now + timeout_ms;
    for (;;) {
        h_pump(h);
        while (h_parse(h)) {
            if (h->type == 5) {
                h->hb++;
                continue;
            }
            if (want == 3 && h->type == 3 && strncmp(h->text, "INFO", 4) == 0) {
                h->infos++;
                continue;
            }
            assert_int_equal(h->type, want);
            return 0;
        }
        if (!h_wait(h, deadline))
            return -ETIMEDOUT;
    }
}

/* Sends a command and returns 0 with the final reply in h->text, or -ETIMEDOUT. */
static int h_cmd(struct host *h, const char *cmd)
{
    h_cmd_send(h, cmd);
    return h_recv(h, 3, 10000);
}

static void expect(struct host *h, const char *cmd, const char *reply)
{
    assert_int_equal(h_cmd(h, cmd), 0);
    if (strncmp(h->text, reply, strlen(reply)) != 0)
        fail_msg("%s: got '%s', expected '%s...'", cmd, h->text, reply);
}

/* download:%08x, the data in frames of h->chunk bytes, OKAY. */
static void h_download(struct host *h, const uint8_t *blob, size_t n)
{
    char cmd[32], data[16];
    snprintf(cmd, sizeof(cmd), "download:%08zx", n);
    snprintf(data, sizeof(data), "DATA%08zx", n);
    expect(h, cmd, data);
    for (size_t off = 0; off < n; off += h->chunk)
        h_send(h, 4, blob + off, n - off < h->chunk ? n - off : h->chunk);
    assert_int_equal(h_recv(h, 3, 10000), 0);
    assert_string_equal(h->text, "OKAY");
}

static void h_handshake(struct host *h)
{
    h_write(h, (const uint8_t *)"UUUU\x7E", 5);
    assert_int_equal(h_recv(h, 0, 1000), 0);
    assert_string_equal(h->text, "UABT");
    h_send(h, 0, "UABT", 4);
    assert_int_equal(h_recv(h, 0, 1000), 0);
    assert_string_equal(h->text, "UABT");
    h_send(h, 1, "\x04\x00", 2);
    assert_int_equal(h_recv(h, 2, 1000), 0);
    assert_int_equal(h->n, 2);
}

static struct host *h_new(const char *opts)
{
    struct host *h = calloc(1, sizeof(*h));
    char err[SIM_ERR_MAX];
    assert_non_null(h);
    int r = sim_model_create("asr", opts, &h->m, err, sizeof(err));
    if (r < 0)
        fail_msg("create(%s): %s", opts ? opts : "", err);
    sim_model_start(h->m, 0);
    h->chunk = 1024;
    return h;
}

static void h_free(struct host *h)
{
    sim_model_destroy(h->m);
    free(h);
}

/* Value of a stat, "" when absent. */
static const char *stat(struct host *h, const char *key)
{
    static char buf[SIM_STATS_MAX], val[256];
    assert_true(sim_model_stats(h->m, buf, sizeof(buf)) > 0);
    val[0] = '\0';
    size_t kl = strlen(key);
    for (char *l = buf; *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, key, kl) == 0 && l[kl] == '=') {
            size_t vl = strcspn(l + kl + 1, "\n");
            snprintf(val, sizeof(val), "%.*s", (int)vl, l + kl + 1);
            break;
        }
    }
    return val;
}

static long stat_n(struct host *h, const char *key)
{
    return strtol(stat(h, key), NULL, 0);
}

static void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static uint8_t blob[0x110000];

/* ROM stage through the flasher: getvars, preboot and flasher called. */
static void h_boot(struct host *h)
{
    h_handshake(h);
    expect(h, "getvar:product", "OKAYarom-tiny");
    expect(h, "getvar:version", "OKAY0.5");
    expect(h, "getvar:version-bootrom", "OKAY2020.07.30");
    expect(h, "progress:124000", "OKAY");
    for (int i = 0; i < 2; i++) {
        h_download(h, blob, fx_fip(blob, 40 + (uint32_t)i, false, false));
        expect(h, "verify", "OKAY");
        unsigned infos = h->infos;
        expect(h, "call", "OKAY");
        assert_true(h->infos > infos);
    }
    assert_string_equal(stat(h, "phase"), "flasher");
}

static void h_tables(struct host *h)
{
    const uint32_t ids[2] = {0x6018201Cu, 0x601800C8u};
    size_t np;
    const struct fx_part *layout = fx_layout(&np);
    h_download(h, blob, fx_fnif(blob, ids, 2, 0x1000000));
    expect(h, "partition", "OKAY");
    h_download(h, blob, fx_btpa(blob, layout, np));
    expect(h, "partition", "OKAY");
}

/* Writes img to part as sparse segments of seg_blocks blocks each; zero padding. */
static void h_flash(struct host *h, const char *part, const uint8_t *img, size_t len,
                    uint32_t seg_blocks)
{
    uint32_t blocks = (uint32_t)((len + 4095) / 4096);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "flash:%s", part);
    for (uint32_t b = 0; b < blocks; b += seg_blocks) {
        size_t off = (size_t)b * 4096,
               n = len - off < seg_blocks * 4096u ? len - off : seg_blocks * 4096u;
        static uint8_t seg[0x110000];
        size_t sn = fx_sparse(seg, img + off, n, b, blocks, 0, 0);
        h_download(h, seg, sn);
        expect(h, cmd, "OKAY");
    }
}

static void check_part(struct host *h, const char *part, const uint8_t *img, size_t len)
{
    size_t ext = (len + 4095) / 4096 * 4096;
    uint8_t *pad = calloc(1, ext);
    memcpy(pad, img, len);
    char want[128], hex[65], key[48];
    sha_hex(pad, ext, hex);
    snprintf(want, sizeof(want), "%zu:%s", ext, hex);
    snprintf(key, sizeof(key), "part_%s", part);
    assert_string_equal(stat(h, key), want);
    free(pad);
}

/* ---- the whole session (§2.4) ---- */

static void session(bool bytewise, size_t chunk)
{
    struct host *h = h_new("reset_replug=quectel-at,flasher_max=0x4000");
    h->bytewise = bytewise;
    h->chunk = chunk;
    h_boot(h);
    expect(h, "getvar:max-download-size", "OKAY0x4000");
    h_tables(h);
    expect(h, "getvar:partition-type:cp", "OKAYflash");
    expect(h, "getvar:partition-size:cp", "OKAY0x00300000");
    expect(h, "getvar:partition-start:user_app", "OKAY0x00630000");
    expect(h, "enable", "OKAY");
    static uint8_t cp[24000], app[8192], pt[0x88C];
    size_t np;
    fx_fill(cp, sizeof(cp), 11);
    fx_fill(app, sizeof(app), 12);
    const struct fx_part *layout = fx_layout(&np);
    fx_btpa(pt, layout, np);
    h_flash(h, "ptable", pt, sizeof(pt), 3);
    h_flash(h, "cp", cp, sizeof(cp), 3); /* two segments: 3 + 3 blocks */
    h_flash(h, "user_app", app, sizeof(app), 3);
    expect(h, "erase:nvm", "OKAY");
    assert_string_equal(stat(h, "phase"), "flashing");
    expect(h, "reboot", "OKAY");
    expect(h, "complete", "OKAY");
    h_idle(h, 1000); /* QDloader waits about 1 s before disconnect */
    expect(h, "disconnect", "OKAY");
    assert_string_equal(h->action, "");
    while (!h->action[0] && h_wait(h, h->now + 5000))
        h_pump(h);
    assert_string_equal(h->action, "replug quectel-at");
    assert_string_equal(stat(h, "link"), "gone");
    assert_string_equal(stat(h, "phase"), "rebooting");
    check_part(h, "cp", cp, sizeof(cp));
    check_part(h, "user_app", app, sizeof(app));
    check_part(h, "ptable", pt, sizeof(pt));
    assert_int_equal(stat_n(h, "partitions"), 3);
    assert_string_equal(stat(h, "erased"), "nvm");
    assert_int_equal(stat_n(h, "sparse_segments"), 4);
    assert_int_equal(stat_n(h, "flash_cmds"), 4);
    assert_int_equal(stat_n(h, "bytes_programmed"), 4096 + 24576 + 8192);
    assert_int_equal(stat_n(h, "calls"), 2);
    assert_int_equal(stat_n(h, "fails"), 0);
    assert_int_equal(stat_n(h, "lost_frames"), 0);
    assert_int_equal(stat_n(h, "reboot"), 1);
    assert_int_equal(stat_n(h, "disconnected"), 1);
    assert_true(stat_n(h, "heartbeats") >= 3); /* the session took > 1 s virtual */
    assert_int_equal(stat_n(h, "heartbeats"), h->hb);
    assert_int_equal(strlen(stat(h, "preboot_sha256")), 64);
    assert_int_equal(strlen(stat(h, "flasher_sha256")), 64);
    assert_true(stat_n(h, "download_bytes") > 24000 + 8192 + 0x88C);
    h_free(h);
}

static void test_session(void **state)
{
    (void)state;
    session(false, 1024);
}

static void test_session_bytewise(void **state)
{
    (void)state;
    session(true, 512);
}

/* ---- link rules (§2.1, §2.2, §4.1-4.3) ---- */

static void test_handshake_rules(void **state)
{
    (void)state;
    struct host *h = h_new(NULL);
    /* Nothing but a probe wakes the ROM: junk, HELLO and a command go unanswered. */
    h_write(h, (const uint8_t *)"AT\r\n", 4);
    h_send(h, 1, "\x04\x00", 2);
    h_cmd_send(h, "getvar:product");
    h_send(h, 0, "hello", 5);
    h_idle(h, 2000);
    assert_int_equal(h->other + h->hb, 0);
    assert_string_equal(stat(h, "phase"), "wait");
    assert_int_equal(stat_n(h, "ignored_frames"), 3);
    /* A STDIO "UUUU" frame (the notes' "~UUUU~" form) is a probe too. */
    h_send(h, 0, "UUUU", 4);
    assert_int_equal(h_recv(h, 0, 1000), 0);
    assert_string_equal(h->text, "UABT");
    /* Before HELLO: commands are ignored, no heartbeat. */
    h_cmd_send(h, "getvar:product");
    h_idle(h, 2000);
    assert_int_equal(h->other + h->hb, 0);
    /* HELLO with 1 or 3 bytes, or MTU 0: no reply. */
    h_send(h, 1, "\x04", 1);
    h_send(h, 1, "\x04\x00\x00", 3);
    h_send(h, 1, "\x00\x00", 2);
    h_idle(h, 2000);
    assert_int_equal(h->other, 0);
    assert_int_equal(stat_n(h, "bad_hellos"), 3);
    /* The host offers 512: the device takes it. */
    h_send(h, 1, "\x02\x00", 2);
    assert_int_equal(h_recv(h, 2, 1000), 0);
    assert_int_equal(h->n, 2);
    assert_memory_equal(h->p, "\x02\x00", 2);
    assert_string_equal(stat(h, "phase"), "rom");
    /* A frame over the MTU is dropped without an answer; the next one is served. */
    char big_cmd[600];
    memset(big_cmd, 'x', sizeof(big_cmd));
    memcpy(big_cmd, "getvar:", 7);
    h_send(h, 3, big_cmd, 513);
    h_idle(h, 1000);
    assert_int_equal(h->other, 0);
    assert_int_equal(stat_n(h, "lost_frames"), 1);
    /* 129..512 bytes: within the MTU but over the 128-byte command limit. */
    h_send(h, 3, big_cmd, 200);
    assert_int_equal(h_recv(h, 3, 1000), 0);
    assert_memory_equal(h->text, "FAIL", 4);
    expect(h, "getvar:version", "OKAY0.5");
    /* Re-handshake (asr-flash style) keeps the phase. */
    h->chunk = 512;
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "call", "OKAY");
    h_handshake(h);
    assert_string_equal(stat(h, "phase"), "preboot");
    assert_int_equal(stat_n(h, "hellos"), 2);
    h_free(h);
}

static void test_mtu_option(void **state)
{
    (void)state;
    struct host *h = h_new("mtu=256");
    h_write(h, (const uint8_t *)"UUUU\x7E", 5);
    assert_int_equal(h_recv(h, 0, 1000), 0);
    h_send(h, 1, "\x04\x00", 2);
    assert_int_equal(h_recv(h, 2, 1000), 0);
    assert_memory_equal(h->p, "\x01\x00", 2);
    h_send(h, 4, blob, 257); /* over the agreed MTU */
    h_idle(h, 500);
    assert_int_equal(stat_n(h, "lost_frames"), 1);
    assert_int_equal(h->other, 0);
    h_free(h);
}

static void test_heartbeats(void **state)
{
    (void)state;
    struct host *h = h_new(NULL);
    h_handshake(h);
    h->hb = 0;
    h_idle(h, 3000);
    /* About every 300 ms (§2.1): 10 in 3 s. */
    assert_in_range(h->hb, 9, 11);
    assert_int_equal(h->other, 0);
    h_free(h);
    h = h_new("heartbeat_ms=0");
    h_handshake(h);
    h_idle(h, 5000);
    assert_int_equal(h->hb, 0);
    assert_int_equal(sim_model_next_event_ms(h->m, h->now), SIM_NEVER);
    h_free(h);
    /* Heartbeats go on while a slow call runs, before its OKAY. */
    h = h_new("call_ms=2000,info_lines=0");
    h_handshake(h);
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    h->hb = 0;
    uint64_t t0 = h->now;
    expect(h, "call", "OKAY");
    assert_true(h->now - t0 >= 2000);
    assert_in_range(h->hb, 5, 8);
    h_free(h);
}

/* ---- download (§4.4) ---- */

static void test_download_rules(void **state)
{
    (void)state;
    struct host *h = h_new(NULL);
    h_handshake(h);
    expect(h, "download:1234", "FAIL");
    expect(h, "download:0000100g", "FAIL");
    expect(h, "download:000001000", "FAIL");
    expect(h, "download:00000000", "FAIL");
    expect(h, "download:0000f001", "FAIL"); /* ROM max is 60 KiB */
    assert_non_null(strstr(stat(h, "last_error"), "0xf000"));
    expect(h, "download:0000F000", "DATA0000f000");
    /* A command before the data is complete fails and ends the download. */
    h_send(h, 4, blob, 100);
    expect(h, "verify", "FAIL");
    h_send(h, 4, blob, 100); /* stray data now: one FAIL */
    h_send(h, 4, blob, 100);
    assert_int_equal(h_recv(h, 3, 1000), 0);
    assert_memory_equal(h->text, "FAIL", 4);
    h_idle(h, 500);
    assert_int_equal(h->other, 0);
    assert_int_equal(stat_n(h, "stray_data"), 2);
    /* More bytes than announced. */
    expect(h, "download:00000010", "DATA00000010");
    h_send(h, 4, blob, 8);
    h_idle(h, 500);
    assert_int_equal(h->other, 0); /* no OKAY before the last byte */
    h_send(h, 4, blob, 9);
    assert_int_equal(h_recv(h, 3, 1000), 0);
    assert_memory_equal(h->text, "FAIL", 4);
    expect(h, "verify", "FAIL"); /* the download did not complete */
    /* Exactly the announced count, then OKAY; empty data frames are harmless. */
    expect(h, "download:00000010", "DATA00000010");
    h_send(h, 4, blob, 0);
    h_send(h, 4, blob, 16);
    assert_int_equal(h_recv(h, 3, 1000), 0);
    assert_string_equal(h->text, "OKAY");
    assert_int_equal(stat_n(h, "downloads"), 1);
    h_free(h);
}

/* ---- ROM commands (§4.5, §4.8) ---- */

static void test_rom_rules(void **state)
{
    (void)state;
    struct host *h = h_new(NULL);
    h_handshake(h);
    expect(h, "getvar:max-download-size", "OKAY0xf000");
    expect(h, "getvar:nonsense", "FAIL");
    expect(h, "getvar:partition-size:cp", "FAIL");
    expect(h, "progress:12x", "FAIL");
    expect(h, "nop", "OKAY");
    expect(h, "frobnicate", "FAIL");
    expect(h, "verify", "FAIL");
    expect(h, "call", "FAIL");
    for (const char *const *c =
             (const char *const[]){"partition", "flash:cp", "erase:fs", "enable", NULL};
         *c; c++)
        expect(h, *c, "FAIL");
    /* Broken FIPs: no certificate, bad magic. call stays refused. */
    h_download(h, blob, fx_fip(blob, 2, false, true));
    expect(h, "verify", "FAIL");
    expect(h, "call", "FAIL");
    size_t n = fx_fip(blob, 2, false, false);
    blob[3] = 0;
    h_download(h, blob, n);
    expect(h, "verify", "FAIL");
    /* A good one; verify consumes nothing, call consumes the blob. */
    h_download(h, blob, fx_fip(blob, 2, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "call", "OKAY");
    expect(h, "call", "FAIL");
    assert_string_equal(stat(h, "phase"), "preboot");
    expect(h, "getvar:max-download-size", "OKAY0xf000"); /* still the ROM */
    h_download(h, blob, fx_fip(blob, 3, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "call", "OKAY");
    expect(h, "getvar:max-download-size", "OKAY0x100000");
    expect(h, "verify", "FAIL"); /* the flasher serves neither verify nor call */
    expect(h, "call", "FAIL");
    assert_int_equal(stat_n(h, "fails"), 16);
    h_free(h);
}

/* ---- flasher commands (§4.6, §4.7) ---- */

static void test_flasher_rules(void **state)
{
    (void)state;
    struct host *h = h_new("jedec=0x60182085");
    size_t np;
    const struct fx_part *layout = fx_layout(&np);
    h_boot(h);
    expect(h, "partition", "FAIL"); /* nothing downloaded */
    expect(h, "flash:cp", "FAIL");  /* no table */
    h_download(h, blob, fx_btpa(blob, layout, np));
    expect(h, "partition", "FAIL"); /* table before flashinfo */
    const uint32_t ids[2] = {0x601800C8u, 0x6018201Cu};
    h_download(h, blob, fx_fnif(blob, ids, 2, 0x1000000));
    expect(h, "partition", "FAIL"); /* the chip 0x60182085 is not listed */
    assert_non_null(strstr(stat(h, "last_error"), "JEDEC"));
    const uint32_t ids3[3] = {0x601800C8u, 0x6018201Cu, 0x60182085u};
    h_download(h, blob, fx_fnif(blob, ids3, 3, 0x1000000));
    expect(h, "partition", "OKAY");
    assert_string_equal(stat(h, "phase"), "probed");
    h_download(h, blob, 100);
    expect(h, "partition", "FAIL"); /* neither FNIF nor BTPA */
    fx_btpa(blob, layout, np);
    blob[0x400] ^= 0x40;
    h_download(h, blob, 0x88C);
    expect(h, "partition", "FAIL"); /* CRC */
    h_download(h, blob, fx_btpa(blob, layout, np));
    expect(h, "partition", "OKAY");
    assert_string_equal(stat(h, "phase"), "ptable");
    assert_int_equal(stat_n(h, "ptable_entries"), np);
    expect(h, "getvar:partition-type:nope", "FAIL");
    expect(h, "flash:cp", "FAIL"); /* no download for it */
    static uint8_t img[12288], seg[16384];
    fx_fill(img, sizeof(img), 9);
    h_download(h, seg, fx_sparse(seg, img, sizeof(img), 0, 3, 0, 0));
    expect(h, "flash:nope", "FAIL");
    expect(h, "flash:all", "FAIL"); /* a group */
    expect(h, "erase:external", "FAIL");
    h_download(h, seg, fx_sparse(seg, img, sizeof(img), 0, 3, 0, 0x10));
    expect(h, "flash:rd", "FAIL"); /* CRC */
    assert_non_null(strstr(stat(h, "last_error"), "CRC-32"));
    h_download(h, seg, fx_sparse(seg, img, 4096, 0, 0x21, 0, 0));
    expect(h, "flash:ptable", "FAIL"); /* 33 blocks into a 4 KiB partition */
    h_download(h, img, 4096);
    expect(h, "flash:rd", "FAIL"); /* raw, not sparse */
    assert_int_equal(stat_n(h, "partitions"), 0);
    h_download(h, seg, fx_sparse(seg, img, sizeof(img), 0, 3, 0, 0));
    expect(h, "flash:rd", "OKAY");
    check_part(h, "rd", img, sizeof(img));
    expect(h, "erase:rd", "OKAY");
    uint8_t ff[12288];
    memset(ff, 0xFF, sizeof(ff));
    check_part(h, "rd", ff, sizeof(ff));
    expect(h, "upload:rd", "FAIL"); /* read-back is not modelled */
    h_free(h);
}

/* ---- ROM 2019.01.15 quirk (§4.9) ---- */

static void test_quirk_rom(void **state)
{
    (void)state;
    struct host *h = h_new("rom=2019.01.15");
    h_handshake(h);
    expect(h, "getvar:version-bootrom", "OKAY2019.01.15");
    expect(h, "nop", "OKAY"); /* nothing verified: a plain no-op */
    assert_string_equal(stat(h, "phase"), "rom");
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "call", "FAIL");
    unsigned infos = h->infos;
    expect(h, "nop", "OKAY");
    assert_int_equal(h->infos - infos, 3);
    assert_string_equal(stat(h, "phase"), "preboot");
    h_free(h);
    h = h_new("rom=2019.01.15,quirk_call=run");
    h_handshake(h);
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "call", "OKAY");
    h_free(h);
}

/* ---- session end (§4.10) ---- */

static void test_reboot(void **state)
{
    (void)state;
    /* reboot alone: the device leaves reboot_wait_ms later; unplug without a profile. */
    struct host *h = h_new("reboot_wait_ms=2000");
    h_handshake(h);
    uint64_t t0 = h->now;
    expect(h, "reboot", "OKAY");
    h_idle(h, 1900);
    assert_string_equal(h->action, "");
    h_idle(h, 200);
    assert_string_equal(h->action, "unplug");
    assert_true(h->now - t0 >= 2000);
    /* Gone: input vanishes, nothing comes back. */
    h_cmd_send(h, "getvar:product");
    h_idle(h, 1000);
    assert_int_equal(h->other, 0);
    h_free(h);
    /* A host that stops reading after the OKAY (it waits for the re-enumeration): the
     * heartbeats due meanwhile wait for the host (sim.h) and must not hide the reboot
     * behind a time already past. */
    h = h_new("reboot_wait_ms=2000");
    h_handshake(h);
    expect(h, "reboot", "OKAY");
    uint64_t t1 = h->now;
    uint64_t due = sim_model_next_event_ms(h->m, t1 + 1000);
    assert_true(due > t1 + 1000 && due <= t1 + 2000);
    h_free(h);
    /* reset_stay: deaf but on the bus, stats readable. */
    h = h_new("reset_stay=1,reset_replug=quectel-at");
    h_handshake(h);
    expect(h, "reboot", "OKAY");
    expect(h, "disconnect", "OKAY");
    h_idle(h, 10000);
    assert_string_equal(h->action, "");
    assert_string_equal(stat(h, "link"), "gone");
    assert_string_equal(stat(h, "phase"), "rebooting");
    assert_int_equal(sim_model_next_event_ms(h->m, h->now), SIM_NEVER);
    h_free(h);
    /* complete/disconnect without reboot keep the device. */
    h = h_new(NULL);
    h_handshake(h);
    expect(h, "complete", "OKAY");
    expect(h, "disconnect", "OKAY");
    h_idle(h, 10000);
    assert_string_equal(h->action, "");
    assert_string_equal(stat(h, "phase"), "complete");
    expect(h, "getvar:product", "OKAY");
    h_free(h);
}

/* ---- fault knobs ---- */

static void test_fault_replies(void **state)
{
    (void)state;
    struct host *h = h_new("bad_reply_at=3");
    h_handshake(h);
    expect(h, "getvar:product", "OKAY");
    expect(h, "getvar:version", "OKAY");
    expect(h, "getvar:version-bootrom", "oKAY2020.07.30");
    expect(h, "getvar:version-bootrom", "OKAY2020.07.30");
    h_free(h);
    h = h_new("bad_hello=1");
    h_write(h, (const uint8_t *)"UUUU\x7E", 5);
    assert_int_equal(h_recv(h, 0, 1000), 0);
    h_send(h, 1, "\x04\x00", 2);
    assert_int_equal(h_recv(h, 2, 1000), 0);
    assert_int_equal(h->n, 3);
    h_free(h);
    /* FAIL at the second verify; the first passes. */
    h = h_new("fail_at=verify,fail_nth=2");
    h_handshake(h);
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    expect(h, "verify", "FAILsim: injected failure");
    expect(h, "verify", "OKAY");
    h_free(h);
}

static void test_fault_silence(void **state)
{
    (void)state;
    struct host *h = h_new("silent_at=call");
    h_handshake(h);
    h_download(h, blob, fx_fip(blob, 1, false, false));
    expect(h, "verify", "OKAY");
    h->hb = 0;
    assert_int_equal(h_cmd(h, "call"), -ETIMEDOUT);
    assert_true(h->hb >= 30); /* 10 s of heartbeats: the link is alive, the command hangs */
    assert_int_equal(h_cmd(h, "getvar:product"), -ETIMEDOUT);
    assert_string_equal(stat(h, "phase"), "rom");
    h_free(h);
    h = h_new("silent_after=2");
    h_handshake(h);
    expect(h, "getvar:product", "OKAY");
    expect(h, "nop", "OKAY");
    assert_int_equal(h_cmd(h, "getvar:product"), -ETIMEDOUT);
    h_free(h);
    /* hang: no reply and no heartbeat (the host's 3 s link-loss check), probes ignored. */
    h = h_new("hang_at=getvar:version");
    h_handshake(h);
    expect(h, "getvar:product", "OKAY");
    h->hb = 0;
    assert_int_equal(h_cmd(h, "getvar:version"), -ETIMEDOUT);
    assert_int_equal(h->hb, 0);
    h_write(h, (const uint8_t *)"UUUU\x7E", 5);
    h_send(h, 1, "\x04\x00", 2);
    h_idle(h, 5000);
    assert_int_equal(h->hb + h->other, 0);
    h_free(h);
}

static void test_fault_unplug(void **state)
{
    (void)state;
    struct host *h = h_new("unplug_after_bytes=3000,reset_replug=quectel-at");
    h_handshake(h);
    size_t n = fx_fip(blob, 1, false, false); /* about 2.3 KB */
    h_download(h, blob, n);
    expect(h, "download:00000800", "DATA00000800");
    h_send(h, 4, blob, 512);
    h_pump(h);
    assert_string_equal(h->action, "");
    h_send(h, 4, blob, 512); /* crosses 3000 */
    h_pump(h);
    assert_string_equal(h->action, "unplug");
    assert_string_equal(stat(h, "link"), "gone");
    assert_int_equal(stat_n(h, "download_bytes"), n + 1024);
    h_send(h, 4, blob, 512); /* swallowed */
    h_idle(h, 2000);
    assert_int_equal(h->hb + h->other, 0);
    h_free(h);
}

static void test_fault_slow_flash(void **state)
{
    (void)state;
    struct host *h = h_new("flash_rate=4096,erase_ms=700");
    h_boot(h);
    h_tables(h);
    static uint8_t img[12288], seg[16384];
    fx_fill(img, sizeof(img), 5);
    h_download(h, seg, fx_sparse(seg, img, sizeof(img), 0, 3, 0, 0));
    h->hb = 0;
    uint64_t t0 = h->now;
    h_cmd_send(h, "flash:rd");
    /* Busy: the next command waits in the host's buffer until the OKAY is due. */
    assert_int_equal(h_recv(h, 3, 10000), 0);
    assert_string_equal(h->text, "OKAY");
    assert_true(h->now - t0 >= 3000); /* 12288 bytes at 4096 B/s, virtual time */
    assert_true(h->hb >= 8);
    t0 = h->now;
    expect(h, "erase:rd", "OKAY");
    assert_true(h->now - t0 >= 700);
    h_free(h);
}

static void test_fault_identity(void **state)
{
    (void)state;
    struct host *h = h_new("product=arom,rom=2022.11.06,version=0.6");
    h_handshake(h);
    expect(h, "getvar:product", "OKAYarom");
    expect(h, "getvar:version", "OKAY0.6");
    expect(h, "getvar:version-bootrom", "OKAY2022.11.06");
    h_free(h);
}

/* The module's identity comes back with the revision its new firmware reports (sim.h). */
static void test_unit_revision(void **state)
{
    (void)state;
    struct host *h =
        h_new("unit=EC600N.CNLA.869710030000011.-,reset_replug=quectel-at,flasher_max=0x2000");
    h_boot(h);
    h_tables(h);
    static uint8_t app[6000];
    fx_fill(app, sizeof(app), 21);
    /* The marker straddles the two segments (4 KiB each). */
    static const char mark[] = "QUECTEL_REVISION=EC600NCNLAR03A01";
    memcpy(app + 4090, mark, sizeof(mark)); /* with its NUL */
    h_flash(h, "user_app", app, sizeof(app), 1);
    assert_string_equal(stat(h, "revision"), "EC600NCNLAR03A01");
    expect(h, "reboot", "OKAY");
    expect(h, "disconnect", "OKAY");
    h_idle(h, 1000);
    assert_string_equal(
        h->action,
        "replug quectel-at unit=EC600N.CNLA.869710030000011.- revision=EC600NCNLAR03A01");
    h_free(h);
}

static void test_options(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "nope=1",           "mtu=10",          "mtu=9000",
        "quirk_call=maybe", "flash_size=4097", "unit=EC600N.CNLA",
        "bad_hello=2",      "info_lines=99",   "rom=0123456789012345678901234567890123",
        "fail_nth=0",       "heartbeat_ms=x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sim_model *m = NULL;
        char err[SIM_ERR_MAX] = "";
        if (sim_model_create("asr", bad[i], &m, err, sizeof(err)) == 0)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(err[0] != '\0');
    }
    struct sim_model *m = NULL;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_model_create("asr", "rom=2019.01.15,mtu=512,jedec=0x1,flash_size=0x800000",
                                      &m, err, sizeof(err)),
                     0);
    sim_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session),         cmocka_unit_test(test_session_bytewise),
        cmocka_unit_test(test_handshake_rules), cmocka_unit_test(test_mtu_option),
        cmocka_unit_test(test_heartbeats),      cmocka_unit_test(test_download_rules),
        cmocka_unit_test(test_rom_rules),       cmocka_unit_test(test_flasher_rules),
        cmocka_unit_test(test_quirk_rom),       cmocka_unit_test(test_reboot),
        cmocka_unit_test(test_fault_replies),   cmocka_unit_test(test_fault_silence),
        cmocka_unit_test(test_fault_unplug),    cmocka_unit_test(test_fault_slow_flash),
        cmocka_unit_test(test_fault_identity),  cmocka_unit_test(test_unit_revision),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
