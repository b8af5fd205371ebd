/* ASR1803 plan: package (FBF container or BLF + images) -> image table per WTPTP stage.
 * See asr1803_plan.h and README.md ("Package forms"). */
#include "asr1803/asr1803_plan.h"

#include "asr/asr1803_pkg.h"
#include "common/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TIM_HDR 56 /* version block 20 + flash info 24 + NumImages/NumKeys/SizeOfReserved */

int asr1803_opts_parse(const char *s, struct asr1803_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->fast = 1;
    o->chunk = WTPTP_DATA_MAX;
    o->status_ms = 5000;
    o->data_ms = 60000;
    o->ready_ms = 600000;
    o->reenum_ms = 30000;
    o->reboot_check = 1;
    memcpy(o->processor, "NZA3", 5);
    char k[PROTO_OPTION_MAX], v[PROTO_OPTION_MAX];
    int more;
    while ((more = proto_option_next(&s, "asr1803", k, sizeof(k), v, sizeof(v), err, errlen)) > 0) {
        if (strcmp(k, "processor") == 0) {
            if (strlen(v) > 4) {
                snprintf(err, errlen, "asr1803 option processor='%s': at most 4 characters", v);
                return -EINVAL;
            }
            memcpy(o->processor, v, strlen(v) + 1);
            continue;
        }
        char *end;
        unsigned long long num = strtoull(v, &end, 0);
        if (!*v || *end || num > UINT32_MAX) {
            snprintf(err, errlen, "asr1803 option %s='%s' is not a number", k, v);
            return -EINVAL;
        }
        uint32_t n = (uint32_t)num;
        if (strcmp(k, "fast") == 0) {
            o->fast = n != 0;
        } else if (strcmp(k, "reboot_check") == 0) {
            o->reboot_check = n != 0;
        } else if (strcmp(k, "chunk") == 0) {
            if (n < 64 || n > WTPTP_DATA_MAX) {
                snprintf(err, errlen, "asr1803 option chunk=%u must be 64..%u", n, WTPTP_DATA_MAX);
                return -EINVAL;
            }
            o->chunk = n;
        } else if (strcmp(k, "status_ms") == 0 || strcmp(k, "data_ms") == 0 ||
                   strcmp(k, "ready_ms") == 0 || strcmp(k, "reenum_ms") == 0) {
            if (n < 100) {
                snprintf(err, errlen, "asr1803 option %s=%u must be at least 100", k, n);
                return -EINVAL;
            }
            *(k[0] == 's'   ? &o->status_ms
              : k[0] == 'd' ? &o->data_ms
              : k[2] == 'a' ? &o->ready_ms
                            : &o->reenum_ms) = n;
        } else {
            snprintf(err, errlen, "unknown asr1803 option '%s'", k);
            return -EINVAL;
        }
    }
    return more;
}

int asr1803_tim_ids(const uint8_t *p, size_t n, uint32_t *ids, size_t cap, size_t *count, char *err,
                    size_t errlen)
{
    if (n < TIM_HDR) {
        snprintf(err, errlen, "TIM header is %zu bytes, shorter than its %d-byte header", n,
                 TIM_HDR);
        return -EINVAL;
    }
    uint32_t version = wtptp_le32(p), ident = wtptp_le32(p + 4), num = wtptp_le32(p + 44);
    if (ident != WTPTP_ID_TIMH) {
        snprintf(err, errlen, "TIM identifier is 0x%08x, not \"TIMH\"", ident);
        return -EINVAL;
    }
    /* IMAGE_INFO size by version (§3.6): 3.1 no PartitionNumber, 3.2/3.3 8-word hash,
     * 3.4 16-word hash, 3.5 adds three encryption words. */
    size_t rec;
    if (version == 0x030101)
        rec = 15 * 4;
    else if (version == 0x030200 || version == 0x030300)
        rec = 16 * 4;
    else if (version == 0x030400)
        rec = 24 * 4;
    else if (version == 0x030500)
        rec = 27 * 4;
    else {
        snprintf(err, errlen, "TIM version 0x%06x is not one of 3.1.1/3.2/3.3/3.4/3.5", version);
        return -EINVAL;
    }
    if (num < 1 || num > cap) {
        snprintf(err, errlen, "TIM lists %u images (1..%zu)", num, cap);
        return -EINVAL;
    }
    if ((n - TIM_HDR) / rec < num) {
        snprintf(err, errlen, "TIM lists %u images but holds room for %zu", num,
                 (n - TIM_HDR) / rec);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < num; i++)
        ids[i] = wtptp_le32(p + TIM_HDR + i * rec);
    *count = num;
    return 0;
}

static int starts_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static struct asr1803_image *add(struct asr1803_plan *plan, uint32_t id, const char *name,
                                 const uint8_t *data, size_t len, uint8_t stages, int tim)
{
    if (plan->count >= ASR1803_MAX_IMAGES)
        return NULL;
    struct asr1803_image *im = &plan->img[plan->count++];
    im->id = id;
    snprintf(im->name, sizeof(im->name), "%s", name);
    im->data = data;
    im->len = len;
    im->stages = stages;
    im->tim = (uint8_t)tim;
    return im;
}

/* One FBF member's bytes: its head range, or head+mid+tail copied together. */
static enum fail_code member_bytes(struct asr1803_plan *plan, const struct asr1803_fbf_member *m,
                                   const uint8_t *file, size_t flen, const uint8_t **ret,
                                   size_t *ret_len, char *err, size_t errlen)
{
    size_t total = 0, pieces = 0;
    for (int q = 0; q < 3; q++) {
        uint32_t a = m->range[q][0], b = m->range[q][1];
        if (b < a || b > flen) {
            snprintf(err, errlen, "FBF member '%s' range [%u, %u) lies outside the file", m->name,
                     a, b);
            return FAIL_PACKAGE;
        }
        total += b - a;
        pieces += b > a;
    }
    if (pieces <= 1 || (m->range[1][0] == m->range[1][1] && m->range[2][0] == m->range[2][1])) {
        *ret = file + m->range[0][0];
        *ret_len = m->range[0][1] - m->range[0][0];
        if (pieces == 1 && *ret_len == 0) { /* the one range is mid or tail */
            for (int q = 1; q < 3; q++)
                if (m->range[q][1] > m->range[q][0]) {
                    *ret = file + m->range[q][0];
                    *ret_len = m->range[q][1] - m->range[q][0];
                }
        }
        return FAIL_NONE;
    }
    uint8_t *copy = plan->nowned < ASR1803_MAX_IMAGES ? malloc(total ? total : 1) : NULL;
    if (!copy) {
        snprintf(err, errlen, "no memory for FBF member '%s' (%zu bytes)", m->name, total);
        return FAIL_INTERNAL;
    }
    size_t at = 0;
    for (int q = 0; q < 3; q++) {
        memcpy(copy + at, file + m->range[q][0], m->range[q][1] - m->range[q][0]);
        at += m->range[q][1] - m->range[q][0];
    }
    plan->owned[plan->nowned++] = copy;
    *ret = copy;
    *ret_len = total;
    return FAIL_NONE;
}

static enum fail_code from_fbf(struct asr1803_plan *plan, const struct pkg *pkg, char *err,
                               size_t errlen)
{
    const struct asr1803_fbf *f = pkg->parsed;
    if (!pkg->payload_data) {
        snprintf(err, errlen, "FBF container bytes are not available");
        return FAIL_PACKAGE;
    }
    for (size_t i = 0; i < f->count; i++) {
        const struct asr1803_fbf_member *m = &f->members[i];
        int timh = strcasestr(m->name, "timheader") != NULL;
        int dkb = starts_ci(m->name, "dkb");
        int fbf_h = strlen(m->name) > 6 && strcasecmp(m->name + strlen(m->name) - 6, "_h.bin") == 0;
        if (!timh && !fbf_h && strcasecmp(m->name, "dkb.bin") != 0)
            continue; /* not a member WTPTP sends (§3.5 "expected members") */
        const uint8_t *d;
        size_t len;
        enum fail_code fc =
            member_bytes(plan, m, pkg->payload_data, pkg->payload_len, &d, &len, err, errlen);
        if (fc != FAIL_NONE)
            return fc;
        uint32_t id;
        uint8_t stages;
        if (timh) {
            id = WTPTP_ID_TIMH;
            stages = 1u << (dkb ? ASR1803_STAGE_ROM : ASR1803_STAGE_BL);
        } else {
            if (len < 4) {
                snprintf(err, errlen, "FBF member '%s' is %zu bytes, too short for its image id",
                         m->name, len);
                return FAIL_PACKAGE;
            }
            /* Images other than TIMH/PART start with their u32 id, which is not sent. */
            id = dkb ? WTPTP_ID_DKBI : wtptp_le32(d);
            stages = 1u << (dkb ? ASR1803_STAGE_ROM : ASR1803_STAGE_BL);
            if (id != WTPTP_ID_PART) {
                d += 4;
                len -= 4;
            }
        }
        if (!add(plan, id, m->name, d, len, stages, timh)) {
            snprintf(err, errlen, "FBF holds more than %d images", ASR1803_MAX_IMAGES);
            return FAIL_PACKAGE;
        }
    }
    return FAIL_NONE;
}

static uint32_t id_of_text(const char *s)
{
    if (strlen(s) == 4 && !(s[0] == '0' && (s[1] | 0x20) == 'x'))
        return (uint32_t)(unsigned char)s[0] << 24 | (uint32_t)(unsigned char)s[1] << 16 |
               (uint32_t)(unsigned char)s[2] << 8 | (uint32_t)(unsigned char)s[3];
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    return (*s && !*end && v <= UINT32_MAX) ? (uint32_t)v : 0;
}

/* BLF: every image is sent whole, by its Image_ID, in whichever stage asks for it. */
static enum fail_code from_blf(struct asr1803_plan *plan, const struct pkg *pkg, char *err,
                               size_t errlen)
{
    const struct asr1803_blf *b = pkg->parsed;
    for (size_t i = 0; i < b->images.count; i++) {
        const struct pkg_image *pi = &b->images.items[i];
        uint32_t id = id_of_text(pi->name);
        if (pi->size > UINT32_MAX) {
            snprintf(err, errlen, "BLF image '%s' is %llu bytes: WTPTP sizes are 32-bit", pi->file,
                     (unsigned long long)pi->size);
            return FAIL_PACKAGE;
        }
        if (!id || !pi->data) {
            snprintf(err, errlen, "BLF image '%s' (%s) has no usable id or bytes", pi->name,
                     pi->file);
            return FAIL_PACKAGE;
        }
        if (!add(plan, id, pkg_basename(pi->file), pi->data, (size_t)pi->size,
                 (1u << ASR1803_STAGE_ROM) | (1u << ASR1803_STAGE_BL), id == WTPTP_ID_TIMH)) {
            snprintf(err, errlen, "BLF holds more than %d images", ASR1803_MAX_IMAGES);
            return FAIL_PACKAGE;
        }
    }
    return FAIL_NONE;
}

static void add_id(struct asr1803_stage_plan *sp, uint32_t id)
{
    for (size_t i = 0; i < sp->nids; i++)
        if (sp->ids[i] == id)
            return;
    if (sp->nids < ASR1803_MAX_IDS)
        sp->ids[sp->nids++] = id;
}

/* What the device in this stage will ask for: the TIM's list, else the package's guess. */
static void stage_ids(struct asr1803_plan *plan, enum asr1803_stage st)
{
    struct asr1803_stage_plan *sp = &plan->stage[st];
    sp->tim = -1;
    for (size_t i = 0; i < plan->count; i++)
        if (plan->img[i].tim && (plan->img[i].stages & (1u << st)) && sp->tim < 0)
            sp->tim = (int)i;
    if (sp->tim < 0)
        return;
    const struct asr1803_image *tim = &plan->img[sp->tim];
    uint32_t ids[ASR1803_MAX_IDS];
    size_t n = 0;
    char why[120];
    if (asr1803_tim_ids(tim->data, tim->len, ids, ASR1803_MAX_IDS, &n, why, sizeof(why)) == 0) {
        sp->from_tim = 1;
        for (size_t i = 0; i < n; i++)
            if (ids[i] != WTPTP_ID_TIMH)
                add_id(sp, ids[i]);
    } else {
        snprintf(plan->note, sizeof(plan->note), "%s: %s; image order guessed from the package",
                 tim->name, why);
        for (size_t i = 0; i < plan->count; i++) {
            const struct asr1803_image *im = &plan->img[i];
            if (im->tim || !(im->stages & (1u << st)))
                continue;
            /* BLF: the ROM stage loads only the DKB, the bootloader stage everything else. */
            if (plan->form == PKG_PARSED_BLF &&
                (st == ASR1803_STAGE_ROM) != (im->id == WTPTP_ID_DKBI))
                continue;
            add_id(sp, im->id);
        }
    }
    sp->bytes = tim->len;
    for (size_t k = 0; k < sp->nids; k++) {
        size_t most = 0;
        for (size_t i = 0; i < plan->count; i++)
            if (plan->img[i].id == sp->ids[k] && (plan->img[i].stages & (1u << st)) &&
                plan->img[i].len > most)
                most = plan->img[i].len;
        sp->bytes += most;
    }
}

enum fail_code asr1803_plan_build(struct asr1803_plan *plan, const struct pkg *pkg, char *err,
                                  size_t errlen)
{
    memset(plan, 0, sizeof(*plan));
    plan->form = pkg->parsed_kind;
    enum fail_code fc;
    if (pkg->parsed_kind == PKG_PARSED_FBF)
        fc = from_fbf(plan, pkg, err, errlen);
    else if (pkg->parsed_kind == PKG_PARSED_BLF)
        fc = from_blf(plan, pkg, err, errlen);
    else {
        snprintf(err, errlen, "not an EC200A package (BLF or FBF container)");
        return FAIL_PACKAGE;
    }
    if (fc != FAIL_NONE)
        return fc;
    stage_ids(plan, ASR1803_STAGE_ROM);
    stage_ids(plan, ASR1803_STAGE_BL);
    const struct asr1803_stage_plan *bl = &plan->stage[ASR1803_STAGE_BL];
    if (bl->tim < 0) {
        snprintf(err, errlen, "package has no %s TIM header",
                 plan->form == PKG_PARSED_FBF ? "FBF_timheader.bin" : "TIMH");
        return FAIL_PACKAGE;
    }
    if (bl->nids == 0) {
        snprintf(err, errlen, "package has no image for the bootloader to flash (%s)",
                 plan->form == PKG_PARSED_FBF ? "no *_FBF_h.bin member" : "TIM lists only itself");
        return FAIL_PACKAGE;
    }
    return FAIL_NONE;
}

void asr1803_plan_free(struct asr1803_plan *plan)
{
    for (size_t i = 0; i < plan->nowned; i++)
        free(plan->owned[i]);
    plan->nowned = 0;
}

const struct asr1803_image *asr1803_plan_find(const struct asr1803_plan *plan,
                                              enum asr1803_stage stage, uint32_t id,
                                              const struct wtptp_version *v, char *err,
                                              size_t errlen)
{
    const struct asr1803_image *first = NULL, *ddr = NULL;
    size_t n = 0, nddr = 0;
    for (size_t i = 0; i < plan->count; i++) {
        const struct asr1803_image *im = &plan->img[i];
        if (im->id != id || !(im->stages & (1u << stage)))
            continue;
        if (!first)
            first = im;
        n++;
        /* Multi-DDR FBFs: "0x<vendor>" in the member name (§3.4 step 2). */
        if (v && v->extended) {
            char a[8], b[8];
            snprintf(a, sizeof(a), "0x%s", v->ddr_vendor);
            snprintf(b, sizeof(b), "0x%s", v->ddr_vendor_raw);
            if (strcasestr(im->name, a) || strcasestr(im->name, b)) {
                ddr = im;
                nddr++;
            }
        }
    }
    char idt[16];
    wtptp_id_text(id, idt);
    if (n == 1)
        return first;
    if (n == 0) {
        snprintf(err, errlen, "the %s asks for image %s, which the package does not hold",
                 stage == ASR1803_STAGE_ROM ? "boot ROM" : "bootloader", idt);
        return NULL;
    }
    if (nddr == 1)
        return ddr;
    snprintf(err, errlen,
             "%zu package images carry id %s and the DDR vendor '%s' picks %zu of them", n, idt,
             v && v->extended ? v->ddr_vendor : "(not reported)", nddr);
    return NULL;
}
