/* ASR Crane download plan: download.json -> list of aboot operations, and the ASR sparse
 * segments of flash images (see asr_plan.h and protocols/asr/README.md for the rules and the
 * choices behind them). */
#include "asr/asr_plan.h"

#include "common/bytes.h"
#include "common/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Reply deadlines (§5: 10 s per command, 60 s after a data payload, 300 s for call). */
#define T_CMD       10000
#define T_AFTER_DAT 60000
#define T_CALL      300000
#define T_FLASH     300000 /* flash:/erase: program or erase a whole partition */
#define T_TAIL      3000   /* complete/disconnect after reboot: the device may be gone */

int asr_opts_parse(const char *s, struct asr_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->probe_ms = 5000;
    o->link_ms = 3000;
    o->mtu = ASR_SMUX_MTU;
    o->reenum_ms = 30000;
    o->reboot = 1;
    char k[PROTO_OPTION_MAX], v[PROTO_OPTION_MAX];
    int more;
    while ((more = proto_option_next(&s, "asr", k, sizeof(k), v, sizeof(v), err, errlen)) > 0) {
        char *vend;
        unsigned long long num = strtoull(v, &vend, 0);
        if (!*v || *vend || num > UINT32_MAX) {
            snprintf(err, errlen, "asr option %s='%s' is not a number", k, v);
            return -EINVAL;
        }
        if (strcmp(k, "probe_ms") == 0 && num >= 200)
            o->probe_ms = (uint32_t)num;
        else if (strcmp(k, "link_ms") == 0 && (num == 0 || num >= 500))
            o->link_ms = (uint32_t)num;
        else if (strcmp(k, "mtu") == 0 && num >= 64 && num <= ASR_SMUX_MTU)
            o->mtu = (uint32_t)num;
        else if (strcmp(k, "max_download") == 0 &&
                 (num == 0 || num >= ASR_SPARSE_OVERHEAD + ASR_SPARSE_BLOCK))
            o->max_download = (uint32_t)num;
        else if (strcmp(k, "reenum_ms") == 0)
            o->reenum_ms = (uint32_t)num;
        else if (strcmp(k, "reboot") == 0 && num <= 1)
            o->reboot = (int)num;
        else if (!strcmp(k, "probe_ms") || !strcmp(k, "link_ms") || !strcmp(k, "mtu") ||
                 !strcmp(k, "max_download") || !strcmp(k, "reboot")) {
            snprintf(err, errlen,
                     "asr option %s=%llu is out of range (probe_ms >= 200, link_ms 0 or >= 500, "
                     "mtu 64..1024, max_download 0 or >= 4196, reboot 0|1)",
                     k, num);
            return -EINVAL;
        } else {
            snprintf(err, errlen, "unknown asr option '%s'", k);
            return -EINVAL;
        }
    }
    return more;
}

static struct asr_op *add(struct asr_plan *p, enum asr_op_kind kind, const char *phase,
                          uint32_t timeout_ms)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct asr_op *g = realloc(p->ops, cap * sizeof(*g));
        if (!g)
            return NULL;
        p->ops = g;
        p->cap = cap;
    }
    struct asr_op *op = &p->ops[p->count++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->phase = phase;
    op->timeout_ms = timeout_ms;
    return op;
}

static void what(struct asr_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void what(struct asr_op *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->what, sizeof(op->what), fmt, ap);
    va_end(ap);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Text command op; -EINVAL when the text does not fit an aboot command. */
static struct asr_op *cmd_op(struct asr_plan *p, enum asr_op_kind kind, const char *phase,
                             uint32_t timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static struct asr_op *cmd_op(struct asr_plan *p, enum asr_op_kind kind, const char *phase,
                             uint32_t timeout_ms, const char *fmt, ...)
{
    struct asr_op *op = add(p, kind, phase, timeout_ms);
    if (!op)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(op->cmd, sizeof(op->cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > ASR_ABOOT_CMD_MAX) {
        p->count--;
        return NULL;
    }
    what(op, "%s", op->cmd);
    return op;
}

static enum fail_code nomem_or(int toolong, char *err, size_t errlen, const char *c)
{
    if (toolong) {
        fail(err, errlen, "download.json: command '%.60s' is longer than %u bytes", c,
             ASR_ABOOT_CMD_MAX);
        return FAIL_PACKAGE;
    }
    fail(err, errlen, "out of memory building the plan");
    return FAIL_INTERNAL;
}

static int is_image_cmd(const char *c)
{
    return !strcmp(c, "call") || !strcmp(c, "partition") || !strcmp(c, "flash") ||
           !strcmp(c, "erase");
}

enum fail_code asr_plan_build(struct asr_plan *plan, const struct asr_pkg *pkg,
                              const struct asr_opts *o, char *err, size_t errlen)
{
    memset(plan, 0, sizeof(*plan));
    struct asr_op *op;
    if (!add(plan, ASR_OP_LINE, "handshake", 0) || !add(plan, ASR_OP_PROBE, "handshake", 0) ||
        !add(plan, ASR_OP_INIT, "handshake", 2000) || !add(plan, ASR_OP_HELLO, "handshake", 2000))
        return nomem_or(0, err, errlen, "");
    plan->ops[1].timeout_ms = o->probe_ms;
    what(&plan->ops[0], "DTR+RTS");
    what(&plan->ops[1], "preamble probe");
    what(&plan->ops[2], "SMUX init (UABT)");
    what(&plan->ops[3], "HELLO (MTU %u)", o->mtu);
    /* Always read the ROM version: the call/nop quirk depends on it (§2.3). */
    static const struct {
        const char *name;
        enum asr_var var;
    } ident[] = {{"product", ASR_VAR_PRODUCT}, {"version-bootrom", ASR_VAR_BOOTROM}};
    for (size_t i = 0; i < 2; i++) {
        if (!(op = cmd_op(plan, ASR_OP_GETVAR, "identify", T_CMD, "getvar:%s", ident[i].name)))
            return nomem_or(0, err, errlen, "");
        snprintf(op->name, sizeof(op->name), "%s", ident[i].name);
        op->var = ident[i].var;
        op->flags = ASR_OPF_FAIL_OK;
    }
    int need_maxdl = 1;
    size_t img = 0;
    for (size_t i = 0; i < pkg->dl.count; i++) {
        const struct asr_cmd *c = &pkg->dl.cmds[i];
        const struct pkg_image *im = NULL;
        if (is_image_cmd(c->command)) {
            if (img >= pkg->images.count || strcmp(pkg->images.items[img].type, c->command) != 0) {
                fail(err, errlen, "package description out of step at download.json command %zu",
                     i);
                return FAIL_INTERNAL;
            }
            im = &pkg->images.items[img++];
            if (strcmp(c->command, "erase") != 0 && (!im->data || im->size == 0)) {
                fail(err, errlen, "download.json: '%s' entry %zu: image '%s' is empty", c->command,
                     i, c->image);
                return FAIL_PACKAGE;
            }
        }
        if (!strcmp(c->command, "require")) {
            if (!(op = cmd_op(plan, ASR_OP_REQUIRE, "identify", T_CMD, "getvar:%s", c->name)))
                return nomem_or(1, err, errlen, c->name);
            snprintf(op->name, sizeof(op->name), "%s", c->name);
            snprintf(op->value, sizeof(op->value), "%s", c->value);
            op->var = !strcmp(c->name, "version")           ? ASR_VAR_VERSION
                      : !strcmp(c->name, "version-bootrom") ? ASR_VAR_BOOTROM
                      : !strcmp(c->name, "product")         ? ASR_VAR_PRODUCT
                                                            : ASR_VAR_NONE;
        } else if (!strcmp(c->command, "progress")) {
            if (!(op = cmd_op(plan, ASR_OP_CMD, "identify", T_CMD, "progress:%s", c->value)))
                return nomem_or(1, err, errlen, c->value);
            op->flags = ASR_OPF_FAIL_OK; /* a weight for the device's own display only */
        } else if (!strcmp(c->command, "enable")) {
            if (!cmd_op(plan, ASR_OP_CMD, "partition", T_CMD, "enable"))
                return nomem_or(0, err, errlen, "");
        } else if (!strcmp(c->command, "upload")) {
            plan->skipped++; /* read-back packages are not a flashing step */
        } else if (!strcmp(c->command, "erase")) {
            if (!(op = cmd_op(plan, ASR_OP_CMD, "erase", T_FLASH, "erase:%s", c->partition)))
                return nomem_or(1, err, errlen, c->partition);
        } else if (!strcmp(c->command, "call") || !strcmp(c->command, "partition")) {
            int call = !strcmp(c->command, "call");
            const char *phase = call ? "boot" : "partition";
            if (need_maxdl) {
                if (!(op = cmd_op(plan, ASR_OP_MAXDL, phase, T_CMD, "getvar:max-download-size")))
                    return nomem_or(0, err, errlen, "");
                need_maxdl = 0;
            }
            if (!(op = add(plan, ASR_OP_DOWNLOAD, phase, T_AFTER_DAT)))
                return nomem_or(0, err, errlen, "");
            op->data = im->data;
            op->len = (size_t)im->size;
            snprintf(op->bootrom, sizeof(op->bootrom), "%s", call ? c->bootrom : "");
            what(op, "download %.60s (%zu bytes)", c->image, op->len);
            plan->total_bytes += op->len;
            if (call) {
                if (!(op = cmd_op(plan, ASR_OP_CMD, phase, T_AFTER_DAT, "verify")))
                    return nomem_or(0, err, errlen, "");
                snprintf(op->bootrom, sizeof(op->bootrom), "%s", c->bootrom);
                if (!(op = cmd_op(plan, ASR_OP_CALL, phase, T_CALL, "call")))
                    return nomem_or(0, err, errlen, "");
                snprintf(op->bootrom, sizeof(op->bootrom), "%s", c->bootrom);
                what(op, "call %.60s", c->image);
                need_maxdl = 1; /* the image called may change the limit (flasher: 1 MiB) */
            } else if (!(op = cmd_op(plan, ASR_OP_CMD, phase, T_AFTER_DAT, "partition"))) {
                return nomem_or(0, err, errlen, "");
            } else {
                what(op, "partition (%.60s)", c->image);
            }
        } else if (!strcmp(c->command, "flash")) {
            if (need_maxdl) {
                if (!cmd_op(plan, ASR_OP_MAXDL, "flash", T_CMD, "getvar:max-download-size"))
                    return nomem_or(0, err, errlen, "");
                need_maxdl = 0;
            }
            if (!(op = cmd_op(plan, ASR_OP_FLASH, "flash", T_FLASH, "flash:%s", c->partition)))
                return nomem_or(1, err, errlen, c->partition);
            op->data = im->data;
            op->len = (size_t)im->size;
            snprintf(op->partition, sizeof(op->partition), "%s", c->partition);
            what(op, "flash:%s (%.50s, %zu bytes)", c->partition, c->image, op->len);
            plan->total_bytes += op->len;
        }
    }
    if (o->reboot) {
        if (!(op = cmd_op(plan, ASR_OP_CMD, "reboot", T_CMD, "reboot")))
            return nomem_or(0, err, errlen, "");
        op->flags = ASR_OPF_ARM_LEAVE;
        if (!(op = cmd_op(plan, ASR_OP_CMD, "reboot", T_TAIL, "complete")))
            return nomem_or(0, err, errlen, "");
        op->flags = ASR_OPF_TAIL;
        if (!(op = cmd_op(plan, ASR_OP_CMD, "reboot", T_TAIL, "disconnect")))
            return nomem_or(0, err, errlen, "");
        op->flags = ASR_OPF_TAIL;
        if (!(op = add(plan, ASR_OP_REENUM, "reenumerate", o->reenum_ms)))
            return nomem_or(0, err, errlen, "");
        what(op, "wait for the module to come back");
    } else if (!cmd_op(plan, ASR_OP_CMD, "complete", T_CMD, "complete")) {
        return nomem_or(0, err, errlen, "");
    }
    return FAIL_NONE;
}

void asr_plan_free(struct asr_plan *plan)
{
    free(plan->ops);
    memset(plan, 0, sizeof(*plan));
}

int asr_parse_hex32(const char *s, uint32_t *ret)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > 8 || strspn(s, "0123456789abcdefABCDEF") != n)
        return -EINVAL;
    *ret = (uint32_t)strtoul(s, NULL, 16);
    return 0;
}

int asr_require_match(const char *name, const char *want, const char *got)
{
    if (!strcmp(name, "version-bootrom"))
        return strcmp(want, got) == 0;
    if (!strcmp(name, "max-download-size")) {
        uint32_t w, g;
        return asr_parse_hex32(want, &w) == 0 && asr_parse_hex32(got, &g) == 0 && w <= g;
    }
    size_t gl = strlen(got);
    for (const char *a = want;;) {
        size_t n = strcspn(a, "|");
        if (n == gl && strncmp(a, got, n) == 0)
            return 1;
        if (!a[n])
            return 0;
        a += n + 1;
    }
}

/* ---- ASR sparse ----------------------------------------------------------------------- */

void asr_src_raw(struct asr_src *s, const uint8_t *data, size_t len)
{
    memset(s, 0, sizeof(*s));
    s->data = data;
    s->data_len = len;
}

size_t asr_src_len(const struct asr_src *s)
{
    return s->head_len + s->data_len + s->pad + s->tail_len;
}

void asr_src_copy(const struct asr_src *s, size_t off, uint8_t *out, size_t n)
{
    const size_t lim[4] = {s->head_len, s->data_len, s->pad, s->tail_len};
    size_t base = 0;
    for (int part = 0; part < 4 && n; part++) {
        if (off < base + lim[part]) {
            size_t at = off - base, k = lim[part] - at < n ? lim[part] - at : n;
            if (part == 0)
                memcpy(out, s->head + at, k);
            else if (part == 1)
                memcpy(out, s->data + at, k);
            else if (part == 2)
                memset(out, 0xFF, k);
            else
                memcpy(out, s->tail + at, k);
            out += k;
            off += k;
            n -= k;
        }
        base += lim[part];
    }
}

uint32_t asr_sparse_blocks_per_segment(uint32_t max_download)
{
    return max_download > ASR_SPARSE_OVERHEAD
               ? (max_download - ASR_SPARSE_OVERHEAD) / ASR_SPARSE_BLOCK
               : 0;
}

uint32_t asr_sparse_segment_count(size_t len, uint32_t per)
{
    uint64_t blocks = ((uint64_t)len + ASR_SPARSE_BLOCK - 1) / ASR_SPARSE_BLOCK;
    return per ? (uint32_t)((blocks + per - 1) / per) : 0;
}

static void chunk(uint8_t *p, uint16_t type, uint32_t blocks, uint32_t total)
{
    bytes_put_le16(p, type);
    bytes_put_le16(p + 2, 0);
    bytes_put_le32(p + 4, blocks);
    bytes_put_le32(p + 8, total);
    bytes_put_le32(p + 12, 0); /* the extra u32 of ASR chunk headers: 0 as in stock files */
}

int asr_sparse_segment(const uint8_t *img, size_t len, uint32_t per, uint32_t k,
                       struct asr_src *out, size_t *raw_len)
{
    uint64_t blocks = ((uint64_t)len + ASR_SPARSE_BLOCK - 1) / ASR_SPARSE_BLOCK;
    if (len == 0 || per == 0 || blocks > UINT32_MAX || k >= asr_sparse_segment_count(len, per))
        return -EINVAL;
    uint64_t first = (uint64_t)k * per;
    uint32_t n = (uint32_t)(blocks - first < per ? blocks - first : per);
    uint32_t rest = (uint32_t)(blocks - first - n);
    size_t off = (size_t)first * ASR_SPARSE_BLOCK;
    size_t dlen =
        len - off < (size_t)n * ASR_SPARSE_BLOCK ? len - off : (size_t)n * ASR_SPARSE_BLOCK;
    memset(out, 0, sizeof(*out));
    uint32_t chunks = 2 + (first ? 1 : 0) + (rest ? 1 : 0);
    uint8_t *h = out->head;
    bytes_put_le32(h, ASR_SPARSE_MAGIC);
    bytes_put_le16(h + 4, 1);
    bytes_put_le16(h + 6, 0);
    bytes_put_le16(h + 8, ASR_SPARSE_FILE_HDR);
    bytes_put_le16(h + 10, ASR_SPARSE_CHUNK_HDR);
    bytes_put_le32(h + 12, ASR_SPARSE_BLOCK);
    bytes_put_le32(h + 16, (uint32_t)blocks);
    bytes_put_le32(h + 20, chunks);
    bytes_put_le32(h + 24, 0); /* image checksum: 0 in stock files */
    bytes_put_le32(h + 28, 0);
    out->head_len = ASR_SPARSE_FILE_HDR;
    if (first) {
        chunk(h + out->head_len, 0xCAC3, (uint32_t)first, ASR_SPARSE_CHUNK_HDR);
        out->head_len += ASR_SPARSE_CHUNK_HDR;
    }
    chunk(h + out->head_len, 0xCAC1, n, ASR_SPARSE_CHUNK_HDR + n * ASR_SPARSE_BLOCK);
    out->head_len += ASR_SPARSE_CHUNK_HDR;
    out->data = img + off;
    out->data_len = dlen;
    out->pad = (size_t)n * ASR_SPARSE_BLOCK - dlen; /* erased NOR reads 0xFF */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < dlen;) {
        size_t step = dlen - at > (1u << 30) ? (1u << 30) : dlen - at;
        crc = crc32(crc, out->data + at, (uInt)step);
        at += step;
    }
    uint8_t ff[256];
    memset(ff, 0xFF, sizeof(ff));
    for (size_t left = out->pad; left;) {
        size_t step = left < sizeof(ff) ? left : sizeof(ff);
        crc = crc32(crc, ff, (uInt)step);
        left -= step;
    }
    uint8_t *t = out->tail;
    if (rest) {
        chunk(t, 0xCAC3, rest, ASR_SPARSE_CHUNK_HDR);
        out->tail_len += ASR_SPARSE_CHUNK_HDR;
    }
    chunk(t + out->tail_len, 0xCAC4, 0, ASR_SPARSE_CHUNK_HDR + 4);
    bytes_put_le32(t + out->tail_len + ASR_SPARSE_CHUNK_HDR, (uint32_t)crc);
    out->tail_len += ASR_SPARSE_CHUNK_HDR + 4;
    if (raw_len)
        *raw_len = dlen;
    return 0;
}

int asr_sparse_is(const uint8_t *img, size_t len)
{
    uint32_t magic;
    uint16_t fh, ch;
    return bytes_le32_at(img, len, 0, &magic) == 0 && magic == ASR_SPARSE_MAGIC &&
           bytes_le16_at(img, len, 8, &fh) == 0 && fh == ASR_SPARSE_FILE_HDR &&
           bytes_le16_at(img, len, 10, &ch) == 0 && ch == ASR_SPARSE_CHUNK_HDR;
}
