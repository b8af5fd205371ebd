/* The station: everything the loop thread owns, in one place. One instance per process. */
#ifndef FLASHRACK_STATION_H
#define FLASHRACK_STATION_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

struct rack;
struct db;
struct usb_loop;
struct tty_monitor;
struct http_server;
struct workflow;
struct pkg_catalog;
struct loop_health;

/* The job context (PUT /api/v1/context): stamped on every attempt that starts after it was
 * set. Saved in the settings table and restored at start-up (api_control_restore). Sizes are
 * DB_LABEL_SIZE. */
struct station_context {
    char work_order[64];
    char lot[64];
    char operator_name[64];
    uint64_t updated_unix_ms; /* 0 = never set */
    char updated_by[64];      /* the token name that set it last */
};

struct station {
    uv_loop_t *loop;
    struct config cfg;
    struct db *db;
    struct rack *rack;
    struct usb_loop *usb;
    struct tty_monitor *ttys;
    struct http_server *http;
    struct workflow *workflow;
    struct pkg_catalog *packages; /* the API's packages and recipes (pkg_catalog.h) */
    struct loop_health *health;   /* the loop's lag and busy time (flashrackd only; may be NULL) */
    uint64_t started_unix_ms;
    struct station_context context;
    int stopping; /* shutdown in progress: no new jobs */
    /* Called by slot_job.c when the last running job finished while stopping. */
    void (*jobs_drained)(struct station *st);
};

uint64_t station_now_unix_ms(void);

#endif
