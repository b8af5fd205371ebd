/* Fuzz target: the Eigencomm binpkg parser. First byte: odd = repair mode, where the harness
 * rewrites each image's SHA-256 field in a copy so mutations get past the hash check into the
 * layout code behind it; even = the bytes as they are. */
#include "common/bytes.h"
#include "fuzz_input.h"
#include "eigencomm/eigencomm_pkg.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void repair(uint8_t *p, size_t n)
{
    uint32_t count;
    uint16_t vt, vtsize;
    if (bytes_le32_at(p, n, 16, &count) < 0 || bytes_le16_at(p, n, 28, &vt) < 0 ||
        bytes_le16_at(p, n, 30, &vtsize) < 0)
        return;
    size_t off = EIGENCOMM_HDR_SIZE + (vt ? vtsize : 0);
    for (uint32_t i = 0; i < count && i < EIGENCOMM_MAX_ENTRIES; i++) {
        uint32_t len;
        uint16_t evt, evtsize;
        if (!bytes_range_ok(n, off, EIGENCOMM_ENTRY_SIZE))
            return;
        bytes_le32_at(p, n, off + 76, &len);
        bytes_le16_at(p, n, off + 352, &evt);
        bytes_le16_at(p, n, off + 354, &evtsize);
        size_t body = off + EIGENCOMM_ENTRY_SIZE + (evt ? evtsize : 0);
        if (!bytes_range_ok(n, body, len))
            return;
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_Digest(p + body, len, md, &mdlen, EVP_sha256(), NULL);
        char hex[65];
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02X", md[k]);
        memcpy(p + off + 80, hex, 65);
        off = body + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t control = 0;
    size_t n = 0;
    uint8_t *copy = fuzz_input_copy(data, size, &control, &n);
    if (!copy)
        return 0;
    if (control & 1)
        repair(copy, n);
    char err[256];
    struct eigencomm_binpkg *pkg = NULL;
    eigencomm_binpkg_sniff(copy, n);
    if (eigencomm_binpkg_parse(copy, n, &pkg, err, sizeof(err)) == 0) {
        eigencomm_family(pkg->product);
        for (size_t i = 0; i < pkg->images.count; i++)
            if (pkg->images.items[i].offset + pkg->images.items[i].size > n)
                __builtin_trap();
        eigencomm_binpkg_free(pkg);
    }
    free(copy);
    return 0;
}
