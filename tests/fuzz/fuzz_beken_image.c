/* Fuzz target: the Beken (FC41D) flash image parser. */
#include "beken/beken_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct beken_image *img = NULL;
    beken_image_sniff(data, size);
    const char *name = size && (data[0] & 1) ? "QPY_OCPU_V0001_FC41D_UA_FW.bin" : NULL;
    if (beken_image_parse(data, size, name, &img, err, sizeof(err)) == 0)
        beken_image_free(img);
    return 0;
}
