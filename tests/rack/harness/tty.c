/* USB-serial ttys (ttyACMn, ttyUSBn). Each is a pty whose slave is the /dev node the client
 * opens; the rack plays the device on the master: master -> model rx, model tx -> master,
 * non-blocking with main-loop watches. The rack keeps its own slave fd open so the master
 * never sees a hangup between client sessions, and closes both ends on unplug, which hangs
 * up every client fd (reads then fail with EIO), as a vanishing USB device does.
 *
 * A pty does not know modem lines (TIOCMGET fails with ENOTTY and libserialport refuses to
 * open), so a tty ioctl handler answers TIOCM* and TIOCEXCL/TIOCNXCL itself, forwards the
 * line state to the model and passes everything else to the real pty. glibc's tcsetattr
 * goes to the kernel without the ioctl() symbol, so the preload never sees termios changes;
 * the rack reads the termios back from its own slave fd instead (the pty keeps what the
 * client set) whenever host bytes arrive or the client touches the modem lines. */
#include "vrack_internal.h"

#include <glib-unix.h>

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The kernel's termios layouts (asm/termbits.h cannot be included next to glibc's). */
struct ktermios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line;
    uint8_t c_cc[19];
};

struct ktermios2 {
    struct ktermios t;
    uint32_t c_ispeed, c_ospeed;
};

#define K_TCGETS2 _IOC(_IOC_READ, 'T', 0x2A, sizeof(struct ktermios2))
#define K_CMSPAR  010000000000

static gboolean master_in(gint fd, GIOCondition cond, gpointer data);
static void sample_termios(struct vrack_tty *tty);
static gboolean master_out(gint fd, GIOCondition cond, gpointer data);

static void arm_in(struct vrack_tty *tty)
{
    if (!tty->in_watch && tty->master >= 0)
        tty->in_watch = g_unix_fd_add(tty->master, G_IO_IN, master_in, tty);
}

static void arm_out(struct vrack_tty *tty)
{
    if (!tty->out_watch && tty->master >= 0)
        tty->out_watch = g_unix_fd_add(tty->master, G_IO_OUT, master_out, tty);
}

bool vrack_tty_pump(struct vrack_tty *tty)
{
    struct vrack_dev *dev = tty->dev;
    bool progress = false;
    if (dev->gone || tty->master < 0)
        return false;
    uint64_t now = vrack_now_ms();
    if (tty->rx_len) {
        size_t n = sim_model_rx(dev->model, (unsigned)tty->chan, tty->rxbuf, tty->rx_len, now);
        if (n) {
            memmove(tty->rxbuf, tty->rxbuf + n, tty->rx_len - n);
            tty->rx_len -= n;
            progress = true;
        }
    }
    if (tty->rx_len < sizeof(tty->rxbuf))
        arm_in(tty);
    /* The driver only reads from the device while the tty is open (cdc_acm submits its
     * read URBs on open), so a closed tty leaves the model's output in the model. */
    if (!tty->opens || !vrack_tty_active(dev, tty))
        return progress;
    /* Bounded per call so a fast stream does not hold the rack lock for long; the out
     * watch picks up the rest from the main loop. */
    size_t budget = VRACK_TTY_BUF * 16;
    for (;;) {
        if (budget == 0) {
            arm_out(tty);
            break;
        }
        if (tty->tx_len < sizeof(tty->txbuf)) {
            size_t n = sim_model_tx(dev->model, (unsigned)tty->chan, tty->txbuf + tty->tx_len,
                                    sizeof(tty->txbuf) - tty->tx_len, now);
            tty->tx_len += n;
            progress |= n > 0;
        }
        if (!tty->tx_len)
            break;
        ssize_t w = write(tty->master, tty->txbuf, tty->tx_len);
        if (w <= 0)
            break; /* EAGAIN: the client has not read yet; the out watch resumes */
        memmove(tty->txbuf, tty->txbuf + w, tty->tx_len - (size_t)w);
        tty->tx_len -= (size_t)w;
        budget -= MIN((size_t)w, budget);
        progress = true;
    }
    if (tty->tx_len)
        arm_out(tty);
    return progress;
}

static gboolean master_in(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct vrack_tty *tty = data;
    struct vrack *rack = tty->dev->rack;
    gboolean keep = G_SOURCE_CONTINUE;
    g_mutex_lock(&rack->lock);
    size_t room = sizeof(tty->rxbuf) - tty->rx_len;
    ssize_t n = room ? read(fd, tty->rxbuf + tty->rx_len, room) : 0;
    if (n > 0) {
        sample_termios(tty); /* the model learns the baud rate before the bytes */
        tty->rx_len += (size_t)n;
        vrack_pump(tty->dev);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        keep = G_SOURCE_REMOVE;
    }
    if (tty->rx_len == sizeof(tty->rxbuf))
        keep = G_SOURCE_REMOVE; /* the model is busy; vrack_tty_pump re-arms */
    if (keep == G_SOURCE_REMOVE)
        tty->in_watch = 0;
    g_mutex_unlock(&rack->lock);
    return keep;
}

static gboolean master_out(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd;
    (void)cond;
    struct vrack_tty *tty = data;
    struct vrack *rack = tty->dev->rack;
    g_mutex_lock(&rack->lock);
    tty->out_watch = 0;
    vrack_pump(tty->dev); /* writes what is pending and re-arms if still blocked */
    /* vrack_pump may have armed a new watch; this one is done either way. */
    g_mutex_unlock(&rack->lock);
    return G_SOURCE_REMOVE;
}

int vrack_tty_open_pty(struct vrack_tty *tty, char *err, size_t err_len)
{
    int m, s;
    char name[64];
    if (openpty(&m, &s, name, NULL, NULL) < 0) {
        snprintf(err, err_len, "openpty: %s", g_strerror(errno));
        return -errno;
    }
    struct termios t;
    if (tcgetattr(s, &t) == 0) {
        /* Raw like a USB serial device: no echo (the device's own output would come back
         * to it), no line editing, no CR/LF translation. */
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
    }
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    fcntl(m, F_SETFD, FD_CLOEXEC);
    fcntl(s, F_SETFD, FD_CLOEXEC);
    tty->master = m;
    tty->slave = s;
    g_strlcpy(tty->pts, name, sizeof(tty->pts));
    return 0;
}

void vrack_tty_hangup(struct vrack_tty *tty)
{
    if (tty->in_watch)
        g_source_remove(tty->in_watch);
    if (tty->out_watch)
        g_source_remove(tty->out_watch);
    tty->in_watch = tty->out_watch = 0;
    if (tty->master >= 0)
        close(tty->master);
    if (tty->slave >= 0)
        close(tty->slave);
    tty->master = tty->slave = -1;
}

/* ---- ioctl handler ---- */

static void set_modem_bits(struct vrack_tty *tty, int bits)
{
    struct sim_line line = tty->line;
    line.dtr = (bits & TIOCM_DTR) != 0;
    line.rts = (bits & TIOCM_RTS) != 0;
    if (line.dtr != tty->line.dtr || line.rts != tty->line.rts) {
        tty->line = line;
        vrack_line_changed(tty->dev, tty->chan, &tty->line);
    }
}

/* lock held. The kernel keeps the actual rate in c_ospeed for standard and custom rates. */
static void sample_termios(struct vrack_tty *tty)
{
    struct ktermios2 k;
    if (tty->slave < 0 || ioctl(tty->slave, K_TCGETS2, &k) < 0)
        return;
    struct sim_line line = tty->line;
    static const uint8_t sizes[] = {5, 6, 7, 8};
    uint32_t cflag = k.t.c_cflag;
    line.baud = k.c_ospeed;
    line.data_bits = sizes[(cflag & CSIZE) >> 4];
    line.stop_bits = cflag & CSTOPB ? 2 : 1;
    if (!(cflag & PARENB))
        line.parity = 'N';
    else if (cflag & K_CMSPAR)
        line.parity = cflag & PARODD ? 'M' : 'S';
    else
        line.parity = cflag & PARODD ? 'O' : 'E';
    if (memcmp(&line, &tty->line, sizeof(line)) != 0) {
        tty->line = line;
        vrack_line_changed(tty->dev, tty->chan, &tty->line);
    }
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data)
{
    (void)base;
    struct vrack *rack = data;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    GError *gerr = NULL;
    UMockdevIoctlData *d = NULL;
    long r = 0;
    int e = 0;

    g_mutex_lock(&rack->lock);
    struct vrack_tty *tty = g_object_get_data(G_OBJECT(client), "vrack-tty");
    bool live = tty && !tty->dev->gone;
    switch (live ? req : 0) {
    case TIOCMGET:
        sample_termios(tty);
        if ((d = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), &gerr))) {
            /* The device side asserts CTS/DSR/CD so hardware flow control never blocks. */
            *(int *)d->data = (tty->line.dtr ? TIOCM_DTR : 0) | (tty->line.rts ? TIOCM_RTS : 0) |
                              TIOCM_CTS | TIOCM_DSR | TIOCM_CD;
        }
        break;
    case TIOCMSET:
    case TIOCMBIS:
    case TIOCMBIC:
        sample_termios(tty);
        if ((d = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), &gerr))) {
            int bits = *(int *)d->data;
            int cur = (tty->line.dtr ? TIOCM_DTR : 0) | (tty->line.rts ? TIOCM_RTS : 0);
            set_modem_bits(tty, req == TIOCMSET   ? bits
                                : req == TIOCMBIS ? cur | bits
                                                  : cur & ~bits);
        }
        break;
    case TIOCEXCL:
    case TIOCNXCL:
        /* Answered here: the rack holds the slave open, so an exclusive flag set on the
         * pty would outlive the client and block its next open. */
        break;
    default:
        /* Everything else is the pty's business (FIONBIO, TIOCINQ, TCFLSH, ...); a gone
         * device's pty is hung up and answers like a hung-up tty. */
        g_mutex_unlock(&rack->lock);
        r = umockdev_ioctl_client_execute(client, &e, &gerr);
        if (gerr) {
            r = -1;
            e = EIO;
            g_clear_error(&gerr);
        }
        umockdev_ioctl_client_complete(client, r, e);
        return TRUE;
    }
    g_mutex_unlock(&rack->lock);
    if (gerr) {
        r = -1;
        e = EFAULT;
        g_clear_error(&gerr);
    }
    umockdev_ioctl_client_complete(client, r, e);
    if (d)
        g_object_unref(d);
    return TRUE;
}

static void on_gone(struct vrack *rack, UMockdevIoctlClient *client)
{
    g_mutex_lock(&rack->lock);
    struct vrack_tty *tty = g_object_steal_data(G_OBJECT(client), "vrack-tty");
    if (tty && tty->opens && --tty->opens == 0 && !tty->dev->gone) {
        /* Last close: the line discipline drops what the client did not read, and HUPCL
         * lowers DTR/RTS, which a module sees. */
        if (tty->slave >= 0)
            tcflush(tty->slave, TCIFLUSH);
        tty->tx_len = 0;
        tty->line.dtr = tty->line.rts = false;
        vrack_log(rack, "%s: %s closed", tty->dev->port, tty->name);
        vrack_line_changed(tty->dev, tty->chan, &tty->line);
    }
    g_mutex_unlock(&rack->lock);
    if (tty)
        vrack_dev_unref(tty->dev);
}

static void on_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data)
{
    (void)base;
    struct vrack *rack = data;
    g_mutex_lock(&rack->lock);
    struct vrack_node *node =
        g_hash_table_lookup(rack->nodes, umockdev_ioctl_client_get_devnode(client));
    struct vrack_tty *tty = node && node->tty && !node->tty->dev->gone ? node->tty : NULL;
    if (tty) {
        vrack_dev_ref(tty->dev);
        g_object_set_data(G_OBJECT(client), "vrack-tty", tty);
        vrack_watch_client(rack, client, on_gone);
        tty->dev->total_opens++;
        if (tty->opens++ == 0) {
            /* Opening a tty raises DTR and RTS (tty_port_raise_dtr_rts). */
            tty->line.dtr = tty->line.rts = true;
            vrack_log(rack, "%s: %s opened", tty->dev->port, tty->name);
            vrack_line_changed(tty->dev, tty->chan, &tty->line);
        }
    }
    g_mutex_unlock(&rack->lock);
}

int vrack_tty_init(struct vrack *rack)
{
    rack->tty_handler = umockdev_ioctl_base_new();
    if (!rack->tty_handler)
        return -ENOMEM;
    g_signal_connect(rack->tty_handler, "handle-ioctl", G_CALLBACK(on_ioctl), rack);
    g_signal_connect(rack->tty_handler, "client-connected", G_CALLBACK(on_connected), rack);
    return 0;
}
