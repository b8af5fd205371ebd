/* ESWIN ECR6600 allinone image parser (see eswin_pkg.h). */
#include "eswin/eswin_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eswin_image_sniff(const uint8_t *data, size_t len)
{
    return len >= 5 && memcmp(data, "oneb", 4) == 0;
}

int eswin_image_parse(const uint8_t *data, size_t len, struct eswin_image **ret, char *err,
                      size_t errlen)
{
    if (!eswin_image_sniff(data, len))
        return pkg_fail(err, errlen, "not an ESWIN allinone image (no \"oneb\" magic)");
    struct eswin_image *img = calloc(1, sizeof(*img));
    if (!img)
        return -ENOMEM;
    int r = 0, flash = 0;
    img->header_byte = data[4];
    struct bytes_reader rd;
    bytes_reader_init(&rd, data, len);
    bytes_seek(&rd, 5);
    while (bytes_reader_left(&rd)) {
        struct eswin_record *rec = &img->rec[img->count];
        const uint8_t *body;
        if (img->count >= ESWIN_MAX_RECORDS) {
            r = pkg_fail(err, errlen, "ESWIN image has more than %d records", ESWIN_MAX_RECORDS);
            goto fail;
        }
        if (bytes_read_u8(&rd, &rec->type) < 0 || bytes_read_le32(&rd, &rec->addr) < 0 ||
            bytes_read_le32(&rd, &rec->length) < 0) {
            r = pkg_fail(err, errlen, "ESWIN image: record %zu header is truncated", img->count);
            goto fail;
        }
        rec->offset = rd.pos;
        if (bytes_read_ptr(&rd, rec->length, &body) < 0) {
            r = pkg_fail(err, errlen,
                         "ESWIN image: record %zu is truncated (expected %u bytes, %zu left)",
                         img->count, rec->length, bytes_reader_left(&rd));
            goto fail;
        }
        if (rec->type != ESWIN_REC_RAM && rec->type != ESWIN_REC_FLASH) {
            r = pkg_fail(err, errlen, "ESWIN image: record %zu has unknown type %u", img->count,
                         rec->type);
            goto fail;
        }
        if (rec->type == ESWIN_REC_FLASH) {
            if ((uint64_t)rec->addr + rec->length > ESWIN_FLASH_SIZE) {
                r = pkg_fail(err, errlen,
                             "ESWIN image: flash record at 0x%x (%u bytes) exceeds the 4 MiB "
                             "flash",
                             rec->addr, rec->length);
                goto fail;
            }
            for (size_t k = 0; k < img->count; k++) {
                const struct eswin_record *o = &img->rec[k];
                if (o->type == ESWIN_REC_FLASH && rec->addr < o->addr + o->length &&
                    o->addr < rec->addr + rec->length) {
                    r = pkg_fail(err, errlen, "ESWIN image: flash records %zu and %zu overlap", k,
                                 img->count);
                    goto fail;
                }
            }
            flash++;
        } else {
            img->has_loader = 1;
        }
        struct pkg_image *p = pkg_image_list_add(&img->images);
        if (!p) {
            r = -ENOMEM;
            goto fail;
        }
        snprintf(p->name, sizeof(p->name), "%s%zu", rec->type == ESWIN_REC_RAM ? "loader" : "flash",
                 img->count);
        snprintf(p->type, sizeof(p->type), "%s", rec->type == ESWIN_REC_RAM ? "ram" : "flash");
        p->address = rec->addr;
        p->size = rec->length;
        p->offset = rec->offset;
        p->data = body;
        img->count++;
    }
    if (!flash) {
        r = pkg_fail(err, errlen, "ESWIN image holds no flash record");
        goto fail;
    }
    *ret = img;
    return 0;
fail:
    eswin_image_free(img);
    return r;
}

void eswin_image_free(struct eswin_image *img)
{
    if (!img)
        return;
    pkg_image_list_free(&img->images);
    free(img);
}

int eswin_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                         size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_ESWIN, data, len, ret_package, err, errlen);
}

void eswin_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
