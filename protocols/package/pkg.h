/* Package front door: from whatever the user has (the download-page zip, a nested .bin or
 * .zip, a bare .pac/.binpkg/.bin/.blf, an extracted directory) to the one flashable file the
 * seed document says, its platform, identity and images.
 *
 *   walk (pkg_walk.h) -> choose (pkg_layout.h) -> parse (per platform) -> struct pkg
 *
 * Pure: the caller reads files (daemon/pkg_load.c) and hands bytes in.
 */
#ifndef FLASHRACK_PKG_H
#define FLASHRACK_PKG_H

#include "package/pkg_layout.h"
#include "package/pkg_name.h"
#include "package/pkg_types.h"
#include "package/pkg_walk.h"

enum pkg_parsed_kind {
    PKG_PARSED_NONE = 0,
    PKG_PARSED_PAC,      /* struct unisoc_pac */
    PKG_PARSED_ASR,      /* struct asr_pkg */
    PKG_PARSED_BLF,      /* struct asr1803_blf */
    PKG_PARSED_FBF,      /* struct asr1803_fbf */
    PKG_PARSED_BINPKG,   /* struct eigencomm_binpkg */
    PKG_PARSED_QUALCOMM, /* struct qualcomm_pkg */
    PKG_PARSED_BEKEN,    /* struct beken_image */
    PKG_PARSED_ESWIN,    /* struct eswin_image */
};

struct pkg {
    struct pkg_walk walk; /* owns every decompressed member */
    struct pkg_choice choice;
    enum pkg_platform platform;
    const char *layout;              /* static, see pkg_layout.h */
    char flash_file[PKG_PATH_MAX];   /* what the user flashes, '/'-separated from the root */
    char payload_file[PKG_PATH_MAX]; /* what the driver parses (same or inside flash_file) */
    const uint8_t *flash_data;       /* NULL when the flash file is a directory */
    size_t flash_len;
    char flash_sha256[65];       /* "" when flash_data is NULL */
    const uint8_t *payload_data; /* NULL for directory payloads (ASR zip root dir) */
    size_t payload_len;
    char name[160];               /* firmware name the identity came from, no extension */
    struct pkg_ident ident;       /* series, sub-model, version */
    struct pkg_image_list images; /* from the real parse */
    struct pkg_warnings warnings;
    enum pkg_parsed_kind parsed_kind;
    void *parsed; /* the platform parser's description */
};

/* Takes ownership of *walk (it is moved into the result, or freed on error). prefer: the
 * path of the node the user pointed at when the walk was built from its surroundings (a .blf
 * or update/firehose/partition.mbn inside a directory), or NULL. */
int pkg_open_walk(struct pkg_walk *walk, const char *prefer, struct pkg **ret, char *err,
                  size_t errlen);
/* One file in memory (data must outlive the pkg). name: its file name (identity, rules). */
int pkg_open_buffer(const uint8_t *data, size_t len, const char *name, const struct pkg_limits *lim,
                    struct pkg **ret, char *err, size_t errlen);
void pkg_free(struct pkg *pkg);

/* The shape of struct proto's parse hook (protocol.h): bytes a driver is handed (a bare
 * flashable file or any package zip) -> a struct pkg whose platform must be `want`. The
 * driver reads pkg->parsed (its own description, see parsed_kind) and pkg->images.
 * Each platform exports a one-line wrapper (unisoc_pkg_parse, asr_pkg_parse_hook, ...). */
int pkg_proto_parse(enum pkg_platform want, const uint8_t *data, size_t len, void **ret_package,
                    char *err, size_t errlen);
void pkg_proto_free(void *package);

/* Lower-case hex SHA-256 of data into out[65]. */
void pkg_sha256_hex(const uint8_t *data, size_t len, char out[65]);

#endif
