/* udev rules come from the id tables (daemon/udev_rules.c): every id a driver or the AT table
 * knows, and a config's [usb] ids, get group access and the ModemManager opt-out. */
#include "udev_rules.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

static char *rules(const struct config *cfg, int *ret_count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *ret_count = udev_rules_write(f, cfg, "flashrack");
    fclose(f);
    return text;
}

static void has_rules_for(const char *text, uint16_t vid, uint16_t pid)
{
    char usb[160], tty[160];
    snprintf(usb, sizeof(usb),
             "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ATTR{idVendor}==\"%04x\", "
             "ATTR{idProduct}==\"%04x\", MODE=\"0660\", GROUP=\"flashrack\"",
             vid, pid);
    snprintf(tty, sizeof(tty),
             "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"%04x\", ATTRS{idProduct}==\"%04x\"", vid, pid);
    if (!strstr(text, usb) || !strstr(text, tty))
        fail_msg("no rules for %04x:%04x", vid, pid);
}

static void test_every_driver_id(void **state)
{
    (void)state;
    int count;
    char *text = rules(NULL, &count);
    size_t ids = 0;
    for (size_t d = 0; d < proto_registry_count(); d++) {
        const struct proto *p = proto_registry_get(d);
        for (size_t i = 0; i < p->usb_id_count; i++, ids++)
            has_rules_for(text, p->usb_ids[i].vid, p->usb_ids[i].pid);
    }
    assert_true(count > 0 && (size_t)count <= ids);
    /* The AT ports of Quectel modules (EC200U normal mode) and the download ports. */
    has_rules_for(text, 0x2c7c, 0x0901);
    has_rules_for(text, 0x0525, 0xa4a7);
    has_rules_for(text, 0x2ecc, 0x3004);
    /* Every rule line opts out of ModemManager. */
    size_t rule_lines = 0, mm = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "SUBSYSTEM==", 11)) {
            rule_lines++;
            mm += strstr(line, "ENV{ID_MM_DEVICE_IGNORE}=\"1\"") != NULL;
        }
    }
    assert_int_equal(rule_lines, 2 * (size_t)count);
    assert_int_equal(mm, rule_lines);
    free(text);
}

static void test_config_ids(void **state)
{
    (void)state;
    static struct config cfg;
    char err[256];
    assert_int_equal(config_load_string("[usb]\nid = 1234:abcd:2:at\nid = 2c7c:0901:2:at\n", &cfg,
                                        err, sizeof(err)),
                     0);
    int without, with;
    free(rules(NULL, &without));
    char *text = rules(&cfg, &with);
    has_rules_for(text, 0x1234, 0xabcd);
    assert_int_equal(with, without + 1); /* 2c7c:0901 is known already: not repeated */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_driver_id),
        cmocka_unit_test(test_config_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
