/* flashrack-mkpkg: synthetic firmware packages in every layout of seed 003 (and the Wi-Fi,
 * BG95 and EC200A forms of seed 000), with small but structurally valid images.
 *
 * Written from ../shared/protocols/ notes and the seed documents only: it shares no code with
 * protocols/, so a misreading of a format cannot pass both the writer and the parser.
 */
#ifndef FLASHRACK_MKPKG_H
#define FLASHRACK_MKPKG_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. */
struct buf {
    uint8_t *p;
    size_t len, cap;
};
void buf_put(struct buf *b, const void *data, size_t n);
void buf_zero(struct buf *b, size_t n);
void buf_le16(struct buf *b, uint16_t v);
void buf_le32(struct buf *b, uint32_t v);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Deterministic pseudo-random bytes (firmware-like, does not compress). */
void fill_random(uint8_t *p, size_t n, uint32_t seed);
struct buf random_image(size_t n, uint32_t seed);
/* The firmware revision a module reports after booting the image (NULL = none): the
 * application images of the packages built while it is set carry it as
 * "QUECTEL_REVISION=<rev>\0" (see tests/sim/sim.h), which the device models read back. */
extern const char *mkpkg_fw_revision;
/* random_image with the revision marker of mkpkg_fw_revision at offset 256 (n >= 512). */
struct buf firmware_image(size_t n, uint32_t seed);
/* Size of the main flashable image (0 = the small default), for throughput runs
 * (`--firmware NAME OUTDIR --image-mb N`): the Unisoc PAC's AP image, the Crane zip's cp.bin
 * and the EC200A FBF's first image get this many bytes, and the regions after it (PAC
 * addresses, Crane partition table and flash size, FBF flash address) move up to make room.
 * At 0 every writer's output is byte-identical to what it was before the option existed. */
extern size_t mkpkg_main_image_bytes;
/* The flash size a device needs for packages built with the current mkpkg_main_image_bytes:
 * the Crane FNIF declares it (a Crane device model must be given exactly this), and the
 * Unisoc PAC's regions end inside it. 16 MiB at the default. */
uint32_t mkpkg_flash_size(void);

/* Zip members: data == NULL and len == 0 with a trailing '/' in path makes a directory.
 * symlink != NULL makes a symbolic link entry (for hostile test inputs). */
struct zmember {
    const char *path;
    const uint8_t *data;
    size_t len;
    const char *symlink;
};
struct zip {
    struct zmember m[96];
    size_t n;
    struct buf owned[96]; /* buffers the zip keeps alive until zip_free */
    size_t nowned;
};
void zip_add(struct zip *z, const char *path, const uint8_t *data, size_t len);
/* Adds and takes ownership of b. */
void zip_add_buf(struct zip *z, const char *path, struct buf b);
void zip_add_text(struct zip *z, const char *path, const char *text);
void zip_add_dir(struct zip *z, const char *path);
void zip_add_symlink(struct zip *z, const char *path, const char *target);
struct buf zip_build(const struct zip *z, int store);
void zip_free(struct zip *z);

/* Files and directories under the output directory. */
void write_file(const char *outdir, const char *rel, const uint8_t *data, size_t len);
/* Writes every member of z as files under outdir/rel (an "extracted" package). */
void write_tree(const char *outdir, const char *rel, const struct zip *z);

/* Format writers (mkpkg_fmt.c). */
struct buf make_pac(const char *product, const char *alias, int with_app, uint32_t seed);
/* The same for the UIS8850 (EC600G/EC800G): FDL1 is "FDL", loaded by the classic BSL ROM. */
struct buf make_pac_8850(const char *product, const char *alias, int with_app, uint32_t seed);
void add_asr_flashable(struct zip *z, const char *prefix, uint32_t seed);
struct buf make_asr_flashable_zip(uint32_t seed);
struct buf make_binpkg(const char *product, uint32_t seed);
void add_eigencomm_folder(struct zip *z, const char *dir, int new_style, uint32_t seed);
void add_blf_folder(struct zip *z, const char *dir, const char *blfname, uint32_t seed);
struct buf make_fbf(uint32_t seed);
/* An FBF container a WTPTP device accepts: TIM headers, DKB, FBF_h images (mkpkg_fbf.c). */
struct buf make_fbf_firmware(uint32_t seed);
void add_bg95_tree(struct zip *z, const char *dir, uint32_t seed);
struct buf make_beken(size_t app_bytes, uint32_t seed);
struct buf make_eswin(uint32_t seed);

#endif
