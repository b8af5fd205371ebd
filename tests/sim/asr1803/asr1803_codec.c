/* WTPTP packet helpers and the image-header checks of the asr1803 model: status encoder,
 * command table, image-id names, TIM header (notes §3.6) and FBF_h header (notes §3.5 with the
 * field sizes README.md chooses). No model state here, so the unit test can use it directly. */
#include "asr1803/asr1803.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t sim_wtptp_preamble[WTPTP_PREAMBLE_LEN] = {0x00, 0xD3, 0x02, 0x2B};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool sim_wtptp_cmd_known(uint8_t cmd)
{
    return cmd >= 0x20 && cmd <= 0x38;
}

bool sim_wtptp_cmd_served(uint8_t cmd)
{
    switch (cmd) {
    case WTPTP_CMD_GETVERSION:
    case WTPTP_CMD_DATA:
    case WTPTP_CMD_SELECTIMAGE:
    case WTPTP_CMD_VERIFYIMAGE:
    case WTPTP_CMD_DATAHEADER:
    case WTPTP_CMD_MESSAGE:
    case WTPTP_CMD_DONE:
    case WTPTP_CMD_DISCONNECT:
        return true;
    default:
        return false;
    }
}

size_t sim_wtptp_status_encode(uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t status, uint8_t flags,
                               const uint8_t *data, size_t dlen, uint8_t *out, size_t cap)
{
    if (dlen > 255 || cap < WTPTP_STATUS_LEN + dlen)
        return 0;
    out[0] = cmd;
    out[1] = seq;
    out[2] = cid;
    out[3] = status;
    out[4] = flags;
    out[5] = (uint8_t)dlen;
    if (dlen)
        memcpy(out + WTPTP_STATUS_LEN, data, dlen);
    return WTPTP_STATUS_LEN + dlen;
}

void sim_wtptp_id_name(uint32_t id, char *out, size_t cap)
{
    char c[4] = {(char)(id >> 24), (char)(id >> 16), (char)(id >> 8), (char)id};
    bool printable = true;
    for (int i = 0; i < 4; i++)
        printable = printable && isalnum((unsigned char)c[i]);
    if (printable)
        snprintf(out, cap, "%.4s", c);
    else
        snprintf(out, cap, "0x%08" PRIX32, id);
}

int sim_wtptp_id_parse(const char *text, uint32_t *ret)
{
    if (strlen(text) == 4 && isalpha((unsigned char)text[0])) {
        uint32_t id = 0;
        for (int i = 0; i < 4; i++) {
            if (!isalnum((unsigned char)text[i]))
                return -EINVAL;
            id = id << 8 | (uint8_t)text[i];
        }
        *ret = id;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-' || v > UINT32_MAX)
        return -EINVAL;
    *ret = (uint32_t)v;
    return 0;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* ---- TIM (notes §3.6) ----
 * Header: version block {Version, Identifier, Trusted, IssueDate, OEMUniqueID}, flash-info
 * block {5 reserved words, BootFlashSign}, NumImages, NumKeys, SizeOfReserved = 14 words, then
 * NumImages IMAGE_INFO records {ImageID, NextImageID, FlashEntryAddr, LoadAddr, ImageSize,
 * ImageSizeToHash, HashAlgorithmID, Hash[...], ...}. */
#define TIM_OFF_ID      4
#define TIM_OFF_TRUSTED 8
#define TIM_OFF_NIMAGES 44
#define TIM_HDR_LEN     56

size_t sim_wtptp_tim_record_size(uint32_t version)
{
    switch (version) {
    case 0x030101:
        return 15 * 4; /* 8-word hash, no PartitionNumber */
    case 0x030200:
        return 16 * 4; /* 8-word hash + PartitionNumber */
    case 0x030300:     /* not described by the notes: taken as the v3.4 layout (README) */
    case 0x030400:
        return 24 * 4; /* 16-word hash + PartitionNumber */
    case 0x030500:
        return 27 * 4; /* + EncAlgorithmID, EncryptStartOffset, EncryptSize */
    default:
        return 0;
    }
}

int sim_wtptp_tim_parse(const uint8_t *p, size_t n, struct sim_wtptp_tim *tim, char *err,
                        size_t err_len)
{
    memset(tim, 0, sizeof(*tim));
    if (n < TIM_HDR_LEN)
        return fail(err, err_len, "TIM of %zu bytes is shorter than its %d-byte header", n,
                    TIM_HDR_LEN);
    if (le32(p + TIM_OFF_ID) != WTPTP_ID_TIMH)
        return fail(err, err_len, "TIM identifier 0x%08" PRIX32 " is not TIMH",
                    le32(p + TIM_OFF_ID));
    tim->version = le32(p);
    size_t rec = sim_wtptp_tim_record_size(tim->version);
    if (!rec)
        return fail(err, err_len, "TIM version 0x%06" PRIX32 " unknown", tim->version);
    tim->trusted = le32(p + TIM_OFF_TRUSTED);
    tim->num_images = le32(p + TIM_OFF_NIMAGES);
    /* QDloader refuses fewer than 2 images (notes §4); more than 32 is no real TIM. */
    if (tim->num_images < 2 || tim->num_images > WTPTP_TIM_MAX_IMAGES)
        return fail(err, err_len, "TIM NumImages %" PRIu32 " outside 2..%d", tim->num_images,
                    WTPTP_TIM_MAX_IMAGES);
    if (TIM_HDR_LEN + (uint64_t)tim->num_images * rec > n)
        return fail(err, err_len, "TIM with %" PRIu32 " image records needs %zu bytes, has %zu",
                    tim->num_images, (size_t)(TIM_HDR_LEN + tim->num_images * rec), n);
    for (uint32_t i = 0; i < tim->num_images; i++) {
        const uint8_t *r = p + TIM_HDR_LEN + i * rec;
        tim->ids[i] = le32(r);
        tim->sizes[i] = le32(r + 16);
        if (tim->ids[i] == 0 || tim->ids[i] == UINT32_MAX)
            return fail(err, err_len, "TIM image record %" PRIu32 " has no id", i);
    }
    return 0;
}

/* ---- FBF_h (notes §3.5, sizes chosen in README.md) ---- */

int sim_wtptp_fbf_parse(const uint8_t *p, size_t n, uint64_t total, struct sim_wtptp_fbf *fbf,
                        char *err, size_t err_len)
{
    memset(fbf, 0, sizeof(*fbf));
    if (n < WTPTP_FBF_MASTER_LEN)
        return fail(err, err_len, "FBF image of %zu bytes is shorter than a MasterBlockHeader", n);
    uint32_t ndev = le32(p + WTPTP_FBF_OFF_NDEV);
    if (ndev == 0 || ndev > 4)
        return fail(err, err_len, "FBF nOfDevices %" PRIu32 " outside 1..4", ndev);
    uint32_t off = le32(p + WTPTP_FBF_OFF_DEVOFF);
    if (off < WTPTP_FBF_MASTER_LEN || (uint64_t)off + WTPTP_FBF_DEV_FIXED > n)
        return fail(err, err_len, "FBF DeviceHeader offset 0x%" PRIX32 " out of bounds", off);
    const uint8_t *d = p + off;
    fbf->chip_id = le32(d + WTPTP_FBF_DEV_CHIPID);
    fbf->opt_value = le32(d + WTPTP_FBF_DEV_OPTVALUE);
    fbf->n_images = le32(d + WTPTP_FBF_DEV_NIMAGES);
    if (fbf->n_images == 0 || fbf->n_images > WTPTP_FBF_MAX_IMAGES)
        return fail(err, err_len, "FBF nOfImages %" PRIu32 " outside 1..%d", fbf->n_images,
                    WTPTP_FBF_MAX_IMAGES);
    uint64_t end = (uint64_t)off + WTPTP_FBF_DEV_FIXED + fbf->n_images * WTPTP_FBF_IMAGE_REC;
    if (end > n || end > total)
        return fail(err, err_len, "FBF image records end at 0x%" PRIX64 ", image has 0x%" PRIX64,
                    end, total);
    return 0;
}
