#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int proto_option_next(const char **cursor, const char *driver, char *key, size_t keylen,
                      char *value, size_t valuelen, char *err, size_t errlen)
{
    const char *s = *cursor;
    while (s && *s) {
        const char *end = strchr(s, ';');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *item = s;
        s = end ? end + 1 : s + n;
        *cursor = s;
        if (n == 0)
            continue;
        if (n >= PROTO_OPTION_MAX) {
            snprintf(err, errlen, "%s option '%.40s...' is too long", driver, item);
            return -EINVAL;
        }
        const char *eq = memchr(item, '=', n);
        if (!eq || eq == item) {
            snprintf(err, errlen, "%s option '%.*s' is not key=value", driver, (int)n, item);
            return -EINVAL;
        }
        size_t kl = (size_t)(eq - item), vl = n - kl - 1;
        if (kl >= keylen || vl >= valuelen) {
            snprintf(err, errlen, "%s option '%.*s' is too long", driver, (int)n, item);
            return -EINVAL;
        }
        memcpy(key, item, kl);
        key[kl] = '\0';
        memcpy(value, eq + 1, vl);
        value[vl] = '\0';
        return 1;
    }
    *cursor = s;
    return 0;
}
