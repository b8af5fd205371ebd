/* Fuzz target: ASR160x package parts. First byte: 0 download.json, 1 partition.bin,
 * 2 flashinfo.bin, otherwise the flashable zip as a driver receives it. */
#include "asr/asr_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size == 0)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        struct asr_download dl;
        if (asr_download_json_parse(d, n, &dl, err, sizeof(err)) == 0)
            asr_download_free(&dl);
        break;
    }
    case 1: {
        struct asr_ptable t;
        asr_partition_parse(d, n, &t, err, sizeof(err));
        break;
    }
    case 2: {
        struct asr_flashinfo fi;
        asr_flashinfo_parse(d, n, &fi, err, sizeof(err));
        break;
    }
    default: {
        struct asr_pkg *pkg = NULL;
        if (asr_pkg_parse(d, n, &pkg, err, sizeof(err)) == 0)
            asr_pkg_free(pkg);
        break;
    }
    }
    return 0;
}
