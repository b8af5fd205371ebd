/* Unisoc download plan: PAC XML scheme -> list of wire operations (see unisoc_plan.h and
 * protocols/unisoc/README.md for the rules and the choices behind them). */
#include "common/options.h"
#include "unisoc/unisoc_plan.h"

#include "package/pkg_types.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Size limits of §2.4 and timeouts of §7 (milliseconds). */
#define PDL_CHUNK         0x800
#define ROM_CHUNK         0x210
#define FDL1_CHUNK        0x840
#define T_PDL             3000
#define T_CHECK_BAUD      1000
#define T_CMD             3000
#define T_FDL2_EXEC       15000
#define T_FLASH_START     30000 /* FDL2 erases the target region when START arrives */
#define T_FLASH_MIDST     15000
#define T_FLASH_END       60000
#define T_ERASE           60000
#define T_BAUD            2000
#define LOGICAL_NV_ERASE  0xFE000001u
#define LOGICAL_PHASECHK  0xFE000002u
#define LOGICAL_NV        0xFE000003u
#define LOGICAL_FORMAT_FS 0xFE000006u

int unisoc_opts_parse(const char *s, struct unisoc_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->baud = 921600;
    o->chunk = 0x800;
    o->transcode = 1;
    o->reenum_ms = 30000;
    char k[PROTO_OPTION_MAX], v[PROTO_OPTION_MAX];
    int more;
    while ((more = proto_option_next(&s, "unisoc", k, sizeof(k), v, sizeof(v), err, errlen)) > 0) {
        if (strcmp(k, "ver") == 0) {
            if (strlen(v) >= sizeof(o->ver)) {
                snprintf(err, errlen, "unisoc option ver: longer than %zu characters",
                         sizeof(o->ver) - 1);
                return -EINVAL;
            }
            memcpy(o->ver, v, strlen(v) + 1);
            continue;
        }
        char *vend;
        unsigned long long num = strtoull(v, &vend, 0);
        if (!*v || *vend || num > UINT32_MAX) {
            snprintf(err, errlen, "unisoc option %s='%s' is not a number", k, v);
            return -EINVAL;
        }
        if (strcmp(k, "write_nv") == 0)
            o->write_nv = num != 0;
        else if (strcmp(k, "format_fs") == 0)
            o->format_fs = num != 0;
        else if (strcmp(k, "transcode") == 0)
            o->transcode = num != 0;
        else if (strcmp(k, "baud") == 0)
            o->baud = (uint32_t)num;
        else if (strcmp(k, "reenum_ms") == 0)
            o->reenum_ms = (uint32_t)num;
        else if (strcmp(k, "chunk") == 0) {
            if (num < 64 || num > 0xF000 || (num & 1)) {
                snprintf(err, errlen, "unisoc option chunk=%llu must be even, 64..61440", num);
                return -EINVAL;
            }
            o->chunk = (uint32_t)num;
        } else {
            snprintf(err, errlen, "unknown unisoc option '%s'", k);
            return -EINVAL;
        }
    }
    return more; /* 0 at the end, < 0 for a malformed item */
}

static struct unisoc_op *add(struct unisoc_plan *p, enum unisoc_op_kind kind, const char *phase,
                             uint8_t check)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct unisoc_op *g = realloc(p->ops, cap * sizeof(*g));
        if (!g)
            return NULL;
        p->ops = g;
        p->cap = cap;
    }
    struct unisoc_op *op = &p->ops[p->count++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->phase = phase;
    op->check = check;
    op->tries = 1;
    op->timeout_ms = T_CMD;
    return op;
}

static void what(struct unisoc_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void what(struct unisoc_op *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->what, sizeof(op->what), fmt, ap);
    va_end(ap);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Partition name: ASCII widened to UTF-16LE in 72 bytes, always NUL-terminated (§3.1). */
static int put_name(uint8_t *p, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 35)
        return -EINVAL;
    memset(p, 0, 72);
    for (size_t i = 0; i < n; i++)
        p[2 * i] = (uint8_t)name[i];
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct pkg_image *find_image(const struct unisoc_pac *pac, const char *id)
{
    for (size_t i = 0; i < pac->images.count; i++) {
        const struct pkg_image *img = &pac->images.items[i];
        if (strcasecmp(img->name, id) == 0 && img->data && img->size)
            return img;
    }
    return NULL;
}

static int has_token_ci(const char *s, const char *tok)
{
    size_t n = strlen(tok);
    for (; *s; s++)
        if (strncasecmp(s, tok, n) == 0)
            return 1;
    return 0;
}

/* NV, calibration and production data: never touched unless write_nv (README "NV"). */
static int is_nv_class(const struct unisoc_xml_file *x)
{
    static const char *const toks[] = {"fixnv",      "runtimenv", "prodnv",
                                       "phasecheck", "miscdata",  "calib"};
    if (x->base == LOGICAL_NV_ERASE || x->base == LOGICAL_PHASECHK || x->base == LOGICAL_NV)
        return 1;
    if (strncasecmp(x->type, "NV", 2) == 0 || strncasecmp(x->id, "NV", 2) == 0 ||
        strcasecmp(x->type, "CHECK_NV") == 0 || strcasecmp(x->block_id, "nv") == 0 ||
        strcasecmp(x->block_id, "nvitem") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++)
        if (has_token_ci(x->id, toks[i]) || has_token_ci(x->block_id, toks[i]) ||
            has_token_ci(x->type, toks[i]))
            return 1;
    return 0;
}

static int is_format_fs(const struct unisoc_xml_file *x)
{
    return x->base == LOGICAL_FORMAT_FS || strncasecmp(x->id, "FMT_FS", 6) == 0 ||
           strcasecmp(x->id, "CLEARSYSFS") == 0;
}

static int is_fdl_type(const struct unisoc_xml_file *x)
{
    return strcasecmp(x->type, "HOST_FDL") == 0 || strcasecmp(x->type, "FDL") == 0 ||
           strcasecmp(x->type, "FDL1") == 0 || strcasecmp(x->type, "FDL2") == 0 ||
           strcasecmp(x->type, "NAND_FDL") == 0 || strcasecmp(x->id, "HOST_FDL") == 0 ||
           strcasecmp(x->id, "FDL") == 0 || strcasecmp(x->id, "FDL1") == 0 ||
           strcasecmp(x->id, "FDL2") == 0;
}

static const struct unisoc_xml_file *find_xml(const struct unisoc_pac *pac, const char *const *ids)
{
    for (size_t i = 0; i < pac->nxml; i++)
        for (const char *const *id = ids; *id; id++)
            if (strcasecmp(pac->xml[i].type, *id) == 0 || strcasecmp(pac->xml[i].id, *id) == 0)
                return &pac->xml[i];
    return NULL;
}

static int addr_ok(uint64_t a)
{
    return a != PKG_ADDR_NONE && a < 0xFFFFFFFFull;
}

/* START / MIDST / END (and EXEC for loaders) for one image at an address or partition. */
static int add_download(struct unisoc_plan *p, const char *phase, const char *id, uint64_t addr,
                        const char *part, const uint8_t *data, size_t len, uint8_t check,
                        size_t chunk, int flash, const uint32_t *checksum, char *err, size_t errlen)
{
    int pad = check == UNISOC_CHECK_SUM;
    uint32_t announced = (uint32_t)(pad ? (len + 1) & ~(size_t)1 : len);
    struct unisoc_op *op = add(p, UNISOC_OP_CMD, phase, check);
    if (!op)
        return fail(err, errlen, "out of memory");
    op->cmd = UNISOC_CMD_START_DATA;
    op->timeout_ms = flash ? T_FLASH_START : T_CMD;
    if (addr_ok(addr)) {
        put_be32(op->payload, (uint32_t)addr);
        put_be32(op->payload + 4, announced);
        op->plen = 8;
        if (checksum) {
            put_be32(op->payload + 8, *checksum);
            op->plen = 12;
        }
        what(op, "START_DATA %s at 0x%08llx, %u bytes", id, (unsigned long long)addr, announced);
    } else {
        if (put_name(op->payload, part) < 0)
            return fail(err, errlen, "PAC entry %s: partition name '%s' is empty or too long", id,
                        part);
        put_le32(op->payload + 72, announced);
        op->plen = 76;
        if (checksum) {
            put_le32(op->payload + 76, *checksum);
            op->plen = 80;
        }
        what(op, "START_DATA %s to partition %s, %u bytes", id, part, announced);
    }
    op = add(p, UNISOC_OP_DATA, phase, check);
    if (!op)
        return fail(err, errlen, "out of memory");
    op->data = data;
    op->len = len;
    op->chunk = chunk;
    op->pad_even = pad;
    op->timeout_ms = flash ? T_FLASH_MIDST : T_CMD;
    what(op, "MIDST_DATA %s", id);
    p->total_bytes += len;
    op = add(p, UNISOC_OP_CMD, phase, check);
    if (!op)
        return fail(err, errlen, "out of memory");
    op->cmd = UNISOC_CMD_END_DATA;
    op->timeout_ms = flash ? T_FLASH_END : T_CMD;
    what(op, "END_DATA %s", id);
    return 0;
}

/* The image a loader entry names: data, address from the file table or the XML. */
static int loader(const struct unisoc_pac *pac, const char *const *ids, const char *what_name,
                  const struct pkg_image **img, uint64_t *addr, char *err, size_t errlen)
{
    const struct unisoc_xml_file *x = find_xml(pac, ids);
    *img = NULL;
    for (const char *const *id = ids; *id && !*img; id++)
        *img = find_image(pac, x ? x->id : *id);
    if (!*img)
        return fail(err, errlen, "PAC '%s' has no %s image", pac->product, what_name);
    *addr = (*img)->address != PKG_ADDR_NONE ? (*img)->address : x ? x->base : PKG_ADDR_NONE;
    if (!addr_ok(*addr))
        return fail(err, errlen, "PAC '%s': %s has no load address", pac->product, what_name);
    if (x && x->size && (*img)->size > x->size)
        return fail(err, errlen, "PAC '%s': %s is %llu bytes, its slot holds %llu", pac->product,
                    what_name, (unsigned long long)(*img)->size, (unsigned long long)x->size);
    return 0;
}

static int connect_ops(struct unisoc_plan *p, const char *phase, uint8_t check, int check_baud,
                       const char *stage)
{
    struct unisoc_op *op;
    if (check_baud) {
        if (!(op = add(p, UNISOC_OP_CHECK_BAUD, phase, check)))
            return -1;
        op->timeout_ms = T_CHECK_BAUD;
        op->tries = 10;
        what(op, "check-baud to %s", stage);
    }
    if (!(op = add(p, UNISOC_OP_CMD, phase, check)))
        return -1;
    op->cmd = UNISOC_CMD_CONNECT;
    op->tries = 2; /* the ROM may miss the first CONNECT (§7) */
    op->flags = UNISOC_OPF_SKIP_VER;
    what(op, "CONNECT to %s", stage);
    return 0;
}

static int scheme_ops(struct unisoc_plan *p, const struct unisoc_pac *pac,
                      const struct unisoc_opts *o, char *err, size_t errlen)
{
    for (size_t i = 0; i < pac->nxml; i++) {
        const struct unisoc_xml_file *x = &pac->xml[i];
        if (is_fdl_type(x))
            continue;
        int nv = is_nv_class(x);
        if (nv && !o->write_nv) {
            p->skipped_nv++;
            continue;
        }
        if (is_format_fs(x) && !o->format_fs) {
            p->skipped_fs++;
            continue;
        }
        const struct pkg_image *img = find_image(pac, x->id);
        uint64_t addr = img && img->address != PKG_ADDR_NONE ? img->address : x->base;
        if (strncasecmp(x->type, "Erase", 5) == 0) {
            struct unisoc_op *op = add(p, UNISOC_OP_CMD, nv ? "nv" : "erase", UNISOC_CHECK_SUM);
            if (!op)
                return fail(err, errlen, "out of memory");
            op->cmd = UNISOC_CMD_ERASE_FLASH;
            uint64_t size = x->size > 0xFFFFFFFFull ? 0xFFFFFFFFull : x->size;
            /* Erase time grows with the region (§7: t x size/64 KiB + t). */
            uint64_t t = T_ERASE + (size / 0x10000) * 1000;
            op->timeout_ms = (uint32_t)(t > 600000 ? 600000 : t);
            if (x->base != PKG_ADDR_NONE && x->base <= 0xFFFFFFFFull &&
                strcasecmp(x->type, "EraseFlash2") != 0) {
                put_be32(op->payload, (uint32_t)x->base);
                put_be32(op->payload + 4, (uint32_t)size);
                op->plen = 8;
                what(op, "ERASE_FLASH %s at 0x%08llx, 0x%llx bytes", x->id,
                     (unsigned long long)x->base, (unsigned long long)size);
            } else if (x->block_id[0] && put_name(op->payload, x->block_id) == 0) {
                put_le32(op->payload + 72, (uint32_t)size);
                op->plen = 76;
                what(op, "ERASE_FLASH %s partition %s", x->id, x->block_id);
            } else {
                return fail(err, errlen, "PAC entry %s (%s) has neither an address nor a partition",
                            x->id, x->type);
            }
            continue;
        }
        if (!img) {
            p->skipped_other++; /* operations we do not perform, entries without data */
            continue;
        }
        if (img->size > 0x7FFFFFFF)
            return fail(err, errlen, "PAC entry %s is %llu bytes (too large)", x->id,
                        (unsigned long long)img->size);
        if (addr_ok(addr) && x->size && img->size > x->size)
            return fail(err, errlen, "PAC entry %s is %llu bytes, its region holds %llu", x->id,
                        (unsigned long long)img->size, (unsigned long long)x->size);
        if (!addr_ok(addr) && !x->block_id[0])
            return fail(err, errlen, "PAC entry %s (%s) has neither an address nor a partition",
                        x->id, x->type);
        const uint8_t *data = img->data;
        size_t len = (size_t)img->size;
        uint32_t sum32 = 0;
        int nv_image = strncasecmp(x->type, "NV", 2) == 0 || addr == LOGICAL_NV;
        if (nv_image) {
            /* §4.4: CRC-16/ARC of [2, end) into bytes 0..1 (BE), START carries the byte sum. */
            if (len < 4 || p->nowned == sizeof(p->owned) / sizeof(p->owned[0]))
                return fail(err, errlen, "PAC NV entry %s is unusable (%zu bytes)", x->id, len);
            uint8_t *copy = malloc(len);
            if (!copy)
                return fail(err, errlen, "out of memory");
            p->owned[p->nowned++] = copy;
            memcpy(copy, data, len);
            uint16_t crc = unisoc_crc16_arc(0, copy + 2, len - 2);
            copy[0] = (uint8_t)(crc >> 8);
            copy[1] = (uint8_t)crc;
            for (size_t k = 0; k < len; k++)
                sum32 += copy[k];
            data = copy;
        }
        if (add_download(p, nv ? "nv" : "flash", x->id, addr, x->block_id, data, len,
                         UNISOC_CHECK_SUM, o->chunk, 1, nv_image ? &sum32 : NULL, err, errlen) < 0)
            return -1;
    }
    return 0;
}

enum fail_code unisoc_plan_build(struct unisoc_plan *p, const struct unisoc_pac *pac,
                                 const struct unisoc_opts *o, enum proto_link_kind link, char *err,
                                 size_t errlen)
{
    static const char *const host_fdl[] = {"HOST_FDL", NULL};
    static const char *const fdl1[] = {"FDL", "FDL1", NULL};
    static const char *const fdl2[] = {"FDL2", "NAND_FDL", NULL};
    memset(p, 0, sizeof(*p));
    if (pac->nxml == 0)
        return fail(err, errlen, "PAC '%s' has no XML download scheme", pac->product), FAIL_PACKAGE;
    const struct pkg_image *f1, *f2;
    uint64_t a1, a2;
    p->chip = find_xml(pac, host_fdl) ? UNISOC_CHIP_8910 : UNISOC_CHIP_CLASSIC;
    if (loader(pac, p->chip == UNISOC_CHIP_8910 ? host_fdl : fdl1,
               p->chip == UNISOC_CHIP_8910 ? "HOST_FDL" : "FDL (FDL1)", &f1, &a1, err,
               errlen) < 0 ||
        loader(pac, fdl2, "FDL2", &f2, &a2, err, errlen) < 0)
        return FAIL_PACKAGE;
    struct unisoc_op *op;
    if (!(op = add(p, UNISOC_OP_LINE, "handshake", UNISOC_CHECK_CRC16)))
        goto oom;
    op->baud = link == PROTO_LINK_SERIAL ? 115200 : 0;
    what(op, "line kick (DTR/RTS)");
    if (p->chip == UNISOC_CHIP_8910) {
        if (!(op = add(p, UNISOC_OP_PDL, "handshake", 0)))
            goto oom;
        op->pdl_cmd = UNISOC_PDL_CONNECT;
        op->timeout_ms = T_PDL;
        op->tries = 3;
        what(op, "PDL CONNECT");
        if (!(op = add(p, UNISOC_OP_PDL, "fdl1", 0)))
            goto oom;
        op->pdl_cmd = UNISOC_PDL_START_DATA;
        op->arg1 = (uint32_t)a1;
        op->arg2 = (uint32_t)f1->size;
        memcpy(op->payload, "PDL1", 5);
        op->plen = 5;
        op->timeout_ms = T_PDL;
        what(op, "PDL START_DATA HOST_FDL at 0x%08x, %u bytes", op->arg1, op->arg2);
        if (!(op = add(p, UNISOC_OP_PDL_DATA, "fdl1", 0)))
            goto oom;
        op->data = f1->data;
        op->len = (size_t)f1->size;
        op->chunk = PDL_CHUNK;
        op->timeout_ms = T_PDL;
        what(op, "PDL MID_DATA HOST_FDL");
        p->total_bytes += f1->size;
        if (!(op = add(p, UNISOC_OP_PDL, "fdl1", 0)))
            goto oom;
        op->pdl_cmd = UNISOC_PDL_END_DATA;
        /* The constant every Quectel-derived host sends; the ROM does not check it (§4.1). */
        memcpy(op->payload, "\x1c\x3c\x6e\x06", 4);
        op->plen = 4;
        op->timeout_ms = T_PDL;
        what(op, "PDL END_DATA HOST_FDL");
        if (!(op = add(p, UNISOC_OP_PDL_EXEC, "fdl1", 0)))
            goto oom;
        op->pdl_cmd = UNISOC_PDL_EXEC_DATA;
        what(op, "PDL EXEC_DATA HOST_FDL");
    } else {
        if (connect_ops(p, "handshake", UNISOC_CHECK_CRC16, 1, "the BootROM") < 0)
            goto oom;
        if (add_download(p, "fdl1", "FDL", a1, "", f1->data, (size_t)f1->size, UNISOC_CHECK_CRC16,
                         ROM_CHUNK, 0, NULL, err, errlen) < 0)
            return FAIL_INTERNAL;
        if (!(op = add(p, UNISOC_OP_CMD, "fdl1", UNISOC_CHECK_CRC16)))
            goto oom;
        op->cmd = UNISOC_CMD_EXEC_DATA;
        what(op, "EXEC_DATA FDL");
    }
    if (connect_ops(p, "fdl1", UNISOC_CHECK_SUM, 1, "FDL1") < 0)
        goto oom;
    if (link == PROTO_LINK_SERIAL && o->baud) {
        if (!(op = add(p, UNISOC_OP_BAUD, "baud", UNISOC_CHECK_SUM)))
            goto oom;
        op->cmd = UNISOC_CMD_CHANGE_BAUD;
        op->baud = o->baud;
        put_be32(op->payload, o->baud);
        op->plen = 4;
        op->timeout_ms = T_BAUD;
        what(op, "CHANGE_BAUD %u", o->baud);
    }
    if (add_download(p, "fdl2", "FDL2", a2, "", f2->data, (size_t)f2->size, UNISOC_CHECK_SUM,
                     FDL1_CHUNK, 0, NULL, err, errlen) < 0)
        return FAIL_INTERNAL;
    if (!(op = add(p, UNISOC_OP_CMD, "fdl2", UNISOC_CHECK_SUM)))
        goto oom;
    op->cmd = UNISOC_CMD_EXEC_DATA;
    op->timeout_ms = T_FDL2_EXEC; /* answered by FDL2 after its init */
    op->flags = UNISOC_OPF_ALLOW_INCOMPAT;
    what(op, "EXEC_DATA FDL2");
    if (connect_ops(p, "fdl2", UNISOC_CHECK_SUM, 0, "FDL2") < 0)
        goto oom;
    if (!o->transcode) {
        if (!(op = add(p, UNISOC_OP_TRANSCODE, "fdl2", UNISOC_CHECK_SUM)))
            goto oom;
        op->cmd = UNISOC_CMD_DISABLE_TRANSCODE;
        what(op, "DISABLE_TRANSCODE");
    }
    if (scheme_ops(p, pac, o, err, errlen) < 0)
        return FAIL_PACKAGE;
    if (!(op = add(p, UNISOC_OP_CMD, "reset", UNISOC_CHECK_SUM)))
        goto oom;
    op->cmd = UNISOC_CMD_NORMAL_RESET;
    what(op, "NORMAL_RESET");
    if (!(op = add(p, UNISOC_OP_REENUM, "reenumerate", UNISOC_CHECK_SUM)))
        goto oom;
    op->timeout_ms = o->reenum_ms;
    what(op, "re-enumeration after reset");
    return FAIL_NONE;
oom:
    fail(err, errlen, "out of memory building the download plan");
    return FAIL_INTERNAL;
}

void unisoc_plan_free(struct unisoc_plan *p)
{
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->ops);
    memset(p, 0, sizeof(*p));
}
