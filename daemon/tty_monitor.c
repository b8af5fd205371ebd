/* tty discovery through libudev. The USB interface a tty hangs under is found by walking its
 * sysfs parents ("usb"/"usb_interface"), which works for both layouts the kernel uses:
 *   ttyACM0: .../1-1.2/1-1.2:1.0/tty/ttyACM0
 *   ttyUSB0: .../1-1.2/1-1.2:1.3/ttyUSB0/tty/ttyUSB0   (usb-serial port device between) */
#include "tty_monitor.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct tty_monitor {
    uv_loop_t *loop;
    struct udev *udev;
    struct udev_monitor *mon;
    uv_poll_t poll;
    tty_added_fn added;
    tty_removed_fn removed;
    void *userdata;
    void (*done)(void *userdata);
    void *done_userdata;
};

/* Fills tty from a udev device; -ENOENT when it is not a tty on a USB interface. */
static int resolve(struct udev_device *dev, struct rack_tty *tty)
{
    const char *devnode = udev_device_get_devnode(dev);
    const char *sysname = udev_device_get_sysname(dev);
    if (!devnode || !sysname)
        return -ENOENT;
    struct udev_device *intf =
        udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_interface");
    if (!intf)
        return -ENOENT;
    memset(tty, 0, sizeof(*tty));
    if (strlen(devnode) >= sizeof(tty->devnode) || strlen(sysname) >= sizeof(tty->sysname))
        return -ENAMETOOLONG;
    int r = rack_parse_interface_name(udev_device_get_sysname(intf), tty->port_path,
                                      sizeof(tty->port_path), &tty->interface_number);
    if (r < 0)
        return r;
    snprintf(tty->devnode, sizeof(tty->devnode), "%s", devnode);
    snprintf(tty->sysname, sizeof(tty->sysname), "%s", sysname);
    size_t k = strcspn(sysname, "0123456789");
    snprintf(tty->driver, sizeof(tty->driver), "%.*s", (int)(k < 15 ? k : 15), sysname);
    return 0;
}

static void handle_device(struct tty_monitor *m, struct udev_device *dev, const char *action)
{
    if (action && strcmp(action, "remove") == 0) {
        const char *devnode = udev_device_get_devnode(dev);
        if (devnode)
            m->removed(m->userdata, devnode);
        return;
    }
    if (action && strcmp(action, "add") != 0 && strcmp(action, "change") != 0 &&
        strcmp(action, "bind") != 0)
        return;
    struct rack_tty tty;
    if (resolve(dev, &tty) == 0)
        m->added(m->userdata, &tty);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct tty_monitor *m = p->data;
    if (status < 0) {
        log_warning("tty: udev monitor error: %s", uv_strerror(status));
        return;
    }
    /* Drain everything queued: one readiness may carry several events. */
    struct udev_device *dev;
    while ((dev = udev_monitor_receive_device(m->mon))) {
        handle_device(m, dev, udev_device_get_action(dev));
        udev_device_unref(dev);
    }
}

int tty_monitor_new(uv_loop_t *loop, tty_added_fn added, tty_removed_fn removed, void *userdata,
                    struct tty_monitor **ret)
{
    struct tty_monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->added = added;
    m->removed = removed;
    m->userdata = userdata;
    m->udev = udev_new();
    if (!m->udev)
        goto fail;
    m->mon = udev_monitor_new_from_netlink(m->udev, "udev");
    if (!m->mon)
        goto fail;
    if (udev_monitor_filter_add_match_subsystem_devtype(m->mon, "tty", NULL) < 0 ||
        udev_monitor_enable_receiving(m->mon) < 0)
        goto fail;
    int fd = udev_monitor_get_fd(m->mon);
    if (uv_poll_init(loop, &m->poll, fd) < 0)
        goto fail;
    m->poll.data = m;
    uv_poll_start(&m->poll, UV_READABLE, on_readable);
    *ret = m;
    return 0;
fail:
    log_err("tty: cannot start the udev tty monitor");
    if (m->mon)
        udev_monitor_unref(m->mon);
    if (m->udev)
        udev_unref(m->udev);
    free(m);
    return -EIO;
}

int tty_monitor_scan(struct tty_monitor *m)
{
    struct udev_enumerate *e = udev_enumerate_new(m->udev);
    if (!e)
        return -ENOMEM;
    udev_enumerate_add_match_subsystem(e, "tty");
    udev_enumerate_scan_devices(e);
    struct udev_list_entry *entry;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e))
    {
        struct udev_device *dev =
            udev_device_new_from_syspath(m->udev, udev_list_entry_get_name(entry));
        if (!dev)
            continue;
        handle_device(m, dev, NULL);
        udev_device_unref(dev);
    }
    udev_enumerate_unref(e);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct tty_monitor *m = h->data;
    udev_monitor_unref(m->mon);
    udev_unref(m->udev);
    void (*done)(void *) = m->done;
    void *ud = m->done_userdata;
    free(m);
    if (done)
        done(ud);
}

void tty_monitor_close(struct tty_monitor *m, void (*done)(void *userdata), void *userdata)
{
    m->done = done;
    m->done_userdata = userdata;
    uv_close((uv_handle_t *)&m->poll, on_closed);
}
