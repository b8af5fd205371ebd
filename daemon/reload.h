/* Configuration reload (SIGHUP, `systemctl reload flashrack`; docs/install.md "Changing the
 * configuration").
 *
 * A reload reads the file again and validates it whole; an invalid file is rejected with
 * "file:line: problem" and the running configuration stays as it was. The packages of every
 * [recipe] are then loaded through the package cache, on its worker, before anything
 * switches; a package that does not load rejects the whole reload the same way (a typo in a
 * path must not take a working recipe away from the line). Only then is the new
 * configuration applied, in one step on the loop thread:
 *
 *   - recipes, [flow], [auth] tokens, [limits] (for jobs that start from now on; a lower
 *     max_jobs holds new downloads back, a higher one starts queued modules at once),
 *     [station] log_level, [rack] rows/columns, [http] web_root: at once;
 *   - [mes]: the sender restarts with the new settings when they changed (queued records
 *     stay queued);
 *   - the slot map: slots that are idle take their new mapping at once (devices already
 *     attached are joined again: an unmapped one becomes ignored and is never opened, a
 *     newly mapped one shows up on its slot and starts its flow). A slot whose module is
 *     between its first job and its removal (busy: see workflow_slot_busy) is frozen: it
 *     keeps its old port, its running job and its attempt until the module is removed,
 *     then the new mapping applies to the next module;
 *   - settings the running process cannot change ([station] id, [http] listen,
 *     max_connections, max_body_bytes, [storage], [usb] ids) keep their running values
 *     with a warning naming each one: they apply at the next restart.
 *
 * Every reload, applied or rejected, is logged, written to the audit log (action
 * "config.reload", actor = who asked) and to the slot timeline (event "config", no slot). */
#ifndef FLASHRACK_RELOAD_H
#define FLASHRACK_RELOAD_H

#include <stddef.h>

#include "station.h"

struct reload;
struct mes;

/* How often frozen slots are looked at until every one took its new mapping. */
#define RELOAD_THAW_MS 250

/* path is the file to read again; mes points at the station's MES sender pointer (NULL
 * while push is off), which a reload may replace. */
int reload_new(struct station *st, const char *path, struct mes **mes, struct reload **ret);

/* Result of one reload: status 0 applied, negative errno rejected; message says why or what
 * changed. Called on the loop thread. */
typedef void (*reload_done_fn)(void *ud, int status, const char *message);
void reload_set_done(struct reload *r, reload_done_fn fn, void *ud);

/* Starts a reload on behalf of who ("SIGHUP", a token name). 0: started (the outcome is
 * logged, recorded and passed to the done hook); -EALREADY: one is running, this one runs
 * after it; -ESHUTDOWN: the station is stopping; -EBUSY: start-up packages still load; else
 * the file was rejected at once (-EINVAL, -ENOENT, ...). */
int reload_request(struct reload *r, const char *who);

/* Slots still waiting for their module to leave before their new mapping applies. */
size_t reload_frozen(const struct reload *r);

/* Shutdown: no reload starts or applies any more; closes the timer (the loop must run to
 * finish the close and any package load in flight). */
void reload_stop(struct reload *r);
void reload_free(struct reload *r);

/* Pure part (unit-tested): keeps cur's values of the settings a running process cannot
 * change in next, and writes their names ("http.listen storage.database ...") into out ("" if
 * none differed). Returns how many differed. */
int reload_keep_restart_only(const struct config *cur, struct config *next, char *out,
                             size_t outlen);

#endif
