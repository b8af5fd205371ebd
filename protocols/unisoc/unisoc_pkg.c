/* Unisoc PAC parser (see unisoc_pkg.h and protocols/unisoc.md §5). */
#include "unisoc/unisoc_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"

#include <errno.h>
#include <expat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XML_MAX       (1u << 20) /* real BMAConfig files are ~10 KB */
#define XML_MAX_FILES 256

uint16_t unisoc_crc16_arc(uint16_t crc, const uint8_t *p, size_t n)
{
    static uint16_t table[256];
    static int ready;
    if (!ready) {
        /* Benign race: every thread computes the same table. */
        for (unsigned i = 0; i < 256; i++) {
            uint16_t c = (uint16_t)i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA001) : (uint16_t)(c >> 1);
            table[i] = c;
        }
        ready = 1;
    }
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc >> 8) ^ table[(crc ^ p[i]) & 0xFF]);
    return crc;
}

int unisoc_pac_sniff(const uint8_t *data, size_t len)
{
    static const uint8_t bp[] = {'B', 0, 'P', 0, '_', 0, 'R', 0};
    return len >= UNISOC_PAC_HEADER_SIZE && memcmp(data, bp, sizeof(bp)) == 0;
}

/* ---- embedded XML ---------------------------------------------------------------- */

struct xml_state {
    struct unisoc_pac *pac;
    struct unisoc_xml_file *cur; /* inside <File> */
    char text[128];
    size_t text_len;
    int overflow; /* too many File elements */
    int depth;
};

static uint64_t parse_number(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (!*s)
        return PKG_ADDR_NONE;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    return *end ? PKG_ADDR_NONE : (uint64_t)v;
}

static const char *xml_attr(const XML_Char **attrs, const char *name)
{
    for (int i = 0; attrs[i]; i += 2)
        if (strcmp(attrs[i], name) == 0)
            return attrs[i + 1];
    return NULL;
}

static void XMLCALL xml_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
    struct xml_state *st = ud;
    st->depth++;
    st->text_len = 0;
    st->text[0] = '\0';
    if (strcmp(el, "Scheme") == 0 || strcmp(el, "Product") == 0) {
        const char *name = xml_attr(attrs, "name");
        if (name && !st->pac->scheme[0])
            pkg_strlcpy(st->pac->scheme, name, sizeof(st->pac->scheme));
    } else if (strcmp(el, "File") == 0) {
        if (st->pac->nxml >= XML_MAX_FILES) {
            st->overflow = 1;
            st->cur = NULL;
            return;
        }
        if (st->pac->nxml % 16 == 0) {
            struct unisoc_xml_file *g = realloc(st->pac->xml, (st->pac->nxml + 16) * sizeof(*g));
            if (!g) {
                st->overflow = 1;
                return;
            }
            st->pac->xml = g;
        }
        st->cur = &st->pac->xml[st->pac->nxml++];
        memset(st->cur, 0, sizeof(*st->cur));
        st->cur->base = PKG_ADDR_NONE;
    } else if (strcmp(el, "Block") == 0 && st->cur) {
        const char *id = xml_attr(attrs, "id");
        if (id)
            pkg_strlcpy(st->cur->block_id, id, sizeof(st->cur->block_id));
    }
}

static void XMLCALL xml_end(void *ud, const XML_Char *el)
{
    struct xml_state *st = ud;
    st->depth--;
    struct unisoc_xml_file *f = st->cur;
    if (strcmp(el, "File") == 0) {
        st->cur = NULL;
        return;
    }
    if (!f)
        return;
    if (strcmp(el, "ID") == 0)
        pkg_strlcpy(f->id, st->text, sizeof(f->id));
    else if (strcmp(el, "Type") == 0)
        pkg_strlcpy(f->type, st->text, sizeof(f->type));
    else if (strcmp(el, "Base") == 0)
        f->base = parse_number(st->text);
    else if (strcmp(el, "Size") == 0) {
        uint64_t v = parse_number(st->text);
        f->size = v == PKG_ADDR_NONE ? 0 : v;
    } else if (strcmp(el, "Flag") == 0)
        f->flag = (int)(parse_number(st->text) & 0xFF);
    else if (strcmp(el, "CheckFlag") == 0)
        f->check = (int)(parse_number(st->text) & 0xFF);
    st->text_len = 0;
    st->text[0] = '\0';
}

static void XMLCALL xml_text(void *ud, const XML_Char *s, int len)
{
    struct xml_state *st = ud;
    for (int i = 0; i < len && st->text_len + 1 < sizeof(st->text); i++) {
        unsigned char c = (unsigned char)s[i];
        st->text[st->text_len++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    st->text[st->text_len] = '\0';
}

static int parse_xml(struct unisoc_pac *pac, const uint8_t *x, size_t n, char *err, size_t errlen)
{
    while (n && x[n - 1] == 0)
        n--; /* pacgen may leave a trailing NUL */
    if (n > XML_MAX)
        return pkg_fail(err, errlen, "PAC: embedded XML is %zu bytes (limit %u)", n, XML_MAX);
    XML_Parser p = XML_ParserCreate(NULL);
    if (!p)
        return -ENOMEM;
    struct xml_state st = {.pac = pac};
    XML_SetUserData(p, &st);
    XML_SetElementHandler(p, xml_start, xml_end);
    XML_SetCharacterDataHandler(p, xml_text);
    int r = 0;
    if (XML_Parse(p, (const char *)x, (int)n, 1) == XML_STATUS_ERROR)
        r = pkg_fail(err, errlen, "PAC: embedded XML '%s' is malformed at line %lu: %s",
                     pac->files[pac->xml_index].name, (unsigned long)XML_GetCurrentLineNumber(p),
                     XML_ErrorString(XML_GetErrorCode(p)));
    else if (st.overflow)
        r = pkg_fail(err, errlen, "PAC: embedded XML lists more than %d files", XML_MAX_FILES);
    XML_ParserFree(p);
    return r;
}

/* ---- header and file table ---------------------------------------------------------- */

static const struct unisoc_xml_file *xml_find(const struct unisoc_pac *pac, const char *id)
{
    for (size_t i = 0; i < pac->nxml; i++)
        if (strcasecmp(pac->xml[i].id, id) == 0)
            return &pac->xml[i];
    return NULL;
}

static int parse_file_entry(struct unisoc_pac *pac, const uint8_t *data, size_t len, size_t i,
                            size_t at, char *err, size_t errlen)
{
    struct unisoc_pac_file *f = &pac->files[i];
    const uint8_t *e = data + at;
    uint32_t dwsize, hisize, hioff, losize, looff;
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x000, &dwsize);
    if (dwsize != UNISOC_PAC_FILE_SIZE)
        return pkg_fail(err, errlen, "PAC: file entry %zu has size field %u (expected %u)", i,
                        dwsize, UNISOC_PAC_FILE_SIZE);
    bytes_copy_utf16le(f->id, sizeof(f->id), e + 0x004, 512);
    bytes_copy_utf16le(f->name, sizeof(f->name), e + 0x204, 512);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x5FC, &hisize);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x600, &hioff);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x604, &losize);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x608, &f->flag);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x60C, &f->check);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x610, &looff);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x614, &f->can_omit);
    bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x618, &f->addr_num);
    for (int k = 0; k < 5; k++)
        bytes_le32_at(e, UNISOC_PAC_FILE_SIZE, 0x61C + 4 * (size_t)k, &f->addr[k]);
    /* V1 keeps its version string where V2 has the high words; they are zero there. */
    f->size = pac->v2 ? ((uint64_t)hisize << 32 | losize) : losize;
    f->offset = pac->v2 ? ((uint64_t)hioff << 32 | looff) : looff;
    if (f->size && !bytes_range_ok(len, f->offset, f->size))
        return pkg_fail(err, errlen,
                        "PAC: file '%s' (%s) lies outside the PAC (offset %llu + %llu bytes, PAC "
                        "is %zu bytes)",
                        f->name, f->id, (unsigned long long)f->offset, (unsigned long long)f->size,
                        len);
    return 0;
}

static int build_images(struct unisoc_pac *pac, const uint8_t *data, char *err, size_t errlen)
{
    int have_fdl = 0;
    for (size_t i = 0; i < pac->nfiles; i++) {
        const struct unisoc_pac_file *f = &pac->files[i];
        if ((int)i == pac->xml_index || f->size == 0)
            continue;
        struct pkg_image *img = pkg_image_list_add(&pac->images);
        if (!img)
            return -ENOMEM;
        pkg_strlcpy(img->name, f->id, sizeof(img->name));
        pkg_strlcpy(img->file, f->name, sizeof(img->file));
        img->size = f->size;
        img->offset = f->offset;
        img->data = data + f->offset;
        const struct unisoc_xml_file *x = xml_find(pac, f->id);
        if (x) {
            pkg_strlcpy(img->type, x->type, sizeof(img->type));
            pkg_strlcpy(img->partition, x->block_id, sizeof(img->partition));
        }
        if (f->addr_num && f->addr[0])
            img->address = f->addr[0];
        else if (x && x->base != PKG_ADDR_NONE && !(x->block_id[0] && x->base == 0xFFFFFFFFu))
            img->address = x->base; /* partition-addressed entries carry 0xFFFFFFFF */
        if (strcasecmp(f->id, "HOST_FDL") == 0 || strcasecmp(f->id, "FDL") == 0 ||
            strcasecmp(f->id, "FDL1") == 0 || (x && strstr(x->type, "FDL")))
            have_fdl = 1;
    }
    if (pac->images.count == 0)
        return pkg_fail(err, errlen, "PAC '%s' holds no image data", pac->product);
    if (!have_fdl)
        return pkg_fail(err, errlen,
                        "PAC '%s' has no FDL/HOST_FDL loader, so no device can be flashed from it",
                        pac->product);
    return 0;
}

int unisoc_pac_parse(const uint8_t *data, size_t len, struct unisoc_pac **ret, char *err,
                     size_t errlen)
{
    if (len < UNISOC_PAC_HEADER_SIZE)
        return pkg_fail(err, errlen, "PAC: %zu bytes is shorter than the %u-byte header", len,
                        UNISOC_PAC_HEADER_SIZE);
    struct unisoc_pac *pac = calloc(1, sizeof(*pac));
    if (!pac)
        return -ENOMEM;
    pac->xml_index = -1;
    int r = 0;
    bytes_copy_utf16le(pac->version, sizeof(pac->version), data, 44);
    if (strcmp(pac->version, "BP_R1.0.0") == 0)
        pac->v2 = 0;
    else if (strcmp(pac->version, "BP_R2.0.1") == 0)
        pac->v2 = 1;
    else {
        r = pkg_fail(err, errlen, "PAC: unknown version string '%s'", pac->version);
        goto fail;
    }
    uint32_t hi, lo, count, table, magic;
    bytes_le32_at(data, len, 0x02C, &hi);
    bytes_le32_at(data, len, 0x030, &lo);
    bytes_copy_utf16le(pac->product, sizeof(pac->product), data + 0x034, 512);
    bytes_copy_utf16le(pac->product_version, sizeof(pac->product_version), data + 0x234, 512);
    bytes_le32_at(data, len, 0x434, &count);
    bytes_le32_at(data, len, 0x438, &table);
    bytes_copy_utf16le(pac->alias, sizeof(pac->alias), data + 0x450, 200);
    bytes_le32_at(data, len, 0x844, &magic);
    bytes_le16_at(data, len, 0x848, &pac->crc1);
    bytes_le16_at(data, len, 0x84A, &pac->crc2);
    pac->pac_size = pac->v2 ? ((uint64_t)hi << 32 | lo) : lo;
    if (pac->pac_size != len) {
        r = pkg_fail(err, errlen, "PAC '%s' is %s: header says %llu bytes, file has %zu",
                     pac->product, pac->pac_size > len ? "truncated" : "damaged",
                     (unsigned long long)pac->pac_size, len);
        goto fail;
    }
    if (count == 0 || count > UNISOC_PAC_MAX_FILES) {
        r = pkg_fail(err, errlen, "PAC: file count %u is out of range (1..%u)", count,
                     UNISOC_PAC_MAX_FILES);
        goto fail;
    }
    if (!bytes_range_ok(len, table, (uint64_t)count * UNISOC_PAC_FILE_SIZE)) {
        r = pkg_fail(err, errlen, "PAC: file table (%u entries at %u) lies outside the file", count,
                     table);
        goto fail;
    }
    if (magic == UNISOC_PAC_MAGIC) {
        uint16_t c1 = unisoc_crc16_arc(0, data, 0x848);
        uint16_t c2 =
            unisoc_crc16_arc(0, data + UNISOC_PAC_HEADER_SIZE, len - UNISOC_PAC_HEADER_SIZE);
        if (c1 != pac->crc1) {
            r = pkg_fail(err, errlen, "PAC: header CRC mismatch (stored 0x%04x, computed 0x%04x)",
                         pac->crc1, c1);
            goto fail;
        }
        if (c2 != pac->crc2) {
            r = pkg_fail(err, errlen,
                         "PAC: data CRC mismatch (stored 0x%04x, computed 0x%04x): the file is "
                         "corrupt",
                         pac->crc2, c2);
            goto fail;
        }
        pac->crc_checked = 1;
    } else {
        pkg_warn(&pac->warnings, "PAC has no CRC magic (old format): CRCs not checked");
    }
    pac->files = calloc(count, sizeof(*pac->files));
    if (!pac->files) {
        r = -ENOMEM;
        goto fail;
    }
    pac->nfiles = count;
    for (size_t i = 0; i < count; i++) {
        r = parse_file_entry(pac, data, len, i, table + i * UNISOC_PAC_FILE_SIZE, err, errlen);
        if (r < 0)
            goto fail;
        const struct unisoc_pac_file *f = &pac->files[i];
        /* The XML: empty id, flag 2 or a name ending in .xml; Unisoc puts it last. */
        if (f->size && (f->id[0] == '\0' || f->flag == 2 || pkg_str_ends_with_ci(f->name, ".xml")))
            pac->xml_index = (int)i;
    }
    if (pac->xml_index >= 0) {
        const struct unisoc_pac_file *x = &pac->files[pac->xml_index];
        if ((r = parse_xml(pac, data + x->offset, (size_t)x->size, err, errlen)) < 0)
            goto fail;
    } else {
        pkg_warn(&pac->warnings, "PAC has no embedded XML: addresses come from the file table");
    }
    if ((r = build_images(pac, data, err, errlen)) < 0)
        goto fail;
    *ret = pac;
    return 0;
fail:
    unisoc_pac_free(pac);
    return r;
}

void unisoc_pac_free(struct unisoc_pac *pac)
{
    if (!pac)
        return;
    free(pac->files);
    free(pac->xml);
    pkg_image_list_free(&pac->images);
    free(pac);
}

int unisoc_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                          size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_UNISOC, data, len, ret_package, err, errlen);
}

void unisoc_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
