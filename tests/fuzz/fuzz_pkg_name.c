/* Fuzz target: firmware names, ordering codes, revisions and the compatibility check. The
 * input is split at the first newline: firmware name, then module code. */
#include "package/pkg_compat.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[300], module[300];
    size_t nl = 0;
    while (nl < size && data[nl] != '\n')
        nl++;
    size_t a = nl < sizeof(name) - 1 ? nl : sizeof(name) - 1;
    memcpy(name, data, a);
    name[a] = '\0';
    size_t rest = nl < size ? size - nl - 1 : 0;
    size_t b = rest < sizeof(module) - 1 ? rest : sizeof(module) - 1;
    memcpy(module, data + (size - rest), b);
    module[b] = '\0';
    struct pkg_ident fw;
    if (pkg_name_parse(name, &fw) < 0)
        memset(&fw, 0, sizeof(fw));
    struct pkg_check_result res;
    pkg_check(fw.platform, &fw, module, &res);
    pkg_check(PKG_PLATFORM_UNKNOWN, &fw, name, &res);
    return 0;
}
