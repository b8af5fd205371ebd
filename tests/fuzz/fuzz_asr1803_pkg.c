/* Fuzz target: EC200A BLF text (resolved against a package where every path exists) and the
 * FBF container. First byte: even BLF, odd FBF. */
#include "asr/asr1803_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t image[64] = {0x00, 0x04, 0x03, 0x00, 'H', 'M', 'I', 'T'};

static const uint8_t *any_get(const void *ctx, const char *path, size_t *len)
{
    (void)ctx;
    /* Some paths are missing, so the "not in the package" branch runs too. */
    if (path[0] && path[1] == 'm')
        return NULL;
    *len = sizeof(image);
    return image;
}

static const char *no_list(const void *ctx, const char *dir, size_t i)
{
    (void)ctx, (void)dir, (void)i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        struct asr1803_blf *blf = NULL;
        if (asr1803_blf_parse(data + 1, size - 1, &blf, err, sizeof(err)) == 0) {
            struct pkg_files files = {.get = any_get, .list = no_list, .ctx = NULL};
            asr1803_blf_resolve(blf, &files, "fw", err, sizeof(err));
            asr1803_blf_free(blf);
        }
    } else {
        struct asr1803_fbf *fbf = NULL;
        asr1803_fbf_sniff(data + 1, size - 1);
        if (asr1803_fbf_parse(data + 1, size - 1, &fbf, err, sizeof(err)) == 0)
            asr1803_fbf_free(fbf);
    }
    return 0;
}
