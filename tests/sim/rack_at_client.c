/* rack_at_client: a minimal AT host for the rack test of the at_module model. Runs as the
 * rack's "daemon" (inside its umockdev testbed): waits for the ttyUSB under a USB interface,
 * opens it, retries "AT" until OK (the module drops input while it boots), sends ATI and
 * prints the answer. Exit 0 when the answer holds the expected text.
 *
 * usage: rack_at_client INTERFACE_SYSFS_DIR EXPECTED_TEXT
 *
 * A shell client does not work here: umockdev learns of a client from its ioctls, and
 * `stty` runs in a process of its own, so the rack would see the tty closed again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int find_tty(const char *ifdir, char *dev, size_t cap)
{
    DIR *d = opendir(ifdir);
    if (!d)
        return -errno;
    struct dirent *e;
    int r = -ENOENT;
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, "ttyUSB", 6)) {
            snprintf(dev, cap, "/dev/%s", e->d_name);
            r = 0;
            break;
        }
    }
    closedir(d);
    return r;
}

/* Reads until `until` shows up in buf or timeout_ms pass; returns bytes in buf. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until, int timeout_ms)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int waited = 0; waited < timeout_ms && !strstr(buf, until); waited += 100) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (len == cap - 1)
            break;
    }
    return len;
}

static void show(const char *what, const char *s)
{
    printf("client: %s: ", what);
    for (; *s; s++)
        fputs(*s == '\r' ? "\\r" : *s == '\n' ? "\\n" : (char[2]){*s, 0}, stdout);
    putchar('\n');
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s INTERFACE_SYSFS_DIR EXPECTED_TEXT\n", argv[0]);
        return 2;
    }
    char dev[300] = "";
    for (int i = 0; i < 600 && (find_tty(argv[1], dev, sizeof(dev)) < 0 || access(dev, F_OK)); i++)
        usleep(100 * 1000);
    if (!dev[0]) {
        printf("client: no ttyUSB under %s\n", argv[1]);
        return 3;
    }
    int fd = open(dev, O_RDWR | O_NOCTTY);
    if (fd < 0) {
        printf("client: open %s: %s\n", dev, strerror(errno));
        return 4;
    }
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        cfsetspeed(&t, B115200);
        tcsetattr(fd, TCSANOW, &t);
    }
    int bits = TIOCM_DTR | TIOCM_RTS;
    ioctl(fd, TIOCMBIS, &bits); /* through the preload: the rack now knows this opener */
    char buf[4096];
    int ok = 0;
    for (int i = 0; i < 60 && !ok; i++) {
        if (write(fd, "AT\r", 3) != 3)
            return 5;
        read_until(fd, buf, sizeof(buf), "OK\r\n", 1000);
        ok = strstr(buf, "OK\r\n") != NULL;
    }
    if (!ok) {
        printf("client: no OK to AT\n");
        return 6;
    }
    if (write(fd, "ATI\r", 4) != 4)
        return 5;
    read_until(fd, buf, sizeof(buf), "OK\r\n", 10000);
    show("ATI", buf);
    close(fd);
    return strstr(buf, argv[2]) ? 0 : 7;
}
