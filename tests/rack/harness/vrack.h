/* The virtual rack: fake USB devices, hubs and USB-serial ttys in a umockdev testbed, each
 * device played by a tests/sim model. See tests/rack/README.md and
 * ../shared/design/usb-test-harness.md for how it works.
 *
 * The process that uses this must run under the umockdev preload (umockdev-wrapper).
 * All functions are called from the thread that runs the default GLib main context; the
 * rack serves ioctls from umockdev's worker thread and tty masters from the main loop.
 */
#ifndef FLASHRACK_VRACK_H
#define FLASHRACK_VRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define VRACK_ERR_MAX 256

struct vrack;

/* A model asked for a side effect it cannot do itself ("unplug", "replug PROFILE ...").
 * Called on the main thread after the rack has carried it out (or failed: ok = false). */
typedef void (*vrack_event_fn)(void *userdata, const char *port, const char *what, bool ok);

int vrack_new(struct vrack **ret, char *err, size_t err_len);
/* Unplugs every device (children first) and removes the testbed. */
void vrack_free(struct vrack *rack);
void vrack_set_verbose(struct vrack *rack, bool verbose);
void vrack_set_event_handler(struct vrack *rack, vrack_event_fn fn, void *userdata);
const char *vrack_root_dir(const struct vrack *rack);

/* port: "B-P[.P...]" (e.g. "1-1.3"); profile: a name from the profile table; opts: NULL or a
 * NULL-terminated list of "key=value" (serial=, manufacturer=, product=, model= are the
 * rack's; everything else goes to the model). Missing hubs on the way are created. */
int vrack_plug(struct vrack *rack, const char *port, const char *profile, const char *const *opts,
               unsigned *ret_bus, unsigned *ret_devnum, char *err, size_t err_len);
int vrack_unplug(struct vrack *rack, const char *port, char *err, size_t err_len);
/* The model's stats on one line: "k=v k=v ...". */
int vrack_stats(struct vrack *rack, const char *port, GString *out, char *err, size_t err_len);
/* Stats of the model that last left port (unplugged, or replugged as another profile). */
int vrack_last_stats(struct vrack *rack, const char *port, GString *out, char *err, size_t err_len);
/* "PORT:PROFILE PORT:PROFILE ..." of the devices plugged by the user (not hubs), sorted. */
void vrack_list(struct vrack *rack, GString *out);
bool vrack_port_busy(struct vrack *rack, const char *port);
/* How often the model timer woke the rack so far: a rack whose models wait for nothing
 * stays still (tests/rack/selftest.sh checks it after a host abandons a transfer). */
uint64_t vrack_timer_fires(struct vrack *rack);

size_t vrack_profile_count(void);
const char *vrack_profile_name(size_t index);
const char *vrack_profile_summary(size_t index);

/* CLOCK_MONOTONIC in ms, the clock models and log lines use. */
uint64_t vrack_now_ms(void);

#endif
