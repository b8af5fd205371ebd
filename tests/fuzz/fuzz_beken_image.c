/* Fuzz target: the Beken (FC41D) flash image parser. First byte: bit 0 = name it as an
 * application image, bit 1 = repair mode (rewrite every non-blank block's CRC-16 in a copy so
 * mutations reach the layout rules, not only the CRC check). */
#include "beken/beken_pkg.h"
#include "fuzz_input.h"

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
    if (control & 2)
        for (size_t off = 0; off + BEKEN_BLOCK <= n; off += BEKEN_BLOCK) {
            uint16_t c = beken_crc16(copy + off, 32);
            copy[off + 32] = (uint8_t)(c >> 8);
            copy[off + 33] = (uint8_t)c;
        }
    char err[256];
    struct beken_image *img = NULL;
    beken_image_sniff(copy, n);
    const char *name = (control & 1) ? "QPY_OCPU_V0001_FC41D_UA_FW.bin" : NULL;
    if (beken_image_parse(copy, n, name, &img, err, sizeof(err)) == 0)
        beken_image_free(img);
    free(copy);
    return 0;
}
