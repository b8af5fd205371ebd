/* Fuzz target: the Eigencomm binpkg parser. */
#include "eigencomm/eigencomm_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct eigencomm_binpkg *pkg = NULL;
    eigencomm_binpkg_sniff(data, size);
    if (eigencomm_binpkg_parse(data, size, &pkg, err, sizeof(err)) == 0) {
        eigencomm_family(pkg->product);
        for (size_t i = 0; i < pkg->images.count; i++)
            if (pkg->images.items[i].offset + pkg->images.items[i].size > size)
                __builtin_trap();
        eigencomm_binpkg_free(pkg);
    }
    return 0;
}
