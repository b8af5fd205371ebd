/* Bounds-checked readers over untrusted byte buffers (packages, device replies).
 *
 * Every read checks the remaining length first; a failed read returns -EOVERFLOW and leaves
 * the output untouched, so parsers can chain reads and test once. Offsets are size_t and
 * additions are checked for wrap-around, so a hostile 32-bit field can never point outside
 * the buffer.
 */
#ifndef FLASHRACK_COMMON_BYTES_H
#define FLASHRACK_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct bytes_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

void bytes_reader_init(struct bytes_reader *r, const uint8_t *data, size_t len);
size_t bytes_reader_left(const struct bytes_reader *r);
int bytes_read_u8(struct bytes_reader *r, uint8_t *ret);
int bytes_read_le16(struct bytes_reader *r, uint16_t *ret);
int bytes_read_le32(struct bytes_reader *r, uint32_t *ret);
int bytes_read_le64(struct bytes_reader *r, uint64_t *ret);
/* Points *ret at the next n bytes (no copy) and advances. */
int bytes_read_ptr(struct bytes_reader *r, size_t n, const uint8_t **ret);
int bytes_skip(struct bytes_reader *r, size_t n);
int bytes_seek(struct bytes_reader *r, size_t pos);

/* Random access: value at off, -EOVERFLOW when [off, off+width) is not inside len. */
int bytes_le16_at(const uint8_t *data, size_t len, size_t off, uint16_t *ret);
int bytes_le32_at(const uint8_t *data, size_t len, size_t off, uint32_t *ret);
int bytes_be16_at(const uint8_t *data, size_t len, size_t off, uint16_t *ret);

/* Nonzero when [off, off+n) lies inside a buffer of len bytes (no wrap-around). */
int bytes_range_ok(size_t len, uint64_t off, uint64_t n);

/* Little-endian stores for writers (tests, generators). */
void bytes_put_le16(uint8_t *p, uint16_t v);
void bytes_put_le32(uint8_t *p, uint32_t v);

/* Copies a fixed-size NUL-padded ASCII field into dst (always terminated). Non-printable
 * bytes become '?', so a hostile name cannot carry control characters into logs or JSON.
 * Returns the length written. */
size_t bytes_copy_cstr(char *dst, size_t dstlen, const uint8_t *src, size_t srclen);
/* Same for a UTF-16LE NUL-padded field (PAC strings): non-ASCII code units become '?'. */
size_t bytes_copy_utf16le(char *dst, size_t dstlen, const uint8_t *src, size_t srclen);

/* Nonzero when every byte of [p, p+n) equals v. */
int bytes_all_equal(const uint8_t *p, size_t n, uint8_t v);

#endif
