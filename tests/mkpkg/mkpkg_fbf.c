/* mkpkg: an EC200A (ASR1803) FBF container ("BinFile.bin") that a WTPTP device accepts, for
 * production-flow tests: `flashrack-mkpkg --firmware QPY_OCPU_<VER>_EC200A_<SUB>_FW OUTDIR`.
 *
 * make_fbf() (mkpkg_fmt2.c) only has the container right (its members are random bytes, fine
 * for the package parser); here every member is what a device reads:
 *  - DKB_timheader.bin / FBF_timheader.bin: TIM v3.4 headers (asr.md §3.6: 56-byte header,
 *    96-byte IMAGE_INFO records) listing the images the boot ROM and the DKB will ask for;
 *  - Dkb.bin: id prefix "DKBI" then the DKB body;
 *  - 0x0808_FBF<n>_h.bin: id prefix, MasterBlockHeader, DeviceHeader_V11 with ChipID 15
 *    (NEZHA3) and OptValue 1 (reset after download), one ImageStruct_V11, then the image body.
 * asr.md §3.5 names the FBF_h fields but not their sizes; this writes the all-u32 reading
 * that tests/sim/asr1803/README.md documents ("FBF_h layout chosen"), the only device that
 * checks it. The first image body carries the firmware revision marker (firmware_image), so
 * the device model reports the new revision when it reboots.
 */
#include "mkpkg.h"

#include <stdio.h>
#include <string.h>

#define TIM_VERSION 0x030400u /* v3.4 */
#define ID_TIMH     0x54494D48u
#define ID_DKBI     0x444B4249u
#define ID_FBF1     0x46424631u /* "FBF1"; FBF2 = +1 */
#define TIM_HDR     56u
#define TIM_REC     96u
#define CHIP_NEZHA3 15u

static void put_le32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* TIM v3.4 listing ids[0..n) (ids[0] = TIMH, the header itself) with the byte counts the
 * device will receive for each. Hashes are left zero: nothing checks them unsigned. */
static struct buf tim_header(const uint32_t *ids, const uint32_t *sizes, size_t n)
{
    struct buf b = {0};
    buf_le32(&b, TIM_VERSION);
    buf_le32(&b, ID_TIMH);
    buf_le32(&b, 0);          /* Trusted */
    buf_le32(&b, 0x20240501); /* IssueDate */
    buf_le32(&b, 0x51554543); /* OEMUniqueID "QUEC" */
    for (int i = 0; i < 5; i++)
        buf_le32(&b, 0xFFFFFFFFu); /* reserved / WTM words */
    buf_le32(&b, 0x5350490A);      /* BootFlashSign: SPI */
    buf_le32(&b, (uint32_t)n);     /* NumImages */
    buf_le32(&b, 0);               /* NumKeys */
    buf_le32(&b, 0);               /* SizeOfReserved */
    for (size_t i = 0; i < n; i++) {
        buf_le32(&b, ids[i]);
        buf_le32(&b, i + 1 < n ? ids[i + 1] : 0xFFFFFFFFu); /* NextImageID */
        buf_le32(&b, (uint32_t)(0x40000 * i));              /* FlashEntryAddr */
        buf_le32(&b, 0xFFFFFFFFu);                          /* LoadAddr */
        buf_le32(&b, sizes[i]);                             /* ImageSize */
        buf_le32(&b, 0);                                    /* ImageSizeToHash */
        buf_le32(&b, 32);                                   /* HashAlgorithmID: SHA-256 */
        buf_zero(&b, 16 * 4);                               /* Hash */
        buf_le32(&b, 0);                                    /* PartitionNumber */
    }
    return b;
}

/* FBF_h.bin: id prefix, then (offsets in the bytes after the prefix) MasterBlockHeader
 * 0..76, DeviceHeader_V11 at 76 (+104 OptValue, +108 ChipID, +120 nOfImages, +124 one
 * ImageStruct_V11 of 52 bytes), then the body. */
static struct buf fbf_h(uint32_t id, const struct buf *body, uint32_t flash_addr, uint32_t seed)
{
    const size_t mbh = 76, dh_size = 124 + 52;
    struct buf b = {0};
    buf_le32(&b, id);
    struct buf unique = random_image(24, seed);
    buf_put(&b, unique.p, unique.len);
    buf_free(&unique);
    buf_zero(&b, 4 * 2);  /* spare sizes */
    buf_le16(&b, 11);     /* format version: DeviceHeader_V11 */
    buf_le16(&b, 0x1000); /* block size */
    for (int i = 0; i < 3; i++)
        buf_le32(&b, (uint32_t)body->len); /* bytes to program / verify / erase */
    buf_le32(&b, 0);                       /* main commands */
    buf_le32(&b, 1);                       /* nOfDevices */
    buf_le32(&b, 0);                       /* DLerVersion */
    buf_le32(&b, (uint32_t)mbh);           /* deviceHeaderOffset[0] */
    buf_zero(&b, 3 * 4);
    size_t dh = b.len;
    buf_zero(&b, dh_size);
    put_le32_at(b.p + dh + 100, 1);             /* ProductionMode */
    put_le32_at(b.p + dh + 104, 1);             /* OptValue: reset after download */
    put_le32_at(b.p + dh + 108, CHIP_NEZHA3);   /* ChipID */
    put_le32_at(b.p + dh + 120, 1);             /* nOfImages */
    uint8_t *img = b.p + dh + 124;              /* ImageStruct_V11 */
    put_le32_at(img + 0, id);                   /* Image_ID */
    put_le32_at(img + 4, id);                   /* Image_In_TIM */
    put_le32_at(img + 12, 0x10000);             /* Flash_erase_size */
    put_le32_at(img + 20, flash_addr / 0x1000); /* First_Sector */
    put_le32_at(img + 24, (uint32_t)body->len); /* length */
    put_le32_at(img + 28, flash_addr);          /* Flash_Start_Address */
    buf_put(&b, body->p, body->len);
    return b;
}

struct member {
    const char *name;
    struct buf data;
};

/* Container (asr.md §3.5): member bytes, then the directory {count, per member: name length,
 * UTF-16LE Windows path, head/mid/tail ranges (head only here)}, then its offset. */
static struct buf container(struct member *m, size_t n)
{
    struct buf b = {0};
    uint32_t off[8], end[8];
    for (size_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b.len;
        buf_put(&b, m[i].data.p, m[i].data.len);
        end[i] = (uint32_t)b.len;
    }
    uint32_t dir = (uint32_t)b.len;
    buf_le32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char full[160];
        snprintf(full, sizeof(full), "D:\\FBFMake\\EC200A\\%s", m[i].name);
        buf_le32(&b, (uint32_t)(2 * strlen(full)));
        for (const char *c = full; *c; c++)
            buf_le16(&b, (uint16_t)(unsigned char)*c);
        buf_le32(&b, off[i]), buf_le32(&b, end[i]); /* head */
        buf_le32(&b, end[i]), buf_le32(&b, end[i]); /* mid: empty */
        buf_le32(&b, end[i]), buf_le32(&b, end[i]); /* tail: empty */
    }
    buf_le32(&b, dir);
    return b;
}

struct buf make_fbf_firmware(uint32_t seed)
{
    /* Sizes the device receives (FBF images and Dkb.bin lose their 4-byte id prefix). The
     * first image is the main one (mkpkg_main_image_bytes): the second moves up past it. */
    size_t app_len = mkpkg_main_image_bytes ? mkpkg_main_image_bytes : 48 * 1024;
    struct buf app = firmware_image(app_len, seed + 1);
    uint32_t data_addr = 0x00800000;
    if (0x00040000 + app_len > data_addr)
        data_addr = (uint32_t)((0x00040000 + app_len + 0xFFFFF) / 0x100000 * 0x100000);
    struct buf data = random_image(20000, seed + 2);
    struct buf dkb = {0};
    buf_le32(&dkb, ID_DKBI);
    struct buf dkb_body = random_image(6000, seed + 3);
    buf_put(&dkb, dkb_body.p, dkb_body.len);
    buf_free(&dkb_body);

    uint32_t rom_ids[2] = {ID_TIMH, ID_DKBI};
    uint32_t rom_sizes[2] = {TIM_HDR + 2 * TIM_REC, (uint32_t)dkb.len - 4};
    struct member m[5] = {{"DKB_timheader.bin", tim_header(rom_ids, rom_sizes, 2)},
                          {"Dkb.bin", dkb},
                          {"FBF_timheader.bin", {0}},
                          {"0x0808_FBF1_h.bin", fbf_h(ID_FBF1, &app, 0x00040000, seed + 4)},
                          {"0x0808_FBF2_h.bin", fbf_h(ID_FBF1 + 1, &data, data_addr, seed + 5)}};
    uint32_t bl_ids[3] = {ID_TIMH, ID_FBF1, ID_FBF1 + 1};
    uint32_t bl_sizes[3] = {TIM_HDR + 3 * TIM_REC, (uint32_t)m[3].data.len - 4,
                            (uint32_t)m[4].data.len - 4};
    m[2].data = tim_header(bl_ids, bl_sizes, 3);
    buf_free(&app);
    buf_free(&data);
    struct buf out = container(m, 5);
    for (size_t i = 0; i < 5; i++)
        buf_free(&m[i].data);
    return out;
}
