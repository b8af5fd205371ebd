/* Device plumbing shared by usbfs.c and tty.c: reference counts, the pump that moves bytes
 * between waiting transfers/tty buffers and the model, the main-loop timer for models with
 * timed behaviour, and model side effects (unplug/replug) carried out on the main loop. */
#include "vrack_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vrack_action {
    struct vrack_dev *dev;
    char text[SIM_ACTION_MAX];
};

uint64_t vrack_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void vrack_log(struct vrack *rack, const char *fmt, ...)
{
    if (!rack->verbose)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Monotonic ms, so latencies can be computed against a client's log on the same clock. */
    fprintf(stderr, "rack %" PRIu64 ": %s\n", vrack_now_ms(), msg);
}

void vrack_dev_ref(struct vrack_dev *dev)
{
    g_atomic_int_inc(&dev->refs);
}

void vrack_dev_unref(struct vrack_dev *dev)
{
    if (!dev || !g_atomic_int_dec_and_test(&dev->refs))
        return;
    /* Nobody can reach the device any more: not in the rack's tables, no client, no action. */
    sim_model_destroy(dev->model);
    for (unsigned i = 0; i < dev->n_ttys; i++)
        g_free(dev->ttys[i]);
    g_free(dev->desc);
    g_free(dev);
}

bool vrack_tty_active(const struct vrack_dev *dev, const struct vrack_tty *tty)
{
    /* The tty exists while its kernel driver owns the interface; a client that disconnected
     * the driver (to use usbfs directly) talks over the bulk endpoints instead. */
    return !dev->gone && !(dev->detached & (1u << tty->ifnum));
}

void vrack_line_changed(struct vrack_dev *dev, int chan, const struct sim_line *line)
{
    if (!dev->model || chan < 0 || dev->gone)
        return;
    vrack_log(dev->rack, "%s: chan %d line dtr=%d rts=%d baud=%" PRIu32, dev->port, chan, line->dtr,
              line->rts, line->baud);
    sim_model_line(dev->model, (unsigned)chan, line, vrack_now_ms());
    vrack_pump(dev);
}

static bool pump_out(struct vrack_dev *dev, uint64_t now)
{
    bool progress = false;
    for (unsigned ep = 0; ep < 16; ep++) {
        struct vrack_urb *u;
        while ((u = g_queue_peek_head(&dev->ep_out[ep]))) {
            if (u->done < u->len) {
                size_t n = sim_model_rx(dev->model, (unsigned)u->chan, u->buf_data->data + u->done,
                                        u->len - u->done, now);
                u->done += n;
                progress |= n > 0;
            }
            if (u->done < u->len)
                break; /* the device is busy: this endpoint NAKs until the next pump */
            g_queue_pop_head(&dev->ep_out[ep]);
            vrack_urb_complete(u, 0);
            progress = true;
        }
    }
    return progress;
}

static bool pump_in(struct vrack_dev *dev, uint64_t now)
{
    bool progress = false;
    for (unsigned ep = 0; ep < 16; ep++) {
        struct vrack_urb *u;
        while ((u = g_queue_peek_head(&dev->ep_in[ep]))) {
            /* One tx call per transfer: the model decides where transfers end. */
            size_t n = sim_model_tx(dev->model, (unsigned)u->chan, u->in_data, u->len, now);
            if (n == 0)
                break;
            u->in_len = n;
            g_queue_pop_head(&dev->ep_in[ep]);
            vrack_urb_complete(u, 0);
            progress = true;
        }
    }
    return progress;
}

static gboolean resched_cb(gpointer data);

static void queue_resched(struct vrack *rack)
{
    if (rack->resched_queued)
        return;
    rack->resched_queued = true;
    rack->resched_id = g_idle_add_full(G_PRIORITY_DEFAULT, resched_cb, rack, NULL);
}

static gboolean run_actions(gpointer data);

void vrack_pump(struct vrack_dev *dev)
{
    if (dev->gone || !dev->model)
        return;
    struct vrack *rack = dev->rack;
    uint64_t now = vrack_now_ms();
    /* Bytes a model takes can free room for its answer and the other way round, so repeat
     * until nothing moves; the bound only guards against a model that never settles. */
    for (int round = 0; round < 256; round++) {
        bool progress = pump_out(dev, now);
        for (unsigned i = 0; i < dev->n_ttys; i++)
            progress |= vrack_tty_pump(dev->ttys[i]);
        progress |= pump_in(dev, now);
        if (!progress)
            break;
    }
    char text[SIM_ACTION_MAX];
    while (sim_model_take_action(dev->model, text, sizeof(text), now) > 0) {
        struct vrack_action *a = g_new0(struct vrack_action, 1);
        vrack_dev_ref(dev);
        a->dev = dev;
        g_strlcpy(a->text, text, sizeof(a->text));
        g_queue_push_tail(&rack->actions, a);
        if (!rack->actions_queued) {
            rack->actions_queued = true;
            /* At default priority: a device re-enumerating is an event like its I/O and
             * must not wait until the loop has nothing else to do. */
            rack->actions_id = g_idle_add_full(G_PRIORITY_DEFAULT, run_actions, rack, NULL);
        }
    }
    uint64_t due = sim_model_next_event_ms(dev->model, now);
    /* A time not after now breaks the model's contract (sim.h): it was just asked at now,
     * so what it still waits for is the host, and every host action pumps it again. Armed,
     * it was a 0 ms timeout firing for ever: the rack at full CPU, and its idle callbacks
     * never ran, so no module re-enumerated (an aborted flash left the unisoc model's ACK
     * unread). Not armed, it may hide a later event of the model: said once on stderr. */
    if (due <= now) {
        if (!dev->warned_past_due)
            fprintf(stderr,
                    "rack %" PRIu64 ": %s: model %s asks to be woken at %" PRIu64
                    ", not after now: no timer (sim.h: fix its next_event_ms)\n",
                    now, dev->port, dev->model->ops->name, due);
        dev->warned_past_due = true;
        due = SIM_NEVER;
    }
    if (due != dev->due_ms) {
        dev->due_ms = due;
        queue_resched(rack);
    }
    vrack_usbfs_update_flow(dev);
}

/* ---- timers (main thread) ---- */

static gboolean timer_cb(gpointer data);

static void rearm(struct vrack *rack)
{
    uint64_t due = SIM_NEVER;
    g_mutex_lock(&rack->lock);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, rack->ports);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct vrack_dev *dev = value;
        if (!dev->gone && dev->due_ms < due)
            due = dev->due_ms;
    }
    g_mutex_unlock(&rack->lock);
    if (due == rack->timer_due_ms && rack->timer_id)
        return;
    if (rack->timer_id)
        g_source_remove(rack->timer_id);
    rack->timer_id = 0;
    rack->timer_due_ms = due;
    if (due == SIM_NEVER)
        return;
    uint64_t now = vrack_now_ms();
    guint delay = due > now ? (guint)MIN(due - now, (uint64_t)G_MAXUINT) : 0;
    rack->timer_id = g_timeout_add(delay, timer_cb, rack);
}

static gboolean timer_cb(gpointer data)
{
    struct vrack *rack = data;
    rack->timer_id = 0;
    uint64_t now = vrack_now_ms();
    g_mutex_lock(&rack->lock);
    rack->timer_fires++;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, rack->ports);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct vrack_dev *dev = value;
        if (!dev->gone && dev->due_ms <= now)
            vrack_pump(dev);
    }
    g_mutex_unlock(&rack->lock);
    rearm(rack);
    return G_SOURCE_REMOVE;
}

static gboolean resched_cb(gpointer data)
{
    struct vrack *rack = data;
    g_mutex_lock(&rack->lock);
    rack->resched_queued = false;
    rack->resched_id = 0;
    g_mutex_unlock(&rack->lock);
    rearm(rack);
    return G_SOURCE_REMOVE;
}

void vrack_timers_init(struct vrack *rack)
{
    rack->timer_due_ms = SIM_NEVER;
    g_queue_init(&rack->actions);
}

/* ---- client close detection ---- */

#define WATCH_INTERVAL_MS 50

struct vrack_watch {
    UMockdevIoctlClient *client;
    vrack_gone_fn gone;
};

static void run_gone(struct vrack *rack, GList *gone)
{
    for (GList *l = gone; l; l = l->next) {
        struct vrack_watch *w = l->data;
        w->gone(rack, w->client);
        g_object_unref(w->client);
        g_free(w);
    }
    g_list_free(gone);
}

static gboolean watch_cb(gpointer data)
{
    struct vrack *rack = data;
    GList *gone = NULL;
    g_mutex_lock(&rack->lock);
    for (GList *l = rack->watched, *next; l; l = next) {
        next = l->next;
        struct vrack_watch *w = l->data;
        if (!umockdev_ioctl_client_get_connected(w->client)) {
            rack->watched = g_list_remove_link(rack->watched, l);
            gone = g_list_concat(gone, l);
        }
    }
    bool keep = rack->watched != NULL;
    if (!keep)
        rack->watch_id = 0;
    g_mutex_unlock(&rack->lock);
    run_gone(rack, gone);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void vrack_watch_client(struct vrack *rack, UMockdevIoctlClient *client, vrack_gone_fn gone)
{
    /* lock held (called from the client-connected handlers) */
    struct vrack_watch *w = g_new0(struct vrack_watch, 1);
    w->client = g_object_ref(client);
    w->gone = gone;
    rack->watched = g_list_prepend(rack->watched, w);
    if (!rack->watch_id)
        rack->watch_id = g_timeout_add(WATCH_INTERVAL_MS, watch_cb, rack);
}

void vrack_watch_flush(struct vrack *rack)
{
    g_mutex_lock(&rack->lock);
    GList *all = rack->watched;
    rack->watched = NULL;
    if (rack->watch_id)
        g_source_remove(rack->watch_id);
    rack->watch_id = 0;
    g_mutex_unlock(&rack->lock);
    run_gone(rack, all);
}

/* ---- model side effects (main thread) ---- */

struct replug {
    struct vrack *rack;
    guint id;
    char port[VRACK_PORT_MAX];
    char *profile;
    char **opts;
};

static gboolean replug_cb(gpointer data)
{
    struct replug *r = data;
    char err[VRACK_ERR_MAX] = "";
    unsigned bus, devnum;
    r->rack->replugs = g_list_remove(r->rack->replugs, r);
    r->id = 0;
    int rc = vrack_plug(r->rack, r->port, r->profile, (const char *const *)r->opts, &bus, &devnum,
                        err, sizeof(err));
    char what[SIM_ACTION_MAX + 64];
    snprintf(what, sizeof(what), "plug %s%s%s", r->profile, rc < 0 ? ": " : "", err);
    vrack_log(r->rack, "%s: model %s", r->port, what);
    if (r->rack->event_fn)
        r->rack->event_fn(r->rack->event_data, r->port, what, rc == 0);
    return G_SOURCE_REMOVE;
}

static void replug_free(gpointer data)
{
    struct replug *r = data;
    g_free(r->profile);
    g_strfreev(r->opts);
    g_free(r);
}

/* "unplug" or "replug PROFILE [after_ms=N] [key=value ...]". */
static int run_action(struct vrack *rack, const char *port, const char *text, char *err,
                      size_t err_len)
{
    gchar **argv = NULL;
    gint argc = 0;
    if (!g_shell_parse_argv(text, &argc, &argv, NULL) || argc < 1) {
        snprintf(err, err_len, "cannot parse '%.200s'", text);
        g_strfreev(argv);
        return -EINVAL;
    }
    int rc = -EINVAL;
    if (strcmp(argv[0], "unplug") == 0 && argc == 1) {
        rc = vrack_unplug(rack, port, err, err_len);
    } else if (strcmp(argv[0], "replug") == 0 && argc >= 2) {
        struct replug *r = g_new0(struct replug, 1);
        GPtrArray *opts = g_ptr_array_new();
        guint64 after = 0;
        for (int i = 2; i < argc; i++) {
            if (g_str_has_prefix(argv[i], "after_ms="))
                after = g_ascii_strtoull(argv[i] + 9, NULL, 10);
            else
                g_ptr_array_add(opts, g_strdup(argv[i]));
        }
        g_ptr_array_add(opts, NULL);
        r->rack = rack;
        g_strlcpy(r->port, port, sizeof(r->port));
        r->profile = g_strdup(argv[1]);
        r->opts = (char **)g_ptr_array_free(opts, FALSE);
        rc = vrack_unplug(rack, port, err, err_len);
        if (rc == 0) {
            r->id = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)MIN(after, 600000u), replug_cb, r,
                                       replug_free);
            rack->replugs = g_list_prepend(rack->replugs, r);
        } else
            replug_free(r);
    } else {
        snprintf(err, err_len, "unknown action '%.200s'", text);
    }
    g_strfreev(argv);
    return rc;
}

static gboolean run_actions(gpointer data)
{
    struct vrack *rack = data;
    for (;;) {
        g_mutex_lock(&rack->lock);
        struct vrack_action *a = g_queue_pop_head(&rack->actions);
        if (!a) {
            rack->actions_queued = false;
            rack->actions_id = 0;
        }
        /* Only act for the device that asked: it may have been unplugged meanwhile. */
        bool current = a && g_hash_table_lookup(rack->ports, a->dev->port) == a->dev;
        g_mutex_unlock(&rack->lock);
        if (!a)
            break;
        if (current) {
            char err[VRACK_ERR_MAX] = "";
            vrack_log(rack, "%s: model asks: %s", a->dev->port, a->text);
            int rc = run_action(rack, a->dev->port, a->text, err, sizeof(err));
            if (rc < 0)
                vrack_log(rack, "%s: action '%s' failed: %s", a->dev->port, a->text, err);
            if (rack->event_fn)
                rack->event_fn(rack->event_data, a->dev->port, a->text, rc == 0);
        }
        vrack_dev_unref(a->dev);
        g_free(a);
    }
    return G_SOURCE_REMOVE;
}

void vrack_timers_stop(struct vrack *rack)
{
    while (rack->replugs) {
        struct replug *r = rack->replugs->data;
        rack->replugs = g_list_delete_link(rack->replugs, rack->replugs);
        g_source_remove(r->id); /* frees r */
    }
    if (rack->timer_id)
        g_source_remove(rack->timer_id);
    rack->timer_id = 0;
    g_mutex_lock(&rack->lock);
    if (rack->resched_id)
        g_source_remove(rack->resched_id);
    rack->resched_id = 0;
    if (rack->actions_id)
        g_source_remove(rack->actions_id);
    rack->actions_id = 0;
    struct vrack_action *a;
    while ((a = g_queue_pop_head(&rack->actions))) {
        vrack_dev_unref(a->dev);
        g_free(a);
    }
    g_mutex_unlock(&rack->lock);
}
