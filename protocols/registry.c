/* The explicit list of protocol drivers. A driver is added here by name; nothing registers
 * itself at load time, so the set a binary speaks is visible in one place. */
#include "asr/asr.h"
#include "asr1803/asr1803.h"
#include "at/at.h"
#include "protocol.h"
#include "unisoc/unisoc.h"

#include <string.h>

/* Platform drivers are appended here as they land (unisoc, asr, eigencomm, qualcomm, ...). */
static const struct proto *const drivers[] = {
    &unisoc_proto,
    &at_proto,
    &asr1803_proto,
    &asr_proto,
    NULL, /* keeps the array non-empty; never returned */
};

size_t proto_registry_count(void)
{
    return sizeof(drivers) / sizeof(drivers[0]) - 1;
}

const struct proto *proto_registry_get(size_t index)
{
    return index < proto_registry_count() ? drivers[index] : NULL;
}

const struct proto *proto_registry_find(const char *name)
{
    for (size_t i = 0; i < proto_registry_count(); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

const struct proto *proto_registry_match_usb(uint16_t vid, uint16_t pid,
                                             const struct proto_usb_id **ret_id)
{
    for (size_t i = 0; i < proto_registry_count(); i++) {
        const struct proto *p = drivers[i];
        for (size_t k = 0; k < p->usb_id_count; k++) {
            if (p->usb_ids[k].vid == vid && p->usb_ids[k].pid == pid) {
                if (ret_id)
                    *ret_id = &p->usb_ids[k];
                return p;
            }
        }
    }
    return NULL;
}
