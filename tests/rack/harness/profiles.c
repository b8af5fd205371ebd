/* Device profiles (what a fake device looks like on the bus), their USB descriptors and
 * their sysfs records.
 * A profile is data: ids, speed, interfaces with endpoints, which interface carries a tty of
 * which kind, which kernel driver claims it, and which model channel serves it. */
#include "vrack_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BULK   2
#define INTR   3
#define NO_CDC -1

static const struct vrack_profile profiles[] =
    {
        {
            .name = "loopback-usb",
            .summary = "1209:0001 vendor interface 0, bulk 0x01/0x81, model stream",
            .vid = 0x1209,
            .pid = 0x0001,
            .bcd_device = 0x0100,
            .speed = 480,
            .manufacturer = "flashrack",
            .product = "Loopback USB",
            .model = "stream",
            .n_ifs = 1,
            .ifs =
                {
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x01, BULK, 512, 0}, {0x81, BULK, 512, 0}},
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "loopback"},
                },
        },
        {
            .name = "loopback-tty",
            .summary = "1209:0002 CDC-ACM, ttyACM on interface 0, model stream",
            .vid = 0x1209,
            .pid = 0x0002,
            .bcd_device = 0x0100,
            .dev_class = 0x02,
            .speed = 480,
            .manufacturer = "flashrack",
            .product = "Loopback ACM",
            .model = "stream",
            .n_ifs = 2,
            .ifs =
                {
                    {.cls = 0x02,
                     .subcls = 0x02,
                     .proto = 0x01,
                     .n_eps = 1,
                     .eps = {{0x83, INTR, 16, 16}},
                     .tty = VRACK_TTY_ACM,
                     .driver = "cdc_acm",
                     .chan = 0,
                     .cdc_data_if = 1,
                     .label = "acm-comm"},
                    {.cls = 0x0a,
                     .n_eps = 2,
                     .eps = {{0x02, BULK, 512, 0}, {0x81, BULK, 512, 0}},
                     .driver = "cdc_acm",
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "acm-data"},
                },
        },
        {
            /* ASR EC600N in normal (AT) mode: RNDIS on 0/1, option ttyUSB on DIAG/AT/modem. */
            .name = "quectel-at",
            .summary = "2c7c:6001 ASR EC600N normal mode, ttyUSB on interfaces 2 (DIAG), 3 (AT), "
                       "4 (modem)",
            .vid = 0x2c7c,
            .pid = 0x6001,
            .bcd_device = 0x0318,
            .dev_class = 0xef,
            .dev_subclass = 0x02,
            .dev_proto = 0x01,
            .speed = 480,
            .manufacturer = "Quectel",
            .product = "EC600N-CN",
            .model = "at_module", /* defaults: EC600N CNLA, AT on chan 1, QDOWNLOAD -> asr-dl */
            .n_ifs = 5,
            .ifs =
                {
                    {.cls = 0xe0,
                     .subcls = 0x01,
                     .proto = 0x03,
                     .n_eps = 1,
                     .eps = {{0x87, INTR, 8, 9}},
                     .driver = "rndis_host",
                     .chan = -1,
                     .cdc_data_if = 1,
                     .label = "rndis-comm"},
                    {.cls = 0x0a,
                     .n_eps = 2,
                     .eps = {{0x88, BULK, 512, 0}, {0x0f, BULK, 512, 0}},
                     .driver = "rndis_host",
                     .chan = -1,
                     .cdc_data_if = NO_CDC,
                     .label = "rndis-data"},
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x82, BULK, 512, 0}, {0x01, BULK, 512, 0}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "DIAG"},
                    {.cls = 0xff,
                     .n_eps = 3,
                     .eps = {{0x83, BULK, 512, 0}, {0x02, BULK, 512, 0}, {0x84, INTR, 16, 9}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 1,
                     .cdc_data_if = NO_CDC,
                     .label = "AT"},
                    {.cls = 0xff,
                     .n_eps = 3,
                     .eps = {{0x85, BULK, 512, 0}, {0x03, BULK, 512, 0}, {0x86, INTR, 16, 9}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 2,
                     .cdc_data_if = NO_CDC,
                     .label = "modem"},
                },
        },
        {
            /* Unisoc EC200U in normal mode, from a public usb/devices dump (forums.quectel.com
             * "Help getting started with EC200U"): interfaces 0/1 cdc_ether, 2 and 3 option.
             * The real device has 9 interfaces; only the first four are modelled. AT on 2 is
             * inferred from its interrupt endpoint (unverified). */
            .name = "quectel-unisoc-at",
            .summary = "2c7c:0901 Unisoc EC200U normal mode, ttyUSB on interfaces 2 (AT), 3",
            .vid = 0x2c7c,
            .pid = 0x0901,
            .bcd_device = 0x0318,
            .speed = 480,
            .manufacturer = "Android",
            .product = "Android",
            .model = "at_module",
            .model_opts = "series=EC200U,submodel=CNAA",
            .n_ifs = 4,
            .ifs =
                {
                    {.cls = 0x02,
                     .subcls = 0x06,
                     .n_eps = 1,
                     .eps = {{0x81, INTR, 16, 9}},
                     .driver = "cdc_ether",
                     .chan = -1,
                     .cdc_data_if = 1,
                     .label = "ecm-comm"},
                    {.cls = 0x0a,
                     .n_eps = 2,
                     .eps = {{0x82, BULK, 512, 0}, {0x01, BULK, 512, 0}},
                     .driver = "cdc_ether",
                     .chan = -1,
                     .cdc_data_if = NO_CDC,
                     .label = "ecm-data"},
                    {.cls = 0xff,
                     .n_eps = 3,
                     .eps = {{0x84, BULK, 512, 0}, {0x02, BULK, 512, 0}, {0x83, INTR, 512, 16}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 1,
                     .cdc_data_if = NO_CDC,
                     .label = "AT"},
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x85, BULK, 512, 0}, {0x03, BULK, 512, 0}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "DIAG"},
                },
        },
        {
            /* UIS8910 download port: Linux-gadget CDC-ACM ids, data on interface 1. */
            .name = "unisoc-dl",
            .summary = "0525:a4a7 Unisoc download port, CDC-ACM ttyACM, data if 1 bulk 0x02/0x81",
            .vid = 0x0525,
            .pid = 0xa4a7,
            .bcd_device = 0x0100,
            .dev_class = 0x02,
            .speed = 480,
            .manufacturer = "UNISOC",
            .product = "SPRD U2S Diag",
            .model = "unisoc",
            .model_opts = "chip=8910,reset_replug=quectel-unisoc-at",
            .n_ifs = 2,
            .ifs =
                {
                    {.cls = 0x02,
                     .subcls = 0x02,
                     .proto = 0x01,
                     .n_eps = 1,
                     .eps = {{0x83, INTR, 16, 16}},
                     .tty = VRACK_TTY_ACM,
                     .driver = "cdc_acm",
                     .chan = 0,
                     .cdc_data_if = 1,
                     .label = "acm-comm"},
                    {.cls = 0x0a,
                     .n_eps = 2,
                     .eps = {{0x02, BULK, 512, 0}, {0x81, BULK, 512, 0}},
                     .driver = "cdc_acm",
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "acm-data"},
                },
        },
        {
            /* UIS8850 (EC600G/EC800G) download port: classic SPRD ROM shape, one vendor
             * interface, bulk OUT 0x02 / IN 0x83 (notes §1.1), no kernel driver. */
            .name = "unisoc-8850-dl",
            .summary = "1782:4d16 Unisoc 8850 download, vendor interface 0 bulk 0x02/0x83",
            .vid = 0x1782,
            .pid = 0x4d16,
            .bcd_device = 0x0100,
            .speed = 480,
            .manufacturer = "UNISOC",
            .product = "SPRD U2S Diag",
            .model = "unisoc",
            .model_opts = "chip=8850",
            .n_ifs = 1,
            .ifs =
                {
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x02, BULK, 512, 0}, {0x83, BULK, 512, 0}},
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "download"},
                },
        },
        {
            /* ASR160x boot ROM / aboot: raw bulk on vendor interface 1, no kernel driver. */
            .name = "asr-dl",
            .summary = "2ecc:3004 ASR download, vendor interface 1 bulk 0x02/0x81",
            .vid = 0x2ecc,
            .pid = 0x3004,
            .bcd_device = 0x0100,
            .speed = 480,
            .manufacturer = "ASR",
            .product = "ASR Download",
            .model = "asr", /* tests/sim/asr; reboots into the EC600N normal-mode profile */
            .model_opts = "reset_replug=quectel-at",
            .n_ifs = 2,
            .ifs =
                {
                    {.cls = 0x02,
                     .subcls = 0x02,
                     .proto = 0x01,
                     .n_eps = 1,
                     .eps = {{0x83, INTR, 16, 16}},
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "control"},
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x02, BULK, 512, 0}, {0x81, BULK, 512, 0}},
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "download"},
                },
        },
        {
            /* EC200A (ASR1803) boot-ROM download port (asr.md §1.1: 3002 = emergency download,
             * needs the DKB): vendor interface 0; the endpoint numbers are not in the notes. */
            .name = "asr1803-dl",
            .summary = "2ecc:3002 EC200A WTPTP download, vendor interface 0 bulk 0x01/0x81",
            .vid = 0x2ecc,
            .pid = 0x3002,
            .bcd_device = 0x0100,
            .speed = 480,
            .manufacturer = "ASR",
            .product = "ASR WTPTP Download",
            .model = "asr1803",
            .model_opts = "reset_replug=quectel-ec200a-at",
            .n_ifs = 1,
            .ifs =
                {
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x01, BULK, 512, 0}, {0x81, BULK, 512, 0}},
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "download"},
                },
        },
        {
            /* EC200A (ASR1803) in normal mode: option.c QUECTEL_PRODUCT_EC200A, AT on
             * interface 3 (protocols/at/README.md), the interface shape of "quectel-at". */
            .name = "quectel-ec200a-at",
            .summary = "2c7c:6005 EC200A normal mode, ttyUSB on interfaces 2 (DIAG), 3 (AT), "
                       "4 (modem)",
            .vid = 0x2c7c,
            .pid = 0x6005,
            .bcd_device = 0x0318,
            .dev_class = 0xef,
            .dev_subclass = 0x02,
            .dev_proto = 0x01,
            .speed = 480,
            .manufacturer = "Quectel",
            .product = "EC200A-CN",
            .model = "at_module", /* QDOWNLOAD -> asr1803-dl (an assumption, see at_module.c) */
            .model_opts = "series=EC200A,submodel=CNLA",
            .n_ifs = 5,
            .ifs =
                {
                    {.cls = 0xe0,
                     .subcls = 0x01,
                     .proto = 0x03,
                     .n_eps = 1,
                     .eps = {{0x87, INTR, 8, 9}},
                     .driver = "rndis_host",
                     .chan = -1,
                     .cdc_data_if = 1,
                     .label = "rndis-comm"},
                    {.cls = 0x0a,
                     .n_eps = 2,
                     .eps = {{0x88, BULK, 512, 0}, {0x0f, BULK, 512, 0}},
                     .driver = "rndis_host",
                     .chan = -1,
                     .cdc_data_if = NO_CDC,
                     .label = "rndis-data"},
                    {.cls = 0xff,
                     .n_eps = 2,
                     .eps = {{0x82, BULK, 512, 0}, {0x01, BULK, 512, 0}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 0,
                     .cdc_data_if = NO_CDC,
                     .label = "DIAG"},
                    {.cls = 0xff,
                     .n_eps = 3,
                     .eps = {{0x83, BULK, 512, 0}, {0x02, BULK, 512, 0}, {0x84, INTR, 16, 9}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 1,
                     .cdc_data_if = NO_CDC,
                     .label = "AT"},
                    {.cls = 0xff,
                     .n_eps = 3,
                     .eps = {{0x85, BULK, 512, 0}, {0x03, BULK, 512, 0}, {0x86, INTR, 16, 9}},
                     .tty = VRACK_TTY_USB,
                     .driver = "option",
                     .chan = 2,
                     .cdc_data_if = NO_CDC,
                     .label = "modem"},
                },
        },
};

static const struct vrack_profile hub_profiles[2] = {
    {
        .name = "hub",
        .summary = "USB 2.0 hub (created on the way to a port)",
        .vid = 0x05e3,
        .pid = 0x0610,
        .bcd_device = 0x9226,
        .dev_class = 0x09,
        .dev_proto = 0x01,
        .speed = 480,
        .manufacturer = "GenesysLogic",
        .product = "USB2.1 Hub",
        .is_hub = true,
        .n_ifs = 1,
        .ifs = {{.cls = 0x09,
                 .n_eps = 1,
                 .eps = {{0x81, INTR, 1, 12}},
                 .driver = "hub",
                 .chan = -1,
                 .cdc_data_if = NO_CDC,
                 .label = "hub"}},
    },
    {
        .name = "root-hub",
        .summary = "xHCI root hub",
        .vid = 0x1d6b,
        .pid = 0x0002,
        .bcd_device = 0x0601,
        .dev_class = 0x09,
        .dev_proto = 0x01,
        .speed = 480,
        .manufacturer = "Linux 6.1.0 xhci-hcd",
        .product = "xHCI Host Controller",
        .is_hub = true,
        .n_ifs = 1,
        .ifs = {{.cls = 0x09,
                 .n_eps = 1,
                 .eps = {{0x81, INTR, 4, 12}},
                 .driver = "hub",
                 .chan = -1,
                 .cdc_data_if = NO_CDC,
                 .label = "hub"}},
    },
};

size_t vrack_profile_count(void)
{
    return sizeof(profiles) / sizeof(profiles[0]);
}

const char *vrack_profile_name(size_t index)
{
    return index < vrack_profile_count() ? profiles[index].name : NULL;
}

const char *vrack_profile_summary(size_t index)
{
    return index < vrack_profile_count() ? profiles[index].summary : NULL;
}

const struct vrack_profile *vrack_profile_find(const char *name)
{
    for (size_t i = 0; i < vrack_profile_count(); i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

const struct vrack_profile *vrack_hub_profile(bool root)
{
    return &hub_profiles[root ? 1 : 0];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

int vrack_build_descriptors(const struct vrack_profile *p, uint8_t **ret, size_t *ret_len)
{
    uint8_t buf[1024];
    size_t n = 0;
    bool full_speed = p->speed <= 12;

    /* device descriptor */
    uint8_t *d = buf;
    d[0] = 18;
    d[1] = 1;
    put16(d + 2, 0x0200);
    d[4] = p->dev_class;
    d[5] = p->dev_subclass;
    d[6] = p->dev_proto;
    d[7] = 64;
    put16(d + 8, p->vid);
    put16(d + 10, p->pid);
    put16(d + 12, p->bcd_device);
    d[14] = 1; /* iManufacturer */
    d[15] = 2; /* iProduct */
    d[16] = 3; /* iSerialNumber */
    d[17] = 1; /* bNumConfigurations */
    n = 18;

    size_t cfg = n;
    uint8_t *c = buf + cfg;
    c[0] = 9;
    c[1] = 2;
    c[4] = p->n_ifs;
    c[5] = 1;                       /* bConfigurationValue */
    c[6] = 0;                       /* iConfiguration */
    c[7] = p->is_hub ? 0xe0 : 0x80; /* hubs: self-powered, remote wakeup */
    c[8] = p->is_hub ? 0 : 250;     /* 500 mA for modules */
    n += 9;
    for (unsigned i = 0; i < p->n_ifs; i++) {
        const struct vrack_if_def *f = &p->ifs[i];
        if (n + 9 + 19 + 7u * f->n_eps > sizeof(buf))
            return -E2BIG;
        uint8_t *x = buf + n;
        x[0] = 9;
        x[1] = 4;
        x[2] = (uint8_t)i;
        x[3] = 0;
        x[4] = f->n_eps;
        x[5] = f->cls;
        x[6] = f->subcls;
        x[7] = f->proto;
        x[8] = 0;
        n += 9;
        if (f->cls == 0x02 && f->subcls == 0x02 && f->cdc_data_if >= 0) {
            /* CDC header, call management, ACM and union functional descriptors, so hosts
             * that parse them (cdc_acm does) find the data interface. */
            const uint8_t cdc[] = {5,
                                   0x24,
                                   0x00,
                                   0x10,
                                   0x01,
                                   5,
                                   0x24,
                                   0x01,
                                   0x00,
                                   (uint8_t)f->cdc_data_if,
                                   4,
                                   0x24,
                                   0x02,
                                   0x02,
                                   5,
                                   0x24,
                                   0x06,
                                   (uint8_t)i,
                                   (uint8_t)f->cdc_data_if};
            memcpy(buf + n, cdc, sizeof(cdc));
            n += sizeof(cdc);
        }
        for (unsigned e = 0; e < f->n_eps; e++) {
            const struct vrack_ep_def *ep = &f->eps[e];
            uint8_t *y = buf + n;
            uint16_t maxp = ep->maxp;
            if (full_speed && ep->attrs == BULK && maxp > 64)
                maxp = 64;
            y[0] = 7;
            y[1] = 5;
            y[2] = ep->addr;
            y[3] = ep->attrs;
            put16(y + 4, maxp);
            y[6] = ep->interval;
            n += 7;
        }
    }
    put16(buf + cfg + 2, (uint16_t)(n - cfg));
    uint8_t *out = malloc(n);
    if (!out)
        return -ENOMEM;
    memcpy(out, buf, n);
    *ret = out;
    *ret_len = n;
    return 0;
}

int vrack_string_descriptor(const struct vrack_dev *dev, unsigned index, uint8_t *out, size_t cap)
{
    const char *s;
    if (cap < 4)
        return -EPIPE;
    if (index == 0) { /* supported languages: en-US */
        out[0] = 4;
        out[1] = 3;
        out[2] = 0x09;
        out[3] = 0x04;
        return 4;
    }
    switch (index) {
    case 1:
        s = dev->manufacturer;
        break;
    case 2:
        s = dev->product;
        break;
    case 3:
        s = dev->serial;
        break;
    default:
        return -EPIPE;
    }
    size_t len = strlen(s);
    if (2 + 2 * len > 254)
        len = 126;
    size_t n = 2 + 2 * len;
    if (n > cap)
        return -EPIPE;
    out[0] = (uint8_t)n;
    out[1] = 3;
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = (uint8_t)s[i];
        out[3 + 2 * i] = 0;
    }
    return (int)n;
}

/* ---- sysfs records (umockdev's text format), as the kernel lays devices out ---- */

void vrack_record_usb_device(GString *s, const struct vrack_dev *d)
{
    const struct vrack_profile *p = d->profile;
    const char *dash = strchr(d->port, '-');
    g_string_append_printf(
        s,
        "P: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=%s\nE: DRIVER=usb\n"
        "E: PRODUCT=%x/%x/%x\nE: TYPE=%u/%u/%u\nE: BUSNUM=%03u\nE: DEVNUM=%03u\n"
        "E: MAJOR=189\nE: MINOR=%u\n"
        "A: busnum=%u\nA: devnum=%u\nA: devpath=%s\nA: speed=%u\nA: idVendor=%04x\n"
        "A: idProduct=%04x\nA: bcdDevice=%04x\nA: bDeviceClass=%02x\nA: bDeviceSubClass=%02x\n"
        "A: bDeviceProtocol=%02x\nA: bMaxPacketSize0=64\nA: bNumConfigurations=1\n"
        "A: bNumInterfaces=%2u\nA: bConfigurationValue=1\nA: bmAttributes=%s\n"
        "A: bMaxPower=%s\nA: version= 2.00\nA: maxchild=%u\nA: authorized=1\n"
        "A: removable=%s\nA: manufacturer=%s\nA: product=%s\nA: serial=%s\nA: dev=189:%u\n"
        "H: descriptors=",
        d->syspath + 4, d->devnode, p->vid, p->pid, p->bcd_device, p->dev_class, p->dev_subclass,
        p->dev_proto, d->bus, d->devnum, (d->bus - 1) * 128 + d->devnum - 1, d->bus, d->devnum,
        dash ? dash + 1 : "0", p->speed, p->vid, p->pid, p->bcd_device, p->dev_class,
        p->dev_subclass, p->dev_proto, p->n_ifs, p->is_hub ? "e0" : "80",
        p->is_hub ? "0mA" : "500mA", p->is_hub ? 15 : 0, dash ? "removable" : "unknown",
        d->manufacturer, d->product, d->serial, (d->bus - 1) * 128 + d->devnum - 1);
    for (size_t i = 0; i < d->desc_len; i++)
        g_string_append_printf(s, "%02X", d->desc[i]);
    g_string_append(s, "\n\n");
}

void vrack_record_interface(GString *s, const struct vrack_dev *d, unsigned i)
{
    const struct vrack_profile *p = d->profile;
    const struct vrack_if_def *f = &p->ifs[i];
    g_string_append_printf(
        s,
        "P: %s/%s:1.%u\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nE: PRODUCT=%x/%x/%x\n"
        "E: TYPE=%u/%u/%u\nE: INTERFACE=%u/%u/%u\n"
        "E: MODALIAS=usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X\n",
        d->syspath + 4, strrchr(d->syspath, '/') + 1, i, p->vid, p->pid, p->bcd_device,
        p->dev_class, p->dev_subclass, p->dev_proto, f->cls, f->subcls, f->proto, p->vid, p->pid,
        p->bcd_device, p->dev_class, p->dev_subclass, p->dev_proto, f->cls, f->subcls, f->proto, i);
    if (f->driver)
        g_string_append_printf(s, "E: DRIVER=%s\n", f->driver);
    g_string_append_printf(s,
                           "A: bInterfaceNumber=%02x\nA: bAlternateSetting= 0\n"
                           "A: bInterfaceClass=%02x\nA: bInterfaceSubClass=%02x\n"
                           "A: bInterfaceProtocol=%02x\nA: bNumEndpoints=%02x\n"
                           "A: authorized=1\nA: supports_autosuspend=1\n\n",
                           i, f->cls, f->subcls, f->proto, f->n_eps);
}

void vrack_record_tty(GString *s, const struct vrack_tty *t)
{
    unsigned major = t->kind == VRACK_TTY_ACM ? 166 : 188;
    if (t->kind == VRACK_TTY_USB)
        g_string_append_printf(s,
                               "P: %s\nE: SUBSYSTEM=usb-serial\nE: DRIVER=%s1\n"
                               "A: port_number=0\n\n",
                               t->port_syspath + 4, t->dev->profile->ifs[t->ifnum].driver);
    g_string_append_printf(s,
                           "P: %s\nE: SUBSYSTEM=tty\nE: DEVNAME=%s\nE: MAJOR=%u\nE: MINOR=%u\n"
                           "A: dev=%u:%u\nL: device=../../../%s\n\n",
                           t->syspath + 4, t->devnode, major, t->minor, major, t->minor,
                           t->kind == VRACK_TTY_ACM ? strrchr(t->port_syspath, '/') + 1 : t->name);
}
