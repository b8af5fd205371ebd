/* Eigencomm binpkg parser (see eigencomm_pkg.h). */
#include "eigencomm/eigencomm_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *eigencomm_family(const char *product)
{
    if (!strncasecmp(product, "EC718HM", 7) || !strncasecmp(product, "EC718UM", 7) ||
        !strncasecmp(product, "EC718PM", 7) || !strncasecmp(product, "EC718SM", 7))
        return "ec718m";
    if (!strncasecmp(product, "EC718", 5))
        return "ec718";
    if (!strncasecmp(product, "EC716", 5))
        return "ec716";
    if (!strncasecmp(product, "QCX217", 6) || !strncasecmp(product, "EC217", 5))
        return "ec217";
    if (!strncasecmp(product, "EC618", 5))
        return "ec618";
    return "";
}

/* The first descriptor must look like one: a printable NUL-terminated name and type. */
static int printable_field(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= 0x20 && p[i] < 0x7f)
        i++;
    if (i == 0 || i == n)
        return 0;
    return bytes_all_equal(p + i, n - i, 0);
}

int eigencomm_binpkg_sniff(const uint8_t *data, size_t len)
{
    uint32_t count;
    uint16_t vt, vtsize;
    if (len < EIGENCOMM_HDR_SIZE + EIGENCOMM_ENTRY_SIZE)
        return 0;
    bytes_le32_at(data, len, 16, &count);
    bytes_le16_at(data, len, 28, &vt);
    bytes_le16_at(data, len, 30, &vtsize);
    size_t first = EIGENCOMM_HDR_SIZE + (vt ? vtsize : 0);
    if (count == 0 || count > EIGENCOMM_MAX_ENTRIES ||
        !bytes_range_ok(len, first, EIGENCOMM_ENTRY_SIZE))
        return 0;
    return printable_field(data + first, 64) && printable_field(data + first + 336, 16);
}

static void hex_sha256(const uint8_t *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(d, n, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void parse_variants(struct eigencomm_binpkg *pkg, const uint8_t *v, size_t n)
{
    for (size_t off = 0; off + EIGENCOMM_VAR_SIZE <= n; off += EIGENCOMM_VAR_SIZE) {
        uint16_t kind;
        char name[65], str[65];
        bytes_le16_at(v, n, off, &kind);
        bytes_copy_cstr(name, sizeof(name), v + off + 4, 64);
        if (kind == 2) {
            bytes_copy_cstr(str, sizeof(str), v + off + 68, 64);
            if (strcasestr(name, "product"))
                pkg_strlcpy(pkg->product, str, sizeof(pkg->product));
        } else if (kind == 1 && strcasecmp(name, "pkgmode") == 0) {
            uint32_t val;
            bytes_le32_at(v, n, off + 68, &val);
            pkg->pkgmode = (int)val;
        }
    }
}

int eigencomm_binpkg_parse(const uint8_t *data, size_t len, struct eigencomm_binpkg **ret,
                           char *err, size_t errlen)
{
    struct bytes_reader rd;
    bytes_reader_init(&rd, data, len);
    const uint8_t *hdr;
    if (bytes_read_ptr(&rd, EIGENCOMM_HDR_SIZE, &hdr) < 0)
        return pkg_fail(err, errlen, "binpkg: %zu bytes is shorter than the %d-byte header", len,
                        EIGENCOMM_HDR_SIZE);
    struct eigencomm_binpkg *pkg = calloc(1, sizeof(*pkg));
    if (!pkg)
        return -ENOMEM;
    int r = 0;
    uint32_t count;
    uint16_t vt, vtsize;
    bytes_copy_cstr(pkg->ver, sizeof(pkg->ver), hdr, 8);
    bytes_le32_at(hdr, EIGENCOMM_HDR_SIZE, 8, &pkg->magic);
    bytes_le32_at(hdr, EIGENCOMM_HDR_SIZE, 12, &pkg->date);
    bytes_le32_at(hdr, EIGENCOMM_HDR_SIZE, 16, &count);
    bytes_le16_at(hdr, EIGENCOMM_HDR_SIZE, 28, &vt);
    bytes_le16_at(hdr, EIGENCOMM_HDR_SIZE, 30, &vtsize);
    if (count == 0 || count > EIGENCOMM_MAX_ENTRIES) {
        r = pkg_fail(err, errlen, "binpkg: image count %u is out of range (1..%d)", count,
                     EIGENCOMM_MAX_ENTRIES);
        goto fail;
    }
    if (vt && vtsize) {
        const uint8_t *v;
        if (bytes_read_ptr(&rd, vtsize, &v) < 0) {
            r = pkg_fail(err, errlen, "binpkg: header records (%u bytes) are truncated", vtsize);
            goto fail;
        }
        parse_variants(pkg, v, vtsize);
    }
    for (uint32_t i = 0; i < count; i++) {
        struct eigencomm_entry *e = &pkg->entries[i];
        const uint8_t *d;
        if (bytes_read_ptr(&rd, EIGENCOMM_ENTRY_SIZE, &d) < 0) {
            r = pkg_fail(err, errlen, "binpkg: descriptor of image %u is truncated", i + 1);
            goto fail;
        }
        uint16_t evt, evtsize;
        bytes_copy_cstr(e->name, sizeof(e->name), d, 64);
        bytes_le32_at(d, EIGENCOMM_ENTRY_SIZE, 64, &e->addr);
        bytes_le32_at(d, EIGENCOMM_ENTRY_SIZE, 68, &e->flashsize);
        bytes_le32_at(d, EIGENCOMM_ENTRY_SIZE, 76, &e->size);
        char hash[257];
        bytes_copy_cstr(hash, sizeof(hash), d + 80, 256);
        bytes_copy_cstr(e->type, sizeof(e->type), d + 336, 16);
        bytes_le16_at(d, EIGENCOMM_ENTRY_SIZE, 352, &evt);
        bytes_le16_at(d, EIGENCOMM_ENTRY_SIZE, 354, &evtsize);
        if (!e->name[0]) {
            r = pkg_fail(err, errlen, "binpkg: image %u has no name", i + 1);
            goto fail;
        }
        if (evt && evtsize && bytes_skip(&rd, evtsize) < 0) {
            r = pkg_fail(err, errlen, "binpkg: image '%s' records are truncated", e->name);
            goto fail;
        }
        e->data_offset = rd.pos;
        const uint8_t *body;
        if (bytes_read_ptr(&rd, e->size, &body) < 0) {
            r = pkg_fail(err, errlen,
                         "binpkg: image '%s' is truncated (expected %u bytes, %zu left)", e->name,
                         e->size, bytes_reader_left(&rd));
            goto fail;
        }
        if (e->flashsize && e->size > e->flashsize) {
            r = pkg_fail(err, errlen, "binpkg: image '%s' (%u bytes) exceeds its region (%u)",
                         e->name, e->size, e->flashsize);
            goto fail;
        }
        if (hash[0]) {
            char calc[65];
            hex_sha256(body, e->size, calc);
            if (strlen(hash) != 64 || strcasecmp(hash, calc) != 0) {
                r = pkg_fail(err, errlen, "binpkg: image '%s' SHA-256 mismatch: corrupt package",
                             e->name);
                goto fail;
            }
            memcpy(e->hash, calc, sizeof(e->hash));
            e->hash_ok = 1;
        } else {
            pkg_warn(&pkg->warnings, "binpkg image '%s' carries no SHA-256", e->name);
        }
        struct pkg_image *img = pkg_image_list_add(&pkg->images);
        if (!img) {
            r = -ENOMEM;
            goto fail;
        }
        pkg_strlcpy(img->name, e->name, sizeof(img->name));
        pkg_strlcpy(img->type, e->type, sizeof(img->type));
        pkg_strlcpy(img->file, e->name, sizeof(img->file));
        img->address = e->addr;
        img->size = e->size;
        img->offset = e->data_offset;
        img->data = body;
        pkg->count++;
    }
    if (bytes_reader_left(&rd))
        pkg_warn(&pkg->warnings, "binpkg has %zu trailing bytes after the last image",
                 bytes_reader_left(&rd));
    *ret = pkg;
    return 0;
fail:
    eigencomm_binpkg_free(pkg);
    return r;
}

void eigencomm_binpkg_free(struct eigencomm_binpkg *pkg)
{
    if (!pkg)
        return;
    pkg_image_list_free(&pkg->images);
    free(pkg);
}

int eigencomm_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                             size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_EIGENCOMM, data, len, ret_package, err, errlen);
}

void eigencomm_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
