/* Unisoc host session against a scripted fake device written here (not tests/sim): a few
 * canned replies per stage (golden ACK/VER frames of the notes), a memory of what was written
 * where, and one injected fault per scenario. Happy paths on UIS8910DM (PDL) and UIS8850
 * (classic ROM), then every failure class: NAK, bad check value, silence, truncated frames,
 * wrong product. */
#include "package/pkg.h"
#include "protocol.h"
#include "unisoc/unisoc.h"
#include "unisoc/unisoc_pkg.h"
#include "unisoc/unisoc_wire.h"
#include "unisoc_fake.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the job, played by the test -------------------------------------------------------- */

struct run {
    struct proto_ctx ctx;
    struct proto_request req;
    unsigned steps, writes, one_byte_writes, reads, set_lines;
    uint32_t line_baud;
    int reenumerated;
};

static uint16_t g_max_packet = 64;

static void drive(struct fixture *fx, struct fake *d, const char *options,
                  enum proto_link_kind link, uint16_t vid, uint16_t pid, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->ctx.link.kind = link;
    r->ctx.link.vid = vid;
    r->ctx.link.pid = pid;
    r->ctx.link.max_packet = link == PROTO_LINK_USB_BULK ? g_max_packet : 0;
    r->ctx.now_ms = 1000;
    struct proto_params params = {.package = &fx->pkg, .options = options};
    void *s = NULL;
    assert_int_equal(unisoc_proto.session_new(&params, &r->ctx, &s), 0);
    struct proto_event ev = {.type = PROTO_EV_START};
    for (r->steps = 0; r->steps < 200000; r->steps++) {
        unisoc_proto.step(s, &ev, &r->req);
        memset(&ev, 0, sizeof(ev));
        if (d->drop_after_reset && d->stage == 3 && r->req.type != PROTO_REQ_DONE &&
            r->req.type != PROTO_REQ_FAIL) {
            /* The job saw the announced departure and the module came back. */
            assert_true(r->ctx.expect_leave_ms > 0);
            r->reenumerated = 1;
            r->ctx.expect_leave_ms = 0;
            r->ctx.link.vid = 0x2c7c;
            r->ctx.link.pid = 0x0901;
            d->drop_after_reset = 0;
            ev.type = PROTO_EV_ATTACHED;
            continue;
        }
        switch (r->req.type) {
        case PROTO_REQ_WRITE:
            assert_true(r->req.len > 0);
            assert_non_null(r->req.data);
            r->writes++;
            r->one_byte_writes += r->req.len == 1;
            if (r->ctx.link.max_packet && r->req.len > 1)
                assert_int_not_equal(r->req.len % r->ctx.link.max_packet, 0);
            dev_write(d, r->req.data, r->req.len);
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_READ:
            assert_true(r->req.len > 0);
            assert_true(r->req.timeout_ms > 0);
            r->reads++;
            if (d->out_off < d->out_len) {
                size_t n = d->out_len - d->out_off;
                if (n > r->req.len)
                    n = r->req.len;
                if (d->piece && n > d->piece)
                    n = d->piece;
                ev.type = PROTO_EV_RX;
                ev.data = d->out + d->out_off;
                ev.len = n;
                d->out_off += n;
                if (d->out_off == d->out_len)
                    d->out_off = d->out_len = 0;
            } else {
                ev.type = PROTO_EV_TIMEOUT;
                r->ctx.now_ms += r->req.timeout_ms;
            }
            break;
        case PROTO_REQ_SET_LINE:
            r->set_lines++;
            r->line_baud = r->req.baud;
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_WAIT:
            r->ctx.now_ms += r->req.timeout_ms;
            ev.type = PROTO_EV_WAKE;
            break;
        case PROTO_REQ_REENUMERATE:
            assert_int_equal(d->stage, 3);
            assert_true(r->ctx.expect_leave_ms > 0);
            r->reenumerated = 1;
            r->ctx.link.vid = 0x2c7c;
            r->ctx.link.pid = 0x0901;
            ev.type = PROTO_EV_ATTACHED;
            break;
        case PROTO_REQ_DONE:
        case PROTO_REQ_FAIL:
            unisoc_proto.session_free(s);
            return;
        }
    }
    fail_msg("session did not end");
}

static const struct region *find_region(const struct fake *d, uint32_t addr, const char *name)
{
    for (int i = 0; i < d->nreg; i++)
        if (d->reg[i].addr == addr && strcmp(d->reg[i].name, name) == 0)
            return &d->reg[i];
    return NULL;
}

static void expect_written(const struct fake *d, const struct fixture *fx, const char *id,
                           uint32_t addr, const char *name)
{
    const struct pkg_image *img = NULL;
    for (size_t i = 0; i < fx->pac.images.count; i++)
        if (strcmp(fx->img[i].name, id) == 0)
            img = &fx->img[i];
    assert_non_null(img);
    const struct region *r = find_region(d, addr, name);
    if (!r)
        fail_msg("%s was not written at 0x%08x '%s'", id, addr, name);
    assert_true(r->ended);
    assert_true(r->len == img->size || r->len == img->size + 1);
    assert_memory_equal(r->buf, img->data, img->size);
    if (r->len > img->size)
        assert_int_equal(r->buf[img->size], 0xFF); /* pad byte of an odd image */
}

static int was_erased(const struct fake *d, uint32_t addr)
{
    for (int i = 0; i < d->nerased; i++)
        if (d->erased[i] == addr)
            return 1;
    return 0;
}

static struct fake *fake_new(int classic)
{
    struct fake *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->classic = classic;
    return d;
}

/* ---- happy paths ------------------------------------------------------------------------ */

static void test_8910_usb(void **state)
{
    (void)state;
    struct fixture *fx = fx_8910();
    struct fake *d = fake_new(0);
    struct run r;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r);
    assert_string_equal(d->error, "");
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_true(r.reenumerated);
    expect_written(d, fx, "HOST_FDL", 0x8000c0, "HOST_FDL");
    expect_written(d, fx, "FDL2", 0x810000, "");
    expect_written(d, fx, "BOOT", 0x60000000, "");
    expect_written(d, fx, "AP", 0x60010000, "");
    expect_written(d, fx, "PY_FS_U", 0x60c00000, "");
    assert_null(find_region(d, 0, "nv")); /* NV and calibration untouched */
    assert_true(was_erased(d, 0x604E0000));
    assert_false(was_erased(d, 0xFE000001));
    assert_false(was_erased(d, 0xFE000006));
    assert_int_equal(d->seen[1][0x09], 0); /* no CHANGE_BAUD over USB */
    assert_int_equal(r.ctx.progress.total, 3000 + 5001 + 6000 + 20000 + 8000);
    assert_int_equal(r.ctx.progress.done, r.ctx.progress.total);
    assert_string_equal(r.ctx.progress.phase, "done");
    assert_string_equal(r.ctx.ident.chip, "UIS8910DM");
    assert_string_equal(r.ctx.ident.revision, "FDL1 test");
    free(d);
    fx_free(fx);
}

static void test_8910_serial_bytewise(void **state)
{
    (void)state;
    struct fixture *fx = fx_8910();
    struct fake *d = fake_new(0);
    d->piece = 1; /* every reply byte in its own read */
    struct run r;
    drive(fx, d, "baud=460800", PROTO_LINK_SERIAL, 0x0525, 0xa4a7, &r);
    assert_string_equal(d->error, "");
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_int_equal(d->baud, 460800);
    assert_int_equal(r.line_baud, 460800);
    expect_written(d, fx, "AP", 0x60010000, "");
    free(d);
    fx_free(fx);
}

static void test_8850(void **state)
{
    (void)state;
    struct fixture *fx = fx_8850();
    struct fake *d = fake_new(1);
    struct run r;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d16, &r);
    assert_string_equal(d->error, "");
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    expect_written(d, fx, "FDL", 0x5500, "");
    expect_written(d, fx, "FDL2", 0x9efffe00, "");
    expect_written(d, fx, "BOOT", 0x60000000, "");
    expect_written(d, fx, "AP", 0x60010000, "");
    assert_null(find_region(d, 0xFE000003, ""));
    assert_int_equal(d->seen[0][0x00], 1); /* ROM CONNECT, CRC-framed */
    assert_string_equal(r.ctx.ident.chip, "UIS8850");
    assert_string_equal(r.ctx.ident.revision, "SPRD3");
    assert_int_equal(r.ctx.progress.done, 1111 + 4000 + 3000 + 9000);
    free(d);
    fx_free(fx);
}

/* A packet that fills whole USB packets goes out as (n-1)+1 (no ZLP needed, §1.3): with
 * 8-byte packets that happens often, and the device still sees every frame intact. */
static void test_zlp_split(void **state)
{
    (void)state;
    struct fixture *fx = fx_8850();
    struct fake *d = fake_new(1);
    struct run r;
    g_max_packet = 8;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d16, &r);
    g_max_packet = 64;
    assert_string_equal(d->error, "");
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_true(r.one_byte_writes > 2 + 10); /* beyond the two check-bauds */
    expect_written(d, fx, "AP", 0x60010000, "");
    free(d);
    fx_free(fx);
}

static void test_write_nv_and_transcode_off(void **state)
{
    (void)state;
    struct fixture *fx = fx_8910();
    struct fake *d = fake_new(0);
    struct run r;
    drive(fx, d, "write_nv=1;transcode=0;chunk=0x400", PROTO_LINK_USB_BULK, 0x1782, 0x4d00, &r);
    assert_string_equal(d->error, ""); /* includes the NV CRC and checksum checks */
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_true(d->transcode_off);
    const struct region *nv = find_region(d, 0, "nv");
    assert_non_null(nv);
    assert_true(nv->has_checksum);
    assert_memory_equal(nv->buf + 2, fx->img[4].data + 2, 4000 - 2);
    assert_true(was_erased(d, 0xFE000001));
    assert_false(was_erased(d, 0xFE000006));
    free(d);
    fx_free(fx);
}

static void test_tolerated_quirks(void **state)
{
    (void)state;
    static const struct {
        enum fault f;
        int stage;
        unsigned cmd, nth;
    } cases[] = {
        {F_LOG, 2, 0x02, 3},
        {F_VERIFY_ONCE, 2, 0x02, 2},
        {F_DOUBLE_VER, 1, 0, 0},
        {F_INCOMPAT, 1, 0x04, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture *fx = fx_8910();
        struct fake *d = fake_new(0);
        d->fault = cases[i].f;
        d->fault_stage = cases[i].stage;
        d->fault_cmd = cases[i].cmd;
        d->fault_nth = cases[i].nth;
        struct run r;
        drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r);
        if (r.req.type != PROTO_REQ_DONE)
            fail_msg("quirk %d: %s", cases[i].f, r.req.message);
        assert_string_equal(d->error, "");
        assert_true(d->fault_done);
        expect_written(d, fx, "AP", 0x60010000, "");
        free(d);
        fx_free(fx);
    }
}

/* ---- failures ------------------------------------------------------------------------- */

static void expect_fail(enum fault f, int stage, unsigned cmd, unsigned nth, int classic,
                        enum fail_code code, const char *phase, const char *words)
{
    struct fixture *fx = classic ? fx_8850() : fx_8910();
    struct fake *d = fake_new(classic);
    d->fault = f;
    d->fault_stage = stage;
    d->fault_cmd = cmd;
    d->fault_nth = nth;
    struct run r;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d00, &r);
    assert_string_equal(d->error, "");
    assert_int_equal(r.req.type, PROTO_REQ_FAIL);
    if (r.req.fail != code || strncmp(r.req.message, phase, strlen(phase)) != 0 ||
        !strstr(r.req.message, words))
        fail_msg("fault %d: got %s '%s', want %s '%s...%s'", f, fail_code_to_string(r.req.fail),
                 r.req.message, fail_code_to_string(code), phase, words);
    assert_false(r.reenumerated);
    free(d);
    fx_free(fx);
}

static void test_nak(void **state)
{
    (void)state;
    expect_fail(F_NAK, 2, 0x02, 7, 0, FAIL_REJECTED, "flash: MIDST_DATA AP chunk 3",
                "expected ACK (0x80), got 0x8a (DOWN_SIZE_ERROR)");
    expect_fail(F_NAK, 0, 0x01, 1, 1, FAIL_REJECTED, "fdl1: START_DATA FDL at 0x00005500",
                "DOWN_SIZE_ERROR");
    expect_fail(F_NAK, 1, 0x04, 1, 0, FAIL_REJECTED, "fdl2: EXEC_DATA FDL2", "DOWN_SIZE_ERROR");
    expect_fail(F_PDL_NAK, 0, 0, 0, 0, FAIL_REJECTED, "fdl1: PDL START_DATA HOST_FDL",
                "got 3 (INVALID_ADDR)");
}

static void test_bad_check(void **state)
{
    (void)state;
    expect_fail(F_BADCHECK, 2, 0x03, 2, 0, FAIL_PROTOCOL, "flash: END_DATA AP",
                "bad FDL sum check value");
    expect_fail(F_BADCHECK, 0, 0x00, 1, 1, FAIL_PROTOCOL, "handshake: CONNECT to the BootROM",
                "bad CRC-16 check value");
}

static void test_silence(void **state)
{
    (void)state;
    expect_fail(F_SILENCE, 2, 0x02, 1, 0, FAIL_TIMEOUT, "flash: MIDST_DATA BOOT chunk 0",
                "no reply within 15000 ms");
    expect_fail(F_SILENCE, 2, 0x05, 1, 0, FAIL_TIMEOUT, "reset: NORMAL_RESET", "no reply");
    /* The module resets before its ACK reaches us: the announced departure is fine. */
    for (int silent = 0; silent < 2; silent++) {
        struct fixture *fx2 = fx_8910();
        struct fake *d2 = fake_new(0);
        d2->drop_after_reset = 1;
        if (silent) {
            d2->fault = F_SILENCE;
            d2->fault_stage = 2;
            d2->fault_cmd = 0x05;
            d2->fault_nth = 1;
        }
        struct run r2;
        drive(fx2, d2, NULL, PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r2);
        if (r2.req.type != PROTO_REQ_DONE)
            fail_msg("drop after reset: %s", r2.req.message);
        assert_true(r2.reenumerated);
        free(d2);
        fx_free(fx2);
    }
    /* CONNECT is retried once: one silent CONNECT is survived. */
    struct fixture *fx = fx_8850();
    struct fake *d = fake_new(1);
    d->fault = F_SILENCE;
    d->fault_stage = 0;
    d->fault_cmd = 0x00;
    d->fault_nth = 1;
    struct run r;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d16, &r);
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_int_equal(d->seen[0][0], 2);
    free(d);
    fx_free(fx);
}

static void test_truncated(void **state)
{
    (void)state;
    expect_fail(F_TRUNC_OPEN, 2, 0x01, 2, 0, FAIL_PROTOCOL, "flash: START_DATA AP",
                "truncated reply: 3 bytes");
    expect_fail(F_TRUNC_CLOSED, 1, 0x02, 1, 1, FAIL_PROTOCOL, "fdl2: MIDST_DATA FDL2 chunk 0",
                "truncated frame");
}

static void test_wrong_product(void **state)
{
    (void)state;
    struct run r;
    /* 8910 package, UIS8850 port. */
    struct fixture *fx = fx_8910();
    struct fake *d = fake_new(1);
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d16, &r);
    assert_int_equal(r.req.fail, FAIL_NO_MATCH);
    assert_non_null(strstr(r.req.message, "UIS8910DM"));
    assert_int_equal(r.writes, 0);
    free(d);
    /* 8910 package on an ambiguous id, the ROM answers in BSL. */
    d = fake_new(0);
    d->bsl_rom = 1;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d00, &r);
    assert_int_equal(r.req.fail, FAIL_NO_MATCH);
    assert_non_null(strstr(r.req.message, "handshake: PDL CONNECT"));
    free(d);
    fx_free(fx);
    /* Classic package on a UIS8910 PDL ROM that answers the check-baud in PDL. */
    fx = fx_8850();
    d = fake_new(0);
    d->answers_junk = 1;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x1782, 0x4d00, &r);
    assert_int_equal(r.req.fail, FAIL_NO_MATCH);
    assert_non_null(strstr(r.req.message, "handshake: check-baud to the BootROM: expected a VER"));
    free(d);
    fx_free(fx);
    /* Classic package, the device's VER is not what the station expects. */
    fx = fx_8850();
    d = fake_new(1);
    drive(fx, d, "ver=SPRD4", PROTO_LINK_USB_BULK, 0x1782, 0x4d00, &r);
    assert_int_equal(r.req.fail, FAIL_NO_MATCH);
    assert_non_null(strstr(r.req.message, "expected a VER containing 'SPRD4', got 'SPRD3'"));
    free(d);
    fx_free(fx);
}

static void test_bad_setup(void **state)
{
    (void)state;
    struct fixture *fx = fx_8910();
    struct fake *d = fake_new(0);
    struct run r;
    drive(fx, d, "chunk=7", PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r);
    assert_int_equal(r.req.type, PROTO_REQ_FAIL);
    assert_non_null(strstr(r.req.message, "chunk"));
    drive(fx, d, "bogus=1", PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r);
    assert_non_null(strstr(r.req.message, "unknown unisoc option 'bogus'"));
    /* No FDL2 in the package. */
    fx->pac.images.count = 1;
    drive(fx, d, NULL, PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, &r);
    assert_int_equal(r.req.fail, FAIL_PACKAGE);
    assert_non_null(strstr(r.req.message, "no FDL2 image"));
    assert_int_equal(r.writes, 0);
    free(d);
    fx_free(fx);
}

/* A job bug (an event that answers nothing) is reported, and the session stays ended. */
static void test_contract(void **state)
{
    (void)state;
    struct fixture *fx = fx_8910();
    struct proto_ctx ctx = {0};
    ctx.link.kind = PROTO_LINK_USB_BULK;
    struct proto_params params = {.package = &fx->pkg};
    void *s = NULL;
    assert_int_equal(unisoc_proto.session_new(&params, &ctx, &s), 0);
    struct proto_request req;
    struct proto_event ev = {.type = PROTO_EV_WAKE};
    unisoc_proto.step(s, &ev, &req);
    assert_int_equal(req.type, PROTO_REQ_FAIL);
    assert_int_equal(req.fail, FAIL_INTERNAL);
    ev.type = PROTO_EV_START;
    unisoc_proto.step(s, &ev, &req);
    assert_int_equal(req.type, PROTO_REQ_FAIL);
    unisoc_proto.session_free(s);
    struct pkg other = {.parsed_kind = PKG_PARSED_ASR};
    params.package = &other;
    assert_int_equal(unisoc_proto.session_new(&params, &ctx, &s), -22);
    assert_ptr_equal(proto_registry_find("unisoc"), &unisoc_proto);
    const struct proto_usb_id *id = NULL;
    assert_ptr_equal(proto_registry_match_usb(0x0525, 0xa4a7, &id), &unisoc_proto);
    assert_int_equal(id->interface_number, 1);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_8910_usb),
        cmocka_unit_test(test_8910_serial_bytewise),
        cmocka_unit_test(test_8850),
        cmocka_unit_test(test_zlp_split),
        cmocka_unit_test(test_write_nv_and_transcode_off),
        cmocka_unit_test(test_tolerated_quirks),
        cmocka_unit_test(test_nak),
        cmocka_unit_test(test_bad_check),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_product),
        cmocka_unit_test(test_bad_setup),
        cmocka_unit_test(test_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
