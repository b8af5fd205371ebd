/* Ports, hubs and the sysfs/dev layout of plugged devices; plug and unplug in the order the
 * recipe measured (usb-test-harness.md §3.2): ioctl handler first, then the /dev node, then
 * the sysfs records (whose writing sends the "add" uevents, parents first); unplug marks the
 * device gone, hangs up its nodes, sends "remove" children first, then removes sysfs. */
#include "vrack_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PCI_ROOT "/sys/devices/pci0000:00/0000:00:14.0"

int vrack_parse_port(const char *port, unsigned *bus, unsigned *ports, unsigned *depth)
{
    const char *p = port;
    char *end;
    if (!port || strlen(port) >= VRACK_PORT_MAX || *p < '1' || *p > '9')
        return -EINVAL;
    unsigned long b = strtoul(p, &end, 10);
    if (b < 1 || b > VRACK_MAX_BUS || *end != '-')
        return -EINVAL;
    *bus = (unsigned)b;
    *depth = 0;
    p = end + 1;
    for (;;) {
        if (*p < '1' || *p > '9' || *depth == VRACK_MAX_DEPTH)
            return -EINVAL;
        unsigned long n = strtoul(p, &end, 10);
        if (n < 1 || n > 31)
            return -EINVAL;
        ports[(*depth)++] = (unsigned)n;
        if (*end == '\0')
            return 0;
        if (*end != '.')
            return -EINVAL;
        p = end + 1;
    }
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '\\')
            return false;
    return true;
}

static void add_link(struct vrack *rack, const char *devnode, const char *pts, const char *majmin)
{
    /* The node is a symlink to the pty slave, as umockdev does for ttys; the .ptymap entry
     * lets the preload report the right major:minor when the client stat()s it. */
    char *path = g_build_filename(rack->root, devnode, NULL);
    char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0755);
    unlink(path);
    if (symlink(pts, path) < 0)
        vrack_log(rack, "symlink %s: %s", path, g_strerror(errno));
    char *mapname = g_strdelimit(g_strdup(pts), "/", '_');
    char *mapdir = g_build_filename(rack->root, "dev", ".ptymap", NULL);
    char *map = g_build_filename(mapdir, mapname, NULL);
    g_mkdir_with_parents(mapdir, 0755);
    unlink(map);
    if (symlink(majmin, map) < 0)
        vrack_log(rack, "symlink %s: %s", map, g_strerror(errno));
    g_free(map);
    g_free(mapdir);
    g_free(mapname);
    g_free(dir);
    g_free(path);
}

static void drop_ptymap(struct vrack *rack, const char *pts)
{
    char *mapname = g_strdelimit(g_strdup(pts), "/", '_');
    char *map = g_build_filename(rack->root, "dev", ".ptymap", mapname, NULL);
    unlink(map);
    g_free(map);
    g_free(mapname);
}

static int attach(struct vrack *rack, const char *devnode, UMockdevIoctlBase *handler, char *err,
                  size_t err_len)
{
    /* A socket file left by an earlier device on the same node would make the listener
     * fail, so start from a clean path. */
    char *sock = g_build_filename(rack->root, "ioctl", devnode, NULL);
    unlink(sock);
    g_free(sock);
    GError *gerr = NULL;
    if (!umockdev_testbed_attach_ioctl(rack->tb, devnode, handler, &gerr)) {
        snprintf(err, err_len, "attach ioctl %s: %s", devnode, gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        return -EIO;
    }
    return 0;
}

static void detach(struct vrack *rack, const char *devnode)
{
    GError *gerr = NULL;
    if (!umockdev_testbed_detach_ioctl(rack->tb, devnode, &gerr))
        vrack_log(rack, "detach %s: %s", devnode, gerr ? gerr->message : "?");
    g_clear_error(&gerr);
}

static unsigned alloc_devnum(struct vrack_bus *b)
{
    /* Round robin like the kernel, so a re-plugged device gets a new address. */
    for (unsigned i = 0; i < 126; i++) {
        unsigned n = 2 + (b->next_devnum + i) % 126;
        if (!b->used[n]) {
            b->used[n] = true;
            b->next_devnum = n - 1;
            return n;
        }
    }
    return 0;
}

static int alloc_minor(bool *used)
{
    for (int i = 0; i < VRACK_MAX_MINORS; i++)
        if (!used[i]) {
            used[i] = true;
            return i;
        }
    return -ENOSPC;
}

/* Everything of a device below its own sysfs directory, children first. */
static void each_syspath(const struct vrack_dev *d, void (*fn)(struct vrack *, const char *))
{
    for (unsigned i = d->n_ttys; i-- > 0;) {
        fn(d->rack, d->ttys[i]->syspath);
        if (d->ttys[i]->kind == VRACK_TTY_USB)
            fn(d->rack, d->ttys[i]->port_syspath);
    }
    for (unsigned i = d->profile->n_ifs; i-- > 0;) {
        char *p = g_strdup_printf("%s/%s:1.%u", d->syspath, strrchr(d->syspath, '/') + 1, i);
        fn(d->rack, p);
        g_free(p);
    }
    fn(d->rack, d->syspath);
}

static void send_remove(struct vrack *rack, const char *syspath)
{
    umockdev_testbed_uevent(rack->tb, syspath, "remove");
}

static void remove_sysfs(struct vrack *rack, const char *syspath)
{
    umockdev_testbed_remove_device(rack->tb, syspath);
}

static void dev_forget(struct vrack_dev *d)
{
    /* lock held: the device leaves every table; ioctls on its open nodes now see "gone". */
    g_hash_table_remove(d->rack->nodes, d->devnode);
    for (unsigned i = 0; i < d->n_ttys; i++)
        g_hash_table_remove(d->rack->nodes, d->ttys[i]->devnode);
    if (g_hash_table_lookup(d->rack->ports, d->port) == d)
        g_hash_table_remove(d->rack->ports, d->port);
    if (d->model && d->user) {
        /* A module that reboots into another identity gets a new model; what the old one
         * saw (flash hashes, NV state) stays readable with "last-stats PORT". */
        char *text = g_malloc(SIM_STATS_MAX);
        if (sim_model_stats(d->model, text, SIM_STATS_MAX) >= 0)
            g_hash_table_replace(d->rack->last_stats, g_strdup(d->port), text);
        else
            g_free(text);
    }
    d->rack->bus[d->bus].used[d->devnum] = false;
    for (unsigned i = 0; i < d->n_ttys; i++) {
        bool *used = d->ttys[i]->kind == VRACK_TTY_ACM ? d->rack->acm_used : d->rack->usb_used;
        if (d->ttys[i]->name[0]) /* a minor was allocated */
            used[d->ttys[i]->minor] = false;
    }
}

/* Hang up, "remove" uevents children first, remove sysfs, detach handlers. Main thread. */
static void dev_teardown(struct vrack_dev *d, bool announced)
{
    struct vrack *rack = d->rack;
    g_mutex_lock(&rack->lock);
    d->gone = true;
    dev_forget(d);
    vrack_usbfs_disconnect(d);
    /* Closing the master hangs up the slave: libusb sees POLLERR and runs its disconnect
     * path; tty clients get EIO/POLLHUP. */
    if (d->master >= 0)
        close(d->master);
    if (d->slave >= 0)
        close(d->slave);
    d->master = d->slave = -1;
    for (unsigned i = 0; i < d->n_ttys; i++)
        vrack_tty_hangup(d->ttys[i]);
    g_mutex_unlock(&rack->lock);
    if (announced) {
        each_syspath(d, send_remove);
        each_syspath(d, remove_sysfs);
    }
    if (d->attached)
        detach(rack, d->devnode);
    if (d->pts[0])
        drop_ptymap(rack, d->pts);
    for (unsigned i = 0; i < d->n_ttys; i++) {
        if (d->ttys[i]->attached)
            detach(rack, d->ttys[i]->devnode);
        if (d->ttys[i]->pts[0])
            drop_ptymap(rack, d->ttys[i]->pts);
        if (!announced) {
            char *path = g_build_filename(rack->root, d->ttys[i]->devnode, NULL);
            unlink(path);
            g_free(path);
        }
    }
    if (!announced) {
        char *path = g_build_filename(rack->root, d->devnode, NULL);
        unlink(path);
        g_free(path);
    }
}

static int make_ttys(struct vrack_dev *d, char *err, size_t err_len)
{
    const struct vrack_profile *p = d->profile;
    const char *name = strrchr(d->syspath, '/') + 1;
    for (unsigned i = 0; i < p->n_ifs; i++) {
        const struct vrack_if_def *f = &p->ifs[i];
        if (f->tty == VRACK_TTY_NONE)
            continue;
        if (d->n_ttys == VRACK_MAX_TTYS) {
            snprintf(err, err_len, "profile %s has too many ttys", p->name);
            return -E2BIG;
        }
        struct vrack_tty *t = g_new0(struct vrack_tty, 1);
        d->ttys[d->n_ttys++] = t;
        t->dev = d;
        t->kind = f->tty;
        t->ifnum = i;
        t->chan = f->chan;
        t->master = t->slave = -1;
        g_mutex_lock(&d->rack->lock);
        int minor = alloc_minor(f->tty == VRACK_TTY_ACM ? d->rack->acm_used : d->rack->usb_used);
        g_mutex_unlock(&d->rack->lock);
        if (minor < 0) {
            snprintf(err, err_len, "no free tty number");
            return minor;
        }
        t->minor = (unsigned)minor;
        snprintf(t->name, sizeof(t->name), "tty%s%u", f->tty == VRACK_TTY_ACM ? "ACM" : "USB",
                 t->minor);
        snprintf(t->devnode, sizeof(t->devnode), "/dev/%s", t->name);
        /* ttyACM hangs under the interface, ttyUSB under a usb-serial port device. */
        int n1 = f->tty == VRACK_TTY_ACM ? snprintf(t->port_syspath, sizeof(t->port_syspath),
                                                    "%s/%s:1.%u", d->syspath, name, i)
                                         : snprintf(t->port_syspath, sizeof(t->port_syspath),
                                                    "%s/%s:1.%u/%s", d->syspath, name, i, t->name);
        int n2 = snprintf(t->syspath, sizeof(t->syspath), "%s/tty/%s", t->port_syspath, t->name);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(t->port_syspath) ||
            (size_t)n2 >= sizeof(t->syspath)) {
            snprintf(err, err_len, "sysfs path too long");
            return -ENAMETOOLONG;
        }
        int r = vrack_tty_open_pty(t, err, err_len);
        if (r < 0)
            return r;
        if ((r = attach(d->rack, t->devnode, d->rack->tty_handler, err, err_len)) < 0)
            return r;
        t->attached = true;
        char majmin[32];
        snprintf(majmin, sizeof(majmin), "%u:%u", f->tty == VRACK_TTY_ACM ? 166 : 188, t->minor);
        add_link(d->rack, t->devnode, t->pts, majmin);
    }
    return 0;
}

static int make_model(struct vrack_dev *d, const char *model, const char *const *opts, char *err,
                      size_t err_len)
{
    const struct vrack_profile *p = d->profile;
    GString *o = g_string_new(p->model_opts ? p->model_opts : "");
    for (size_t i = 0; opts && opts[i]; i++) {
        if (strchr(opts[i], ',')) {
            snprintf(err, err_len, "option '%s' contains a comma", opts[i]);
            g_string_free(o, TRUE);
            return -EINVAL;
        }
        g_string_append_printf(o, "%s%s", o->len ? "," : "", opts[i]);
    }
    char merr[SIM_ERR_MAX] = "";
    int r = sim_model_create(model, o->str, &d->model, merr, sizeof(merr));
    g_string_free(o, TRUE);
    if (r < 0) {
        snprintf(err, err_len, "%s", merr);
        return r;
    }
    for (unsigned i = 0; i < p->n_ifs; i++) {
        if (p->ifs[i].chan >= (int)sim_model_max_chans(d->model)) {
            snprintf(err, err_len, "model %s serves %u channel(s); %s interface %u needs %d", model,
                     sim_model_max_chans(d->model), p->name, i, p->ifs[i].chan);
            return -EINVAL;
        }
    }
    return 0;
}

/* Creates and announces one device. opts: the user's key=value list (may be NULL). */
static int create_device(struct vrack *rack, const char *port, unsigned bus, unsigned depth,
                         const struct vrack_profile *p, bool user, const char *const *opts,
                         struct vrack_dev **ret, char *err, size_t err_len)
{
    struct vrack_dev *d = g_new0(struct vrack_dev, 1);
    d->rack = rack;
    d->refs = 1;
    d->profile = p;
    d->user = user;
    d->bus = bus;
    d->master = d->slave = -1;
    d->due_ms = SIM_NEVER;
    g_strlcpy(d->port, port, sizeof(d->port));
    for (unsigned i = 0; i < 16; i++) {
        g_queue_init(&d->ep_in[i]);
        g_queue_init(&d->ep_out[i]);
    }
    const char *model = p->model;
    GPtrArray *mopts = g_ptr_array_new();
    g_strlcpy(d->manufacturer, p->manufacturer, sizeof(d->manufacturer));
    g_strlcpy(d->product, p->product, sizeof(d->product));
    if (depth == 0)
        snprintf(d->serial, sizeof(d->serial), "0000:00:14.0");
    else
        snprintf(d->serial, sizeof(d->serial), "FR%s", port);
    int r = 0;
    for (size_t i = 0; opts && opts[i] && r == 0; i++) {
        const char *eq = strchr(opts[i], '=');
        char *dst = NULL;
        if (!eq || eq == opts[i]) {
            snprintf(err, err_len, "option '%s' is not key=value", opts[i]);
            r = -EINVAL;
        } else if (g_str_has_prefix(opts[i], "model=")) {
            model = eq + 1;
        } else if (g_str_has_prefix(opts[i], "serial=")) {
            dst = d->serial;
        } else if (g_str_has_prefix(opts[i], "manufacturer=")) {
            dst = d->manufacturer;
        } else if (g_str_has_prefix(opts[i], "product=")) {
            dst = d->product;
        } else {
            g_ptr_array_add(mopts, (gpointer)opts[i]);
        }
        if (dst && (strlen(eq + 1) >= VRACK_STR_MAX || !printable(eq + 1) || !eq[1])) {
            snprintf(err, err_len, "option '%s': 1..%d printable characters", opts[i],
                     VRACK_STR_MAX - 1);
            r = -EINVAL;
        } else if (dst) {
            g_strlcpy(dst, eq + 1, VRACK_STR_MAX);
        }
    }
    g_ptr_array_add(mopts, NULL);
    if (r == 0 && model)
        r = make_model(d, model, (const char *const *)mopts->pdata, err, err_len);
    g_ptr_array_free(mopts, TRUE);
    if (r == 0)
        r = vrack_build_descriptors(p, &d->desc, &d->desc_len);

    g_mutex_lock(&rack->lock);
    d->devnum = depth == 0 ? 1 : alloc_devnum(&rack->bus[bus]);
    if (depth == 0)
        rack->bus[bus].used[1] = true;
    g_mutex_unlock(&rack->lock);
    if (r == 0 && d->devnum == 0) {
        snprintf(err, err_len, "bus %u has no free address", bus);
        r = -ENOSPC;
    }
    if (depth == 0)
        snprintf(d->syspath, sizeof(d->syspath), "%s/usb%u", PCI_ROOT, bus);
    else {
        /* The parent of "1-1.2" is "1-1"; of "1-1" the root hub "usb1". */
        const char *cut = strrchr(port, '.');
        char *pp = cut ? g_strndup(port, (gsize)(cut - port)) : g_strdup_printf("usb%u", bus);
        g_mutex_lock(&rack->lock);
        struct vrack_dev *parent = g_hash_table_lookup(rack->ports, pp);
        g_mutex_unlock(&rack->lock);
        int n =
            snprintf(d->syspath, sizeof(d->syspath), "%s/%s", parent ? parent->syspath : "?", port);
        if (r == 0 && (!parent || n < 0 || (size_t)n >= sizeof(d->syspath))) {
            snprintf(err, err_len, "no hub for %s", port);
            r = -ENOENT;
        }
        g_free(pp);
    }
    snprintf(d->devnode, sizeof(d->devnode), "/dev/bus/usb/%03u/%03u", bus, d->devnum);

    /* The order matters: handler, node, then sysfs (which announces the device). */
    if (r == 0)
        r = attach(rack, d->devnode, rack->usb_handler, err, err_len);
    d->attached = r == 0;
    if (r == 0) {
        struct vrack_tty node = {.master = -1, .slave = -1};
        r = vrack_tty_open_pty(&node, err, err_len);
        d->master = node.master;
        d->slave = node.slave;
        g_strlcpy(d->pts, node.pts, sizeof(d->pts));
        if (r == 0) {
            tcflow(d->slave, TCOOFF); /* no URB to reap yet: not writable */
            char majmin[32];
            snprintf(majmin, sizeof(majmin), "189:%u", (bus - 1) * 128 + d->devnum - 1);
            add_link(rack, d->devnode, d->pts, majmin);
        }
    }
    if (r == 0)
        r = make_ttys(d, err, err_len);
    if (r < 0) {
        dev_teardown(d, false);
        vrack_dev_unref(d);
        return r;
    }

    g_mutex_lock(&rack->lock);
    struct vrack_node *n = g_new0(struct vrack_node, 1);
    n->dev = d;
    g_hash_table_insert(rack->nodes, g_strdup(d->devnode), n);
    for (unsigned i = 0; i < d->n_ttys; i++) {
        n = g_new0(struct vrack_node, 1);
        n->tty = d->ttys[i];
        g_hash_table_insert(rack->nodes, g_strdup(d->ttys[i]->devnode), n);
    }
    g_hash_table_insert(rack->ports, g_strdup(d->port), d);
    if (d->model)
        sim_model_start(d->model, vrack_now_ms());
    vrack_pump(d);
    g_mutex_unlock(&rack->lock);

    GString *rec = g_string_new(NULL);
    vrack_record_usb_device(rec, d);
    for (unsigned i = 0; i < p->n_ifs; i++)
        vrack_record_interface(rec, d, i);
    for (unsigned i = 0; i < d->n_ttys; i++)
        vrack_record_tty(rec, d->ttys[i]);
    GError *gerr = NULL;
    vrack_log(rack, "announce %s", port); /* the "add" uevents go out during the next call */
    bool ok = umockdev_testbed_add_from_string(rack->tb, rec->str, &gerr);
    g_string_free(rec, TRUE);
    if (!ok) {
        snprintf(err, err_len, "testbed: %s", gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        dev_teardown(d, true);
        vrack_dev_unref(d);
        return -EIO;
    }
    g_mutex_lock(&rack->lock);
    for (unsigned i = 0; i < d->n_ttys; i++)
        vrack_tty_pump(d->ttys[i]); /* arms the master watch */
    g_mutex_unlock(&rack->lock);
    vrack_log(rack, "plug %s %s bus=%u dev=%u%s%s", port, p->name, bus, d->devnum,
              d->n_ttys ? " tty=" : "", d->n_ttys ? d->ttys[0]->name : "");
    *ret = d;
    return 0;
}

/* Root hub and hubs on the way to port, created on demand. */
static int ensure_hubs(struct vrack *rack, unsigned bus, const unsigned *ports, unsigned depth,
                       char *err, size_t err_len)
{
    for (unsigned level = 0; level < depth; level++) {
        char hub[VRACK_PORT_MAX];
        if (level == 0) {
            snprintf(hub, sizeof(hub), "usb%u", bus);
        } else {
            int n = snprintf(hub, sizeof(hub), "%u-%u", bus, ports[0]);
            for (unsigned i = 1; i < level; i++)
                n += snprintf(hub + n, sizeof(hub) - (size_t)n, ".%u", ports[i]);
        }
        g_mutex_lock(&rack->lock);
        struct vrack_dev *d = g_hash_table_lookup(rack->ports, hub);
        g_mutex_unlock(&rack->lock);
        if (d && !d->profile->is_hub) {
            snprintf(err, err_len, "%s holds a %s, not a hub", hub, d->profile->name);
            return -ENOTDIR;
        }
        if (d)
            continue;
        int r = create_device(rack, hub, bus, level, vrack_hub_profile(level == 0), false, NULL, &d,
                              err, err_len);
        if (r < 0)
            return r;
        rack->bus[bus].present = true;
    }
    return 0;
}

int vrack_plug(struct vrack *rack, const char *port, const char *profile, const char *const *opts,
               unsigned *ret_bus, unsigned *ret_devnum, char *err, size_t err_len)
{
    unsigned bus, ports[VRACK_MAX_DEPTH], depth;
    if (vrack_parse_port(port, &bus, ports, &depth) < 0) {
        snprintf(err, err_len, "bad port '%s' (want B-P[.P...], bus 1..%d, ports 1..31)", port,
                 VRACK_MAX_BUS);
        return -EINVAL;
    }
    const struct vrack_profile *p = vrack_profile_find(profile);
    if (!p) {
        snprintf(err, err_len, "unknown profile '%s'", profile);
        return -ENOENT;
    }
    if (vrack_port_busy(rack, port)) {
        snprintf(err, err_len, "%s is in use", port);
        return -EBUSY;
    }
    int r = ensure_hubs(rack, bus, ports, depth, err, err_len);
    if (r < 0)
        return r;
    struct vrack_dev *d;
    r = create_device(rack, port, bus, depth, p, true, opts, &d, err, err_len);
    if (r < 0)
        return r;
    *ret_bus = d->bus;
    *ret_devnum = d->devnum;
    return 0;
}

static bool has_children(struct vrack *rack, const char *port)
{
    GHashTableIter it;
    gpointer key, value;
    size_t len = strlen(port);
    g_hash_table_iter_init(&it, rack->ports);
    while (g_hash_table_iter_next(&it, &key, &value))
        if (strncmp(key, port, len) == 0 && ((const char *)key)[len] == '.')
            return true;
    return false;
}

/* Any device, hubs included (vrack_free takes hubs down too). */
int vrack_unplug_any(struct vrack *rack, const char *port, char *err, size_t err_len)
{
    g_mutex_lock(&rack->lock);
    struct vrack_dev *d = g_hash_table_lookup(rack->ports, port);
    bool busy = d && has_children(rack, port);
    g_mutex_unlock(&rack->lock);
    if (!d) {
        snprintf(err, err_len, "nothing plugged at %s", port);
        return -ENOENT;
    }
    if (busy) {
        snprintf(err, err_len, "%s is a hub with devices behind it", port);
        return -EBUSY;
    }
    uint64_t t = vrack_now_ms();
    dev_teardown(d, true);
    vrack_log(rack, "unplug %s %s (took %u ms)", port, d->profile->name,
              (unsigned)(vrack_now_ms() - t));
    vrack_dev_unref(d);
    return 0;
}

int vrack_unplug(struct vrack *rack, const char *port, char *err, size_t err_len)
{
    g_mutex_lock(&rack->lock);
    struct vrack_dev *d = g_hash_table_lookup(rack->ports, port);
    bool user = d && d->user;
    g_mutex_unlock(&rack->lock);
    if (d && !user) {
        snprintf(err, err_len, "%s is a hub the rack created", port);
        return -EPERM;
    }
    return vrack_unplug_any(rack, port, err, err_len);
}
