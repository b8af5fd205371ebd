/* usbdevfs emulation: one UMockdevIoctlBase serves every /dev/bus/usb/BBB/DDD node.
 *
 * URB lifecycle (usb-test-harness.md §3.4): SUBMITURB keeps refs to the client's URB and
 * buffer copies and answers at once; the device completes the URB later (control at once,
 * bulk when the model has taken the OUT bytes or produced IN bytes); completed URBs wait in
 * the submitting client's reap queue, and the node's pty is made writable (tcflow TCOON)
 * so libusb's poll wakes up and reaps. The URB and buffer copies are only written from the
 * worker thread at reap time, because a pump on the main thread may complete an URB while
 * the worker is still flushing the submit.
 */
#include "vrack_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <linux/usbdevice_fs.h>

#define CAPS                                                                                       \
    (USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM | \
     USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_REAP_AFTER_DISCONNECT)

#define USB_SPEED_FULL 2
#define USB_SPEED_HIGH 3

static void urb_free(struct vrack_urb *u)
{
    if (u->urb_data)
        g_object_unref(u->urb_data);
    if (u->buf_data)
        g_object_unref(u->buf_data);
    g_free(u->in_data);
    g_free(u);
}

void vrack_usbfs_update_flow(struct vrack_dev *dev)
{
    bool on = false;
    for (GList *l = dev->clients; l && !on; l = l->next)
        on = !g_queue_is_empty(&((struct vrack_client *)l->data)->reap);
    if (dev->slave < 0 || on == dev->flow_on)
        return;
    /* POLLOUT on the pty slave follows its output flow state: libusb polls usbfs fds for
     * POLLOUT, so this is how "an URB can be reaped" reaches the client's event loop. */
    tcflow(dev->slave, on ? TCOON : TCOOFF);
    dev->flow_on = on;
}

/* Writes the URB result into the client's copies and points *arg at it. On the worker
 * thread, except for a parked blocking REAPURB (its submit was flushed long before). */
static int reap_one(struct vrack_client *vc, UMockdevIoctlData *arg)
{
    struct vrack_urb *u = g_queue_pop_head(&vc->reap);
    if (!u)
        return vc->dev && !vc->dev->gone ? -EAGAIN : -ENODEV;
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->urb_data->data;
    size_t off = u->type == USBDEVFS_URB_TYPE_CONTROL ? 8 : 0;
    size_t actual = u->ep & 0x80 ? u->in_len : u->done;
    if (u->in_len && u->buf_data && off + u->in_len <= (size_t)u->buf_data->data_len)
        memcpy(u->buf_data->data + off, u->in_data, u->in_len);
    urb->status = u->status;
    urb->actual_length = (int)actual;
    GError *gerr = NULL;
    UMockdevIoctlData *pp = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), &gerr);
    if (!pp) {
        g_clear_error(&gerr);
        urb_free(u);
        return -EFAULT;
    }
    umockdev_ioctl_data_set_ptr(pp, 0, u->urb_data);
    g_object_unref(pp);
    urb_free(u); /* the reap's arg keeps the URB copy alive until it is flushed */
    return 0;
}

void vrack_urb_complete(struct vrack_urb *u, int status)
{
    struct vrack_client *vc = u->owner;
    u->status = status;
    g_queue_remove(&vc->inflight, u);
    g_queue_push_tail(&vc->reap, u);
    if (vc->reap_waiting) { /* a blocking REAPURB was parked: answer it now */
        vc->reap_waiting = false;
        int r = reap_one(vc, umockdev_ioctl_client_get_arg(vc->client));
        umockdev_ioctl_client_complete(vc->client, r < 0 ? -1 : 0, r < 0 ? -r : 0);
    }
    if (vc->dev)
        vrack_usbfs_update_flow(vc->dev);
}

static void unqueue(struct vrack_dev *dev, struct vrack_urb *u)
{
    if (u->type == USBDEVFS_URB_TYPE_CONTROL)
        return;
    GQueue *q = u->ep & 0x80 ? &dev->ep_in[u->ep & 0x0f] : &dev->ep_out[u->ep & 0x0f];
    g_queue_remove(q, u);
}

void vrack_usbfs_disconnect(struct vrack_dev *dev)
{
    /* As the kernel does on disconnect: every pending URB completes with -ENODEV and stays
     * reapable (USBDEVFS_CAP_REAP_AFTER_DISCONNECT); afterwards REAP answers ENODEV. */
    for (GList *l = dev->clients; l; l = l->next) {
        struct vrack_client *vc = l->data;
        struct vrack_urb *u;
        while ((u = g_queue_peek_head(&vc->inflight))) {
            unqueue(dev, u);
            vrack_urb_complete(u, -ENODEV);
        }
        if (vc->reap_waiting && g_queue_is_empty(&vc->reap)) {
            vc->reap_waiting = false;
            umockdev_ioctl_client_complete(vc->client, -1, ENODEV);
        }
    }
}

/* ---- control transfers ---- */

static int control_request(struct vrack_dev *dev, const uint8_t *setup, uint8_t *data,
                           size_t *actual)
{
    const struct vrack_profile *p = dev->profile;
    uint8_t type = setup[0], req = setup[1];
    uint16_t value = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t index = (uint16_t)(setup[4] | setup[5] << 8);
    uint16_t length = (uint16_t)(setup[6] | setup[7] << 8);
    uint8_t tmp[256];
    int n = -EPIPE;
    *actual = 0;

    if (type == 0x80 && req == 6) { /* GET_DESCRIPTOR */
        uint8_t dtype = (uint8_t)(value >> 8), didx = (uint8_t)value;
        if (dtype == 1) {
            memcpy(tmp, dev->desc, 18);
            n = 18;
        } else if (dtype == 2 && didx == 0) {
            size_t len = MIN(dev->desc_len - 18, (size_t)length);
            memcpy(data, dev->desc + 18, len);
            *actual = len;
            return 0;
        } else if (dtype == 3) {
            n = vrack_string_descriptor(dev, didx, tmp, sizeof(tmp));
        } else if (dtype == 6 && p->speed == 480) { /* device qualifier */
            const uint8_t q[10] = {10,           6,  0x00, 0x02, p->dev_class, p->dev_subclass,
                                   p->dev_proto, 64, 1,    0};
            memcpy(tmp, q, sizeof(q));
            n = sizeof(q);
        }
    } else if ((type & 0x80) && (type & 0x60) == 0 && req == 0) { /* GET_STATUS */
        memset(tmp, 0, 2);
        n = 2;
    } else if (type == 0x80 && req == 8) { /* GET_CONFIGURATION */
        tmp[0] = 1;
        n = 1;
    } else if (type == 0x81 && req == 10) { /* GET_INTERFACE */
        tmp[0] = 0;
        n = 1;
    } else if ((type & 0xe0) == 0 && (req == 1 || req == 3 || req == 9 || req == 11)) {
        return 0; /* CLEAR/SET_FEATURE, SET_CONFIGURATION, SET_INTERFACE */
    } else if ((type & 0x7f) == 0x21 && (index & 0xff) < p->n_ifs &&
               p->ifs[index & 0xff].chan >= 0) {
        /* CDC class requests to an interface that has a model channel. */
        int chan = p->ifs[index & 0xff].chan;
        struct sim_line *line = &dev->line[chan];
        if (type == 0x21 && req == 0x22) { /* SET_CONTROL_LINE_STATE */
            line->dtr = value & 1;
            line->rts = (value & 2) != 0;
            vrack_line_changed(dev, chan, line);
            return 0;
        }
        if (type == 0x21 && req == 0x20 && length >= 7) { /* SET_LINE_CODING */
            static const char par[] = "NOEMS";
            line->baud = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                         (uint32_t)data[3] << 24;
            line->stop_bits = data[4] == 2 ? 2 : 1;
            line->parity = data[5] < 5 ? par[data[5]] : 0;
            line->data_bits = data[6];
            vrack_line_changed(dev, chan, line);
            return 0;
        }
        if (type == 0xa1 && req == 0x21) { /* GET_LINE_CODING */
            uint32_t b = line->baud ? line->baud : 115200;
            const uint8_t lc[7] = {(uint8_t)b,
                                   (uint8_t)(b >> 8),
                                   (uint8_t)(b >> 16),
                                   (uint8_t)(b >> 24),
                                   line->stop_bits == 2 ? 2 : 0,
                                   0,
                                   line->data_bits ? line->data_bits : 8};
            memcpy(tmp, lc, sizeof(lc));
            n = sizeof(lc);
        } else if (type == 0x21 && req == 0x23) { /* SEND_BREAK */
            return 0;
        }
    } else if ((type & 0x60) == 0x40 && dev->model) { /* vendor: the model's business */
        struct sim_setup s = {type, req, value, index, length};
        int r = sim_model_control(dev->model, &s, data, vrack_now_ms());
        if (r < 0)
            return r;
        *actual = type & 0x80 ? MIN((size_t)r, (size_t)length) : length;
        vrack_pump(dev);
        return 0;
    }
    if (n < 0)
        return -EPIPE; /* anything unknown stalls, as a real device does */
    *actual = MIN((size_t)n, (size_t)length);
    memcpy(data, tmp, *actual);
    return 0;
}

/* ---- interfaces ---- */

static int intf_of_ep(const struct vrack_profile *p, uint8_t ep)
{
    for (unsigned i = 0; i < p->n_ifs; i++)
        for (unsigned e = 0; e < p->ifs[i].n_eps; e++)
            if (p->ifs[i].eps[e].addr == ep)
                return (int)i;
    return -ENOENT;
}

static bool driver_bound(const struct vrack_dev *dev, unsigned ifnum)
{
    return dev->profile->ifs[ifnum].driver && !(dev->detached & (1u << ifnum));
}

static int claim(struct vrack_client *vc, unsigned ifnum)
{
    struct vrack_dev *dev = vc->dev;
    if (ifnum >= dev->profile->n_ifs)
        return -ENOENT;
    if (vc->claimed & (1u << ifnum))
        return 0;
    if (driver_bound(dev, ifnum))
        return -EBUSY;
    for (GList *l = dev->clients; l; l = l->next)
        if (((struct vrack_client *)l->data)->claimed & (1u << ifnum))
            return -EBUSY;
    vc->claimed |= 1u << ifnum;
    return 0;
}

static int detach_driver(struct vrack_dev *dev, unsigned ifnum)
{
    if (ifnum >= dev->profile->n_ifs)
        return -EINVAL;
    if (!driver_bound(dev, ifnum))
        return -ENODATA;
    dev->detached |= 1u << ifnum;
    vrack_log(dev->rack, "%s: interface %u: %s driver disconnected", dev->port, ifnum,
              dev->profile->ifs[ifnum].driver);
    return 0;
}

/* The kernel's check_ctrlrecip(): a non-vendor request to an interface or endpoint needs that
 * interface claimed (usbfs claims it on the fly), so a class request to an interface that
 * cdc_acm holds fails with EBUSY until the driver is disconnected, as on real hardware. */
static int check_recipient(struct vrack_client *vc, const uint8_t *setup)
{
    uint8_t type = setup[0], index = setup[4];
    if ((type & 0x60) == 0x40)
        return 0;
    if ((type & 0x1f) == 1)
        return claim(vc, index);
    if ((type & 0x1f) == 2) {
        int ifnum = intf_of_ep(vc->dev->profile, index);
        return ifnum < 0 ? 0 : claim(vc, (unsigned)ifnum); /* unknown: let the request stall */
    }
    return 0;
}

/* ---- the handler ---- */

static int submit(struct vrack_client *vc, UMockdevIoctlData *arg)
{
    struct vrack_dev *dev = vc->dev;
    GError *gerr = NULL;
    UMockdevIoctlData *ud = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), &gerr);
    if (!ud) {
        g_clear_error(&gerr);
        return -EFAULT;
    }
    const struct usbdevfs_urb *urb = (const struct usbdevfs_urb *)ud->data;
    int len = urb->buffer_length;
    uint8_t type = urb->type, ep = urb->endpoint;
    int ifnum = -1;
    int r = 0;
    if (len < 0 || (size_t)len > VRACK_URB_MAX_LEN)
        r = -EINVAL;
    else if (type == USBDEVFS_URB_TYPE_CONTROL)
        r = len < 8 || (ep & 0x7f) != 0 ? -EINVAL : 0;
    else if (type != USBDEVFS_URB_TYPE_BULK && type != USBDEVFS_URB_TYPE_INTERRUPT)
        r = -EINVAL; /* no isochronous devices here */
    else if ((r = intf_of_ep(dev->profile, ep)) >= 0) {
        ifnum = r;
        r = claim(vc, (unsigned)ifnum); /* usbfs claims implicitly, as the kernel does */
    }
    UMockdevIoctlData *bd = NULL;
    if (r == 0 && len > 0) {
        bd = umockdev_ioctl_data_resolve(ud, offsetof(struct usbdevfs_urb, buffer), (gsize)len,
                                         &gerr);
        if (!bd) {
            g_clear_error(&gerr);
            r = -EFAULT;
        }
    }
    if (r == 0 && type == USBDEVFS_URB_TYPE_CONTROL)
        r = check_recipient(vc, bd->data);
    if (r < 0) {
        if (bd)
            g_object_unref(bd);
        g_object_unref(ud);
        return r;
    }
    struct vrack_urb *u = g_new0(struct vrack_urb, 1);
    u->owner = vc;
    u->urb_data = ud;
    u->buf_data = bd;
    u->type = type;
    u->ep = ep;
    u->len = (size_t)len;
    g_queue_push_tail(&vc->inflight, u);

    if (type == USBDEVFS_URB_TYPE_CONTROL) {
        const uint8_t *setup = bd->data;
        uint16_t wlen = (uint16_t)(setup[6] | setup[7] << 8);
        size_t actual = 0;
        uint8_t *data = g_malloc0(MAX((size_t)wlen, 1));
        memcpy(data, bd->data + 8, MIN((size_t)wlen, u->len - 8));
        int st = control_request(dev, setup, data, &actual);
        if (setup[0] & 0x80) {
            u->ep = 0x80; /* direction of the data stage, for actual_length */
            u->in_data = data;
            u->in_len = st == 0 ? MIN(actual, u->len - 8) : 0;
        } else {
            g_free(data);
            u->done = st == 0 ? MIN((size_t)wlen, u->len - 8) : 0;
        }
        vrack_urb_complete(u, st);
        return 0;
    }
    u->chan = dev->profile->ifs[ifnum].chan;
    if (u->chan < 0 || !dev->model) {
        /* Interfaces without a model: OUT bytes vanish, IN never completes (NAK). */
        if (!(ep & 0x80)) {
            u->done = u->len;
            vrack_urb_complete(u, 0);
            return 0;
        }
    }
    if (ep & 0x80) {
        u->in_data = g_malloc(MAX(u->len, 1));
        g_queue_push_tail(&dev->ep_in[ep & 0x0f], u);
    } else {
        g_queue_push_tail(&dev->ep_out[ep & 0x0f], u);
    }
    vrack_pump(dev);
    return 0;
}

static int discard(struct vrack_client *vc, UMockdevIoctlData *arg)
{
    gulong addr = *(gulong *)arg->data;
    for (GList *l = vc->inflight.head; l; l = l->next) {
        struct vrack_urb *u = l->data;
        if (u->urb_data->client_addr != addr)
            continue;
        unqueue(vc->dev, u);
        vrack_urb_complete(u, -ENOENT);
        return 0;
    }
    return -EINVAL; /* already completed: libusb then reaps it normally */
}

static int resolve_u32(UMockdevIoctlData *arg, uint32_t **ret, UMockdevIoctlData **ret_data)
{
    GError *gerr = NULL;
    UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), &gerr);
    if (!d) {
        g_clear_error(&gerr);
        return -EFAULT;
    }
    *ret = (uint32_t *)d->data;
    *ret_data = d;
    return 0;
}

/* Returns the ioctl result (>= 0) or a negative errno; *later = true if answered later. */
static long dispatch(struct vrack_client *vc, UMockdevIoctlClient *client, gulong req, bool *later)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    struct vrack_dev *dev = vc->dev;
    UMockdevIoctlData *d = NULL;
    uint32_t *u32 = NULL;
    long r;
    GError *gerr = NULL;

    if (req == USBDEVFS_REAPURBNDELAY || req == USBDEVFS_REAPURB) {
        r = reap_one(vc, arg);
        if (r == -EAGAIN && req == USBDEVFS_REAPURB) {
            vc->reap_waiting = true;
            *later = true;
            return 0;
        }
        vrack_usbfs_update_flow(dev);
        return r;
    }
    if (dev->gone)
        return -ENODEV;
    switch (req) {
    case USBDEVFS_GET_CAPABILITIES:
        if ((r = resolve_u32(arg, &u32, &d)) == 0)
            *u32 = CAPS;
        break;
    case USBDEVFS_SUBMITURB:
        r = submit(vc, arg);
        break;
    case USBDEVFS_DISCARDURB:
        r = discard(vc, arg);
        break;
    case USBDEVFS_CLAIMINTERFACE:
        if ((r = resolve_u32(arg, &u32, &d)) == 0)
            r = claim(vc, *u32);
        break;
    case USBDEVFS_RELEASEINTERFACE:
        if ((r = resolve_u32(arg, &u32, &d)) == 0) {
            r = *u32 < 32 && (vc->claimed & (1u << *u32)) ? 0 : -EINVAL;
            if (r == 0)
                vc->claimed &= ~(1u << *u32);
        }
        break;
    case USBDEVFS_DISCONNECT_CLAIM: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_disconnect_claim), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_disconnect_claim *dc = (void *)d->data;
        dc->driver[sizeof(dc->driver) - 1] = '\0';
        r = dc->interface < dev->profile->n_ifs ? 0 : -EINVAL;
        if (r == 0 && driver_bound(dev, dc->interface)) {
            bool same = strcmp(dev->profile->ifs[dc->interface].driver, dc->driver) == 0;
            bool skip = ((dc->flags & USBDEVFS_DISCONNECT_CLAIM_IF_DRIVER) && !same) ||
                        ((dc->flags & USBDEVFS_DISCONNECT_CLAIM_EXCEPT_DRIVER) && same);
            r = skip ? -EBUSY : detach_driver(dev, dc->interface);
        }
        if (r == 0)
            r = claim(vc, dc->interface);
        break;
    }
    case USBDEVFS_GETDRIVER: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_getdriver *gd = (void *)d->data;
        r = gd->interface < dev->profile->n_ifs && driver_bound(dev, gd->interface) ? 0 : -ENODATA;
        if (r == 0)
            g_strlcpy(gd->driver, dev->profile->ifs[gd->interface].driver, sizeof(gd->driver));
        break;
    }
    case USBDEVFS_IOCTL: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_ioctl *io = (void *)d->data;
        if (io->ioctl_code == (int)USBDEVFS_DISCONNECT) {
            r = detach_driver(dev, (unsigned)io->ifno);
        } else if (io->ioctl_code == (int)USBDEVFS_CONNECT) {
            r = (unsigned)io->ifno < dev->profile->n_ifs ? 0 : -EINVAL;
            if (r == 0)
                dev->detached &= ~(1u << io->ifno);
        } else {
            r = -ENOTTY;
        }
        break;
    }
    case USBDEVFS_SETINTERFACE: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_setinterface), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_setinterface *si = (void *)d->data;
        r = si->interface < dev->profile->n_ifs && si->altsetting == 0 ? 0 : -EINVAL;
        break;
    }
    case USBDEVFS_SETCONFIGURATION:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
        if ((r = resolve_u32(arg, &u32, &d)) == 0)
            r = 0;
        break;
    case USBDEVFS_RESET:
        vrack_log(dev->rack, "%s: reset", dev->port);
        r = 0;
        break;
    case USBDEVFS_GET_SPEED:
        r = dev->profile->speed >= 480 ? USB_SPEED_HIGH : USB_SPEED_FULL;
        break;
    case USBDEVFS_CONNECTINFO: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_connectinfo), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_connectinfo *ci = (void *)d->data;
        ci->devnum = dev->devnum;
        ci->slow = 0;
        r = 0;
        break;
    }
    case USBDEVFS_CONTROL: {
        d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ctrltransfer), &gerr);
        if (!d) {
            r = -EFAULT;
            break;
        }
        struct usbdevfs_ctrltransfer *ct = (void *)d->data;
        uint8_t setup[8] = {ct->bRequestType,     ct->bRequest,
                            (uint8_t)ct->wValue,  (uint8_t)(ct->wValue >> 8),
                            (uint8_t)ct->wIndex,  (uint8_t)(ct->wIndex >> 8),
                            (uint8_t)ct->wLength, (uint8_t)(ct->wLength >> 8)};
        UMockdevIoctlData *dd = NULL;
        if (ct->wLength) {
            dd = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_ctrltransfer, data),
                                             ct->wLength, &gerr);
            if (!dd) {
                r = -EFAULT;
                break;
            }
        }
        uint8_t data[65536];
        size_t actual = 0;
        if (dd)
            memcpy(data, dd->data, ct->wLength);
        r = control_request(dev, setup, data, &actual);
        if (r == 0 && dd && (ct->bRequestType & 0x80))
            memcpy(dd->data, data, actual);
        if (r == 0)
            r = (long)actual;
        if (dd)
            g_object_unref(dd);
        break;
    }
    default:
        r = -ENOTTY; /* FIONBIO from libuv lands here; it falls back to fcntl */
        break;
    }
    g_clear_error(&gerr);
    if (d)
        g_object_unref(d);
    return r;
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data)
{
    (void)base;
    struct vrack *rack = data;
    gulong req = umockdev_ioctl_client_get_request(client);
    bool later = false;
    long r;
    g_mutex_lock(&rack->lock);
    struct vrack_client *vc = g_object_get_data(G_OBJECT(client), "vrack-usb");
    if (!vc || !vc->dev)
        r = -ENODEV;
    else
        r = dispatch(vc, client, req, &later);
    g_mutex_unlock(&rack->lock);
    if (!later)
        umockdev_ioctl_client_complete(client, r < 0 ? -1 : r, r < 0 ? (int)-r : 0);
    return TRUE;
}

static void on_gone(struct vrack *rack, UMockdevIoctlClient *client)
{
    g_mutex_lock(&rack->lock);
    struct vrack_client *vc = g_object_steal_data(G_OBJECT(client), "vrack-usb");
    struct vrack_dev *dev = vc ? vc->dev : NULL;
    if (vc) {
        struct vrack_urb *u;
        while ((u = g_queue_pop_head(&vc->inflight))) {
            if (dev)
                unqueue(dev, u);
            urb_free(u);
        }
        while ((u = g_queue_pop_head(&vc->reap)))
            urb_free(u);
        if (dev) {
            dev->clients = g_list_remove(dev->clients, vc);
            vrack_usbfs_update_flow(dev);
            vrack_log(rack, "%s: usbfs closed", dev->port);
        }
    }
    g_mutex_unlock(&rack->lock);
    g_free(vc);
    vrack_dev_unref(dev);
}

static void on_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data)
{
    (void)base;
    struct vrack *rack = data;
    struct vrack_client *vc = g_new0(struct vrack_client, 1);
    vc->client = client;
    g_queue_init(&vc->inflight);
    g_queue_init(&vc->reap);
    g_mutex_lock(&rack->lock);
    struct vrack_node *node =
        g_hash_table_lookup(rack->nodes, umockdev_ioctl_client_get_devnode(client));
    if (node && node->dev && !node->dev->gone) {
        vc->dev = node->dev;
        vrack_dev_ref(vc->dev);
        vc->dev->clients = g_list_prepend(vc->dev->clients, vc);
        vc->dev->total_opens++;
        vrack_log(rack, "%s: usbfs opened", vc->dev->port);
    }
    g_object_set_data(G_OBJECT(client), "vrack-usb", vc);
    vrack_watch_client(rack, client, on_gone);
    g_mutex_unlock(&rack->lock);
}

int vrack_usbfs_init(struct vrack *rack)
{
    rack->usb_handler = umockdev_ioctl_base_new();
    if (!rack->usb_handler)
        return -ENOMEM;
    g_signal_connect(rack->usb_handler, "handle-ioctl", G_CALLBACK(on_ioctl), rack);
    g_signal_connect(rack->usb_handler, "client-connected", G_CALLBACK(on_connected), rack);
    return 0;
}
