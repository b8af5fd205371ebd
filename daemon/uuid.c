#include "uuid.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

static int uuid_random(uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        /* Blocks only until the kernel's pool is initialised at boot, which is what we
         * want for a key that must never repeat. */
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

int uuid_v4_generate(char out[UUID_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    size_t o = 0;
    int r;

    r = uuid_random(b, sizeof(b));
    if (r < 0)
        return r;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 9562) */

    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
    return 0;
}

bool uuid_is_valid(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < UUID_STR_SIZE - 1; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false; /* also stops at an early NUL */
        }
    }
    return s[UUID_STR_SIZE - 1] == '\0';
}
