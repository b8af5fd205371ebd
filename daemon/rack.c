/* Slots, devices and ttys, joined by physical port path. See rack.h for the model. */
#include "rack.h"

#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "event_bus.h"
#include "log.h"
#include "station.h"

#define RACK_MAX_LISTENERS 8

struct rack_listener {
    rack_listener_fn fn;
    void *userdata;
};

struct rack {
    const struct config *cfg;
    struct db *db;
    struct slot **slots; /* RACK_MAX_SLOTS; each slot keeps its address for its whole life */
    size_t slot_count;
    struct rack_device *devices[RACK_MAX_DEVICES];
    size_t device_count;
    struct rack_tty *ttys; /* RACK_MAX_TTYS */
    size_t tty_count;
    struct rack_listener listeners[RACK_MAX_LISTENERS];
    size_t listener_count;
};

static const char *const slot_state_names[SLOT_STATE_COUNT] = {
    [SLOT_EMPTY] = "empty",
    [SLOT_ATTACHED] = "attached",
    [SLOT_BUSY] = "busy",
};

const char *slot_state_to_string(enum slot_state state)
{
    return (unsigned)state < SLOT_STATE_COUNT ? slot_state_names[state] : "unknown";
}

const char *rack_event_to_string(enum rack_event ev)
{
    switch (ev) {
    case RACK_EV_ATTACH:
        return "attach";
    case RACK_EV_DETACH:
        return "detach";
    case RACK_EV_IGNORED:
        return "ignored";
    case RACK_EV_GONE:
        return "gone";
    case RACK_EV_PORTS:
        return "ports";
    case RACK_EV_STATE:
        return "state";
    }
    return "unknown";
}

int rack_format_port_path(uint8_t bus, const uint8_t *ports, int port_count, char *out,
                          size_t outlen)
{
    if (port_count < 1 || port_count > 7)
        return -EINVAL;
    int n = snprintf(out, outlen, "%u-%u", bus, ports[0]);
    for (int i = 1; i < port_count && n > 0 && (size_t)n < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, ".%u", ports[i]);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return 0;
}

int rack_parse_interface_name(const char *sysname, char *port_path, size_t len, int *ret_interface)
{
    /* "<bus>-<port>[.<port>]*:<config>.<interface>" */
    const char *colon = strchr(sysname, ':');
    if (!colon || colon == sysname || (size_t)(colon - sysname) >= len)
        return -EINVAL;
    const char *p = sysname;
    int seen_dash = 0;
    for (; p < colon; p++) {
        if (*p == '-' && !seen_dash && p != sysname)
            seen_dash = 1;
        else if (!((*p >= '0' && *p <= '9') || (*p == '.' && seen_dash)))
            return -EINVAL;
    }
    const char *dot = strchr(colon + 1, '.');
    if (!seen_dash || !dot || dot == colon + 1 || !dot[1])
        return -EINVAL;
    int iface = 0;
    for (const char *q = dot + 1; *q; q++) {
        if (*q < '0' || *q > '9' || iface > 255)
            return -EINVAL;
        iface = iface * 10 + (*q - '0');
    }
    memcpy(port_path, sysname, (size_t)(colon - sysname));
    port_path[colon - sysname] = '\0';
    *ret_interface = iface;
    return 0;
}

int rack_new(const struct config *cfg, struct db *db, struct rack **ret)
{
    struct rack *rack = calloc(1, sizeof(*rack));
    if (!rack)
        return -ENOMEM;
    rack->cfg = cfg;
    rack->db = db;
    rack->slots = calloc(RACK_MAX_SLOTS, sizeof(*rack->slots));
    rack->ttys = calloc(RACK_MAX_TTYS, sizeof(*rack->ttys));
    if (!rack->slots || !rack->ttys) {
        rack_free(rack);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->slot_count; i++) {
        int r = rack_slot_add(rack, &cfg->slots[i], NULL);
        if (r < 0) {
            rack_free(rack);
            return r;
        }
    }
    *ret = rack;
    return 0;
}

void rack_free(struct rack *rack)
{
    if (!rack)
        return;
    for (size_t i = 0; i < rack->device_count; i++) {
        if (rack->devices[i]->usb)
            libusb_unref_device(rack->devices[i]->usb);
        free(rack->devices[i]);
    }
    for (size_t i = 0; i < rack->slot_count; i++)
        free(rack->slots[i]);
    free(rack->slots);
    free(rack->ttys);
    free(rack);
}

void rack_drop_usb_refs(struct rack *rack)
{
    for (size_t i = 0; i < rack->device_count; i++) {
        if (rack->devices[i]->usb)
            libusb_unref_device(rack->devices[i]->usb);
        rack->devices[i]->usb = NULL;
    }
}

int rack_add_listener(struct rack *rack, rack_listener_fn fn, void *userdata)
{
    if (rack->listener_count >= RACK_MAX_LISTENERS)
        return -ENOSPC;
    rack->listeners[rack->listener_count++] = (struct rack_listener){fn, userdata};
    return 0;
}

static void notify(struct rack *rack, enum rack_event ev, struct slot *slot,
                   const struct rack_device *dev)
{
    for (size_t i = 0; i < rack->listener_count; i++)
        rack->listeners[i].fn(rack->listeners[i].userdata, ev, slot, dev);
}

static json_t *device_detail(const struct rack_device *dev)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i}", "manufacturer", dev->manufacturer, "product",
                     dev->product, "serial", dev->serial, "bus", dev->bus, "address", dev->address);
}

/* The timeline is a record: a failure to write it is logged, never silent, never fatal. */
static void record(struct rack *rack, enum rack_event ev, const struct slot *slot,
                   const char *port_path, uint16_t vid, uint16_t pid, json_t *detail)
{
    if (!rack->db) {
        json_decref(detail);
        return;
    }
    struct db_slot_event e;
    memset(&e, 0, sizeof(e));
    e.ts_unix_ms = station_now_unix_ms();
    snprintf(e.station_id, sizeof(e.station_id), "%s", rack->cfg->station_id);
    snprintf(e.slot, sizeof(e.slot), "%s", slot ? slot->cfg.label : "");
    snprintf(e.usb_path, sizeof(e.usb_path), "%s", port_path);
    snprintf(e.event, sizeof(e.event), "%s", rack_event_to_string(ev));
    e.vid = vid;
    e.pid = pid;
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (text)
        snprintf(e.detail, sizeof(e.detail), "%s", text);
    free(text);
    int r = db_slot_event_insert(rack->db, &e, NULL);
    if (r < 0)
        log_slot(LOG_LEVEL_ERR, e.slot, port_path, "cannot record %s event: %s (%s)", e.event,
                 strerror(-r), db_last_error(rack->db));
    else
        event_bus_poke(); /* live event streams */
}

static struct slot *slot_for_device(struct rack *rack, const struct rack_device *dev)
{
    for (size_t i = 0; i < rack->slot_count; i++)
        if (rack->slots[i]->device == dev)
            return rack->slots[i];
    return NULL;
}

void rack_set_slot_state(struct rack *rack, struct slot *slot, enum slot_state state)
{
    if (slot->state == state)
        return;
    slot->state = state;
    slot->state_since_unix_ms = station_now_unix_ms();
    notify(rack, RACK_EV_STATE, slot, slot->device);
}

/* Exact paths win over globs (as in config_slot_for_port). A slot frozen by a reload comes
 * first on the port its module is on, so a module whose attempt outlives the reload comes back
 * to it from each re-enumeration (whatever the new map says about that port); elsewhere it
 * wins ties with its old pattern. */
static struct slot *slot_for_port(struct rack *rack, const char *port_path)
{
    for (size_t i = 0; i < rack->slot_count; i++) {
        struct slot *s = rack->slots[i];
        if (s->frozen && !s->removed && strcmp(s->module_port, port_path) == 0)
            return s;
    }
    for (int glob = 0; glob < 2; glob++)
        for (int frozen = 1; frozen >= 0; frozen--)
            for (size_t i = 0; i < rack->slot_count; i++) {
                struct slot *s = rack->slots[i];
                if (s->removed || (s->frozen != 0) != frozen)
                    continue;
                if (glob ? fnmatch(s->cfg.port, port_path, 0) == 0
                         : strcmp(s->cfg.port, port_path) == 0)
                    return s;
            }
    return NULL;
}

static void ignore(struct rack *rack, struct rack_device *dev);
static void attach(struct rack *rack, struct slot *slot, struct rack_device *dev);

void rack_usb_arrived(struct rack *rack, const struct rack_device *in)
{
    if (in->device_class == LIBUSB_CLASS_HUB) {
        /* The rack's own hubs: neither a slot nor an ignored module. */
        log_debug("rack: hub %04x:%04x at %s", in->vid, in->pid, in->port_path);
        return;
    }
    for (size_t i = 0; i < rack->device_count; i++) {
        const struct rack_device *d = rack->devices[i];
        if (d->bus == in->bus && d->address == in->address) {
            log_debug("rack: %s (bus %u address %u) already known", in->port_path, in->bus,
                      in->address);
            return;
        }
    }
    if (rack->device_count >= RACK_MAX_DEVICES) {
        log_err("rack: more than %d USB devices; %s not tracked", RACK_MAX_DEVICES, in->port_path);
        return;
    }
    struct rack_device *dev = malloc(sizeof(*dev));
    if (!dev) {
        log_err("rack: out of memory tracking %s", in->port_path);
        return;
    }
    *dev = *in;
    if (dev->usb)
        libusb_ref_device(dev->usb);
    if (!dev->attached_unix_ms)
        dev->attached_unix_ms = station_now_unix_ms();
    rack->devices[rack->device_count++] = dev;

    struct slot *slot = slot_for_port(rack, dev->port_path);
    if (slot && slot->device) {
        /* Two devices on one slot can only happen with a glob pattern. The second is kept
         * off the slot and treated like an unmapped port: never opened. */
        log_slot(LOG_LEVEL_WARNING, slot->cfg.label, dev->port_path,
                 "slot already holds %s; %04x:%04x ignored", slot->device->port_path, dev->vid,
                 dev->pid);
        slot = NULL;
    }
    if (!slot) {
        ignore(rack, dev);
        return;
    }
    attach(rack, slot, dev);
}

static void ignore(struct rack *rack, struct rack_device *dev)
{
    dev->slot = NULL;
    log_slot(LOG_LEVEL_NOTICE, NULL, dev->port_path,
             "%04x:%04x %s on an unmapped port: ignored, not opened", dev->vid, dev->pid,
             dev->product);
    record(rack, RACK_EV_IGNORED, NULL, dev->port_path, dev->vid, dev->pid, device_detail(dev));
    notify(rack, RACK_EV_IGNORED, NULL, dev);
}

static void attach(struct rack *rack, struct slot *slot, struct rack_device *dev)
{
    dev->slot = &slot->cfg;
    slot->device = dev;
    slot->attach_count++;
    snprintf(slot->module_port, sizeof(slot->module_port), "%s", dev->port_path);
    log_slot(LOG_LEVEL_INFO, slot->cfg.label, dev->port_path, "attached %04x:%04x %s %s", dev->vid,
             dev->pid, dev->manufacturer, dev->product);
    record(rack, RACK_EV_ATTACH, slot, dev->port_path, dev->vid, dev->pid, device_detail(dev));
    slot->state = SLOT_ATTACHED;
    slot->state_since_unix_ms = station_now_unix_ms();
    notify(rack, RACK_EV_ATTACH, slot, dev);
}

void rack_usb_left(struct rack *rack, uint8_t bus, uint8_t address)
{
    size_t i;
    for (i = 0; i < rack->device_count; i++)
        if (rack->devices[i]->bus == bus && rack->devices[i]->address == address)
            break;
    if (i == rack->device_count) {
        log_debug("rack: unknown device bus %u address %u left", bus, address);
        return;
    }
    struct rack_device *dev = rack->devices[i];
    rack->devices[i] = rack->devices[--rack->device_count];
    struct slot *slot = slot_for_device(rack, dev);
    if (slot) {
        log_slot(LOG_LEVEL_INFO, slot->cfg.label, dev->port_path, "detached %04x:%04x", dev->vid,
                 dev->pid);
        record(rack, RACK_EV_DETACH, slot, dev->port_path, dev->vid, dev->pid, NULL);
        /* Listeners see the device one last time, then the slot is empty. */
        notify(rack, RACK_EV_DETACH, slot, dev);
        slot->device = NULL;
        slot->state = SLOT_EMPTY;
        slot->state_since_unix_ms = station_now_unix_ms();
    } else {
        log_slot(LOG_LEVEL_INFO, NULL, dev->port_path, "ignored %04x:%04x left", dev->vid,
                 dev->pid);
        record(rack, RACK_EV_GONE, NULL, dev->port_path, dev->vid, dev->pid, NULL);
        notify(rack, RACK_EV_GONE, NULL, dev);
    }
    if (dev->usb)
        libusb_unref_device(dev->usb);
    free(dev);
}

static struct rack_device *device_on_port(struct rack *rack, const char *port_path)
{
    for (size_t i = 0; i < rack->device_count; i++)
        if (strcmp(rack->devices[i]->port_path, port_path) == 0)
            return rack->devices[i];
    return NULL;
}

static void ports_changed(struct rack *rack, const char *port_path)
{
    struct rack_device *dev = device_on_port(rack, port_path);
    struct slot *slot = dev ? slot_for_device(rack, dev) : NULL;
    if (!slot)
        return;
    const struct rack_tty *ttys[16];
    size_t n = rack_ttys_for_port(rack, port_path, ttys, 16);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:i}", "devnode", ttys[i]->devnode,
                                              "interface", ttys[i]->interface_number));
    record(rack, RACK_EV_PORTS, slot, port_path, dev->vid, dev->pid,
           json_pack("{s:o}", "ttys", list));
    notify(rack, RACK_EV_PORTS, slot, dev);
}

void rack_tty_added(struct rack *rack, const struct rack_tty *tty)
{
    for (size_t i = 0; i < rack->tty_count; i++) {
        if (strcmp(rack->ttys[i].devnode, tty->devnode) == 0) {
            if (strcmp(rack->ttys[i].port_path, tty->port_path) == 0 &&
                rack->ttys[i].interface_number == tty->interface_number)
                return; /* duplicate report (initial scan racing the monitor) */
            rack_tty_removed(rack, tty->devnode);
            break;
        }
    }
    if (rack->tty_count >= RACK_MAX_TTYS) {
        log_err("rack: more than %d ttys; %s not tracked", RACK_MAX_TTYS, tty->devnode);
        return;
    }
    rack->ttys[rack->tty_count++] = *tty;
    log_debug("rack: %s is interface %d of %s", tty->devnode, tty->interface_number,
              tty->port_path);
    ports_changed(rack, tty->port_path);
}

void rack_tty_removed(struct rack *rack, const char *devnode)
{
    for (size_t i = 0; i < rack->tty_count; i++) {
        if (strcmp(rack->ttys[i].devnode, devnode) == 0) {
            char port_path[RACK_PATH_MAX];
            snprintf(port_path, sizeof(port_path), "%s", rack->ttys[i].port_path);
            rack->ttys[i] = rack->ttys[--rack->tty_count];
            ports_changed(rack, port_path);
            return;
        }
    }
}

size_t rack_slot_count(const struct rack *rack)
{
    return rack->slot_count;
}

struct slot *rack_slot(struct rack *rack, size_t index)
{
    return index < rack->slot_count ? rack->slots[index] : NULL;
}

struct slot *rack_slot_by_label(struct rack *rack, const char *label)
{
    for (size_t i = 0; i < rack->slot_count; i++)
        if (strcmp(rack->slots[i]->cfg.label, label) == 0 && !rack->slots[i]->removed)
            return rack->slots[i];
    return NULL;
}

size_t rack_slot_index(const struct rack *rack, const struct slot *slot)
{
    for (size_t i = 0; i < rack->slot_count; i++)
        if (rack->slots[i] == slot)
            return i;
    return SIZE_MAX;
}

size_t rack_ignored_count(const struct rack *rack)
{
    size_t n = 0;
    for (size_t i = 0; i < rack->device_count; i++)
        if (!rack->devices[i]->slot)
            n++;
    return n;
}

const struct rack_device *rack_ignored(const struct rack *rack, size_t index)
{
    for (size_t i = 0; i < rack->device_count; i++)
        if (!rack->devices[i]->slot && index-- == 0)
            return rack->devices[i];
    return NULL;
}

static int tty_cmp(const void *a, const void *b)
{
    const struct rack_tty *const *x = a, *const *y = b;
    return (*x)->interface_number - (*y)->interface_number;
}

size_t rack_ttys_for_port(const struct rack *rack, const char *port_path,
                          const struct rack_tty **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < rack->tty_count && n < max; i++)
        if (strcmp(rack->ttys[i].port_path, port_path) == 0)
            out[n++] = &rack->ttys[i];
    qsort(out, n, sizeof(*out), tty_cmp);
    return n;
}

const struct config *rack_config(const struct rack *rack)
{
    return rack->cfg;
}

/* ---- config reload (daemon/reload.c) ------------------------------------------------------ */

int rack_slot_add(struct rack *rack, const struct config_slot *cs, struct slot **ret)
{
    if (rack->slot_count >= RACK_MAX_SLOTS)
        return -ENOSPC;
    struct slot *slot = calloc(1, sizeof(*slot));
    if (!slot)
        return -ENOMEM;
    slot->cfg = *cs;
    slot->state = SLOT_EMPTY;
    slot->state_since_unix_ms = station_now_unix_ms();
    rack->slots[rack->slot_count++] = slot;
    if (ret)
        *ret = slot;
    return 0;
}

void rack_slot_remove(struct rack *rack, struct slot *slot)
{
    (void)rack;
    slot->removed = 1;
}

/* The slot's device leaves it because the map changed; the device itself stays present. */
static void detach_for_reload(struct rack *rack, struct slot *slot)
{
    struct rack_device *dev = slot->device;
    log_slot(LOG_LEVEL_INFO, slot->cfg.label, dev->port_path,
             "%04x:%04x leaves the slot: the new configuration %s", dev->vid, dev->pid,
             slot->removed ? "removed the slot" : "maps its port elsewhere");
    record(rack, RACK_EV_DETACH, slot, dev->port_path, dev->vid, dev->pid,
           json_pack("{s:s}", "reason", "config reload"));
    notify(rack, RACK_EV_DETACH, slot, dev);
    slot->device = NULL;
    slot->state = SLOT_EMPTY;
    slot->state_since_unix_ms = station_now_unix_ms();
    dev->slot = NULL;
}

void rack_remap_devices(struct rack *rack)
{
    unsigned char was_mapped[RACK_MAX_DEVICES];
    for (size_t i = 0; i < rack->device_count; i++)
        was_mapped[i] = rack->devices[i]->slot != NULL;
    /* Leave first, so a port that moved from one slot to another is free to join. */
    for (size_t i = 0; i < rack->slot_count; i++) {
        struct slot *s = rack->slots[i];
        if (s->device && !s->frozen &&
            (s->removed || slot_for_port(rack, s->device->port_path) != s))
            detach_for_reload(rack, s);
    }
    for (size_t i = 0; i < rack->device_count; i++) {
        struct rack_device *dev = rack->devices[i];
        if (slot_for_device(rack, dev))
            continue;
        struct slot *s = slot_for_port(rack, dev->port_path);
        if (s && !s->device)
            attach(rack, s, dev);
        else if (was_mapped[i])
            ignore(rack, dev); /* unmapped now: listed as ignored, never opened */
    }
    size_t n = 0;
    for (size_t i = 0; i < rack->slot_count; i++) {
        if (rack->slots[i]->removed && !rack->slots[i]->device)
            free(rack->slots[i]);
        else
            rack->slots[n++] = rack->slots[i];
    }
    rack->slot_count = n;
}

static size_t config_index(const struct config *cfg, const char *label)
{
    for (size_t i = 0; i < cfg->slot_count; i++)
        if (strcmp(cfg->slots[i].label, label) == 0)
            return i;
    return SIZE_MAX; /* kept only until its module is gone: shown last */
}

void rack_sort_slots(struct rack *rack, const struct config *cfg)
{
    /* Insertion sort: stable (slots the config no longer lists keep their order), n <= 512. */
    for (size_t i = 1; i < rack->slot_count; i++) {
        struct slot *s = rack->slots[i];
        size_t key = config_index(cfg, s->cfg.label);
        size_t k = i;
        while (k > 0 && config_index(cfg, rack->slots[k - 1]->cfg.label) > key) {
            rack->slots[k] = rack->slots[k - 1];
            k--;
        }
        rack->slots[k] = s;
    }
}
