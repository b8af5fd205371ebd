/* Slot event timeline, package catalogue, audit log, and the UUIDs of attempt records. */
#include "db_testutil.h"

#include "uuid.h"

#include <errno.h>

#define SHA_A "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_B "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_C "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct events {
    struct db_slot_event ev[64];
    int n;
};

static int collect_event(const struct db_slot_event *ev, void *userdata)
{
    struct events *e = userdata;

    assert_true(e->n < 64);
    e->ev[e->n++] = *ev;
    return 0;
}

static void test_slot_events(void **state)
{
    struct tdir *t = *state;
    static const char *const slots[] = {"C3", "A1", "", "B2", "A1", "C3", "A2"};
    static const char *const kinds[] = {"attach", "detach", "ignored", "state"};
    struct db *db = open_ok(t->path);
    struct events all = {0}, paged = {0};
    struct db_slot_event ev;
    int64_t ids[7], cursor = 0;
    char err[256];
    sqlite3 *c;

    for (int i = 0; i < 7; i++) {
        memset(&ev, 0, sizeof(ev));
        ev.ts_unix_ms = 5000 - (uint64_t)i; /* clock order is not id order */
        snprintf(ev.station_id, sizeof(ev.station_id), "st1");
        snprintf(ev.slot, sizeof(ev.slot), "%s", slots[i]);
        snprintf(ev.usb_path, sizeof(ev.usb_path), "1-4.%d", i);
        snprintf(ev.event, sizeof(ev.event), "%s", kinds[i % 4]);
        ev.vid = 0x2c7c;
        ev.pid = (uint16_t)(0x0900 + i);
        if (i % 2)
            snprintf(ev.detail, sizeof(ev.detail), "{\"state\":\"flashing\",\"n\":%d}", i);
        assert_int_equal(db_slot_event_insert(db, &ev, &ids[i]), 0);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }

    assert_int_equal(db_slot_events_list(db, 0, 100, collect_event, &all), 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(all.ev[i].id, ids[i]);
        assert_int_equal(all.ev[i].ts_unix_ms, 5000 - (uint64_t)i);
        assert_string_equal(all.ev[i].slot, slots[i]);
        assert_string_equal(all.ev[i].event, kinds[i % 4]);
        assert_int_equal(all.ev[i].vid, 0x2c7c);
        assert_int_equal(all.ev[i].pid, 0x0900 + i);
        if (i % 2)
            assert_non_null(strstr(all.ev[i].detail, "flashing"));
        else
            assert_string_equal(all.ev[i].detail, "");
    }
    /* Paging with the cursor: every event exactly once, in order. */
    for (;;) {
        int r = db_slot_events_list(db, cursor, 3, collect_event, &paged);
        assert_true(r >= 0);
        if (r == 0)
            break;
        cursor = paged.ev[paged.n - 1].id;
    }
    assert_int_equal(paged.n, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(paged.ev[i].id, ids[i]);
    assert_int_equal(db_slot_events_list(db, ids[6], 10, collect_event, &paged), 0);

    /* Refused: no time, no kind, detail that is not JSON or not terminated. */
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.event, sizeof(ev.event), "attach");
    assert_int_equal(db_slot_event_insert(db, &ev, NULL), -EINVAL);
    ev.ts_unix_ms = 1;
    snprintf(ev.detail, sizeof(ev.detail), "{\"state\":");
    assert_int_equal(db_slot_event_insert(db, &ev, NULL), -EINVAL);
    assert_non_null(strstr(db_last_error(db), "slot_event.detail is not valid JSON"));
    memset(ev.detail, '1', sizeof(ev.detail));
    assert_int_equal(db_slot_event_insert(db, &ev, NULL), -E2BIG);
    ev.detail[0] = '\0';
    ev.event[0] = '\0';
    assert_int_equal(db_slot_event_insert(db, &ev, NULL), -EINVAL);
    assert_int_equal(db_slot_events_list(db, 0, 0, collect_event, &paged), -EINVAL);

    /* "" detail is stored as NULL; rows cannot be edited afterwards. */
    c = raw_open(t->path);
    assert_int_equal(raw_int(c, "SELECT count(*) FROM slot_events WHERE detail IS NULL"), 4);
    assert_int_not_equal(raw_exec(c, "UPDATE slot_events SET slot = 'X'", err, sizeof(err)),
                         SQLITE_OK);
    assert_non_null(strstr(err, "append-only"));
    sqlite3_close(c);
    db_close(db);
}

struct pkgs {
    struct db_package p[8];
    int n;
};

static int collect_pkg(const struct db_package *p, void *userdata)
{
    struct pkgs *s = userdata;

    assert_null(p->inspect_json);
    s->p[s->n++] = *p;
    return 0;
}

static void pkg_init(struct db_package *p, const char *sha, const char *name, uint64_t added)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->sha256, sizeof(p->sha256), "%s", sha);
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->platform, sizeof(p->platform), "unisoc");
    snprintf(p->series, sizeof(p->series), "EC200U");
    snprintf(p->submodel, sizeof(p->submodel), "CN");
    snprintf(p->version, sizeof(p->version), "EC200UCNAAR03A04M08");
    snprintf(p->path, sizeof(p->path), "/var/lib/flashrack/packages/%s", sha);
    p->size = 12345678;
    p->added_unix_ms = added;
}

static void test_packages(void **state)
{
    struct tdir *t = *state;
    struct db *db = open_ok(t->path);
    struct db_package p, got;
    struct pkgs list = {0};
    char *big;

    pkg_init(&p, SHA_B, "b.pac", 200);
    p.inspect_json = "{\"images\":[{\"name\":\"FDL1\",\"size\":10}]}";
    assert_int_equal(db_package_upsert(db, &p), 0);
    pkg_init(&p, SHA_A, "a.pac", 300);
    assert_int_equal(db_package_upsert(db, &p), 0);

    assert_int_equal(db_package_get(db, SHA_B, &got), 0);
    assert_string_equal(got.name, "b.pac");
    assert_string_equal(got.version, "EC200UCNAAR03A04M08");
    assert_int_equal(got.size, 12345678);
    assert_int_equal(got.added_unix_ms, 200);
    assert_string_equal(got.inspect_json, "{\"images\":[{\"name\":\"FDL1\",\"size\":10}]}");
    db_package_clear(&got);
    assert_null(got.inspect_json);
    assert_int_equal(db_package_get(db, SHA_A, &got), 0);
    assert_null(got.inspect_json);

    /* Upsert of known bytes: new metadata, first arrival date kept. */
    pkg_init(&p, SHA_B, "b-renamed.pac", 999);
    p.inspect_json = "[]";
    assert_int_equal(db_package_upsert(db, &p), 0);
    assert_int_equal(db_package_get(db, SHA_B, &got), 0);
    assert_string_equal(got.name, "b-renamed.pac");
    assert_int_equal(got.added_unix_ms, 200);
    assert_string_equal(got.inspect_json, "[]");
    db_package_clear(&got);

    assert_int_equal(db_packages_list(db, collect_pkg, &list), 2);
    assert_string_equal(list.p[0].sha256, SHA_B); /* added first */
    assert_string_equal(list.p[1].sha256, SHA_A);

    assert_int_equal(db_package_delete(db, SHA_A), 0);
    assert_int_equal(db_package_delete(db, SHA_A), -ENOENT);
    assert_int_equal(db_package_get(db, SHA_A, &got), -ENOENT);
    assert_int_equal(db_package_get(db, SHA_C, &got), -ENOENT);

    /* Refused. */
    pkg_init(&p, "ABCDEF", "x", 1);
    assert_int_equal(db_package_upsert(db, &p), -EINVAL);
    pkg_init(&p, SHA_C, "x", 1);
    p.sha256[3] = 'G';
    assert_int_equal(db_package_upsert(db, &p), -EINVAL);
    assert_int_equal(db_package_get(db, "0123", &got), -EINVAL);
    assert_int_equal(db_package_delete(db, NULL), -EINVAL);
    pkg_init(&p, SHA_C, "x", 0);
    assert_int_equal(db_package_upsert(db, &p), -EINVAL);
    pkg_init(&p, SHA_C, "x", 1);
    p.inspect_json = "{not json}";
    assert_int_equal(db_package_upsert(db, &p), -EINVAL);
    big = malloc(DB_INSPECT_JSON_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', DB_INSPECT_JSON_MAX + 1);
    big[DB_INSPECT_JSON_MAX + 1] = '\0';
    p.inspect_json = big;
    assert_int_equal(db_package_upsert(db, &p), -E2BIG);
    free(big);
    assert_int_equal(db_packages_list(db, NULL, NULL), -EINVAL);
    db_close(db);
}

struct audits {
    struct db_audit a[16];
    int n;
};

static int collect_audit(const struct db_audit *a, void *userdata)
{
    struct audits *s = userdata;

    s->a[s->n++] = *a;
    return 0;
}

static void test_audit(void **state)
{
    struct tdir *t = *state;
    struct db *db = open_ok(t->path);
    struct audits first = {0}, rest = {0};
    struct db_audit a;
    int64_t id[5];
    char err[256];
    sqlite3 *c;

    for (int i = 0; i < 5; i++) {
        memset(&a, 0, sizeof(a));
        a.ts_unix_ms = 1000 + (uint64_t)i;
        snprintf(a.actor, sizeof(a.actor), "token-%d", i);
        snprintf(a.role, sizeof(a.role), "supervisor");
        snprintf(a.action, sizeof(a.action), "job.set");
        snprintf(a.target, sizeof(a.target), "slot A%d", i);
        snprintf(a.detail, sizeof(a.detail), "work_order=WO-%d", i);
        snprintf(a.remote_addr, sizeof(a.remote_addr), "[2001:db8::%d]:443", i);
        assert_int_equal(db_audit_insert(db, &a, &id[i]), 0);
    }
    assert_int_equal(db_audit_list(db, 0, 2, collect_audit, &first), 2);
    assert_int_equal(db_audit_list(db, first.a[1].id, 10, collect_audit, &rest), 3);
    for (int i = 0; i < 5; i++) {
        const struct db_audit *g = i < 2 ? &first.a[i] : &rest.a[i - 2];
        char want[64];
        assert_int_equal(g->id, id[i]);
        assert_int_equal(g->ts_unix_ms, 1000 + (uint64_t)i);
        snprintf(want, sizeof(want), "[2001:db8::%d]:443", i);
        assert_string_equal(g->remote_addr, want);
        snprintf(want, sizeof(want), "work_order=WO-%d", i);
        assert_string_equal(g->detail, want);
    }

    memset(&a, 0, sizeof(a));
    a.ts_unix_ms = 1;
    assert_int_equal(db_audit_insert(db, &a, NULL), -EINVAL); /* no action */
    snprintf(a.action, sizeof(a.action), "x");
    a.ts_unix_ms = 0;
    assert_int_equal(db_audit_insert(db, &a, NULL), -EINVAL);
    a.ts_unix_ms = UINT64_MAX;
    assert_int_equal(db_audit_insert(db, &a, NULL), -ERANGE);

    c = raw_open(t->path);
    assert_int_not_equal(raw_exec(c, "UPDATE audit_log SET actor = 'me'", err, sizeof(err)),
                         SQLITE_OK);
    assert_non_null(strstr(err, "append-only"));
    assert_int_not_equal(raw_exec(c, "DELETE FROM audit_log", err, sizeof(err)), SQLITE_OK);
    assert_int_equal(raw_int(c, "SELECT count(*) FROM audit_log"), 5);
    sqlite3_close(c);
    db_close(db);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_uuid(void **state)
{
    enum { N = 2000 };
    static char ids[N][UUID_STR_SIZE];
    int seen_variant[4] = {0};

    (void)state;
    for (int i = 0; i < N; i++) {
        assert_int_equal(uuid_v4_generate(ids[i]), 0);
        assert_int_equal(strlen(ids[i]), 36);
        assert_true(uuid_is_valid(ids[i]));
        assert_int_equal(ids[i][14], '4');
        assert_non_null(strchr("89ab", ids[i][19]));
        seen_variant[strchr("89ab", ids[i][19]) - "89ab"]++;
        for (int k = 0; k < 36; k++)
            assert_false(ids[i][k] >= 'A' && ids[i][k] <= 'F');
    }
    /* Random bits really vary: every variant nibble shows up, and no two keys are equal. */
    for (int v = 0; v < 4; v++)
        assert_true(seen_variant[v] > 0);
    qsort(ids, N, UUID_STR_SIZE, cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);

    assert_true(uuid_is_valid("6F1C1E54-9D7E-4A51-8B1E-2D2B7F6A9C01"));
    assert_true(uuid_is_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(uuid_is_valid(NULL));
    assert_false(uuid_is_valid(""));
    assert_false(uuid_is_valid("6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c0"));
    assert_false(uuid_is_valid("6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c011"));
    assert_false(uuid_is_valid("6f1c1e549d7e-4a51-8b1e-2d2b7f6a9c0101"));
    assert_false(uuid_is_valid("6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c0g"));
    assert_false(uuid_is_valid("{f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slot_events, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_packages, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_audit, tdir_setup, tdir_teardown),
        cmocka_unit_test(test_uuid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
