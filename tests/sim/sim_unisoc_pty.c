/* flashrack-sim-unisoc: serves one "unisoc" device model on a pseudo-terminal, so any serial
 * host tool (ours or a public one) can be tried against it.
 *
 *   flashrack-sim-unisoc [MODEL_OPTIONS]      e.g. chip=8850,flash_rate=200000
 *
 * Prints "pty /dev/pts/N" on stdout, serves until the host resets the module (NORMAL_RESET,
 * POWER_OFF, or a disconnect fault) or SIGINT/SIGTERM, then prints the model's stats and one
 * "region ADDR BYTES SHA256" line per region written. Exit status 0, or 2 on usage errors. */
#include "sim.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void print_report(const struct sim_model *m)
{
    char stats[SIM_STATS_MAX];
    if (sim_model_stats(m, stats, sizeof(stats)) < 0) {
        fprintf(stderr, "stats did not fit\n");
        return;
    }
    fputs(stats, stdout);
    /* The same regions again in a form that is easy to compare with sha256sum output. */
    for (char *line = strtok(stats, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long bytes;
        char addr[16], sha[65];
        if (sscanf(line, "region_%15[0-9a-fx]=%llu:%64s", addr, &bytes, sha) == 3)
            printf("region %s %llu %s\n", addr, bytes, sha);
    }
    fflush(stdout);
}

static int serve(struct sim_model *m, int master)
{
    uint8_t in[4096], out[4096];
    size_t in_len = 0, in_off = 0;
    sim_model_start(m, now_ms());
    while (!stop_flag) {
        uint64_t now = now_ms();
        /* Move bytes until nothing changes: answers free room for input and back. */
        for (;;) {
            size_t n = sim_model_tx(m, 0, out, sizeof(out), now);
            for (size_t w = 0; w < n;) {
                ssize_t k = write(master, out + w, n - w);
                if (k < 0 && errno != EINTR && errno != EAGAIN)
                    return -errno;
                if (k > 0)
                    w += (size_t)k;
            }
            size_t took =
                in_off < in_len ? sim_model_rx(m, 0, in + in_off, in_len - in_off, now) : 0;
            in_off += took;
            if (n == 0 && took == 0)
                break;
        }
        char action[SIM_ACTION_MAX];
        if (sim_model_take_action(m, action, sizeof(action), now) > 0) {
            fprintf(stderr, "device: %s\n", action);
            return 0;
        }
        uint64_t due = sim_model_next_event_ms(m, now);
        int timeout = due == SIM_NEVER ? 1000
                      : due <= now     ? 0
                                       : (int)(due - now > 1000 ? 1000 : due - now);
        struct pollfd p = {.fd = master, .events = in_off < in_len ? 0 : POLLIN};
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0 && (p.revents & POLLIN)) {
            ssize_t k = read(master, in, sizeof(in));
            if (k > 0) {
                in_len = (size_t)k;
                in_off = 0;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: %s [chip=8910|8850,key=value,...]\n", argv[0]);
        return 2;
    }
    char err[SIM_ERR_MAX] = "";
    struct sim_model *m = NULL;
    if (sim_model_create("unisoc", argc == 2 ? argv[1] : "", &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int master = -1, slave = -1;
    char name[128];
    if (openpty(&master, &slave, name, NULL, NULL) < 0) {
        perror("openpty");
        sim_model_destroy(m);
        return 2;
    }
    /* Raw on our side too: the device must see bytes, not lines. The slave stays open here so
     * the master never reads EIO between host sessions. */
    struct termios t;
    if (tcgetattr(slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(slave, TCSANOW, &t);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("pty %s\n", name);
    fflush(stdout);
    int r = serve(m, master);
    if (r < 0)
        fprintf(stderr, "pty: %s\n", strerror(-r));
    print_report(m);
    close(master);
    close(slave);
    sim_model_destroy(m);
    return 0;
}
