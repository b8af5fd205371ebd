/* ASR1803 (EC200A) WTPTP host session against a scripted fake device written here (not
 * tests/sim): it answers each command with the golden status of protocols/asr.md §3.1, asks
 * for the images its stage's TIM lists, checks SEQ and byte counts, and records what each
 * image received. Happy paths (boot ROM -> DKB -> flash, fast and slow data, split FBF
 * members, DDR variants) and every failure class: NACK, error report, silence, corrupt and
 * truncated statuses, wrong processor, missing images, module stuck in download mode. */
#include "asr1803/asr1803.h"
#include "asr1803/asr1803_plan.h"
#include "asr1803/wtptp_wire.h"
#include "asr/asr1803_pkg.h"
#include "package/pkg.h"
#include "protocol.h"

#include "asr1803_fake.h"
#include "asr1803_fixture.h"

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
    unsigned reenum, writes, waits;
    uint64_t max_total;
};

static void drive(struct pkg *pkg, struct fake *d, const char *options, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->ctx.link =
        (struct proto_link){PROTO_LINK_USB_BULK, 0x2ecc, d->stage ? 0x3001 : 0x3002, 512, 0};
    r->ctx.now_ms = 1000;
    struct proto_params params = {.package = pkg, .options = options};
    void *s = NULL;
    assert_int_equal(asr1803_proto.session_new(&params, &r->ctx, &s), 0);
    struct proto_event ev = {.type = PROTO_EV_START};
    for (unsigned steps = 0; steps < 100000; steps++) {
        asr1803_proto.step(s, &ev, &r->req);
        memset(&ev, 0, sizeof(ev));
        assert_true(r->ctx.progress.total == 0 || r->ctx.progress.done <= r->ctx.progress.total);
        if (d->gone && d->out_len == 0 && r->ctx.expect_leave_ms && r->req.type == PROTO_REQ_READ) {
            /* It left without answering, as announced; the job reports it back. */
            d->gone = 0;
            r->reenum++;
            r->ctx.expect_leave_ms = 0;
            d->stage = d->disconnects == 1 && d->stage == 0 ? 1 : 2;
            d->at = 0;
            r->ctx.link.pid = 0x3001;
            if (d->stage == 2)
                r->ctx.link = (struct proto_link){PROTO_LINK_USB_BULK, 0x2c7c, 0x6005, 512, 0};
            ev.type = PROTO_EV_ATTACHED;
            continue;
        }
        switch (r->req.type) {
        case PROTO_REQ_WRITE:
            assert_true(r->req.len > 0 && r->req.data);
            r->writes++;
            dev_write(d, r->req.data, r->req.len);
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_READ:
            assert_true(r->req.len >= WTPTP_STATUS_MAX && r->req.timeout_ms > 0);
            if (d->out_len) {
                ev.type = PROTO_EV_RX;
                ev.data = d->out;
                ev.len = d->out_len;
                d->out_len = 0;
                r->ctx.now_ms += 1;
            } else {
                ev.type = PROTO_EV_TIMEOUT;
                r->ctx.now_ms += r->req.timeout_ms;
            }
            break;
        case PROTO_REQ_WAIT:
            r->waits++;
            r->ctx.now_ms += r->req.timeout_ms;
            ev.type = PROTO_EV_WAKE;
            break;
        case PROTO_REQ_REENUMERATE:
            assert_true(d->gone);
            assert_true(r->ctx.expect_leave_ms > 0);
            d->gone = 0;
            r->reenum++;
            r->ctx.expect_leave_ms = 0;
            d->at = 0;
            if (d->stage == 0) {
                d->stage = 1;
                r->ctx.link.pid = 0x3001;
            } else if (d->fault == F_STUCK) {
                r->ctx.link.pid = 0x3001;
            } else {
                d->stage = 2;
                r->ctx.link = (struct proto_link){PROTO_LINK_USB_BULK, 0x2c7c, 0x6005, 512, 0};
            }
            ev.type = PROTO_EV_ATTACHED;
            break;
        case PROTO_REQ_DONE:
        case PROTO_REQ_FAIL:
            asr1803_proto.session_free(s);
            return;
        default:
            fail_msg("unexpected request %s", proto_request_type_to_string(r->req.type));
        }
    }
    fail_msg("session did not end");
}

static struct pkg *parse(const struct fx_pkg *f)
{
    void *pkg = NULL;
    char err[256] = "";
    if (asr1803_pkg_hook_parse(f->file.p, f->file.len, &pkg, err, sizeof(err)) < 0)
        fail_msg("fixture does not parse: %s", err);
    return pkg;
}

/* Every image the package sends arrived whole, without its id prefix, once. */
static void expect_images(const struct fake *d, const struct fx_pkg *f, int rom)
{
    size_t checked = 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct fx_member *m = &f->m[i];
        if (!m->id || (m->stage == 0 && !rom) || strncmp(m->name, "0x1234", 6) == 0)
            continue;
        size_t hits = 0;
        for (size_t k = 0; k < d->ngot; k++) {
            const struct recv *g = &d->got[k];
            if (g->id != m->id || g->bytes.len != m->data.len - m->skip ||
                memcmp(g->bytes.p, m->data.p + m->skip, g->bytes.len) != 0)
                continue;
            hits++;
        }
        if (hits != 1)
            fail_msg("%s arrived %zu times intact", m->name, hits);
        checked++;
    }
    assert_int_equal(checked, d->ngot);
}

static const struct fx_spec spec_std = {
    .with_dkb = 1, .nimg = 3, .img_len = {40000, 70001, 5}, .split = 1};

static void happy(int rom, const char *options, int fast, uint32_t buf, int preamble6)
{
    struct fx_pkg f;
    fx_build(&f, &spec_std);
    struct pkg *pkg = parse(&f);
    struct fake d;
    fake_init(&d, &f, rom);
    d.fast = fast;
    d.buf = buf;
    d.preamble6 = preamble6;
    struct run r;
    drive(pkg, &d, options, &r);
    if (r.req.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.req.fail), r.req.message);
    expect_images(&d, &f, rom);
    assert_int_equal(r.reenum, rom ? 2 : 1);
    assert_int_equal(d.msgs_sent, 3); /* one "ready" per FBF image was collected */
    assert_int_equal(r.ctx.progress.done, r.ctx.progress.total);
    assert_string_equal(r.ctx.progress.phase, "done");
    assert_non_null(strstr(r.ctx.ident.revision, "DKB 3311 06012014"));
    fake_free(&d);
    pkg_proto_free(pkg);
    fx_free(&f);
}

static void test_rom_to_flash_fast(void **state)
{
    (void)state;
    happy(1, NULL, 1, 0x4000, 0);
}

static void test_bootloader_slow_small_grant(void **state)
{
    (void)state;
    /* 3000-byte grants, 1000-byte DATA: several DATAHEADER rounds per image (§3.3). */
    happy(0, "chunk=1000", 0, 3000, 1);
}

static void test_fast_refused_falls_back_to_slow(void **state)
{
    (void)state;
    happy(1, NULL, 0, 0x10000, 0);
}

static void test_fast_disabled_by_option(void **state)
{
    (void)state;
    happy(0, "fast=0;status_ms=2000", 1, 20000, 0);
}

static void test_ddr_variant_chosen_by_getversion(void **state)
{
    (void)state;
    struct fx_spec sp = spec_std;
    sp.ddr_alt = "0x1234";
    struct fx_pkg f;
    fx_build(&f, &sp);
    struct pkg *pkg = parse(&f);
    struct fake d;
    fake_init(&d, &f, 0);
    struct run r;
    drive(pkg, &d, NULL, &r);
    if (r.req.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.req.fail), r.req.message);
    expect_images(&d, &f, 0); /* the 0x0808 variant (GETVERSION DDR vendor "0808") went */
    fake_free(&d);
    pkg_proto_free(pkg);
    fx_free(&f);
}

static void test_leave_instead_of_disconnect_reply(void **state)
{
    (void)state;
    struct fx_pkg f;
    fx_build(&f, &spec_std);
    struct pkg *pkg = parse(&f);
    struct fake d;
    fake_init(&d, &f, 1);
    d.fault = F_LEAVE_AT_DISCONNECT;
    struct run r;
    drive(pkg, &d, NULL, &r);
    if (r.req.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.req.fail), r.req.message);
    assert_int_equal(r.reenum, 2);
    fake_free(&d);
    pkg_proto_free(pkg);
    fx_free(&f);
}

struct bad {
    enum fault fault;
    uint8_t cmd;
    int nth;
    int rom;
    enum fail_code code;
    const char *words;
};

static void test_failures(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {F_NACK, WTPTP_DATA, 5, 1, FAIL_REJECTED, "NACK: program error"},
        {F_NACK, WTPTP_SELECTIMAGE, 1, 1, FAIL_REJECTED, "boot ROM SELECTIMAGE"},
        {F_NACK, WTPTP_DONE, 3, 0, FAIL_REJECTED, "DONE"},
        {F_SILENT, WTPTP_SELECTIMAGE, 2, 0, FAIL_TIMEOUT, "no reply within 5000 ms"},
        {F_SILENT, WTPTP_DATA, 3, 0, FAIL_TIMEOUT, "no reply within 60000 ms"},
        {F_SILENT, WTPTP_PREAMBLE, 1, 1, FAIL_TIMEOUT, "every try"},
        {F_BADSEQ, WTPTP_DATAHEADER, 2, 1, FAIL_PROTOCOL, "expected the status of DATAHEADER"},
        {F_TRUNCATE, WTPTP_GETVERSION, 1, 1, FAIL_PROTOCOL, "truncated reply: 3 bytes"},
        {F_NACK_REPORT, WTPTP_DONE, 1, 1, FAIL_REJECTED,
         "boot ROM DONE image DKB_timheader.bin (offset 248 of 248): expected ACK, got NACK, "
         "error 0x6a (invalid TIM)"},
        {F_ERRMSG, 0, 0, 0, FAIL_REJECTED, "error 0x21 (program error)"},
        {F_PROCESSOR, 0, 0, 1, FAIL_NO_MATCH, "expected processor 'NZA3'"},
        {F_STUCK, 0, 0, 0, FAIL_VERIFY, "still in download mode"},
        {F_ASKS_UNKNOWN, 0, 0, 0, FAIL_NO_MATCH, "which the package does not hold"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad *c = &cases[i];
        struct fx_pkg f;
        struct fx_spec sp = spec_std;
        sp.img_len[0] = 40000; /* the slow-mode DATA count below needs several chunks */
        fx_build(&f, &sp);
        struct pkg *pkg = parse(&f);
        struct fake d;
        fake_init(&d, &f, c->rom);
        d.fault = c->fault;
        d.fault_cmd = c->cmd;
        d.fault_nth = c->nth;
        int mute = c->fault == F_SILENT && c->cmd == WTPTP_PREAMBLE;
        if (mute) {
            d.fault = F_NONE;
            d.stage = 0;
        }
        if (c->fault == F_ASKS_UNKNOWN)
            d.asks[1][2] = 0x58585858; /* "XXXX" */
        if (c->cmd == WTPTP_DATA && c->fault != F_NONE)
            d.fast = 0;
        struct run r;
        if (mute) {
            /* A device that never answers the preamble: swallow every write. */
            struct pkg *p2 = pkg;
            struct proto_ctx ctx = {.link = {PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0}};
            struct proto_params params = {.package = p2};
            void *s = NULL;
            assert_int_equal(asr1803_proto.session_new(&params, &ctx, &s), 0);
            struct proto_event ev = {.type = PROTO_EV_START};
            unsigned preambles = 0;
            for (int k = 0; k < 100; k++) {
                asr1803_proto.step(s, &ev, &r.req);
                if (r.req.type == PROTO_REQ_FAIL)
                    break;
                if (r.req.type == PROTO_REQ_WRITE) {
                    preambles++;
                    ev = (struct proto_event){.type = PROTO_EV_TX_DONE};
                } else {
                    ctx.now_ms += r.req.timeout_ms;
                    ev = (struct proto_event){.type = PROTO_EV_TIMEOUT};
                }
            }
            asr1803_proto.session_free(s);
            assert_int_equal(preambles, 3);
        } else {
            drive(pkg, &d, NULL, &r);
        }
        if (r.req.type != PROTO_REQ_FAIL || r.req.fail != c->code ||
            !strstr(r.req.message, c->words))
            fail_msg("case %zu: expected %s with '%s', got %s: %s", i, fail_code_to_string(c->code),
                     c->words,
                     r.req.type == PROTO_REQ_FAIL ? fail_code_to_string(r.req.fail) : "done",
                     r.req.message);
        printf("# case %zu: %s: %s\n", i, fail_code_to_string(r.req.fail), r.req.message);
        fake_free(&d);
        pkg_proto_free(pkg);
        fx_free(&f);
    }
}

static void test_rom_without_dkb_is_no_match(void **state)
{
    (void)state;
    struct fx_spec sp = spec_std;
    sp.with_dkb = 0;
    struct fx_pkg f;
    fx_build(&f, &sp);
    struct pkg *pkg = parse(&f);
    struct fake d;
    fake_init(&d, &f, 1);
    struct run r;
    drive(pkg, &d, NULL, &r);
    assert_int_equal(r.req.type, PROTO_REQ_FAIL);
    assert_int_equal(r.req.fail, FAIL_NO_MATCH);
    assert_non_null(strstr(r.req.message, "has no DKB"));
    fake_free(&d);
    pkg_proto_free(pkg);
    fx_free(&f);
}

static void test_bad_option_fails_first_step(void **state)
{
    (void)state;
    struct fx_pkg f;
    fx_build(&f, &spec_std);
    struct pkg *pkg = parse(&f);
    static const char *const bad[] = {"chunk=20000", "speed=1", "ready_ms=5", "processor=NEZHA3",
                                      "fast"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proto_ctx ctx = {0};
        struct proto_params params = {.package = pkg, .options = bad[i]};
        void *s = NULL;
        assert_int_equal(asr1803_proto.session_new(&params, &ctx, &s), 0);
        struct proto_request req;
        asr1803_proto.step(s, &(struct proto_event){.type = PROTO_EV_START}, &req);
        assert_int_equal(req.type, PROTO_REQ_FAIL);
        assert_int_equal(req.fail, FAIL_INTERNAL);
        assert_non_null(strstr(req.message, "asr1803"));
        asr1803_proto.session_free(s);
    }
    pkg_proto_free(pkg);
    fx_free(&f);
}

static void test_plan_reads_tim_lists(void **state)
{
    (void)state;
    struct fx_pkg f;
    fx_build(&f, &spec_std);
    struct pkg *pkg = parse(&f);
    struct asr1803_plan plan;
    char err[200];
    assert_int_equal(asr1803_plan_build(&plan, pkg, err, sizeof(err)), FAIL_NONE);
    const struct asr1803_stage_plan *rom = &plan.stage[ASR1803_STAGE_ROM];
    const struct asr1803_stage_plan *bl = &plan.stage[ASR1803_STAGE_BL];
    assert_true(rom->from_tim && bl->from_tim);
    assert_int_equal(rom->nids, 1);
    assert_int_equal(rom->ids[0], FX_DKBI);
    assert_int_equal(bl->nids, 3);
    assert_int_equal(bl->ids[2], fx_img_id(2));
    /* progress: TIM whole + every image without its 4-byte id */
    uint64_t want = f.m[2].data.len;
    for (size_t i = 3; i < 6; i++)
        want += f.m[i].data.len - 4;
    assert_int_equal(bl->bytes, want);
    /* the split member was reassembled */
    const struct asr1803_image *im =
        asr1803_plan_find(&plan, ASR1803_STAGE_BL, fx_img_id(0), NULL, err, sizeof(err));
    assert_non_null(im);
    assert_int_equal(im->len, f.m[3].data.len - 4);
    assert_memory_equal(im->data, f.m[3].data.p + 4, im->len);
    assert_null(asr1803_plan_find(&plan, ASR1803_STAGE_ROM, fx_img_id(0), NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "boot ROM asks for image FBF1"));
    asr1803_plan_free(&plan);
    pkg_proto_free(pkg);
    fx_free(&f);
}

static void test_plan_rejects_fbf_without_images(void **state)
{
    (void)state;
    struct fx_pkg f;
    memset(&f, 0, sizeof(f));
    uint32_t ids[1] = {FX_TIMH};
    size_t sizes[1] = {56 + 96};
    fx_member(&f, "FBF_timheader.bin", fx_tim(ids, 1, sizes), FX_TIMH, 1, 0);
    for (int i = 0; i < 3; i++) {
        struct fxbuf x = {0};
        fxb_fill(&x, 50, (uint32_t)i);
        fx_member(&f, i == 0 ? "a.txt" : i == 1 ? "b.txt" : "c.txt", x, 0, 1, 0);
    }
    fx_container(&f);
    struct pkg *pkg = parse(&f);
    struct asr1803_plan plan;
    char err[200];
    assert_int_equal(asr1803_plan_build(&plan, pkg, err, sizeof(err)), FAIL_PACKAGE);
    assert_non_null(strstr(err, "no image for the bootloader"));
    asr1803_plan_free(&plan);
    pkg_proto_free(pkg);
    fx_free(&f);
}

/* BLF + images (the Marvell TBB form): every image goes whole, by its Image_ID; the stage
 * ends when the images the BLF's TIM lists are sent. */
static void test_blf_package(void **state)
{
    (void)state;
    const uint32_t obmi = 0x4F424D49, oslo = 0x4F534C4F;
    uint32_t ids[3] = {FX_TIMH, obmi, oslo};
    size_t sizes[3] = {56 + 3 * 96, 5000, 300};
    struct fxbuf tim = fx_tim(ids, 3, sizes), obm = {0}, os = {0};
    fxb_fill(&obm, 5000, 1);
    fxb_fill(&os, 300, 2);
    struct asr1803_blf *blf = calloc(1, sizeof(*blf));
    assert_non_null(blf);
    const char *names[3] = {"TIMH", "OBMI", "OSLO"};
    const char *files[3] = {"images/timheader.bin", "images/obm.bin", "images/kernel.bin"};
    struct fxbuf *bufs[3] = {&tim, &obm, &os};
    for (int i = 0; i < 3; i++) {
        struct pkg_image *im = pkg_image_list_add(&blf->images);
        assert_non_null(im);
        snprintf(im->name, sizeof(im->name), "%s", names[i]);
        snprintf(im->file, sizeof(im->file), "%s", files[i]);
        im->data = bufs[i]->p;
        im->size = bufs[i]->len;
    }
    struct pkg p = {.parsed_kind = PKG_PARSED_BLF, .parsed = blf};
    struct fake d;
    memset(&d, 0, sizeof(d));
    d.stage = 1;
    d.fast = 1;
    d.buf = 0x1000;
    memcpy(d.asks[1], ids, sizeof(ids));
    d.nasks[1] = 3;
    struct run r;
    drive(&p, &d, NULL, &r);
    if (r.req.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.req.fail), r.req.message);
    assert_int_equal(d.ngot, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d.got[i].id, ids[i]);
        assert_int_equal(d.got[i].bytes.len, bufs[i]->len);
        assert_memory_equal(d.got[i].bytes.p, bufs[i]->p, bufs[i]->len);
    }
    /* From the boot ROM: the BLF's images serve whatever each stage's TIM asks for, so the
     * same TIM-listed set goes once per stage (README "BLF"). */
    fake_free(&d);
    memset(&d, 0, sizeof(d));
    d.stage = 0;
    d.buf = 0x1000;
    memcpy(d.asks[0], ids, sizeof(ids));
    memcpy(d.asks[1], ids, sizeof(ids));
    d.nasks[0] = d.nasks[1] = 3;
    drive(&p, &d, NULL, &r);
    if (r.req.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.req.fail), r.req.message);
    assert_int_equal(d.ngot, 6);
    assert_int_equal(r.reenum, 2);
    fake_free(&d);
    asr1803_blf_free(blf);
    free(tim.p);
    free(obm.p);
    free(os.p);
}

static void test_registry_and_ids(void **state)
{
    (void)state;
    assert_ptr_equal(proto_registry_find("asr1803"), &asr1803_proto);
    const struct proto_usb_id *id = NULL;
    assert_ptr_equal(proto_registry_match_usb(0x2ecc, 0x3002, &id), &asr1803_proto);
    assert_int_equal(id->interface_number, 0);
    assert_ptr_equal(proto_registry_match_usb(0x2ecc, 0x3001, NULL), &asr1803_proto);
    assert_true(asr1803_is_download_id(0x2ecc, 0x3001));
    assert_false(asr1803_is_download_id(0x2c7c, 0x6005));
    /* sniff: an FBF container yes, a BLF text yes, a PAC-ish blob no */
    struct fx_pkg f;
    fx_build(&f, &spec_std);
    assert_true(asr1803_proto.sniff(f.file.p, f.file.len));
    static const char blf[] = "[BLF_Version]\r\nBlf_Version_Number = V2.1.0\r\n";
    assert_true(asr1803_proto.sniff((const uint8_t *)blf, sizeof(blf) - 1));
    static const uint8_t junk[64] = {1, 2, 3};
    assert_false(asr1803_proto.sniff(junk, sizeof(junk)));
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rom_to_flash_fast),
        cmocka_unit_test(test_bootloader_slow_small_grant),
        cmocka_unit_test(test_fast_refused_falls_back_to_slow),
        cmocka_unit_test(test_fast_disabled_by_option),
        cmocka_unit_test(test_ddr_variant_chosen_by_getversion),
        cmocka_unit_test(test_leave_instead_of_disconnect_reply),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_rom_without_dkb_is_no_match),
        cmocka_unit_test(test_bad_option_fails_first_step),
        cmocka_unit_test(test_plan_reads_tim_lists),
        cmocka_unit_test(test_plan_rejects_fbf_without_images),
        cmocka_unit_test(test_registry_and_ids),
        cmocka_unit_test(test_blf_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
