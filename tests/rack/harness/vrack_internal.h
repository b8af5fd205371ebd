/* Shared between the harness files. Locking: rack->lock guards every field below except
 * those marked "main thread"; the usbfs and tty ioctl handlers run on umockdev's worker
 * thread, tty master I/O and timers on the main loop. */
#ifndef FLASHRACK_VRACK_INTERNAL_H
#define FLASHRACK_VRACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <umockdev.h>

#include "sim.h"
#include "vrack.h"

#define VRACK_MAX_IFS     8
#define VRACK_MAX_EPS     3 /* per interface */
#define VRACK_MAX_TTYS    4 /* per device */
#define VRACK_MAX_BUS     32
#define VRACK_MAX_DEPTH   7 /* USB allows 5 hub tiers below the root; keep a margin */
#define VRACK_PORT_MAX    32
#define VRACK_TTY_BUF     4096
#define VRACK_MAX_MINORS  256
#define VRACK_STR_MAX     64
#define VRACK_URB_MAX_LEN (16u << 20) /* a larger buffer_length is refused with EINVAL */

enum vrack_tty_kind {
    VRACK_TTY_NONE = 0,
    VRACK_TTY_ACM, /* ttyACMn under the interface (cdc_acm) */
    VRACK_TTY_USB, /* ttyUSBn under a usb-serial port device (option, qcserial, ...) */
};

struct vrack_ep_def {
    uint8_t addr;  /* 0x81 = IN 1 */
    uint8_t attrs; /* 2 bulk, 3 interrupt */
    uint16_t maxp;
    uint8_t interval;
};

struct vrack_if_def {
    uint8_t cls, subcls, proto;
    uint8_t n_eps;
    struct vrack_ep_def eps[VRACK_MAX_EPS];
    enum vrack_tty_kind tty;
    const char *driver; /* kernel driver bound at plug time; NULL: none */
    int chan;           /* model channel of this interface's endpoints, tty and CDC requests */
    int cdc_data_if;    /* CDC comm interface: its data interface (union descriptor); -1 */
    const char *label;  /* what the interface is for, shown in logs */
};

struct vrack_profile {
    const char *name, *summary;
    uint16_t vid, pid, bcd_device;
    uint8_t dev_class, dev_subclass, dev_proto;
    unsigned speed; /* sysfs "speed": 12, 480 */
    const char *manufacturer, *product;
    const char *model;      /* NULL: no model (hubs) */
    const char *model_opts; /* defaults, overridden by plug options */
    bool is_hub;
    uint8_t n_ifs;
    struct vrack_if_def ifs[VRACK_MAX_IFS];
};

struct vrack_dev;
struct vrack;

/* One open() of a usbfs node by a client process. */
struct vrack_client {
    UMockdevIoctlClient *client;
    struct vrack_dev *dev; /* NULL: opened a node we do not know (answers ENODEV) */
    GQueue inflight;       /* struct vrack_urb, submitted and not completed */
    GQueue reap;           /* completed, waiting for REAPURB */
    uint32_t claimed;      /* interface bits */
    bool reap_waiting;     /* a blocking REAPURB is parked */
};

struct vrack_urb {
    struct vrack_client *owner;
    UMockdevIoctlData *urb_data; /* client's struct usbdevfs_urb (local copy) */
    UMockdevIoctlData *buf_data; /* client's buffer; NULL for zero length */
    uint8_t type, ep;
    int chan;
    size_t len, done; /* OUT: bytes taken by the model so far */
    uint8_t *in_data; /* IN: staged data, copied into buf_data at reap time */
    size_t in_len;
    int status;
};

struct vrack_tty {
    struct vrack_dev *dev;
    char name[16];    /* "ttyACM0" */
    char devnode[32]; /* "/dev/ttyACM0" */
    char syspath[512];
    char port_syspath[512]; /* usb-serial port device (ttyUSB only), else "" */
    enum vrack_tty_kind kind;
    unsigned minor, ifnum;
    int chan;
    int master, slave;
    char pts[32];
    bool attached;             /* ioctl handler attached to devnode */
    guint in_watch, out_watch; /* main-loop sources on master; 0 = not armed */
    uint8_t rxbuf[VRACK_TTY_BUF];
    size_t rx_len;
    uint8_t txbuf[VRACK_TTY_BUF];
    size_t tx_len;
    unsigned opens;
    struct sim_line line;
};

struct vrack_dev {
    struct vrack *rack;
    gint refs; /* atomic: the rack's tables, each client, each queued action */
    char port[VRACK_PORT_MAX];
    const struct vrack_profile *profile;
    bool user; /* plugged by a command (false: a hub we created on the way) */
    unsigned bus, devnum;
    char syspath[512];
    char devnode[32];
    char pts[32];
    int master, slave; /* usbfs pty node */
    bool attached;     /* ioctl handler attached to devnode */
    bool flow_on;      /* tcflow state of the node */
    bool gone;         /* unplugged: every ioctl but REAP answers ENODEV */
    struct sim_model *model;
    char manufacturer[VRACK_STR_MAX], product[VRACK_STR_MAX], serial[VRACK_STR_MAX];
    uint8_t *desc;
    size_t desc_len;
    GQueue ep_in[16], ep_out[16]; /* struct vrack_urb waiting for the model */
    GList *clients;               /* struct vrack_client */
    struct vrack_tty *ttys[VRACK_MAX_TTYS];
    unsigned n_ttys;
    uint32_t detached;                   /* interfaces whose kernel driver a client disconnected */
    struct sim_line line[SIM_MAX_CHANS]; /* CDC control state per channel */
    uint64_t due_ms;                     /* model's next event, SIM_NEVER if none */
    bool warned_past_due;                /* said once that its model broke the sim.h contract */
    unsigned total_opens; /* every open() of its usbfs node or ttys, for "stats" (opens=N) */
};

struct vrack_node {
    struct vrack_dev *dev; /* usbfs node */
    struct vrack_tty *tty; /* or tty node */
};

struct vrack_bus {
    bool present;
    unsigned next_devnum;
    bool used[128];
};

struct vrack {
    GMutex lock;
    UMockdevTestbed *tb;
    char *root;
    UMockdevIoctlBase *usb_handler, *tty_handler;
    GHashTable *nodes; /* devnode -> struct vrack_node (owned) */
    GHashTable *ports; /* port -> struct vrack_dev (hubs too) */
    GHashTable *last_stats; /* port -> stats text of the model that last left it (owned) */
    struct vrack_bus bus[VRACK_MAX_BUS + 1];
    bool acm_used[VRACK_MAX_MINORS], usb_used[VRACK_MAX_MINORS];
    bool verbose;
    uint64_t t0_ms;
    /* timers: one main-loop timeout for the earliest model event */
    guint timer_id;        /* main thread */
    uint64_t timer_due_ms; /* main thread */
    uint64_t timer_fires;  /* model timer wake-ups so far ("rack-stats") */
    bool resched_queued;
    guint resched_id;
    /* model side effects, carried out on the main loop */
    GQueue actions; /* struct vrack_action */
    bool actions_queued;
    guint actions_id;
    GList *replugs; /* struct replug waiting for their timeout (main thread) */
    /* umockdev 0.17 never says when a client closes its fd ("client-vanished" is not
     * emitted, nor notify::connected), so open clients are polled for "connected". */
    GList *watched; /* struct vrack_watch */
    guint watch_id;
    vrack_event_fn event_fn;
    void *event_data;
};

/* profiles.c */
const struct vrack_profile *vrack_profile_find(const char *name);
const struct vrack_profile *vrack_hub_profile(bool root);
/* Device descriptor + configuration descriptor, as in sysfs "descriptors". */
int vrack_build_descriptors(const struct vrack_profile *p, uint8_t **ret, size_t *ret_len);
/* USB string descriptor index 1/2/3 as UTF-16LE. Returns length or -EPIPE. */
int vrack_string_descriptor(const struct vrack_dev *dev, unsigned index, uint8_t *out, size_t cap);
/* Paragraphs for umockdev_testbed_add_from_string(). */
void vrack_record_usb_device(GString *s, const struct vrack_dev *d);
void vrack_record_interface(GString *s, const struct vrack_dev *d, unsigned i);
void vrack_record_tty(GString *s, const struct vrack_tty *t);

/* device.c (callers hold rack->lock unless noted) */
void vrack_log(struct vrack *rack, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void vrack_dev_ref(struct vrack_dev *dev);
void vrack_dev_unref(struct vrack_dev *dev); /* may be called without the lock */
void vrack_pump(struct vrack_dev *dev);
void vrack_line_changed(struct vrack_dev *dev, int chan, const struct sim_line *line);
bool vrack_tty_active(const struct vrack_dev *dev, const struct vrack_tty *tty);
void vrack_timers_init(struct vrack *rack);
typedef void (*vrack_gone_fn)(struct vrack *rack, UMockdevIoctlClient *client);
/* Calls gone() on the main loop once the client closed its fd; holds a ref meanwhile. */
void vrack_watch_client(struct vrack *rack, UMockdevIoctlClient *client, vrack_gone_fn gone);
void vrack_watch_flush(struct vrack *rack); /* teardown: gone() for every watched client */
void vrack_timers_stop(struct vrack *rack); /* main thread, at teardown */

/* usbfs.c */
int vrack_usbfs_init(struct vrack *rack);
void vrack_urb_complete(struct vrack_urb *u, int status); /* moves it to the reap queue */
void vrack_usbfs_update_flow(struct vrack_dev *dev);
void vrack_usbfs_disconnect(struct vrack_dev *dev); /* complete everything with -ENODEV */

/* tty.c */
int vrack_tty_init(struct vrack *rack);
int vrack_tty_open_pty(struct vrack_tty *tty, char *err, size_t err_len);
bool vrack_tty_pump(struct vrack_tty *tty); /* true if bytes moved */
void vrack_tty_hangup(struct vrack_tty *tty);

/* topology.c */
int vrack_parse_port(const char *port, unsigned *bus, unsigned *ports, unsigned *depth);
/* Like vrack_unplug, hubs included (they must be empty). */
int vrack_unplug_any(struct vrack *rack, const char *port, char *err, size_t err_len);

#endif
