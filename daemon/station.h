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

struct station {
    uv_loop_t *loop;
    struct config cfg;
    struct db *db;
    struct rack *rack;
    struct usb_loop *usb;
    struct tty_monitor *ttys;
    struct http_server *http;
    struct workflow *workflow;
    uint64_t started_unix_ms;
    int stopping; /* shutdown in progress: no new jobs */
    /* Called by slot_job.c when the last running job finished while stopping. */
    void (*jobs_drained)(struct station *st);
};

uint64_t station_now_unix_ms(void);

#endif
