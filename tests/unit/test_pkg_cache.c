/* The package cache (daemon/pkg_cache.c): loads on a libuv worker, content-addressed copies
 * in the cache directory, one shared read-only entry per content, reference counting that
 * outlives the cache, errors delivered on the loop. Packages come from flashrack-mkpkg. */
#include "pkg_cache.h"
#include "pkg_load.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

static char pkgdir[256], cachedir[300];

static int setup(void **state)
{
    (void)state;
    const char *build = getenv("FLASHRACK_BUILD_DIR");
    if (!build)
        return -1;
    snprintf(pkgdir, sizeof(pkgdir), "/tmp/flashrack-test-cache-XXXXXX");
    if (!mkdtemp(pkgdir))
        return -1;
    snprintf(cachedir, sizeof(cachedir), "%s/cache", pkgdir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/tests/mkpkg/flashrack-mkpkg' '%s/p' >/dev/null", build, pkgdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", pkgdir, pkgdir);
    return system(cmd) == 0 ? 0 : -1;
}

struct result {
    int done;
    int status;
    struct pkg_entry *entry;
    char err[512];
};

static void on_load(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct result *r = user;
    r->done = 1;
    r->status = status;
    r->entry = entry;
    snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

/* Runs the loop until every result is done (the worker pool may take a while on a busy
 * machine; uv_run returns once nothing is pending). */
static void run_until_done(uv_loop_t *loop, struct result *r, size_t n)
{
    for (int spins = 0; spins < 100000; spins++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += r[i].done;
        if (done == n)
            return;
        uv_run(loop, UV_RUN_ONCE);
    }
    fail_msg("loads did not complete");
}

static void path_of(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/p/%s", pkgdir, rel);
}

static void test_load_share_and_refcount(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct pkg_cache *c;
    assert_int_equal(pkg_cache_new(&loop, cachedir, NULL, &c), 0);
    char a[512], copy[512];
    path_of(a, sizeof(a), "unisoc-official-new/QPY_OCPU_BETA0001_EC600U_CNLC_FW.zip");
    path_of(copy, sizeof(copy), "renamed.zip");
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", a, copy);
    assert_int_equal(system(cmd), 0);

    struct result r[3] = {0};
    assert_int_equal(pkg_cache_load(c, a, on_load, &r[0]), 0);
    assert_int_equal(pkg_cache_load(c, copy, on_load, &r[1]), 0);
    assert_int_equal(pkg_cache_pending(c), 2);
    assert_int_equal(pkg_cache_free(c), -EBUSY);
    run_until_done(&loop, r, 2);
    assert_int_equal(pkg_cache_pending(c), 0);
    for (int i = 0; i < 2; i++)
        if (r[i].status != 0)
            fail_msg("load %d: %s", i, r[i].err);
    /* Same bytes, one shared entry: cache + two callers. */
    assert_ptr_equal(r[0].entry, r[1].entry);
    assert_int_equal(pkg_entry_refs(r[0].entry), 3);
    assert_int_equal(pkg_cache_count(c), 1);

    /* Content-addressed: <cache>/<sha256>/<name>, the sha256 of the file. */
    struct pkg_source *src;
    char err[256];
    assert_int_equal(pkg_load_path(a, NULL, &src, err, sizeof(err)), 0);
    assert_string_equal(pkg_entry_sha256(r[0].entry), src->sha256);
    pkg_source_free(src);
    const char *cached = pkg_entry_path(r[0].entry);
    assert_non_null(cached);
    assert_non_null(strstr(cached, pkg_entry_sha256(r[0].entry)));
    struct stat st;
    assert_int_equal(stat(cached, &st), 0);
    assert_int_equal(st.st_mode & 0222, 0); /* read-only */

    const struct pkg *p = pkg_entry_pkg(r[0].entry);
    assert_int_equal(p->platform, PKG_PLATFORM_UNISOC);
    assert_string_equal(p->ident.submodel, "CNLC");
    size_t flen;
    const uint8_t *flash = pkg_entry_flash(r[0].entry, &flen);
    assert_non_null(flash);
    assert_true(flen > 1000);

    struct pkg_entry *found = pkg_cache_find(c, pkg_entry_sha256(r[0].entry));
    assert_ptr_equal(found, r[0].entry);
    assert_int_equal(pkg_entry_refs(found), 4);
    pkg_entry_unref(found);
    assert_null(pkg_cache_find(c, "00"));

    /* A job's reference outlives the cache: the mapping stays readable. */
    pkg_entry_unref(r[1].entry);
    assert_int_equal(pkg_cache_free(c), 0);
    assert_int_equal(pkg_entry_refs(r[0].entry), 1);
    uint8_t sum = 0;
    for (size_t i = 0; i < flen; i++)
        sum ^= flash[i];
    (void)sum;
    assert_int_equal(pkg_entry_pkg(r[0].entry)->platform, PKG_PLATFORM_UNISOC);
    pkg_entry_unref(r[0].entry);
    uv_loop_close(&loop);
}

static void test_errors_and_directories(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct pkg_cache *c;
    assert_int_equal(pkg_cache_new(&loop, cachedir, NULL, &c), 0);
    char bad[512], missing[512], dir[512], blf[600];
    path_of(bad, sizeof(bad), "bad/traversal.zip");
    path_of(missing, sizeof(missing), "no-such.zip");
    path_of(dir, sizeof(dir), "eigencomm-old-extracted/QPY_BETA0003_EC800E_CNLC_FW");
    path_of(blf, sizeof(blf),
            "ec200a-extracted/QPY_OCPU_V0001_EC200A_EUAA_FW/QPY_OCPU_V0001_EC200A_EUAA_FW.blf");
    struct result r[4] = {0};
    assert_int_equal(pkg_cache_load(c, bad, on_load, &r[0]), 0);
    assert_int_equal(pkg_cache_load(c, missing, on_load, &r[1]), 0);
    assert_int_equal(pkg_cache_load(c, dir, on_load, &r[2]), 0);
    assert_int_equal(pkg_cache_load(c, blf, on_load, &r[3]), 0);
    run_until_done(&loop, r, 4);
    assert_true(r[0].status < 0);
    assert_null(r[0].entry);
    assert_non_null(strstr(r[0].err, "leaves the package"));
    assert_int_equal(r[1].status, -ENOENT);
    assert_non_null(strstr(r[1].err, "no-such.zip"));
    if (r[2].status != 0 || r[3].status != 0)
        fail_msg("%s / %s", r[2].err, r[3].err);
    /* Loaded in place: no cached copy, the tree hash names it. */
    assert_null(pkg_entry_path(r[2].entry));
    assert_int_equal(strlen(pkg_entry_sha256(r[2].entry)), 64);
    assert_int_equal(pkg_entry_pkg(r[2].entry)->platform, PKG_PLATFORM_EIGENCOMM);
    assert_int_equal(pkg_entry_pkg(r[3].entry)->platform, PKG_PLATFORM_ASR1803);
    assert_int_equal(pkg_cache_count(c), 2);
    pkg_entry_unref(r[2].entry);
    pkg_entry_unref(r[3].entry);
    assert_int_equal(pkg_cache_free(c), 0);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_share_and_refcount),
        cmocka_unit_test(test_errors_and_directories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
