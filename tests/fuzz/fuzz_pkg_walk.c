/* Fuzz target: the whole package path on one buffer: container walk (nested zips through
 * libarchive), layout choice, the platform parser it picks, and the naming rules. Small
 * limits keep each input cheap while still exercising the limit paths. */
#include "package/pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pkg_limits lim = {.max_total = 8u << 20,
                             .max_file = 4u << 20,
                             .max_ratio = 50,
                             .max_depth = 3,
                             .max_entries = 200};
    /* The first byte picks the name the package is known by: names steer the rules. */
    static const char *const names[] = {"QPY_OCPU_V0001_EC800M_CNGA_FW.zip",
                                        "EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107.zip",
                                        "QPY_OCPU_V0001_FC41D_FW.bin",
                                        "at_command.binpkg",
                                        "firmware.pac",
                                        "x.blf"};
    const char *name = names[size ? data[0] % 6 : 0];
    char err[256];
    struct pkg *p = NULL;
    if (size && pkg_open_buffer(data + 1, size - 1, name, &lim, &p, err, sizeof(err)) == 0)
        pkg_free(p);
    return 0;
}
