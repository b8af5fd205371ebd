/* The control protocol on stdin/stdout: one command per line, one reply line per command.
 * Commands run one at a time; wait-ready, wait-exit, sleep and quit park the queue until
 * their condition or deadline, while the main loop keeps serving ioctls and ttys. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "rack_app.h"
#include "vrack.h"

#define DEFAULT_WAIT_MS 60000
#define QUIT_KILL_MS    20000
#define LINE_MAX_LEN    4096

enum wait_kind { WAIT_NONE, WAIT_READY, WAIT_EXIT, WAIT_SLEEP, WAIT_QUIT };

static struct {
    GIOChannel *in;
    guint in_watch;
    GString *partial;
    GQueue lines;
    bool overlong;
    enum wait_kind waiting;
    guint timer;
    guint64 wait_ms;
    bool quitting, done;
} cmd;

static void process(void);

static void stop_timer(void)
{
    if (cmd.timer)
        g_source_remove(cmd.timer);
    cmd.timer = 0;
}

static void format_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "signal=%s", rack_signal_name(WTERMSIG(status)));
    else
        snprintf(buf, len, "status=%d", WIFEXITED(status) ? WEXITSTATUS(status) : status);
}

static void finish_quit(void)
{
    struct rack_app *a = rack_app();
    char st[64] = "";
    if (a->have_status) {
        format_exit(a->status, st, sizeof(st));
        bool clean = WIFEXITED(a->status) && WEXITSTATUS(a->status) == 0;
        /* An exit the test already looked at (wait-exit) is its business; an unexpected
         * or unclean one (sanitizer report, crash) fails the rack. */
        if (!clean && !a->exit_seen)
            a->exit_code = 1;
        rack_reply("ok quit %s", st);
    } else {
        rack_reply("ok quit");
    }
    cmd.waiting = WAIT_NONE;
    cmd.done = true;
    stop_timer();
    g_main_loop_quit(a->loop);
}

static gboolean on_wait_timeout(gpointer data)
{
    (void)data;
    struct rack_app *a = rack_app();
    cmd.timer = 0;
    switch (cmd.waiting) {
    case WAIT_READY:
        rack_reply("err timeout after %" G_GUINT64_FORMAT " ms waiting for READY=1", cmd.wait_ms);
        break;
    case WAIT_EXIT:
        rack_reply("err timeout after %" G_GUINT64_FORMAT " ms waiting for the daemon to exit",
                   cmd.wait_ms);
        break;
    case WAIT_SLEEP:
        rack_reply("ok sleep");
        break;
    case WAIT_QUIT:
        fprintf(stderr, "rack: daemon ignored SIGTERM for %d ms, sending SIGKILL\n", QUIT_KILL_MS);
        if (a->running)
            kill(a->pid, SIGKILL);
        return G_SOURCE_REMOVE; /* still waiting for the exit */
    case WAIT_NONE:
        break;
    }
    cmd.waiting = WAIT_NONE;
    process();
    return G_SOURCE_REMOVE;
}

static void wait_for(enum wait_kind kind, guint64 ms)
{
    cmd.waiting = kind;
    cmd.wait_ms = ms;
    stop_timer();
    cmd.timer = g_timeout_add((guint)MIN(ms, (guint64)G_MAXUINT), on_wait_timeout, NULL);
}

static void start_quit(void)
{
    struct rack_app *a = rack_app();
    if (cmd.quitting)
        return;
    cmd.quitting = true;
    if (!a->running) {
        finish_quit();
        return;
    }
    kill(a->pid, SIGTERM);
    wait_for(WAIT_QUIT, QUIT_KILL_MS);
}

void rack_command_quit_now(void)
{
    g_queue_clear_full(&cmd.lines, g_free);
    if (cmd.waiting != WAIT_NONE && cmd.waiting != WAIT_QUIT) {
        rack_reply("err interrupted");
        cmd.waiting = WAIT_NONE;
        stop_timer();
    }
    start_quit();
}

void rack_command_event(void)
{
    struct rack_app *a = rack_app();
    char st[64];
    switch (cmd.waiting) {
    case WAIT_READY:
        if (a->ready) {
            rack_reply("ok ready");
        } else if (!a->running) {
            format_exit(a->status, st, sizeof(st));
            rack_reply("err daemon exited (%s) before READY=1", st);
            a->exit_seen = true;
        } else {
            return;
        }
        break;
    case WAIT_EXIT:
        if (a->running)
            return;
        format_exit(a->status, st, sizeof(st));
        a->exit_seen = true;
        rack_reply("ok exit %s", st);
        break;
    case WAIT_QUIT:
        if (!a->running)
            finish_quit();
        return;
    default:
        if (a->demo && !a->running && a->have_status && !cmd.quitting) {
            fprintf(stderr, "rack: demo: the daemon is gone, stopping\n");
            start_quit();
        }
        return;
    }
    cmd.waiting = WAIT_NONE;
    stop_timer();
    process();
}

static bool parse_ms(const char *s, guint64 *ret)
{
    char *end = NULL;
    if (!s) {
        *ret = DEFAULT_WAIT_MS;
        return true;
    }
    guint64 v = g_ascii_strtoull(s, &end, 10);
    if (!*s || *end || v > 24u * 3600u * 1000u)
        return false;
    *ret = v;
    return true;
}

static int signal_by_name(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"KILL", SIGKILL},
                {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ABRT", SIGABRT},
                {"SEGV", SIGSEGV}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}};
    if (g_str_has_prefix(name, "SIG"))
        name += 3;
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
        if (strcmp(sigs[i].name, name) == 0)
            return sigs[i].sig;
    return 0;
}

static void execute(char **argv, int argc)
{
    struct rack_app *a = rack_app();
    const char *c = argv[0];
    char err[VRACK_ERR_MAX] = "";
    guint64 ms;
    char st[64];

    if (strcmp(c, "wait-ready") == 0 && argc <= 2) {
        if (!parse_ms(argc > 1 ? argv[1] : NULL, &ms))
            rack_reply("err bad timeout '%s'", argv[1]);
        else if (!a->daemon_argv)
            rack_reply("err no daemon command was given");
        else if (a->ready)
            rack_reply("ok ready");
        else if (!a->running) {
            format_exit(a->status, st, sizeof(st));
            rack_reply("err daemon exited (%s) before READY=1", st);
        } else
            wait_for(WAIT_READY, ms);
    } else if (strcmp(c, "plug") == 0 && argc >= 3) {
        unsigned bus = 0, dev = 0;
        if (vrack_plug(a->rack, argv[1], argv[2], (const char *const *)argv + 3, &bus, &dev, err,
                       sizeof(err)) < 0)
            rack_reply("err %s", err);
        else
            rack_reply("ok plug %s bus=%u dev=%u", argv[1], bus, dev);
    } else if (strcmp(c, "unplug") == 0 && argc == 2) {
        if (vrack_unplug(a->rack, argv[1], err, sizeof(err)) < 0)
            rack_reply("err %s", err);
        else
            rack_reply("ok unplug %s", argv[1]);
    } else if (strcmp(c, "stats") == 0 && argc == 2) {
        GString *s = g_string_new(NULL);
        if (vrack_stats(a->rack, argv[1], s, err, sizeof(err)) < 0)
            rack_reply("err %s", err);
        else
            rack_reply("ok stats %s %s", argv[1], s->str);
        g_string_free(s, TRUE);
    } else if (strcmp(c, "last-stats") == 0 && argc == 2) {
        GString *s = g_string_new(NULL);
        if (vrack_last_stats(a->rack, argv[1], s, err, sizeof(err)) < 0)
            rack_reply("err %s", err);
        else
            rack_reply("ok last-stats %s %s", argv[1], s->str);
        g_string_free(s, TRUE);
    } else if (strcmp(c, "list") == 0 && argc == 1) {
        GString *s = g_string_new(NULL);
        vrack_list(a->rack, s);
        rack_reply("ok list%s%s", s->len ? " " : "", s->str);
        g_string_free(s, TRUE);
    } else if (strcmp(c, "uevents") == 0 && argc == 1) {
        struct rack_uevent_stats u = rack_uevent_stats();
        rack_reply("ok uevents waited=%" G_GUINT64_FORMAT " max_wait_ms=%" G_GUINT64_FORMAT
                   " dropped=%" G_GUINT64_FORMAT,
                   u.waited, u.max_wait_ms, u.dropped);
    } else if (strcmp(c, "hold-uevents") == 0 && argc == 2) {
        if (rack_uevents_hold(argv[1]) < 0)
            rack_reply("err bad subsystem '%s'", argv[1]);
        else
            rack_reply("ok hold-uevents %s", argv[1]);
    } else if (strcmp(c, "release-uevents") == 0 && argc == 1) {
        rack_reply("ok release-uevents released=%zu", rack_uevents_release());
    } else if (strcmp(c, "rack-stats") == 0 &&
               (argc == 1 || (argc == 2 && strcmp(argv[1], "reset") == 0))) {
        GString *s = g_string_new(NULL);
        rack_lag_format(s, argc == 2);
        rack_reply("ok rack-stats timer_fires=%" G_GUINT64_FORMAT "%s", vrack_timer_fires(a->rack),
                   s->str);
        g_string_free(s, TRUE);
    } else if (strcmp(c, "profiles") == 0 && argc == 1) {
        GString *s = g_string_new("ok profiles");
        for (size_t i = 0; i < vrack_profile_count(); i++)
            g_string_append_printf(s, " %s", vrack_profile_name(i));
        rack_reply("%s", s->str);
        g_string_free(s, TRUE);
    } else if (strcmp(c, "signal") == 0 && argc == 2) {
        int sig = signal_by_name(argv[1]);
        if (!sig)
            rack_reply("err unknown signal '%s'", argv[1]);
        else if (!a->running)
            rack_reply("err daemon is not running");
        else if (kill(a->pid, sig) < 0)
            rack_reply("err kill: %s", g_strerror(errno));
        else
            rack_reply("ok signal %s", argv[1]);
    } else if (strcmp(c, "wait-exit") == 0 && argc <= 2) {
        if (!parse_ms(argc > 1 ? argv[1] : NULL, &ms))
            rack_reply("err bad timeout '%s'", argv[1]);
        else if (a->running)
            wait_for(WAIT_EXIT, ms);
        else if (!a->have_status)
            rack_reply("err no daemon was started");
        else {
            format_exit(a->status, st, sizeof(st));
            a->exit_seen = true;
            rack_reply("ok exit %s", st);
        }
    } else if (strcmp(c, "restart") == 0 && argc == 1) {
        if (!a->daemon_argv)
            rack_reply("err no daemon command was given");
        else if (a->running)
            rack_reply("err daemon is still running (pid %d)", (int)a->pid);
        else if (rack_spawn_daemon(err, sizeof(err)) < 0)
            rack_reply("err %s", err);
        else
            rack_reply("ok restart pid=%d", (int)a->pid);
    } else if (strcmp(c, "sleep") == 0 && argc == 2) {
        if (!parse_ms(argv[1], &ms))
            rack_reply("err bad duration '%s'", argv[1]);
        else
            wait_for(WAIT_SLEEP, ms);
    } else if (strcmp(c, "quit") == 0 && argc == 1) {
        start_quit();
    } else {
        rack_reply("err unknown command or wrong arguments: '%s' (try: wait-ready, plug, unplug, "
                   "stats, last-stats, list, rack-stats, profiles, signal, wait-exit, restart, "
                   "sleep, quit)",
                   c);
    }
}

static void process(void)
{
    char *line;
    while (!cmd.done && cmd.waiting == WAIT_NONE && !cmd.quitting &&
           (line = g_queue_pop_head(&cmd.lines))) {
        char **argv = g_strsplit_set(g_strstrip(line), " \t", -1);
        /* Drop empty tokens from repeated blanks. */
        int argc = 0;
        for (int i = 0; argv[i]; i++) {
            if (*argv[i])
                argv[argc++] = argv[i];
            else
                g_free(argv[i]);
        }
        argv[argc] = NULL;
        if (argc > 0 && argv[0][0] != '#')
            execute(argv, argc);
        g_strfreev(argv);
        g_free(line);
    }
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    char buf[4096];
    gsize n = 0;
    GIOStatus st = g_io_channel_read_chars(ch, buf, sizeof(buf), &n, NULL);
    for (gsize i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (cmd.overlong)
                rack_reply("err line longer than %d bytes", LINE_MAX_LEN);
            else
                g_queue_push_tail(&cmd.lines, g_strdup(cmd.partial->str));
            g_string_truncate(cmd.partial, 0);
            cmd.overlong = false;
        } else if (cmd.partial->len < LINE_MAX_LEN) {
            g_string_append_c(cmd.partial, buf[i]);
        } else {
            cmd.overlong = true;
        }
    }
    bool eof = st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR;
    if (eof) {
        if (cmd.partial->len && !cmd.overlong)
            g_queue_push_tail(&cmd.lines, g_strdup(cmd.partial->str));
        g_string_truncate(cmd.partial, 0);
        /* EOF means quit, except in demo mode (which runs until a signal). */
        if (!rack_app()->demo)
            g_queue_push_tail(&cmd.lines, g_strdup("quit"));
        cmd.in_watch = 0;
    }
    process();
    return eof ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

void rack_commands_start(void)
{
    g_queue_init(&cmd.lines);
    cmd.partial = g_string_new(NULL);
    cmd.in = g_io_channel_unix_new(STDIN_FILENO);
    g_io_channel_set_encoding(cmd.in, NULL, NULL);
    g_io_channel_set_buffered(cmd.in, FALSE);
    cmd.in_watch = g_io_add_watch(cmd.in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
}

void rack_commands_stop(void)
{
    stop_timer();
    if (cmd.in_watch)
        g_source_remove(cmd.in_watch);
    cmd.in_watch = 0;
    if (cmd.in)
        g_io_channel_unref(cmd.in);
    cmd.in = NULL;
    g_queue_clear_full(&cmd.lines, g_free);
    if (cmd.partial)
        g_string_free(cmd.partial, TRUE);
    cmd.partial = NULL;
}
