/* The rack object: testbed, handlers, tables; stats and listing. */
#include "vrack_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int vrack_new(struct vrack **ret, char *err, size_t err_len)
{
    gchar *maps = NULL;
    bool preload = g_file_get_contents("/proc/self/maps", &maps, NULL, NULL) &&
                   strstr(maps, "libumockdev-preload") != NULL;
    g_free(maps);
    if (!preload) {
        /* Without it add_device cannot see its own sysfs and uevents go nowhere. */
        snprintf(err, err_len,
                 "not running under the umockdev preload (start the program "
                 "with umockdev-wrapper)");
        return -ENOTSUP;
    }
    struct vrack *rack = g_new0(struct vrack, 1);
    g_mutex_init(&rack->lock);
    rack->tb = umockdev_testbed_new();
    rack->root = umockdev_testbed_get_root_dir(rack->tb);
    rack->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    rack->ports = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    rack->last_stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    rack->t0_ms = vrack_now_ms();
    vrack_timers_init(rack);
    if (vrack_usbfs_init(rack) < 0 || vrack_tty_init(rack) < 0) {
        snprintf(err, err_len, "cannot create ioctl handlers");
        vrack_free(rack);
        return -ENOMEM;
    }
    *ret = rack;
    return 0;
}

static gint deeper_first(gconstpointer a, gconstpointer b)
{
    /* "usb1" < "1-1" < "1-1.2": more separators means further from the root. */
    int da = 0, db = 0;
    for (const char *p = a; *p; p++)
        da += *p == '-' || *p == '.';
    for (const char *p = b; *p; p++)
        db += *p == '-' || *p == '.';
    return db - da;
}

void vrack_free(struct vrack *rack)
{
    if (!rack)
        return;
    vrack_timers_stop(rack);
    if (rack->ports) {
        g_mutex_lock(&rack->lock);
        GList *ports = g_hash_table_get_keys(rack->ports);
        for (GList *l = ports; l; l = l->next)
            l->data = g_strdup(l->data);
        g_mutex_unlock(&rack->lock);
        ports = g_list_sort(ports, deeper_first);
        for (GList *l = ports; l; l = l->next) {
            char err[VRACK_ERR_MAX];
            if (vrack_unplug_any(rack, l->data, err, sizeof(err)) < 0)
                fprintf(stderr, "rack: teardown %s: %s\n", (char *)l->data, err);
        }
        g_list_free_full(ports, g_free);
    }
    /* Models may have queued work while going away; clients still open are let go. */
    vrack_timers_stop(rack);
    vrack_watch_flush(rack);
    if (rack->tb)
        g_object_unref(rack->tb); /* removes the testbed directory */
    if (rack->usb_handler)
        g_object_unref(rack->usb_handler);
    if (rack->tty_handler)
        g_object_unref(rack->tty_handler);
    if (rack->nodes)
        g_hash_table_destroy(rack->nodes);
    if (rack->ports)
        g_hash_table_destroy(rack->ports);
    if (rack->last_stats)
        g_hash_table_destroy(rack->last_stats);
    g_free(rack->root);
    g_mutex_clear(&rack->lock);
    g_free(rack);
}

void vrack_set_verbose(struct vrack *rack, bool verbose)
{
    rack->verbose = verbose;
}

void vrack_set_event_handler(struct vrack *rack, vrack_event_fn fn, void *userdata)
{
    rack->event_fn = fn;
    rack->event_data = userdata;
}

const char *vrack_root_dir(const struct vrack *rack)
{
    return rack->root;
}

uint64_t vrack_timer_fires(struct vrack *rack)
{
    g_mutex_lock(&rack->lock);
    uint64_t n = rack->timer_fires;
    g_mutex_unlock(&rack->lock);
    return n;
}

bool vrack_port_busy(struct vrack *rack, const char *port)
{
    g_mutex_lock(&rack->lock);
    bool busy = g_hash_table_lookup(rack->ports, port) != NULL;
    g_mutex_unlock(&rack->lock);
    return busy;
}

/* "k=v\n" lines become one line; a value cannot hold spaces in the reply. */
static void append_one_line(GString *out, const char *text)
{
    bool first = true;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len) {
            if (!first)
                g_string_append_c(out, ' ');
            for (size_t i = 0; i < len; i++)
                g_string_append_c(out, line[i] == ' ' ? '_' : line[i]);
            first = false;
        }
        line += len + (nl ? 1 : 0);
    }
}

int vrack_stats(struct vrack *rack, const char *port, GString *out, char *err, size_t err_len)
{
    char buf[SIM_STATS_MAX];
    int r;
    unsigned opens = 0;
    g_mutex_lock(&rack->lock);
    struct vrack_dev *d = g_hash_table_lookup(rack->ports, port);
    if (!d || !d->user) {
        snprintf(err, err_len, "nothing plugged at %s", port);
        r = -ENOENT;
    } else if (!d->model) {
        snprintf(err, err_len, "%s has no model", port);
        r = -ENOENT;
    } else {
        opens = d->total_opens;
        r = sim_model_stats(d->model, buf, sizeof(buf));
        if (r < 0)
            snprintf(err, err_len, "model stats: %s", g_strerror(-r));
    }
    g_mutex_unlock(&rack->lock);
    if (r < 0)
        return r;
    /* Opens of the device's nodes by any client: an ignored port must stay at 0. */
    g_string_append_printf(out, "opens=%u ", opens);
    append_one_line(out, buf);
    return 0;
}

int vrack_last_stats(struct vrack *rack, const char *port, GString *out, char *err,
                     size_t err_len)
{
    g_mutex_lock(&rack->lock);
    const char *text = g_hash_table_lookup(rack->last_stats, port);
    if (text)
        append_one_line(out, text);
    g_mutex_unlock(&rack->lock);
    if (!text) {
        snprintf(err, err_len, "no model has left %s yet", port);
        return -ENOENT;
    }
    return 0;
}

static gint by_port(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(((const struct vrack_dev *)a)->port, ((const struct vrack_dev *)b)->port);
}

void vrack_list(struct vrack *rack, GString *out)
{
    g_mutex_lock(&rack->lock);
    GList *devs = g_hash_table_get_values(rack->ports);
    devs = g_list_sort(devs, by_port);
    bool first = true;
    for (GList *l = devs; l; l = l->next) {
        const struct vrack_dev *d = l->data;
        if (!d->user)
            continue;
        g_string_append_printf(out, "%s%s:%s", first ? "" : " ", d->port, d->profile->name);
        first = false;
    }
    g_list_free(devs);
    g_mutex_unlock(&rack->lock);
}
