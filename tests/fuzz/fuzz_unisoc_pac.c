/* Fuzz target: the Unisoc PAC parser (header, file table, CRCs, embedded XML).
 * First byte: odd = repair mode. Both CRCs gate everything behind them, so in repair mode the
 * harness writes the magic and correct CRCs into a copy first, letting mutations reach the
 * file table and the XML; even = the bytes as they are (the CRC checks themselves). */
#include "common/bytes.h"
#include "fuzz_input.h"
#include "unisoc/unisoc_pkg.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t control = 0;
    size_t n = 0;
    uint8_t *copy = fuzz_input_copy(data, size, &control, &n);
    if (!copy)
        return 0;
    if ((control & 1) && n >= UNISOC_PAC_HEADER_SIZE) {
        bytes_put_le32(copy + 0x844, UNISOC_PAC_MAGIC);
        bytes_put_le16(copy + 0x848, unisoc_crc16_arc(0, copy, 0x848));
        bytes_put_le16(copy + 0x84A, unisoc_crc16_arc(0, copy + 0x84C, n - 0x84C));
    }
    char err[256];
    struct unisoc_pac *pac = NULL;
    if (unisoc_pac_parse(copy, n, &pac, err, sizeof(err)) == 0) {
        /* Every image must lie inside the input. */
        for (size_t i = 0; i < pac->images.count; i++)
            if (pac->images.items[i].offset + pac->images.items[i].size > n)
                __builtin_trap();
        unisoc_pac_free(pac);
    }
    free(copy);
    return 0;
}
