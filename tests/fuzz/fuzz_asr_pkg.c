/* Fuzz target: ASR160x package parts. First byte: 0 download.json, 1 partition.bin,
 * 2 flashinfo.bin, 3 the flashable zip as a driver receives it; 5 partition.bin in repair
 * mode (the harness writes a correct CRC-32 into a copy, so mutations reach the entries). */
#include "asr/asr_pkg.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size == 0)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    if (data[0] % 8 == 5) {
        uint8_t t[ASR_PTABLE_SIZE];
        struct asr_ptable pt;
        if (n != sizeof(t))
            return 0;
        memcpy(t, d, sizeof(t));
        uint32_t crc = (uint32_t)crc32(0L, t, 0x888);
        t[0x888] = (uint8_t)crc, t[0x889] = (uint8_t)(crc >> 8);
        t[0x88A] = (uint8_t)(crc >> 16), t[0x88B] = (uint8_t)(crc >> 24);
        asr_partition_parse(t, sizeof(t), &pt, err, sizeof(err));
        return 0;
    }
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
