/* Config parsing and validation: every rejection names the file, line and problem. */
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

static const char *good = "[station]\n"
                          "id = line1-st03\n"
                          "log_level = debug\n"
                          "[http]\n"
                          "listen = [::1]:9090\n"
                          "[storage]\n"
                          "database = /tmp/x.db\n"
                          "[rack]\n"
                          "rows = 2\n"
                          "columns = 2\n"
                          "[slot A1]\n"
                          "port = 1-1.1\n"
                          "row = 1\n"
                          "column = 1\n"
                          "[slot A2]\n"
                          "port = *-1.2\n"
                          "[slot B1]\n"
                          "port = 1-1.[34]\n"
                          "row = 2\n"
                          "column = 1\n"
                          "[usb]\n"
                          "id = 2c7c:0901:3:at\n"
                          "[limits]\n"
                          "no_progress_timeout_ms = 5000\n"
                          "[recipe ec200u]\n"
                          "package = /srv/fw/EC200UCNAA.pac\n";

static void test_good_config(void **state)
{
    (void)state;
    static struct config cfg;
    char err[512] = "";
    assert_int_equal(config_load_string(good, &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.station_id, "line1-st03");
    assert_string_equal(cfg.http_listen, "[::1]:9090");
    assert_int_equal(cfg.slot_count, 3);
    assert_int_equal(cfg.slots[1].row, 1); /* unplaced: second in file order */
    assert_int_equal(cfg.slots[1].column, 2);
    assert_int_equal(cfg.usb_id_count, 1);
    assert_int_equal(cfg.usb_ids[0].vid, 0x2c7c);
    assert_int_equal(cfg.usb_ids[0].pid, 0x0901);
    assert_int_equal(cfg.usb_ids[0].interface_number, 3);
    assert_string_equal(cfg.usb_ids[0].role, "at");
    assert_int_equal(cfg.limits.no_progress_timeout_ms, 5000);
    assert_int_equal(cfg.recipe_count, 1);
    assert_string_equal(cfg.recipes[0].name, "ec200u");
    assert_string_equal(cfg.recipes[0].package, "/srv/fw/EC200UCNAA.pac");

    assert_string_equal(config_slot_for_port(&cfg, "1-1.1")->label, "A1");
    assert_string_equal(config_slot_for_port(&cfg, "3-1.2")->label, "A2");
    assert_string_equal(config_slot_for_port(&cfg, "1-1.4")->label, "B1");
    assert_null(config_slot_for_port(&cfg, "1-1.5"));
    assert_null(config_slot_for_port(&cfg, "1-1.1.1")); /* deeper port is another port */
    assert_string_equal(config_slot_by_label(&cfg, "B1")->port, "1-1.[34]");
}

static void expect_error(const char *text, const char *needle)
{
    static struct config cfg;
    char err[512] = "";
    assert_true(config_load_string(text, &cfg, err, sizeof(err)) < 0);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static void test_rejections(void **state)
{
    (void)state;
    expect_error("[station]\nid = x\nbogus = 1\n",
                 "<config>:3: unknown key 'bogus' in section [station]");
    expect_error("[slot A1]\nport = 1-1.1\n[slot A2]\nport = 1-1.1\n",
                 "port 1-1.1 is already slot A1");
    expect_error("[slot A1]\nport = usb1\n", "is not a USB port path");
    expect_error("[slot A1]\nrow = 1\n", "[slot A1] has no port");
    expect_error("[slot A1]\nport = 1-1\nrow = 1\n", "gives only one of row and column");
    expect_error("[rack]\nrows = 1\ncolumns = 1\n[slot A1]\nport = 1-1\n[slot A2]\nport = 1-2\n",
                 "outside the 1x1 rack");
    expect_error("[limits]\nmax_jobs = 0\n", "max_jobs: '0' is not a whole number from 1 to 1024");
    expect_error("[limits]\nmax_jobs = 12abc\n", "max_jobs");
    expect_error("[http]\nlisten = localhost\n", "is not HOST:PORT");
    expect_error("[http]\nlisten = 127.0.0.1:70000\n", "is not HOST:PORT");
    expect_error("[usb]\nid = 2c7c:zz:3:at\n", "is not VID:PID:INTERFACE:ROLE");
    expect_error("[slot bad label!]\nport = 1-1\n", "slot labels use letters");
    expect_error("[station]\nlog_level = loud\n", "log_level: 'loud'");
    expect_error("this is not ini\n", "<config>:1: syntax error");
    expect_error("[recipe a]\nversion = 1\n", "unknown key 'version' in section [recipe a]");
    expect_error("[recipe a]\npackage = \n", "[recipe a] package: empty path");
}

static void test_file_errors(void **state)
{
    (void)state;
    static struct config cfg;
    char err[512];
    assert_int_equal(config_load_file("/nonexistent/flashrack.conf", &cfg, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/flashrack.conf"));

    char path[] = "/tmp/flashrack-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[station]\nid = a\n\n[slot X]\nport = 1-2\nrow = 99\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_true(config_load_file(path, &cfg, err, sizeof(err)) < 0);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s:6: [slot X] row: '99' is not a whole number", path);
    if (strncmp(err, expect, strlen(expect)) != 0)
        fail_msg("unexpected: %s", err);
    unlink(path);
}

static void test_split_listen(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(config_split_listen("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(config_split_listen("[::1]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_true(config_split_listen(":80", host, sizeof(host), &port) < 0);
    assert_true(config_split_listen("[::1]80", host, sizeof(host), &port) < 0);
    assert_true(config_split_listen("h:", host, sizeof(host), &port) < 0);
}

static void test_shipped_configs_load(void **state)
{
    (void)state;
    const char *src = getenv("FLASHRACK_SOURCE_DIR");
    if (!src)
        skip();
    const char *files[] = {"config/flashrack.conf", "config/demo.conf"};
    for (size_t i = 0; i < 2; i++) {
        char path[1024], err[512];
        static struct config cfg;
        snprintf(path, sizeof(path), "%s/%s", src, files[i]);
        if (config_load_file(path, &cfg, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_true(cfg.slot_count > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),          cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_file_errors),          cmocka_unit_test(test_split_listen),
        cmocka_unit_test(test_shipped_configs_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
