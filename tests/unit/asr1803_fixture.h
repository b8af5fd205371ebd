/* EC200A (ASR1803) test packages built from protocols/asr.md §3.5-3.6, for the WTPTP host tests
 * (tests/unit/test_asr1803_session.c, tests/proto/test_asr1803_model.c): an FBF container
 * ("BinFile.bin") with DKB_timheader.bin, Dkb.bin, FBF_timheader.bin and *_FBF_h.bin members
 * whose TIM headers list the images, so a device that reads the TIM asks for exactly them.
 * Header-only and cmocka-free: each test program includes it once. */
#ifndef FLASHRACK_TEST_ASR1803_FIXTURE_H
#define FLASHRACK_TEST_ASR1803_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_TIMH 0x54494D48u
#define FX_DKBI 0x444B4249u

struct fxbuf {
    uint8_t *p;
    size_t len, cap;
};

static inline void fxb_put(struct fxbuf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 64;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static inline void fxb_le32(struct fxbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fxb_put(b, x, 4);
}

static inline void fxb_fill(struct fxbuf *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        uint8_t c = (uint8_t)(seed >> 16);
        fxb_put(b, &c, 1);
    }
}

/* TIM v3.4 (0x030400): 56-byte header, then one 96-byte IMAGE_INFO per id (TIMH first). */
static inline struct fxbuf fx_tim(const uint32_t *ids, size_t n, const size_t *sizes)
{
    struct fxbuf b = {0};
    fxb_le32(&b, 0x030400);
    fxb_le32(&b, FX_TIMH);
    fxb_le32(&b, 0);          /* Trusted */
    fxb_le32(&b, 0x20240101); /* IssueDate */
    fxb_le32(&b, 0x51554543); /* OEMUniqueID */
    for (int i = 0; i < 5; i++)
        fxb_le32(&b, 0xFFFFFFFFu);
    fxb_le32(&b, 0x5350490a); /* BootFlashSign: SPI NOR */
    fxb_le32(&b, (uint32_t)n);
    fxb_le32(&b, 0); /* NumKeys */
    fxb_le32(&b, 0); /* SizeOfReserved */
    for (size_t i = 0; i < n; i++) {
        fxb_le32(&b, ids[i]);
        fxb_le32(&b, i + 1 < n ? ids[i + 1] : 0xFFFFFFFFu);
        fxb_le32(&b, (uint32_t)(0x20000 * i)); /* FlashEntryAddr */
        fxb_le32(&b, 0xFFFFFFFFu);             /* LoadAddr */
        fxb_le32(&b, (uint32_t)sizes[i]);      /* ImageSize */
        fxb_le32(&b, 0);                       /* ImageSizeToHash */
        fxb_le32(&b, 0);                       /* HashAlgorithmID */
        for (int k = 0; k < 16; k++)
            fxb_le32(&b, 0);
        fxb_le32(&b, 0); /* PartitionNumber */
    }
    return b;
}

/* FBF_h.bin: u32 image id, MasterBlockHeader at +4 (§3.5), DeviceHeader_V11 at
 * +4+deviceHeaderOffset[0] with ChipID 15 (NEZHA3) at FX_CHIPID_OFF inside it, then data. */
/* DeviceHeader_V11 field offsets: the notes name the fields but not their sizes (§3.5 [GAP]);
 * these are all-u32 readings (the same the device model's README states). */
#define FX_DH_OPTVALUE 104
#define FX_DH_CHIPID   108
#define FX_DH_NIMAGES  120
#define FX_DH_SIZE     (124 + 52)
static inline struct fxbuf fx_fbf_h(uint32_t id, size_t body, uint32_t seed)
{
    struct fxbuf b = {0};
    fxb_le32(&b, id);
    size_t mbh = b.len;
    fxb_fill(&b, 24, seed); /* Unique */
    for (int i = 0; i < 4; i++)
        fxb_put(&b, "\0\0", 2); /* spare sizes */
    fxb_put(&b, "\x0b\x00", 2); /* format version 11 */
    fxb_put(&b, "\x00\x10", 2); /* block size 4096 */
    for (int i = 0; i < 3; i++)
        fxb_le32(&b, (uint32_t)body); /* bytes to program / verify / erase */
    fxb_le32(&b, 0);                  /* main commands */
    fxb_le32(&b, 1);                  /* nOfDevices */
    fxb_le32(&b, 0);                  /* DLerVersion */
    size_t dho = b.len;
    for (int i = 0; i < 4; i++)
        fxb_le32(&b, 0); /* deviceHeaderOffset[4], patched below */
    uint32_t dev = (uint32_t)(b.len - mbh);
    memcpy(b.p + dho, &(uint32_t){dev}, 4); /* host is little-endian in these tests */
    size_t dh = b.len;
    static const uint8_t zero[FX_DH_SIZE];
    fxb_put(&b, zero, sizeof(zero));
    memcpy(b.p + dh + FX_DH_OPTVALUE, &(uint32_t){1}, 4); /* reset after download */
    memcpy(b.p + dh + FX_DH_CHIPID, &(uint32_t){15}, 4);  /* NEZHA3 */
    memcpy(b.p + dh + FX_DH_NIMAGES, &(uint32_t){1}, 4);
    memcpy(b.p + dh + 124, &id, 4);                              /* ImageStruct_V11.Image_ID */
    memcpy(b.p + dh + 124 + 24, &(uint32_t){(uint32_t)body}, 4); /* .length */
    fxb_fill(&b, body, seed + 1);
    return b;
}

#define FX_MAXM 12
struct fx_member {
    char name[64];
    struct fxbuf data;
    uint32_t id; /* what the device asks for it with */
    int stage;   /* 0 boot ROM, 1 bootloader */
    size_t skip; /* 4 for images with an id prefix, 0 for TIM headers */
    int split;   /* stored as head + tail ranges with foreign bytes in between */
};

struct fx_pkg {
    struct fx_member m[FX_MAXM];
    size_t n;
    struct fxbuf file; /* the container */
};

static inline struct fx_member *fx_member(struct fx_pkg *f, const char *name, struct fxbuf data,
                                          uint32_t id, int stage, size_t skip)
{
    struct fx_member *m = &f->m[f->n++];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->data = data;
    m->id = id;
    m->stage = stage;
    m->skip = skip;
    return m;
}

/* Container (§3.5): member bytes, then the directory {count, per member: name length, UTF-16LE
 * Windows path, head/mid/tail ranges}, then the directory offset. */
static inline void fx_container(struct fx_pkg *f)
{
    struct fxbuf *b = &f->file;
    uint32_t r[FX_MAXM][6];
    for (size_t i = 0; i < f->n; i++) {
        struct fx_member *m = &f->m[i];
        size_t half = m->split ? m->data.len / 2 : m->data.len;
        r[i][0] = (uint32_t)b->len;
        fxb_put(b, m->data.p, half);
        r[i][1] = (uint32_t)b->len;
        r[i][2] = r[i][3] = (uint32_t)b->len; /* no mid range */
        if (m->split)
            fxb_fill(b, 77, 99); /* bytes of nobody between the two ranges */
        r[i][4] = (uint32_t)b->len;
        fxb_put(b, m->data.p + half, m->data.len - half);
        r[i][5] = (uint32_t)b->len;
    }
    uint32_t dir = (uint32_t)b->len;
    fxb_le32(b, (uint32_t)f->n);
    for (size_t i = 0; i < f->n; i++) {
        char full[128];
        snprintf(full, sizeof(full), "C:\\quectel\\EC200A\\%s", f->m[i].name);
        fxb_le32(b, (uint32_t)(2 * strlen(full)));
        for (const char *c = full; *c; c++)
            fxb_put(b, (uint8_t[2]){(uint8_t)*c, 0}, 2);
        for (int k = 0; k < 6; k++)
            fxb_le32(b, r[i][k]);
    }
    fxb_le32(b, dir);
}

struct fx_spec {
    int with_dkb;        /* DKB_timheader.bin + Dkb.bin for the boot ROM */
    size_t nimg;         /* FBF images (ids 0x46424631 "FBF1", ...) */
    size_t img_len[6];   /* body bytes of each */
    const char *ddr_alt; /* also a second variant of image 0 named "<ddr_alt>_FBF_h.bin" */
    int split;           /* store image 0 as two ranges */
};

static inline uint32_t fx_img_id(size_t i)
{
    return 0x46424631u + (uint32_t)i; /* "FBF1", "FBF2", ... */
}

static inline void fx_build(struct fx_pkg *f, const struct fx_spec *s)
{
    memset(f, 0, sizeof(*f));
    if (s->with_dkb) {
        uint32_t ids[2] = {FX_TIMH, FX_DKBI};
        size_t sizes[2] = {56 + 2 * 96, 3000};
        fx_member(f, "DKB_timheader.bin", fx_tim(ids, 2, sizes), FX_TIMH, 0, 0);
        struct fxbuf dkb = {0};
        fxb_le32(&dkb, FX_DKBI);
        fxb_fill(&dkb, 3000, 7);
        fx_member(f, "Dkb.bin", dkb, FX_DKBI, 0, 4);
    }
    uint32_t ids[8] = {FX_TIMH};
    size_t sizes[8] = {56 + (s->nimg + 1) * 96};
    for (size_t i = 0; i < s->nimg; i++) {
        ids[i + 1] = fx_img_id(i);
        sizes[i + 1] = s->img_len[i];
    }
    fx_member(f, "FBF_timheader.bin", fx_tim(ids, s->nimg + 1, sizes), FX_TIMH, 1, 0);
    for (size_t i = 0; i < s->nimg; i++) {
        char name[64];
        snprintf(name, sizeof(name), "0x0808_FBF%zu_h.bin", i + 1);
        struct fx_member *m = fx_member(
            f, name, fx_fbf_h(fx_img_id(i), s->img_len[i], 100 + (uint32_t)i), fx_img_id(i), 1, 4);
        m->split = s->split && i == 0;
    }
    if (s->ddr_alt) {
        char name[64];
        snprintf(name, sizeof(name), "%s_FBF1_h.bin", s->ddr_alt);
        fx_member(f, name, fx_fbf_h(fx_img_id(0), s->img_len[0], 555), fx_img_id(0), 1, 4);
    }
    /* A member WTPTP never sends (Quectel containers carry such extras). */
    struct fxbuf extra = {0};
    fxb_fill(&extra, 100, 3);
    fx_member(f, "ReadMe.txt", extra, 0, 1, 0);
    fx_container(f);
}

static inline void fx_free(struct fx_pkg *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->m[i].data.p);
    free(f->file.p);
    memset(f, 0, sizeof(*f));
}

#endif
