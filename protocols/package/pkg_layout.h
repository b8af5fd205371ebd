/* Layout detection and the choice rules of seed 003 ("解压固件：准备烧录"), per platform:
 *
 *  ASR       temporary zip: the zip itself holds download.json              asr-temporary-zip
 *            compile result: the inner <name>.zip with download.json, never
 *            <name>_release_pack.zip, DBG/ or the .json beside it            asr-compile-result
 *            official: <name>.bin (a zip with download.json) in a folder     asr-official
 *  Unisoc    temporary: the *_merge.pac (not app/ PACs, not the base .pac)   unisoc-temporary
 *            old official: the one .pac                                      unisoc-official-old
 *            new official: the .bin (zip of platform_config.json + .pac)     unisoc-official-new
 *  Eigencomm old: at_command.binpkg in the firmware folder                   eigencomm-old
 *            new: the .bin (zip of platform_config.json + folder)            eigencomm-new
 *  EC200A    the .blf (with the images it names)                             asr1803-blf
 *            an FBF container ("BinFile.bin") given directly                 asr1803-fbf
 *  BG95      update/firehose/partition.mbn (handle of the update tree)        qualcomm-mbn
 *  FC41D     the Beken .bin                                                  beken-bin
 *  FCM360W   the ESWIN allinone .bin ("oneb")                                eswin-bin
 *
 * Junk is never a candidate: candidates are recognised by content (download.json, PAC magic,
 * "oneb") or by the platform's own file names (.binpkg, .blf, rawprogram*.xml).
 */
#ifndef FLASHRACK_PKG_LAYOUT_H
#define FLASHRACK_PKG_LAYOUT_H

#include "package/pkg_types.h"
#include "package/pkg_walk.h"

struct pkg_choice {
    enum pkg_platform platform;
    const char *layout; /* static string from the table above */
    int flash_node;   /* what the user flashes (the seed's "<-- 这是我们要烧录的固件") */
    int payload_node; /* what the platform parser reads */
    char payload_dir[PKG_PATH_MAX]; /* ASR: container path; Qualcomm: firehose dir; BLF: its dir */
    char platform_config[32];       /* "platform" of platform_config.json, "" if none */
};

int pkg_choose(const struct pkg_walk *w, const char *prefer, struct pkg_choice *ret,
               struct pkg_warnings *warn, char *err, size_t errlen);

/* platform_config.json "platform" values (QuecPython download tool) to our platforms;
 * UNKNOWN when not ours. */
enum pkg_platform pkg_platform_from_config(const char *value);

#endif
