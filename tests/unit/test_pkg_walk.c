/* The container walk (protocols/package/pkg_walk.c) and the bounded byte readers
 * (protocols/common/bytes.c): names, junk, limits, nesting, corruption. Zips are written here
 * with libarchive so each case is exactly the input it tests. */
#include "common/bytes.h"
#include "package/pkg_walk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct member {
    const char *name;
    const void *data;
    size_t len;
};

/* Builds a zip in a malloc'd buffer; store = no compression. */
static uint8_t *zip(const struct member *m, size_t n, int store, size_t *ret_len)
{
    size_t cap = 1 << 16;
    for (size_t i = 0; i < n; i++)
        cap += m[i].len + 256;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (store)
        archive_write_set_options(a, "zip:compression=store");
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (m[i].len)
            assert_int_equal(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *ret_len = used;
    return buf;
}

static int walk(const uint8_t *d, size_t len, const struct pkg_limits *lim, struct pkg_walk *w,
                char *err)
{
    assert_int_equal(pkg_walk_init(w, "t.zip", lim), 0);
    return pkg_walk_file(w, d, len, err, 256);
}

static void test_names_and_junk(void **state)
{
    (void)state;
    struct member m[] = {
        {"fw\\win\\a.pac", "aaaa", 4}, {"./fw/b.bin", "bb", 2},  {"__MACOSX/fw/._a.pac", "x", 1},
        {"fw/._b.bin", "x", 1},        {"fw/.DS_Store", "x", 1}, {"fw/b.bin", "dup", 3},
        {"fw//c.txt", "c", 1}};
    size_t len;
    uint8_t *z = zip(m, 7, 0, &len);
    struct pkg_walk w;
    char err[256] = "";
    assert_int_equal(walk(z, len, NULL, &w, err), 0);
    assert_int_equal(w.count, 4); /* root + a.pac + b.bin + c.txt */
    assert_true(pkg_walk_find(&w, "fw/win/a.pac") > 0);
    assert_true(pkg_walk_find(&w, "FW/WIN/A.PAC") > 0);
    int b = pkg_walk_find(&w, "fw/b.bin");
    assert_int_equal(w.nodes[b].size, 2); /* the first copy wins */
    assert_true(w.warnings.count >= 1);
    assert_non_null(strstr(w.warnings.text[0], "duplicate member 'fw/b.bin'"));
    struct pkg_files files;
    pkg_walk_files(&w, &files);
    assert_string_equal(files.list(files.ctx, "fw", 0), "fw/b.bin");
    assert_null(files.list(files.ctx, "fw", 2));
    size_t n;
    assert_non_null(files.get(files.ctx, "fw/c.txt", &n));
    assert_int_equal(n, 1);
    pkg_walk_free(&w);
    free(z);
}

static void expect_error(const struct member *m, size_t n, const struct pkg_limits *lim,
                         const char *want)
{
    size_t len;
    uint8_t *z = zip(m, n, 0, &len);
    struct pkg_walk w;
    char err[256] = "";
    assert_true(walk(z, len, lim, &w, err) < 0);
    if (!strstr(err, want))
        fail_msg("'%s' does not say '%s'", err, want);
    pkg_walk_free(&w);
    free(z);
}

static void test_hostile_names(void **state)
{
    (void)state;
    struct member dots[] = {{"a/../../b.pac", "x", 1}};
    expect_error(dots, 1, NULL, "leaves the package");
    struct member abs[] = {{"/etc/passwd", "x", 1}};
    expect_error(abs, 1, NULL, "absolute path");
    struct member drive[] = {{"C:\\fw\\x.pac", "x", 1}};
    expect_error(drive, 1, NULL, "absolute path");
}

static void test_limits(void **state)
{
    (void)state;
    static uint8_t big[300000];
    struct pkg_limits lim;
    pkg_limits_default(&lim);
    lim.max_file = 100000;
    struct member one[] = {{"big.bin", big, sizeof(big)}};
    expect_error(one, 1, &lim, "is too large (300000 bytes, limit 100000)");

    pkg_limits_default(&lim);
    lim.max_total = 250000;
    struct member two[] = {{"a.bin", big, 200000}, {"b.bin", big, 200000}};
    expect_error(two, 2, &lim, "expands to more than 250000 bytes");

    pkg_limits_default(&lim);
    lim.max_entries = 3;
    struct member many[] = {{"1", "1", 1}, {"2", "2", 1}, {"3", "3", 1}, {"4", "4", 1}};
    expect_error(many, 4, &lim, "more than 3 members");

    /* Ratio: 24 MiB of zeros in a ~24 KiB zip is far above 200:1 past the 16 MiB floor. */
    uint8_t *zeros = calloc(1, 24u << 20);
    assert_non_null(zeros);
    struct member bomb[] = {{"bomb.bin", zeros, 24u << 20}};
    expect_error(bomb, 1, NULL, "zip bomb");
    free(zeros);
}

static void test_nesting(void **state)
{
    (void)state;
    size_t len, len2;
    struct member leaf[] = {{"download.json", "[]", 2}};
    uint8_t *inner = zip(leaf, 1, 0, &len);
    struct member mid[] = {{"fw/inner.BIN", inner, len}, {"notes.docx", inner, len}};
    uint8_t *outer = zip(mid, 2, 0, &len2);
    struct pkg_walk w;
    char err[256] = "";
    assert_int_equal(walk(outer, len2, NULL, &w, err), 0);
    int bin = pkg_walk_find(&w, "fw/inner.BIN");
    assert_true(w.nodes[bin].flags & PKG_NODE_CONTAINER);
    int j = pkg_walk_find(&w, "fw/inner.BIN/download.json");
    assert_true(j > 0);
    assert_true(pkg_walk_is_inside(&w, j, bin));
    assert_int_equal(w.nodes[j].depth, 2);
    /* A .docx is a zip too, but never a firmware container. */
    assert_false(w.nodes[pkg_walk_find(&w, "notes.docx")].flags & PKG_NODE_CONTAINER);
    pkg_walk_free(&w);

    struct pkg_limits lim;
    pkg_limits_default(&lim);
    lim.max_depth = 1;
    assert_true(walk(outer, len2, &lim, &w, err) < 0);
    assert_non_null(strstr(err, "'fw/inner.BIN' nests archives deeper than 1"));
    pkg_walk_free(&w);

    /* A driver given a bare zip reads one level only. */
    assert_int_equal(pkg_walk_init(&w, "", NULL), 0);
    assert_int_equal(pkg_walk_zip_shallow(&w, outer, len2, err, sizeof(err)), 0);
    assert_int_equal(pkg_walk_find(&w, "fw/inner.BIN/download.json"), -1);
    pkg_walk_free(&w);
    free(inner);
    free(outer);
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    struct member m[] = {{"fw/a.pac", data, sizeof(data)}, {"fw/b.txt", "b", 1}};
    size_t len;
    uint8_t *z = zip(m, 2, 1, &len);
    struct pkg_walk w;
    char err[256] = "";
    z[100] ^= 0xFF; /* inside a.pac's stored data */
    assert_true(walk(z, len, NULL, &w, err) < 0);
    assert_non_null(strstr(err, "member 'fw/a.pac' is corrupt"));
    pkg_walk_free(&w);
    z[100] ^= 0xFF;
    assert_true(walk(z, 3000, NULL, &w, err) < 0);
    assert_non_null(strstr(err, "fw/a.pac"));
    assert_non_null(strstr(err, "truncated"));
    pkg_walk_free(&w);
    free(z);
    /* Not a zip at all: one plain file. */
    assert_int_equal(walk(data, sizeof(data), NULL, &w, err), 0);
    assert_int_equal(w.count, 1);
    pkg_walk_free(&w);
}

static void test_directory(void **state)
{
    (void)state;
    struct member leaf[] = {{"platform_config.json", "{}", 2}};
    size_t len;
    uint8_t *inner = zip(leaf, 1, 0, &len);
    struct pkg_walk w;
    char err[256] = "";
    assert_int_equal(pkg_walk_init(&w, "extracted", NULL), 0);
    assert_int_equal(pkg_walk_dir(&w), 0);
    assert_int_equal(pkg_walk_add(&w, "fw/x.bin", inner, len, err, sizeof(err)), 0);
    assert_true(pkg_walk_find(&w, "fw/x.bin/platform_config.json") > 0);
    assert_true(pkg_walk_add(&w, "../x", inner, len, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "leaves the package"));
    assert_int_equal(w.input_bytes, len);
    pkg_walk_free(&w);
    free(inner);
}

static void test_bytes(void **state)
{
    (void)state;
    const uint8_t d[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct bytes_reader r;
    bytes_reader_init(&r, d, sizeof(d));
    uint32_t v32;
    uint64_t v64;
    uint16_t v16;
    assert_int_equal(bytes_read_le32(&r, &v32), 0);
    assert_int_equal(v32, 0x04030201);
    assert_int_equal(bytes_read_le64(&r, &v64), -EOVERFLOW); /* 5 bytes left */
    assert_int_equal(bytes_reader_left(&r), 5);
    assert_int_equal(bytes_read_le16(&r, &v16), 0);
    assert_int_equal(v16, 0x0605);
    assert_int_equal(bytes_skip(&r, 4), -EOVERFLOW);
    assert_int_equal(bytes_seek(&r, 10), -EOVERFLOW);
    assert_int_equal(bytes_le32_at(d, sizeof(d), 6, &v32), -EOVERFLOW);
    assert_int_equal(bytes_le32_at(d, sizeof(d), SIZE_MAX - 1, &v32), -EOVERFLOW);
    assert_false(bytes_range_ok(10, 8, UINT64_MAX));
    assert_true(bytes_range_ok(10, 10, 0));
    char s[8];
    const uint8_t u16[] = {'A', 0, 0x01, 0, 'B', 0, 0x34, 0x12, 0, 0};
    bytes_copy_utf16le(s, sizeof(s), u16, sizeof(u16));
    assert_string_equal(s, "A?B?");
    const uint8_t c[] = {'x', '\n', 'y', 0, 'z'};
    bytes_copy_cstr(s, sizeof(s), c, sizeof(c));
    assert_string_equal(s, "x?y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_junk),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
