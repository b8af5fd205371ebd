/* Config reload: an invalid file or a package that does not load changes nothing; idle slots
 * take the new map at once (attached devices joined again); a busy slot keeps its mapping,
 * its device and its re-enumerations until it is idle, then the new map applies; settings
 * that need a restart keep their running values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mes.h"
#include "rack.h"
#include "reload.h"
#include "station.h"
#include "workflow.h"

#define TOKEN_A "operator:alice:aaaaaaaaaaaaaaaaaaaaaaaa"
#define TOKEN_B "admin:bob:bbbbbbbbbbbbbbbbbbbbbbbb"

struct fixture {
    struct station st;
    uv_loop_t loop;
    struct reload *reload;
    struct mes *mes;
    char dir[64], conf[128], db_path[128];
    /* done hook */
    int done_calls, status;
    char message[2048];
    /* rack events: "attach:A1 detach:A1 ignored:- ..." */
    char events[1024];
};

static const char *base = "[station]\nid = t\n[rack]\nrows = 2\ncolumns = 4\n";

static void write_conf(struct fixture *f, const char *body)
{
    FILE *fp = fopen(f->conf, "w");
    assert_non_null(fp);
    fprintf(fp, "%s[storage]\ncache_dir = %s/cache\n%s", base, f->dir, body);
    fclose(fp);
}

static void on_done(void *ud, int status, const char *message)
{
    struct fixture *f = ud;
    f->done_calls++;
    f->status = status;
    snprintf(f->message, sizeof(f->message), "%s", message);
}

static void on_rack(void *ud, enum rack_event ev, struct slot *slot, const struct rack_device *d)
{
    (void)d;
    struct fixture *f = ud;
    if (ev == RACK_EV_STATE || ev == RACK_EV_PORTS)
        return;
    size_t n = strlen(f->events);
    snprintf(f->events + n, sizeof(f->events) - n, "%s%s:%s", n ? " " : "",
             rack_event_to_string(ev), slot ? slot->cfg.label : "-");
}

static struct fixture *start(const char *body)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_reload.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->conf, sizeof(f->conf), "%s/flashrack.conf", f->dir);
    snprintf(f->db_path, sizeof(f->db_path), "%s/flashrack.db", f->dir);
    write_conf(f, body);
    char err[1024];
    if (config_load_file(f->conf, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    assert_int_equal(db_open(f->db_path, &f->st.db, err, sizeof(err)), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    assert_int_equal(rack_new(&f->st.cfg, f->st.db, &f->st.rack), 0);
    assert_int_equal(workflow_new(&f->st, &f->st.workflow), 0);
    assert_int_equal(rack_add_listener(f->st.rack, on_rack, f), 0);
    assert_int_equal(reload_new(&f->st, f->conf, &f->mes, &f->reload), 0);
    reload_set_done(f->reload, on_done, f);
    return f;
}

static void stop(struct fixture *f)
{
    mes_stop(f->mes, NULL, NULL);
    reload_stop(f->reload);
    workflow_stop(f->st.workflow, "test end");
    uv_run(&f->loop, UV_RUN_DEFAULT);
    reload_free(f->reload);
    assert_int_equal(workflow_free(f->st.workflow), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rack_free(f->st.rack);
    db_close(f->st.db);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* Runs the loop until cond(f) holds; fails after a generous deadline. */
static void run_until(struct fixture *f, int (*cond)(struct fixture *))
{
    uint64_t deadline = uv_now(&f->loop) + 20000;
    while (!cond(f)) {
        uv_update_time(&f->loop);
        if (uv_now(&f->loop) > deadline)
            fail_msg("condition not reached in 20 s");
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

static int reload_done(struct fixture *f)
{
    return f->done_calls > 0;
}

static int two_done(struct fixture *f)
{
    return f->done_calls >= 2;
}

static int none_frozen(struct fixture *f)
{
    return reload_frozen(f->reload) == 0;
}

/* A device no driver knows (a loopback gadget): the flow leaves it idle. */
static void plug(struct fixture *f, const char *path, uint8_t address)
{
    struct rack_device d;
    memset(&d, 0, sizeof(d));
    snprintf(d.port_path, sizeof(d.port_path), "%s", path);
    d.bus = 1;
    d.address = address;
    d.vid = 0x1209;
    d.pid = 0x0001;
    rack_usb_arrived(f->st.rack, &d);
}

static const char *labels(struct fixture *f)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < rack_slot_count(f->st.rack); i++) {
        const struct slot *s = rack_slot(f->st.rack, i);
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%s=%s%s", i ? " " : "", s->cfg.label, s->cfg.port,
                 s->device ? "*" : "");
    }
    return out;
}

static int audit_row(const struct db_audit *a, void *ud)
{
    char *out = ud; /* 4096 bytes */
    snprintf(out, 4096, "%.64s %.64s %.2048s", a->actor, a->action, a->detail);
    return 0;
}

static void last_audit(struct fixture *f, char *out)
{
    out[0] = '\0';
    assert_true(db_audit_list(f->st.db, 0, 100, audit_row, out) >= 0);
}

static void test_restart_only_kept(void **state)
{
    (void)state;
    struct config cur, next;
    char err[256], names[256];
    assert_int_equal(
        config_load_string("[http]\nlisten = 127.0.0.1:8080\n[usb]\nid = 2c7c:0901:3:at\n"
                           "[flow]\nretries = 1\n",
                           &cur, err, sizeof(err)),
        0);
    assert_int_equal(config_load_string("[station]\nid = other\n[http]\nlisten = 0.0.0.0:9090\n"
                                        "[storage]\ndatabase = /x.db\n[flow]\nretries = 3\n",
                                        &next, err, sizeof(err)),
                     0);
    assert_int_equal(reload_keep_restart_only(&cur, &next, names, sizeof(names)), 4);
    assert_string_equal(names, "station.id http.listen storage.database usb.id");
    assert_string_equal(next.http_listen, "127.0.0.1:8080");
    assert_string_equal(next.station_id, cur.station_id);
    assert_string_equal(next.db_path, cur.db_path);
    assert_int_equal(next.usb_id_count, 1);
    assert_int_equal(next.usb_ids[0].pid, 0x0901);
    assert_int_equal(next.flow.retries, 3); /* applies at once */
    assert_int_equal(reload_keep_restart_only(&cur, &cur, names, sizeof(names)), 0);
    assert_string_equal(names, "");
}

static void test_invalid_file_rejected(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n[auth]\ntoken = " TOKEN_A "\n");
    plug(f, "1-1.1", 5);
    write_conf(f,
               "[slot A1]\nport = 1-1.1\n[slot B1]\nport = 1-1.1\n[auth]\ntoken = " TOKEN_B "\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), -EINVAL);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->status, -EINVAL);
    assert_non_null(strstr(f->message, "[slot B1] port 1-1.1 is already slot A1"));
    assert_string_equal(labels(f), "A1=1-1.1*");
    assert_string_equal(f->st.cfg.auth.tokens[0].name, "alice"); /* the old tokens stay */
    char audit[4096];
    last_audit(f, audit);
    assert_non_null(strstr(audit, "SIGHUP config.reload {\"error\":"));
    assert_non_null(strstr(audit, "\"result\":\"rejected\""));

    /* A syntax error names the file and line. */
    f->done_calls = 0;
    write_conf(f, "[slot A1]\nport = 1-1.1\n[flow]\nretries = many\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), -EINVAL);
    char want[200];
    snprintf(want, sizeof(want), "%s:11: [flow] retries: 'many'", f->conf);
    assert_non_null(strstr(f->message, want));
    assert_int_equal(f->st.cfg.flow.retries, 2);
    stop(f);
}

static void test_missing_package_rejects_whole_reload(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n");
    write_conf(f, "[slot A1]\nport = 1-1.1\n[slot A2]\nport = 1-1.2\n[flow]\nretries = 5\n"
                  "[recipe gone]\npackage = /nonexistent/firmware.zip\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0); /* the package loads async */
    run_until(f, reload_done);
    assert_int_equal(f->status, -EINVAL);
    assert_non_null(strstr(f->message, "[recipe gone] package /nonexistent/firmware.zip"));
    assert_string_equal(labels(f), "A1=1-1.1"); /* nothing half-applied */
    assert_int_equal(f->st.cfg.flow.retries, 2);
    assert_int_equal(f->st.cfg.recipe_count, 0);

    /* A request while packages load runs after that reload, reading the file as it is then. */
    f->done_calls = 0;
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    write_conf(f, "[slot A1]\nport = 1-1.1\n[slot A3]\nport = 1-1.3\n");
    assert_int_equal(reload_request(f->reload, "api"), -EALREADY);
    run_until(f, two_done);
    assert_int_equal(f->status, 0);
    assert_string_equal(labels(f), "A1=1-1.1 A3=1-1.3");
    stop(f);
}

static void test_idle_slots_remapped(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n[slot A2]\nport = 1-1.2\n");
    plug(f, "1-1.1", 5); /* on A1 */
    plug(f, "1-1.3", 6); /* unmapped: ignored */
    assert_int_equal(rack_ignored_count(f->st.rack), 1);
    f->events[0] = '\0';
    /* A1 goes away, A2 moves to A1's port, B1 maps the ignored device's port. */
    write_conf(f,
               "[slot B1]\nport = 1-1.3\n[slot A2]\nport = 1-1.1\n[auth]\ntoken = " TOKEN_B "\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_int_equal(f->done_calls, 1); /* no package to load: applied at once */
    assert_int_equal(f->status, 0);
    assert_string_equal(labels(f), "B1=1-1.3* A2=1-1.1*");
    assert_string_equal(f->events, "detach:A1 attach:A2 attach:B1");
    assert_int_equal(rack_ignored_count(f->st.rack), 0);
    assert_int_equal(reload_frozen(f->reload), 0);
    assert_string_equal(f->st.cfg.auth.tokens[0].name, "bob");
    struct flow_view v;
    assert_int_equal(workflow_slot_view(f->st.workflow, 1, &v), 0);
    assert_int_equal(workflow_slot_view(f->st.workflow, 2, &v), -ENOENT);
    char audit[4096];
    last_audit(f, audit);
    assert_non_null(strstr(audit, "\"added\":[\"B1\"]"));
    assert_non_null(strstr(audit, "\"removed\":[\"A1\"]"));
    assert_non_null(strstr(audit, "\"changed\":[\"A2\"]"));

    /* Unmapping a port: its device becomes ignored (never opened). */
    f->events[0] = '\0';
    write_conf(f, "[slot B1]\nport = 1-1.3\n");
    assert_int_equal(reload_request(f->reload, "api"), 0);
    assert_string_equal(labels(f), "B1=1-1.3*");
    assert_string_equal(f->events, "detach:A2 ignored:-");
    assert_int_equal(rack_ignored_count(f->st.rack), 1);
    stop(f);
}

static void test_busy_slot_keeps_its_mapping(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n[slot A2]\nport = 1-1.2\n");
    plug(f, "1-1.1", 5);
    struct slot *a1 = rack_slot_by_label(f->st.rack, "A1");
    int fake_job;
    a1->job = (struct slot_job *)&fake_job; /* a job runs on A1 */
    /* A1 moves to 1-1.5 and B1 takes its port; A2 is removed. */
    write_conf(f, "[slot A1]\nport = 1-1.5\n[slot B1]\nport = 1-1.1\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_int_equal(f->status, 0);
    assert_string_equal(labels(f), "A1=1-1.1* B1=1-1.1");
    assert_true(a1->frozen);
    assert_int_equal(reload_frozen(f->reload), 1);
    char audit[4096];
    last_audit(f, audit);
    assert_non_null(strstr(audit, "\"deferred\":[\"A1\"]"));

    /* The module re-enumerates during its job: it comes back to A1, not to B1. */
    f->events[0] = '\0';
    rack_usb_left(f->st.rack, 1, 5);
    plug(f, "1-1.1", 7);
    assert_string_equal(f->events, "detach:A1 attach:A1");
    assert_ptr_equal(rack_slot_by_label(f->st.rack, "A1"), a1);

    /* The job ends (the flow is idle): the new map applies at the next look. */
    a1->job = NULL;
    f->events[0] = '\0';
    run_until(f, none_frozen);
    assert_string_equal(labels(f), "A1=1-1.5 B1=1-1.1*");
    assert_string_equal(f->events, "detach:A1 attach:B1");
    stop(f);
}

static void test_removed_busy_slot_goes_when_idle(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n[slot A2]\nport = 1-1.2\n");
    plug(f, "1-1.1", 5);
    struct slot *a1 = rack_slot_by_label(f->st.rack, "A1");
    int fake_job;
    a1->job = (struct slot_job *)&fake_job;
    write_conf(f, "[slot A2]\nport = 1-1.2\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_string_equal(labels(f), "A2=1-1.2 A1=1-1.1*"); /* shown last while it finishes */
    /* A second reload while A1 is still busy changes nothing for it. */
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_string_equal(labels(f), "A2=1-1.2 A1=1-1.1*");
    a1->job = NULL;
    f->events[0] = '\0';
    run_until(f, none_frozen);
    assert_string_equal(labels(f), "A2=1-1.2");
    assert_string_equal(f->events, "detach:A1 ignored:-");
    assert_int_equal(rack_ignored_count(f->st.rack), 1);
    stop(f);
}

/* A new exact slot on the port of a busy glob slot's module: the module's re-enumerations
 * still come back to the glob slot; the exact slot gets the port once the module is gone. */
static void test_busy_glob_slot_keeps_its_module(void **state)
{
    (void)state;
    struct fixture *f = start("[slot G]\nport = 1-1.[0-9]\n");
    plug(f, "1-1.4", 5);
    struct slot *g = rack_slot_by_label(f->st.rack, "G");
    int fake_job;
    g->job = (struct slot_job *)&fake_job;
    write_conf(f, "[slot G]\nport = 1-1.[0-9]\n[slot E]\nport = 1-1.4\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_string_equal(labels(f), "G=1-1.[0-9]* E=1-1.4");
    f->events[0] = '\0';
    rack_usb_left(f->st.rack, 1, 5);
    plug(f, "1-1.4", 9);
    assert_string_equal(f->events, "detach:G attach:G");
    g->job = NULL;
    f->events[0] = '\0';
    run_until(f, none_frozen);
    assert_string_equal(labels(f), "G=1-1.[0-9] E=1-1.4*");
    assert_string_equal(f->events, "detach:G attach:E");
    stop(f);
}

static void test_mes_and_settings_follow(void **state)
{
    (void)state;
    struct fixture *f = start("[slot A1]\nport = 1-1.1\n");
    assert_null(f->mes);
    /* Push on (nothing is queued, so nothing is sent), a new retry count, a new log level. */
    write_conf(f, "[slot A1]\nport = 1-1.1\n[mes]\nurl = http://127.0.0.1:9/records\n"
                  "[flow]\nretries = 4\n[station]\nlog_level = debug\n[http]\nlisten = "
                  "0.0.0.0:1\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_int_equal(f->status, 0);
    assert_non_null(strstr(f->message, "mes restarted"));
    assert_non_null(strstr(f->message, "needs a restart, running values kept: http.listen"));
    assert_non_null(f->mes);
    assert_int_equal(f->st.cfg.flow.retries, 4);
    assert_string_equal(f->st.cfg.log_level, "debug");
    assert_string_equal(f->st.cfg.http_listen, "127.0.0.1:8080"); /* the running value */
    /* The same file again: the sender is left alone. */
    struct mes *before = f->mes;
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_non_null(strstr(f->message, "mes unchanged"));
    assert_ptr_equal(f->mes, before);
    /* Push off. */
    write_conf(f, "[slot A1]\nport = 1-1.1\n");
    assert_int_equal(reload_request(f->reload, "SIGHUP"), 0);
    assert_non_null(strstr(f->message, "mes off"));
    assert_null(f->mes);
    log_set_level(LOG_LEVEL_INFO);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_only_kept),
        cmocka_unit_test(test_invalid_file_rejected),
        cmocka_unit_test(test_missing_package_rejects_whole_reload),
        cmocka_unit_test(test_idle_slots_remapped),
        cmocka_unit_test(test_busy_slot_keeps_its_mapping),
        cmocka_unit_test(test_removed_busy_slot_goes_when_idle),
        cmocka_unit_test(test_busy_glob_slot_keeps_its_module),
        cmocka_unit_test(test_mes_and_settings_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
