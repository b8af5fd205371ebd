/* Fuzz target: the ESWIN (FCM360W) allinone image parser. */
#include "eswin/eswin_pkg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct eswin_image *img = NULL;
    if (eswin_image_parse(data, size, &img, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < img->images.count; i++)
            if (img->images.items[i].offset + img->images.items[i].size > size)
                __builtin_trap();
        eswin_image_free(img);
    }
    return 0;
}
