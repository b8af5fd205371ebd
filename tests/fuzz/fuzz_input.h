/* Input layout of the harnesses for checksummed formats: byte 0 steers the harness (for
 * example "rewrite the CRCs first", so mutations get past the integrity check), the rest is the
 * file, copied so the harness may rewrite it. */
#ifndef FLASHRACK_FUZZ_INPUT_H
#define FLASHRACK_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* NULL for an empty input or no memory; free() the result. */
static inline uint8_t *fuzz_input_copy(const uint8_t *data, size_t size, uint8_t *ret_control,
                                       size_t *ret_len)
{
    if (size == 0)
        return NULL;
    size_t n = size - 1;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return NULL;
    memcpy(copy, data + 1, n);
    *ret_control = data[0];
    *ret_len = n;
    return copy;
}

#endif
