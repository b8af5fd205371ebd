/* The rack: ports to slots, unmapped ports ignored, ttys joined by port path whatever the
 * order of arrival, and the timeline written to the database. */
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
#include "rack.h"

struct seen {
    enum rack_event ev[64];
    char label[64][32];
    size_t n;
};

static void listener(void *ud, enum rack_event ev, struct slot *slot, const struct rack_device *d)
{
    (void)d;
    struct seen *s = ud;
    if (s->n < 64) {
        s->ev[s->n] = ev;
        snprintf(s->label[s->n], sizeof(s->label[0]), "%s", slot ? slot->cfg.label : "-");
        s->n++;
    }
}

static struct rack_device device(const char *path, uint8_t bus, uint8_t addr, uint16_t vid,
                                 uint16_t pid)
{
    struct rack_device d;
    memset(&d, 0, sizeof(d));
    snprintf(d.port_path, sizeof(d.port_path), "%s", path);
    d.bus = bus;
    d.address = addr;
    d.vid = vid;
    d.pid = pid;
    snprintf(d.product, sizeof(d.product), "Test");
    return d;
}

static struct rack_tty tty(const char *devnode, const char *path, int iface)
{
    struct rack_tty t;
    memset(&t, 0, sizeof(t));
    snprintf(t.devnode, sizeof(t.devnode), "%s", devnode);
    snprintf(t.port_path, sizeof(t.port_path), "%s", path);
    t.interface_number = iface;
    return t;
}

static const char *cfg_text = "[rack]\nrows = 1\ncolumns = 3\n"
                              "[slot A1]\nport = 1-1.1\n"
                              "[slot A2]\nport = 1-1.2\n"
                              "[slot G]\nport = *-2.[0-9]\n";

static void test_path_helpers(void **state)
{
    (void)state;
    char path[RACK_PATH_MAX];
    uint8_t ports[] = {1, 4, 2, 3};
    assert_int_equal(rack_format_port_path(1, ports, 4, path, sizeof(path)), 0);
    assert_string_equal(path, "1-1.4.2.3");
    assert_int_equal(rack_format_port_path(1, ports, 0, path, sizeof(path)), -EINVAL);
    assert_int_equal(rack_format_port_path(1, ports, 4, path, 6), -ENAMETOOLONG);

    int iface = -1;
    assert_int_equal(rack_parse_interface_name("1-1.2:1.3", path, sizeof(path), &iface), 0);
    assert_string_equal(path, "1-1.2");
    assert_int_equal(iface, 3);
    assert_int_equal(rack_parse_interface_name("12-4:1.10", path, sizeof(path), &iface), 0);
    assert_int_equal(iface, 10);
    const char *bad[] = {"usb1",    "1-1.2",  "1-1.2:1.", "1-1.2:.3", ":1.0",
                         "1-a:1.0", "-1:1.0", "1-1:1.3x", "1.1-2:1.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rack_parse_interface_name(bad[i], path, sizeof(path), &iface) == 0)
            fail_msg("'%s' accepted", bad[i]);
}

static void test_attach_detach_ignore(void **state)
{
    (void)state;
    static struct config cfg;
    char err[256];
    assert_int_equal(config_load_string(cfg_text, &cfg, err, sizeof(err)), 0);
    struct rack *rack;
    assert_int_equal(rack_new(&cfg, NULL, &rack), 0);
    struct seen seen = {0};
    assert_int_equal(rack_add_listener(rack, listener, &seen), 0);

    struct rack_device a = device("1-1.1", 1, 5, 0x2c7c, 0x6001);
    rack_usb_arrived(rack, &a);
    rack_usb_arrived(rack, &a); /* duplicate report is harmless */
    struct slot *a1 = rack_slot_by_label(rack, "A1");
    assert_non_null(a1->device);
    assert_int_equal(a1->state, SLOT_ATTACHED);
    assert_int_equal(a1->attach_count, 1);

    struct rack_device u = device("1-1.7", 1, 6, 0x1234, 0x5678);
    rack_usb_arrived(rack, &u);
    assert_int_equal(rack_ignored_count(rack), 1);
    /* A hub is the rack itself: neither a slot nor an ignored module, not even on a mapped
     * port. */
    struct rack_device hub = device("1-1.2", 1, 8, 0x05e3, 0x0610);
    hub.device_class = 9;
    rack_usb_arrived(rack, &hub);
    assert_int_equal(rack_ignored_count(rack), 1);
    assert_null(rack_slot_by_label(rack, "A2")->device);
    rack_usb_left(rack, 1, 8);
    assert_string_equal(rack_ignored(rack, 0)->port_path, "1-1.7");

    /* Glob slot: first device takes it, a second matching device is ignored. */
    struct rack_device g1 = device("3-2.1", 3, 2, 1, 1), g2 = device("3-2.2", 3, 3, 1, 2);
    rack_usb_arrived(rack, &g1);
    rack_usb_arrived(rack, &g2);
    assert_string_equal(rack_slot_by_label(rack, "G")->device->port_path, "3-2.1");
    assert_int_equal(rack_ignored_count(rack), 2);

    rack_usb_left(rack, 1, 5);
    assert_null(a1->device);
    assert_int_equal(a1->state, SLOT_EMPTY);
    rack_usb_left(rack, 1, 6);
    rack_usb_left(rack, 9, 9); /* unknown: ignored */
    assert_int_equal(rack_ignored_count(rack), 1);

    /* Replug: same slot, counted again. */
    a.address = 7;
    rack_usb_arrived(rack, &a);
    assert_int_equal(a1->attach_count, 2);

    enum rack_event expect[] = {RACK_EV_ATTACH, RACK_EV_IGNORED, RACK_EV_ATTACH, RACK_EV_IGNORED,
                                RACK_EV_DETACH, RACK_EV_GONE,    RACK_EV_ATTACH};
    const char *labels[] = {"A1", "-", "G", "-", "A1", "-", "A1"};
    assert_int_equal(seen.n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(seen.ev[i], expect[i]);
        assert_string_equal(seen.label[i], labels[i]);
    }
    rack_free(rack);
}

static void test_ttys_any_order(void **state)
{
    (void)state;
    static struct config cfg;
    char err[256];
    assert_int_equal(config_load_string(cfg_text, &cfg, err, sizeof(err)), 0);
    struct rack *rack;
    assert_int_equal(rack_new(&cfg, NULL, &rack), 0);

    /* tty before its USB device (the two event sources race). */
    struct rack_tty t3 = tty("/dev/ttyUSB1", "1-1.2", 3), t2 = tty("/dev/ttyUSB0", "1-1.2", 2);
    rack_tty_added(rack, &t3);
    struct rack_device d = device("1-1.2", 1, 9, 0x2c7c, 0x6001);
    rack_usb_arrived(rack, &d);
    rack_tty_added(rack, &t2);
    rack_tty_added(rack, &t2); /* scan racing the monitor */
    const struct rack_tty *out[8];
    size_t n = rack_ttys_for_port(rack, "1-1.2", out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->devnode, "/dev/ttyUSB0"); /* interface order */
    assert_int_equal(out[1]->interface_number, 3);

    /* A node name reused for another port moves. */
    struct rack_tty moved = tty("/dev/ttyUSB0", "1-1.1", 0);
    rack_tty_added(rack, &moved);
    assert_int_equal(rack_ttys_for_port(rack, "1-1.2", out, 8), 1);
    rack_tty_removed(rack, "/dev/ttyUSB1");
    rack_tty_removed(rack, "/dev/nothing");
    assert_int_equal(rack_ttys_for_port(rack, "1-1.2", out, 8), 0);
    assert_int_equal(rack_ttys_for_port(rack, "1-1.1", out, 8), 1);
    rack_free(rack);
}

static int collect(const struct db_slot_event *ev, void *ud)
{
    char *buf = ud;
    size_t n = strlen(buf);
    snprintf(buf + n, 1024 - n, "%s:%s:%s;", ev->event, ev->slot, ev->usb_path);
    return 0;
}

static void test_timeline_recorded(void **state)
{
    (void)state;
    char dir[] = "/tmp/flashrack-rack-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    struct db *db;
    assert_int_equal(db_open(path, &db, err, sizeof(err)), 0);
    static struct config cfg;
    assert_int_equal(config_load_string(cfg_text, &cfg, err, sizeof(err)), 0);
    struct rack *rack;
    assert_int_equal(rack_new(&cfg, db, &rack), 0);
    struct rack_device a = device("1-1.1", 1, 5, 0x2c7c, 0x6001);
    struct rack_device u = device("1-1.9", 1, 6, 1, 2);
    struct rack_tty t = tty("/dev/ttyUSB3", "1-1.1", 3);
    rack_usb_arrived(rack, &a);
    rack_tty_added(rack, &t);
    rack_usb_arrived(rack, &u);
    rack_usb_left(rack, 1, 5);
    rack_usb_left(rack, 1, 6);
    char buf[1024] = "";
    assert_int_equal(db_slot_events_list(db, 0, 100, collect, buf), 5);
    assert_string_equal(buf, "attach:A1:1-1.1;ports:A1:1-1.1;ignored::1-1.9;detach:A1:1-1.1;"
                             "gone::1-1.9;");
    rack_free(rack);
    db_close(db);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_helpers),
        cmocka_unit_test(test_attach_detach_ignore),
        cmocka_unit_test(test_ttys_any_order),
        cmocka_unit_test(test_timeline_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
