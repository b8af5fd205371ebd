/* Serial nodes (ttyUSB*, ttyACM*) that belong to USB interfaces, resolved to the interface's
 * physical port path and interface number, from an initial scan and then from udev events
 * (libudev monitor on the "tty" subsystem, watched by a uv_poll). */
#ifndef FLASHRACK_TTY_MONITOR_H
#define FLASHRACK_TTY_MONITOR_H

#include <uv.h>

#include "rack.h"

struct tty_monitor;

typedef void (*tty_added_fn)(void *userdata, const struct rack_tty *tty);
typedef void (*tty_removed_fn)(void *userdata, const char *devnode);

int tty_monitor_new(uv_loop_t *loop, tty_added_fn added, tty_removed_fn removed, void *userdata,
                    struct tty_monitor **ret);
/* Reports every tty already present (after the monitor is listening, so none is missed). */
int tty_monitor_scan(struct tty_monitor *m);
void tty_monitor_close(struct tty_monitor *m, void (*done)(void *userdata), void *userdata);

#endif
