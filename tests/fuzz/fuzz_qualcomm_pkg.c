/* Fuzz target: Qualcomm firehose XML (rawprogram/patch) and, for zips, the whole BG95
 * update tree discovery through the container walk. */
#include "package/pkg_walk.h"
#include "qualcomm/qualcomm_pkg.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (pkg_is_zip(data, size)) {
        struct pkg_limits lim = {.max_total = 8u << 20,
                                 .max_file = 4u << 20,
                                 .max_ratio = 50,
                                 .max_depth = 2,
                                 .max_entries = 200};
        struct pkg_walk w;
        if (pkg_walk_init(&w, "bg95.zip", &lim) < 0)
            return 0;
        if (pkg_walk_file(&w, data, size, err, sizeof(err)) == 0) {
            struct pkg_files files;
            pkg_walk_files(&w, &files);
            struct qualcomm_pkg *q = NULL;
            if (qualcomm_pkg_parse_files(&files, "update/firehose", &q, err, sizeof(err)) == 0)
                qualcomm_pkg_free(q);
        }
        pkg_walk_free(&w);
        return 0;
    }
    struct qualcomm_xml *x = malloc(sizeof(*x));
    if (x) {
        qualcomm_xml_parse(data, size, x, err, sizeof(err));
        free(x);
    }
    qualcomm_mbn_sniff(data, size);
    return 0;
}
