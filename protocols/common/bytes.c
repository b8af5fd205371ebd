/* Bounds-checked byte readers: see bytes.h. */
#include "common/bytes.h"

#include <errno.h>
#include <string.h>

void bytes_reader_init(struct bytes_reader *r, const uint8_t *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
}

size_t bytes_reader_left(const struct bytes_reader *r)
{
    return r->pos <= r->len ? r->len - r->pos : 0;
}

int bytes_range_ok(size_t len, uint64_t off, uint64_t n)
{
    return off <= len && n <= (uint64_t)len - off;
}

int bytes_read_ptr(struct bytes_reader *r, size_t n, const uint8_t **ret)
{
    if (n > bytes_reader_left(r))
        return -EOVERFLOW;
    *ret = r->data + r->pos;
    r->pos += n;
    return 0;
}

int bytes_skip(struct bytes_reader *r, size_t n)
{
    if (n > bytes_reader_left(r))
        return -EOVERFLOW;
    r->pos += n;
    return 0;
}

int bytes_seek(struct bytes_reader *r, size_t pos)
{
    if (pos > r->len)
        return -EOVERFLOW;
    r->pos = pos;
    return 0;
}

int bytes_read_u8(struct bytes_reader *r, uint8_t *ret)
{
    const uint8_t *p;
    int e = bytes_read_ptr(r, 1, &p);
    if (e == 0)
        *ret = p[0];
    return e;
}

int bytes_read_le16(struct bytes_reader *r, uint16_t *ret)
{
    const uint8_t *p;
    int e = bytes_read_ptr(r, 2, &p);
    if (e == 0)
        *ret = (uint16_t)(p[0] | (p[1] << 8));
    return e;
}

int bytes_read_le32(struct bytes_reader *r, uint32_t *ret)
{
    const uint8_t *p;
    int e = bytes_read_ptr(r, 4, &p);
    if (e == 0)
        *ret = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return e;
}

int bytes_read_le64(struct bytes_reader *r, uint64_t *ret)
{
    uint32_t lo, hi;
    size_t save = r->pos;
    if (bytes_read_le32(r, &lo) < 0 || bytes_read_le32(r, &hi) < 0) {
        r->pos = save;
        return -EOVERFLOW;
    }
    *ret = (uint64_t)hi << 32 | lo;
    return 0;
}

int bytes_le16_at(const uint8_t *data, size_t len, size_t off, uint16_t *ret)
{
    if (!bytes_range_ok(len, off, 2))
        return -EOVERFLOW;
    *ret = (uint16_t)(data[off] | (data[off + 1] << 8));
    return 0;
}

int bytes_be16_at(const uint8_t *data, size_t len, size_t off, uint16_t *ret)
{
    if (!bytes_range_ok(len, off, 2))
        return -EOVERFLOW;
    *ret = (uint16_t)(data[off] << 8 | data[off + 1]);
    return 0;
}

int bytes_le32_at(const uint8_t *data, size_t len, size_t off, uint32_t *ret)
{
    if (!bytes_range_ok(len, off, 4))
        return -EOVERFLOW;
    const uint8_t *p = data + off;
    *ret = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

void bytes_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void bytes_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static char printable(unsigned c)
{
    return c >= 0x20 && c < 0x7f ? (char)c : '?';
}

size_t bytes_copy_cstr(char *dst, size_t dstlen, const uint8_t *src, size_t srclen)
{
    size_t n = 0;
    if (dstlen == 0)
        return 0;
    for (size_t i = 0; i < srclen && src[i] && n + 1 < dstlen; i++)
        dst[n++] = printable(src[i]);
    dst[n] = '\0';
    return n;
}

size_t bytes_copy_utf16le(char *dst, size_t dstlen, const uint8_t *src, size_t srclen)
{
    size_t n = 0;
    if (dstlen == 0)
        return 0;
    for (size_t i = 0; i + 1 < srclen && n + 1 < dstlen; i += 2) {
        unsigned cu = (unsigned)src[i] | (unsigned)src[i + 1] << 8;
        if (cu == 0)
            break;
        dst[n++] = printable(cu);
    }
    dst[n] = '\0';
    return n;
}

int bytes_all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}
