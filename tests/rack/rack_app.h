/* State shared by the parts of flashrack-rack (rack.c, commands.c). Main thread. */
#ifndef FLASHRACK_RACK_APP_H
#define FLASHRACK_RACK_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct vrack;

struct rack_app {
    struct vrack *rack;
    GMainLoop *loop;
    bool verbose, demo;
    char **daemon_argv; /* NULL: no daemon, the rack alone */
    int log_fd;         /* daemon stdout/stderr, -1: the rack's stderr */
    /* daemon state */
    GPid pid;
    bool running;
    bool have_status; /* status holds the last exit (a waitpid status) */
    int status;
    bool exit_seen; /* the last exit was reported by wait-exit */
    bool ready, stopping;
    char *daemon_status; /* last STATUS= */
    uint64_t spawn_ms;
    /* NOTIFY_SOCKET */
    char *tmpdir, *notify_path;
    int notify_fd;
    guint notify_watch;
    int exit_code;
};

struct rack_app *rack_app(void);
void rack_reply(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
const char *rack_signal_name(int sig);
int rack_spawn_daemon(char *err, size_t err_len);

/* uevent_send.c: uevents that found a listener's queue full (sent late, or dropped) */
struct rack_uevent_stats {
    uint64_t waited, max_wait_ms, dropped;
};
struct rack_uevent_stats rack_uevent_stats(void);
/* Keep SUBSYSTEM's uevents until rack_uevents_release() sends them, in order (-EINVAL: bad
 * name); release returns how many were held. */
int rack_uevents_hold(const char *subsystem);
size_t rack_uevents_release(void);

/* loop_lag.c: how late the main loop runs a 100 ms probe (per bucket, not cumulative) */
#define RACK_LAG_BUCKETS 5
struct rack_lag_stats {
    uint64_t probes, sum_us, max_us;
    uint64_t counts[RACK_LAG_BUCKETS + 1];
};
void rack_lag_start(void);
void rack_lag_stop(void);
/* Appends " lag_probes=N lag_mean_ms=X lag_max_ms=Y lag_le_1ms=.. .. lag_over_500ms=.."; reset
 * starts the counts over. */
void rack_lag_format(GString *out, bool reset);

/* commands.c */
void rack_commands_start(void);
void rack_commands_stop(void);
/* Something the waiting command may care about happened (READY, daemon exit). */
void rack_command_event(void);
/* SIGINT/SIGTERM to the rack: stop the daemon and leave. */
void rack_command_quit_now(void);

#endif
