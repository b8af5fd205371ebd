/* Fuzz target: the Unisoc PAC parser (header, file table, CRCs, embedded XML). */
#include "unisoc/unisoc_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct unisoc_pac *pac = NULL;
    if (unisoc_pac_parse(data, size, &pac, err, sizeof(err)) == 0) {
        /* Every image must lie inside the input. */
        for (size_t i = 0; i < pac->images.count; i++)
            if (pac->images.items[i].offset + pac->images.items[i].size > size)
                __builtin_trap();
        unisoc_pac_free(pac);
    }
    return 0;
}
