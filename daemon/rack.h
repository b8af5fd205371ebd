/* The rack: physical USB ports mapped to slots. A slot is a port path, not a device: a module
 * that re-enumerates (AT mode -> download mode -> AT mode) comes back to the same slot.
 * Devices on unmapped ports are listed as ignored and never opened.
 *
 * The rack is fed by two event sources that race each other: libusb hotplug (USB devices) and
 * the udev tty monitor (ttyUSB/ttyACM nodes, which appear after their USB device). It keeps
 * both lists and joins them by port path, so the order of arrival does not matter. */
#ifndef FLASHRACK_RACK_H
#define FLASHRACK_RACK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define RACK_PATH_MAX    32  /* "1-1.2.3.4.5.6.7" */
#define RACK_MAX_DEVICES 512 /* USB devices tracked at once, mapped or not */
#define RACK_MAX_TTYS    1024
#define RACK_STRING_MAX  64
/* Slots at once: a reload may add a whole new map while the old slots' modules finish. */
#define RACK_MAX_SLOTS (2 * CONFIG_MAX_SLOTS)

struct libusb_device;
struct db;
struct slot_job;

enum slot_state {
    SLOT_EMPTY = 0, /* nothing plugged */
    SLOT_ATTACHED,  /* a device is present; no job yet */
    SLOT_BUSY,      /* a job owns the slot (the workflow refines this into its stages) */
    SLOT_STATE_COUNT
};
const char *slot_state_to_string(enum slot_state state);

/* A serial node that belongs to a USB interface ("/dev/ttyUSB2" on 1-1.2 interface 3). */
struct rack_tty {
    char devnode[64];
    char sysname[32];
    char port_path[RACK_PATH_MAX];
    int interface_number;
    char driver[16]; /* "ttyUSB" or "ttyACM" style, from the node name */
};

struct rack_device {
    struct libusb_device *usb; /* referenced while tracked */
    uint8_t bus, address;
    uint16_t vid, pid;
    uint8_t device_class; /* bDeviceClass; hubs (9) are the rack itself, never slots */
    char port_path[RACK_PATH_MAX];
    char manufacturer[RACK_STRING_MAX]; /* from sysfs, never by opening the device */
    char product[RACK_STRING_MAX];
    char serial[RACK_STRING_MAX];
    uint64_t attached_unix_ms;
    const struct config_slot *slot; /* NULL: unmapped, ignored */
};

struct slot {
    struct config_slot cfg;
    enum slot_state state;
    uint64_t state_since_unix_ms;
    struct rack_device *device; /* NULL when empty */
    uint64_t attach_count;      /* how many devices this slot has seen */
    struct slot_job *job;       /* the job running on this slot, if any (slot_job.c) */
    /* Outcome of the slot's last job, for the operator ("" before the first one). */
    char last_result[16];   /* pass, fail, aborted */
    char last_message[256]; /* fail code, stage, message, what to do */
    int64_t last_attempt_id;
    uint64_t last_end_unix_ms;
    /* Config reload (daemon/reload.c). frozen: the slot was busy when the configuration
     * changed and keeps the mapping it had (its port wins over the new map's) until its module
     * is gone. removed: dropped by the new configuration, freed by rack_remap_devices. */
    int frozen;
    int removed;
    char module_port[RACK_PATH_MAX]; /* port of the last device attached here */
};

enum rack_event {
    RACK_EV_ATTACH,  /* device arrived on a mapped port */
    RACK_EV_DETACH,  /* device left a mapped port */
    RACK_EV_IGNORED, /* device arrived on an unmapped port (never opened) */
    RACK_EV_GONE,    /* an ignored device left */
    RACK_EV_PORTS,   /* a slot's tty set changed */
    RACK_EV_STATE,   /* a slot changed state */
};
const char *rack_event_to_string(enum rack_event ev);

/* Observers (workflow, HTTP live events) are told after the rack's own state changed.
 * slot is NULL for IGNORED/GONE. */
typedef void (*rack_listener_fn)(void *userdata, enum rack_event ev, struct slot *slot,
                                 const struct rack_device *device);

struct rack;

/* db may be NULL (tests); station_id is copied into slot event rows. */
int rack_new(const struct config *cfg, struct db *db, struct rack **ret);
void rack_free(struct rack *rack);
int rack_add_listener(struct rack *rack, rack_listener_fn fn, void *userdata);

/* Inputs (called on the loop thread by loop_usb / tty_monitor, or by tests). */
void rack_usb_arrived(struct rack *rack, const struct rack_device *device);
void rack_usb_left(struct rack *rack, uint8_t bus, uint8_t address);
void rack_tty_added(struct rack *rack, const struct rack_tty *tty);
void rack_tty_removed(struct rack *rack, const char *devnode);

/* Drops every libusb device reference the rack holds; call before the libusb context exits
 * (shutdown). Devices stay listed, without a handle to open them. */
void rack_drop_usb_refs(struct rack *rack);

void rack_set_slot_state(struct rack *rack, struct slot *slot, enum slot_state state);

/* Views for the API and the workflow. */
size_t rack_slot_count(const struct rack *rack);
struct slot *rack_slot(struct rack *rack, size_t index);
struct slot *rack_slot_by_label(struct rack *rack, const char *label);
/* The slot's index in rack_slot order (which a reload may change), SIZE_MAX if not listed. */
size_t rack_slot_index(const struct rack *rack, const struct slot *slot);
/* Ignored (unmapped) devices currently present. */
size_t rack_ignored_count(const struct rack *rack);
const struct rack_device *rack_ignored(const struct rack *rack, size_t index);
/* ttys that belong to port_path, in interface order; returns how many were written. */
size_t rack_ttys_for_port(const struct rack *rack, const char *port_path,
                          const struct rack_tty **out, size_t max);
const struct config *rack_config(const struct rack *rack);

/* Config reload (daemon/reload.c): the caller adds, updates (slot->cfg) and removes slots,
 * then rack_remap_devices joins every present device to the slot its port maps to now:
 * devices leave slots that no longer map them (never a frozen slot: listeners see DETACH),
 * devices on unmapped ports become ignored (never opened), newly mapped ones attach (ATTACH),
 * and removed slots are freed. Slot addresses stay valid until their slot is freed. */
int rack_slot_add(struct rack *rack, const struct config_slot *cs, struct slot **ret);
void rack_slot_remove(struct rack *rack, struct slot *slot);
void rack_remap_devices(struct rack *rack);
/* Slot order (the API's, the workflow's) = cfg's [slot] order; slots cfg lacks go last. */
void rack_sort_slots(struct rack *rack, const struct config *cfg);

/* "1-1.2" from bus 1 and port numbers {1, 2}; returns -ENAMETOOLONG / -EINVAL. */
int rack_format_port_path(uint8_t bus, const uint8_t *ports, int port_count, char *out,
                          size_t outlen);
/* Splits a USB interface sysname "1-1.2:1.3" into port path "1-1.2" and interface 3. */
int rack_parse_interface_name(const char *sysname, char *port_path, size_t len, int *ret_interface);

#endif
