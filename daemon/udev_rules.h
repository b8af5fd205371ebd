/* udev rules for a station, generated from the same USB id tables the daemon matches devices
 * with (every registered driver's ids, the AT-port table, and the [usb] id lines of a config),
 * so the rules cannot drift from the code: `flashrack udev-rules [--config PATH]`.
 *
 * Each id gets its device node and its ttys group-owned by the service's group (mode 0660),
 * and is marked for ModemManager to leave alone: ModemManager probes AT ports of modems it
 * sees and would talk to a module while the station switches or flashes it. */
#ifndef FLASHRACK_UDEV_RULES_H
#define FLASHRACK_UDEV_RULES_H

#include <stdio.h>

#include "config.h"

#define UDEV_RULES_GROUP "flashrack"

/* Writes the rules to f; cfg (may be NULL) adds its [usb] ids. Returns how many distinct
 * VID:PID pairs were written, or a negative errno on a write error. */
int udev_rules_write(FILE *f, const struct config *cfg, const char *group);

#endif
