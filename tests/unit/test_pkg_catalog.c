/* The pure parts of the package catalogue: file and recipe names, sha256 and time text, the
 * bounded upload into a temp folder (hash, limit, commit, nothing left behind), and the SQL of
 * recipes and the catalogue list (schema v5). The HTTP side is test_api_packages.c. */
#include "db_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "db_packages.h"
#include "pkg_catalog.h"
#include "pkg_upload.h"

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_file_names(void **state)
{
    (void)state;
    char err[128];
    const char *good[] = {"QPY_OCPU_V0005_EC800M_CNLE_FW.zip", "a", "fw v2 (final).bin", "x..zip"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(pkg_upload_check_name(good[i], err, sizeof(err)), 0);
    struct {
        const char *name, *why;
    } bad[] = {
        {"", "empty"},
        {".hidden", "starts with '.'"},
        {"..", "starts with '.'"},
        {"a/b.zip", "'/'"},
        {"a\\b.zip", "'/'"},
        {"tab\t.zip", "control"},
        {"caf\xc3\xa9.zip", "printable ASCII"},
        {" lead.zip", "space"},
        {"trail.zip ", "space"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(pkg_upload_check_name(bad[i].name, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].why))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].name, err, bad[i].why);
    }
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(pkg_upload_check_name(longname, err, sizeof(err)), -EINVAL);
    longname[PKG_UPLOAD_NAME_MAX] = '\0';
    assert_int_equal(pkg_upload_check_name(longname, err, sizeof(err)), 0);
}

static void test_recipe_names_and_text(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(pkg_catalog_check_recipe_name("ec800m", err, sizeof(err)), 0);
    assert_int_equal(pkg_catalog_check_recipe_name("EC800M_cnle-v5.1", err, sizeof(err)), 0);
    assert_int_equal(pkg_catalog_check_recipe_name("", err, sizeof(err)), -EINVAL);
    assert_int_equal(pkg_catalog_check_recipe_name("-x", err, sizeof(err)), -EINVAL);
    assert_int_equal(pkg_catalog_check_recipe_name("a b", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "letters, digits"));
    assert_int_equal(pkg_catalog_check_recipe_name("a/b", err, sizeof(err)), -EINVAL);
    assert_int_equal(
        pkg_catalog_check_recipe_name("0123456789012345678901234567890", err, sizeof(err)), 0);
    assert_int_equal(
        pkg_catalog_check_recipe_name("01234567890123456789012345678901", err, sizeof(err)),
        -EINVAL);
    assert_int_equal(pkg_catalog_check_options("baud=921600;sync_tries=8", err, sizeof(err)), 0);
    assert_int_equal(pkg_catalog_check_options("a\nb", err, sizeof(err)), -EINVAL);
    char longopt[300];
    memset(longopt, 'x', sizeof(longopt) - 1);
    longopt[sizeof(longopt) - 1] = '\0';
    assert_int_equal(pkg_catalog_check_options(longopt, err, sizeof(err)), -EINVAL);

    char sha[65];
    sha256_hex("", 0, sha);
    assert_true(pkg_catalog_is_sha256(sha));
    sha[3] = 'A';
    assert_false(pkg_catalog_is_sha256(sha));
    sha[3] = 'g';
    assert_false(pkg_catalog_is_sha256(sha));
    sha[3] = '0';
    sha[63] = '\0';
    assert_false(pkg_catalog_is_sha256(sha));
    assert_false(pkg_catalog_is_sha256(NULL));

    char at[32];
    pkg_catalog_iso8601(1700002800123ull, at);
    assert_string_equal(at, "2023-11-14T23:00:00.123Z");
    pkg_catalog_iso8601(0, at);
    assert_string_equal(at, "1970-01-01T00:00:00.000Z");
}

static void test_upload_stream_and_commit(void **state)
{
    struct tdir *t = *state;
    char err[256], sha[65], want[65], path[PATH_MAX];
    uint64_t size = 0;
    struct pkg_upload *u;
    static char body[100000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i * 7);
    sha256_hex(body, sizeof(body), want);

    assert_int_equal(pkg_upload_begin(t->dir, "fw.zip", sizeof(body), &u, err, sizeof(err)), 0);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 1);
    for (size_t off = 0; off < sizeof(body); off += 7000) {
        size_t n = sizeof(body) - off < 7000 ? sizeof(body) - off : 7000;
        assert_int_equal(pkg_upload_write(u, body + off, n, err, sizeof(err)), 0);
    }
    assert_int_equal(pkg_upload_finish(u, sha, &size), 0);
    assert_string_equal(sha, want);
    assert_int_equal(size, sizeof(body));
    assert_non_null(strstr(pkg_upload_path(u), "/.upload-"));
    assert_int_equal(pkg_upload_commit(u, sha, path, sizeof(path)), 0);
    pkg_upload_discard(u); /* committed: the file stays */
    char expect[PATH_MAX];
    snprintf(expect, sizeof(expect), "%s/%s/fw.zip", t->dir, want);
    assert_string_equal(path, expect);
    struct stat st;
    assert_int_equal(stat(expect, &st), 0);
    assert_int_equal(st.st_size, sizeof(body));
    assert_int_equal(st.st_mode & 0777, 0440);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);

    /* The same bytes again: the folder is there, the new upload is left to discard. */
    assert_int_equal(pkg_upload_begin(t->dir, "other.zip", sizeof(body), &u, err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_write(u, body, sizeof(body), err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_finish(u, sha, &size), 0);
    assert_int_equal(pkg_upload_commit(u, sha, path, sizeof(path)), -EEXIST);
    pkg_upload_discard(u);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);
    chmod(expect, 0640);
}

static void test_upload_limit(void **state)
{
    struct tdir *t = *state;
    char err[256], sha[65];
    uint64_t size = 0;
    struct pkg_upload *u;
    char chunk[1000];
    memset(chunk, 'z', sizeof(chunk));

    /* Exactly at the limit is fine. */
    assert_int_equal(pkg_upload_begin(t->dir, "a.bin", 3000, &u, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pkg_upload_write(u, chunk, sizeof(chunk), err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_finish(u, sha, &size), 0);
    assert_int_equal(size, 3000);
    pkg_upload_discard(u);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);

    /* One byte over: the temp folder goes at once, the rest is refused, finish says so. */
    assert_int_equal(pkg_upload_begin(t->dir, "b.bin", 2500, &u, err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_write(u, chunk, sizeof(chunk), err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_write(u, chunk, sizeof(chunk), err, sizeof(err)), 0);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 1);
    assert_int_equal(pkg_upload_write(u, chunk, sizeof(chunk), err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, "2500 bytes"));
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);
    assert_int_equal(pkg_upload_write(u, chunk, 1, err, sizeof(err)), -EFBIG);
    assert_int_equal(pkg_upload_finish(u, sha, &size), -EFBIG);
    assert_int_equal(pkg_upload_size(u), 3000);
    pkg_upload_discard(u);

    /* Abandoned mid-body (a client that left): discard removes everything. */
    assert_int_equal(pkg_upload_begin(t->dir, "c.bin", 1 << 20, &u, err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_write(u, chunk, sizeof(chunk), err, sizeof(err)), 0);
    pkg_upload_discard(u);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);

    /* A bad name never makes a folder; a crash's leftovers are swept. */
    assert_int_equal(pkg_upload_begin(t->dir, "../x", 10, &u, err, sizeof(err)), -EINVAL);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);
    struct pkg_upload *u2;
    assert_int_equal(pkg_upload_begin(t->dir, "d.bin", 10, &u, err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_begin(t->dir, "e.bin", 10, &u2, err, sizeof(err)), 0);
    assert_int_equal(pkg_upload_write(u2, chunk, 10, err, sizeof(err)), 0);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 2);
    assert_int_equal(pkg_upload_sweep(t->dir), 2);
    assert_int_equal(count_prefixed(t->dir, ".upload-"), 0);
    pkg_upload_discard(u); /* what a killed process never did: nothing left to remove */
    pkg_upload_discard(u2);
}

/* ---- SQL ---------------------------------------------------------------------------------- */

struct names {
    char list[512];
    int n;
};

static int add_package(const struct db_package *p, void *ud)
{
    struct names *nm = ud;
    size_t len = strlen(nm->list);
    snprintf(nm->list + len, sizeof(nm->list) - len, "%s%s:%s", len ? "," : "", p->name,
             p->inspect_json ? p->inspect_json : "-");
    nm->n++;
    return 0;
}

static int add_recipe(const struct db_recipe *r, void *ud)
{
    struct names *nm = ud;
    size_t len = strlen(nm->list);
    snprintf(nm->list + len, sizeof(nm->list) - len, "%s%s=%.4s/%s/%s", len ? "," : "", r->name,
             r->package_sha256, r->options, r->created_by);
    nm->n++;
    return 0;
}

static void put_package(struct db *db, char c, const char *name, uint64_t at, const char *json)
{
    struct db_package p;
    memset(&p, 0, sizeof(p));
    memset(p.sha256, c, 64);
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.added_unix_ms = at;
    p.inspect_json = (char *)json;
    assert_int_equal(db_package_upsert(db, &p), 0);
}

static void test_catalogue_sql(void **state)
{
    struct tdir *t = *state;
    char err[256];
    struct db *db;
    assert_int_equal(db_open(t->path, &db, err, sizeof(err)), 0);
    put_package(db, 'a', "old.zip", 1000, "{\"layout\":\"x\"}");
    put_package(db, 'b', "new.zip", 3000, NULL);
    put_package(db, 'c', "mid.zip", 2000, "{}");
    struct names nm = {"", 0};
    assert_int_equal(db_catalog_list(db, add_package, &nm), 3);
    assert_string_equal(nm.list, "new.zip:-,mid.zip:{},old.zip:{\"layout\":\"x\"}");

    struct db_recipe r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "ec800m");
    memset(r.package_sha256, 'a', 64);
    snprintf(r.options, sizeof(r.options), "baud=1");
    snprintf(r.created_by, sizeof(r.created_by), "lead");
    r.created_unix_ms = 5000;
    int created = -1;
    assert_int_equal(db_recipe_put(db, &r, &created), 0);
    assert_int_equal(created, 1);
    memset(r.package_sha256, 'c', 64);
    r.options[0] = '\0';
    r.created_unix_ms = 6000;
    assert_int_equal(db_recipe_put(db, &r, &created), 0);
    assert_int_equal(created, 0);
    snprintf(r.name, sizeof(r.name), "bg95");
    r.created_unix_ms = 5500;
    assert_int_equal(db_recipe_put(db, &r, &created), 0);
    memset(r.package_sha256, 'f', 64); /* not in the catalogue */
    snprintf(r.name, sizeof(r.name), "ghost");
    assert_int_equal(db_recipe_put(db, &r, &created), -ENOENT);
    snprintf(r.name, sizeof(r.name), "%s", "");
    assert_int_equal(db_recipe_put(db, &r, &created), -EINVAL);

    nm = (struct names){"", 0};
    assert_int_equal(db_recipes_list(db, add_recipe, &nm), 2);
    assert_string_equal(nm.list, "bg95=cccc//lead,ec800m=cccc//lead");
    char sha_c[65];
    memset(sha_c, 'c', 64);
    sha_c[64] = '\0';
    assert_int_equal(db_package_recipe_count(db, sha_c), 2);
    /* A package a recipe names stays (the foreign key), whoever asks. */
    assert_true(db_package_delete(db, sha_c) < 0);
    assert_int_equal(db_recipe_delete(db, "bg95"), 0);
    assert_int_equal(db_recipe_delete(db, "bg95"), -ENOENT);
    assert_int_equal(db_recipe_delete(db, "ec800m"), 0);
    assert_int_equal(db_package_recipe_count(db, sha_c), 0);
    assert_int_equal(db_package_delete(db, sha_c), 0);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_names),
        cmocka_unit_test(test_recipe_names_and_text),
        cmocka_unit_test_setup_teardown(test_upload_stream_and_commit, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_upload_limit, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_catalogue_sql, tdir_setup, tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
