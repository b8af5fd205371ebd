/* aboot commands as the boot ROM, preboot and the flasher serve them (notes §2.3, §2.4, §4).
 * One command at a time: the reply (or the DATA/OKAY pair of a download) is queued before the
 * next frame is read, and slow commands hold the input until their reply is due. */
#include "asr/asr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool in_flasher(const struct asr *a)
{
    return a->runs >= 2;
}

static uint64_t max_download(const struct asr *a)
{
    return in_flasher(a) ? a->cfg.flasher_max : a->cfg.rom_max;
}

static bool quirk_rom(const struct asr *a)
{
    return strcmp(a->cfg.rom, "2019.01.15") == 0;
}

static bool all_digits(const char *s, int base)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        bool ok = (*s >= '0' && *s <= '9') ||
                  (base == 16 && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')));
        if (!ok)
            return false;
    }
    return true;
}

static void okay(struct asr *a, uint64_t now_ms, uint64_t delay_ms)
{
    asr_send_final(a, now_ms, delay_ms, "OKAY");
}

/* ---- getvar ---- */

static void cmd_getvar(struct asr *a, const char *name, uint64_t now_ms)
{
    static const char *const pvars[] = {"partition-type:", "partition-size:", "partition-start:"};
    if (strcmp(name, "product") == 0)
        asr_send_final(a, now_ms, 0, "OKAY%s", a->cfg.product);
    else if (strcmp(name, "version") == 0)
        asr_send_final(a, now_ms, 0, "OKAY%s", a->cfg.version);
    else if (strcmp(name, "version-bootrom") == 0)
        asr_send_final(a, now_ms, 0, "OKAY%s", a->cfg.rom);
    else if (strcmp(name, "max-download-size") == 0)
        asr_send_final(a, now_ms, 0, "OKAY0x%" PRIx64, max_download(a));
    else if (strcmp(name, "platform") == 0)
        asr_send_final(a, now_ms, 0, "OKAYcrane");
    else if (strcmp(name, "chip") == 0)
        asr_send_final(a, now_ms, 0, "OKAYasr1603");
    else if (strcmp(name, "boardid") == 0)
        asr_send_final(a, now_ms, 0, "OKAY0");
    else {
        for (int v = 0; v < 3; v++) {
            if (!starts(name, pvars[v]))
                continue;
            const char *part = name + strlen(pvars[v]);
            if (!a->flash.have_table) {
                asr_fail(a, now_ms, "getvar:%s: no partition table loaded", name);
                return;
            }
            int i = sim_asr_part_find(&a->flash, part);
            if (i < 0) {
                asr_fail(a, now_ms, "getvar:%s: no such partition", name);
                return;
            }
            const struct sim_asr_part *q = &a->flash.parts[i];
            if (v == 0)
                asr_send_final(a, now_ms, 0, "OKAY%s", q->type);
            else
                asr_send_final(a, now_ms, 0, "OKAY0x%08" PRIx32, v == 1 ? q->size : q->off);
            return;
        }
        asr_fail(a, now_ms, "getvar: unknown variable '%s'", name);
    }
}

/* ---- download and data ---- */

static void cmd_download(struct asr *a, const char *arg, uint64_t now_ms)
{
    if (strlen(arg) != 8 || !all_digits(arg, 16)) {
        asr_fail(a, now_ms, "download: size '%s' is not 8 hex digits", arg);
        return;
    }
    uint32_t size = (uint32_t)strtoul(arg, NULL, 16);
    a->dl_done = false;
    a->verified = false;
    if (size == 0 || size > max_download(a)) {
        asr_fail(a, now_ms, "download size 0x%08" PRIx32 " outside 1..max-download-size 0x%" PRIx64,
                 size, max_download(a));
        return;
    }
    a->dl_open = true;
    a->dl_size = size;
    a->dl_got = 0;
    asr_send_final(a, now_ms, 0, "DATA%08" PRIx32, size);
}

void asr_data(struct asr *a, const uint8_t *p, size_t n, uint64_t now_ms)
{
    if (a->silenced)
        return;
    if (!a->dl_open) {
        a->stray_data++;
        if (!a->stray_failed) { /* one FAIL per burst, not one per frame */
            a->stray_failed = true;
            asr_fail(a, now_ms, "data frame without an open download");
        }
        return;
    }
    if (n > a->dl_size - a->dl_got) {
        a->dl_open = false;
        asr_fail(a, now_ms, "data past the announced 0x%08" PRIx32 " bytes", a->dl_size);
        return;
    }
    memcpy(a->dl + a->dl_got, p, n);
    a->dl_got += (uint32_t)n;
    a->download_bytes += n;
    if (a->cfg.unplug_after_bytes && a->download_bytes >= a->cfg.unplug_after_bytes) {
        /* Fault: the cable goes mid-write; nothing more is answered. */
        snprintf(a->last_error, sizeof(a->last_error), "fault: unplugged after %" PRIu64 " bytes",
                 a->download_bytes);
        a->unplug_now = true;
        a->link = ASR_LINK_GONE;
        a->q_count = a->q_pos = 0;
        return;
    }
    if (a->dl_got == a->dl_size) {
        a->dl_open = false;
        a->dl_done = true;
        a->downloads++;
        okay(a, now_ms, 0);
    }
}

/* ---- ROM: verify, call, nop ---- */

static void cmd_verify(struct asr *a, uint64_t now_ms)
{
    if (!a->dl_done) {
        asr_fail(a, now_ms, "verify without a completed download");
        return;
    }
    char why[SIM_ERR_MAX];
    if (sim_asr_fip_check(a->dl, a->dl_size, why, sizeof(why)) < 0) {
        a->verified = false;
        asr_fail(a, now_ms, "%s", why);
        return;
    }
    a->verified = true;
    a->verifies++;
    okay(a, now_ms, 0);
}

/* Runs the verified blob: the first image is preboot (returns into the ROM), the second the
 * flasher (stays resident and serves aboot from now on). */
static void run_image(struct asr *a, uint64_t now_ms)
{
    if (a->runs < 2) {
        unsigned len = 0;
        EVP_Digest(a->dl, a->dl_size, a->run_sha[a->runs], &len, EVP_sha256(), NULL);
    }
    a->runs++;
    a->calls++;
    a->verified = false;
    a->dl_done = false;
    asr_set_phase(a, a->runs == 1 ? ASR_PH_PREBOOT : ASR_PH_FLASHER);
    const char *what = a->runs == 1 ? "preboot" : "flasher";
    for (uint64_t i = 0; i < a->cfg.info_lines; i++) {
        char line[64];
        snprintf(line, sizeof(line), "sim: %s step %" PRIu64, what, i + 1);
        asr_send_info(a, now_ms, a->cfg.call_ms * (i + 1) / (a->cfg.info_lines + 1), line);
    }
    okay(a, now_ms, a->cfg.call_ms);
}

static void cmd_call(struct asr *a, uint64_t now_ms)
{
    if (quirk_rom(a) && !a->cfg.quirk_call_run) {
        asr_fail(a, now_ms, "call not supported by bootrom 2019.01.15 (nop runs the image)");
        return;
    }
    if (!a->verified) {
        asr_fail(a, now_ms, "call without a verified image");
        return;
    }
    run_image(a, now_ms);
}

static void cmd_nop(struct asr *a, uint64_t now_ms)
{
    if (quirk_rom(a) && a->verified && !in_flasher(a))
        run_image(a, now_ms);
    else
        okay(a, now_ms, 0);
}

/* ---- flasher: partition, flash, erase ---- */

static void cmd_partition(struct asr *a, uint64_t now_ms)
{
    if (!a->dl_done) {
        asr_fail(a, now_ms, "partition without a completed download");
        return;
    }
    a->dl_done = false; /* consumed, whatever the outcome */
    char why[SIM_ERR_MAX];
    int r;
    bool fnif = a->dl_size >= 4 && memcmp(a->dl, "FNIF", 4) == 0;
    if (fnif)
        r = sim_asr_flashinfo_apply(&a->flash, a->dl, a->dl_size, why, sizeof(why));
    else if (a->dl_size >= 4 && memcmp(a->dl, "BTPA", 4) == 0)
        r = sim_asr_ptable_apply(&a->flash, a->dl, a->dl_size, why, sizeof(why));
    else
        r = -1, snprintf(why, sizeof(why), "partition: blob is neither flashinfo nor a table");
    if (r < 0) {
        asr_fail(a, now_ms, "%s", why);
        return;
    }
    asr_set_phase(a, fnif ? ASR_PH_PROBED : ASR_PH_PTABLE);
    if (a->cfg.info_lines)
        asr_send_info(a, now_ms, 0, fnif ? "sim: flash probed" : "sim: partition table loaded");
    okay(a, now_ms, 0);
}

/* The partition a flash:/erase: names, or -1 after a FAIL. */
static int target(struct asr *a, const char *verb, const char *name, uint64_t now_ms)
{
    if (!a->flash.have_table) {
        asr_fail(a, now_ms, "%s:%s before the partition table", verb, name);
        return -1;
    }
    int i = sim_asr_part_find(&a->flash, name);
    if (i < 0) {
        asr_fail(a, now_ms, "%s: no partition '%s'", verb, name);
        return -1;
    }
    if (a->flash.parts[i].level < 2) {
        asr_fail(a, now_ms, "%s:%s is a group, not a partition", verb, name);
        return -1;
    }
    return i;
}

static void cmd_flash(struct asr *a, const char *name, uint64_t now_ms)
{
    int i = target(a, "flash", name, now_ms);
    if (i < 0)
        return;
    if (!a->dl_done) {
        asr_fail(a, now_ms, "flash:%s without a completed download", name);
        return;
    }
    a->dl_done = false;
    char why[SIM_ERR_MAX];
    uint64_t programmed = 0;
    if (sim_asr_sparse_flash(&a->flash, i, a->dl, a->dl_size, &programmed, why, sizeof(why)) < 0) {
        asr_fail(a, now_ms, "%s", why);
        return;
    }
    a->flash_cmds++;
    asr_set_phase(a, ASR_PH_FLASHING);
    uint64_t delay = a->cfg.flash_rate ? programmed * 1000 / a->cfg.flash_rate : 0;
    okay(a, now_ms, delay);
}

static void cmd_erase(struct asr *a, const char *name, uint64_t now_ms)
{
    int i = target(a, "erase", name, now_ms);
    if (i < 0)
        return;
    if (sim_asr_part_erase(&a->flash, i) < 0) {
        asr_fail(a, now_ms, "erase:%s: too many partitions touched", name);
        return;
    }
    asr_set_phase(a, ASR_PH_FLASHING);
    okay(a, now_ms, a->cfg.erase_ms);
}

/* ---- dispatcher ---- */

static bool faulted(struct asr *a, const char *cmd, uint64_t now_ms)
{
    if (a->silenced)
        return true;
    if (a->cfg.hang_at[0] && starts(cmd, a->cfg.hang_at)) {
        a->silenced = a->hung = true; /* the whole device freezes: no heartbeat either */
        snprintf(a->last_error, sizeof(a->last_error), "fault: hung at '%s'", cmd);
        return true;
    }
    if ((a->cfg.silent_at[0] && starts(cmd, a->cfg.silent_at)) ||
        (a->cfg.silent_after && a->commands > a->cfg.silent_after)) {
        a->silenced = true;
        snprintf(a->last_error, sizeof(a->last_error), "fault: silent from '%s'", cmd);
        return true;
    }
    if (a->dl_open) {
        /* §4.4: a new command before the data is complete fails and ends the download. */
        a->dl_open = false;
        asr_fail(a, now_ms,
                 "'%s' before the download completed (0x%08" PRIx32 " of 0x%08" PRIx32 ")", cmd,
                 a->dl_got, a->dl_size);
        return true;
    }
    if (a->cfg.fail_at[0] && starts(cmd, a->cfg.fail_at) && ++a->fail_seen == a->cfg.fail_nth) {
        asr_fail(a, now_ms, "sim: injected failure");
        return true;
    }
    return false;
}

void asr_command(struct asr *a, const char *cmd, uint64_t now_ms)
{
    a->commands++;
    a->stray_failed = false;
    snprintf(a->last_cmd, sizeof(a->last_cmd), "%s", cmd);
    if (faulted(a, cmd, now_ms))
        return;
    bool fl = in_flasher(a);
    if (starts(cmd, "getvar:")) {
        cmd_getvar(a, cmd + 7, now_ms);
    } else if (starts(cmd, "download:")) {
        cmd_download(a, cmd + 9, now_ms);
    } else if (starts(cmd, "progress:")) {
        if (all_digits(cmd + 9, 10) && strlen(cmd + 9) <= 19)
            okay(a, now_ms, 0);
        else
            asr_fail(a, now_ms, "progress: '%s' is not a number", cmd + 9);
    } else if (strcmp(cmd, "nop") == 0) {
        cmd_nop(a, now_ms);
    } else if (strcmp(cmd, "reboot") == 0) {
        a->reboot = true;
        asr_set_phase(a, ASR_PH_REBOOTING);
        if (a->leave_at_ms == SIM_NEVER)
            a->leave_at_ms = now_ms + a->cfg.reboot_wait_ms;
        okay(a, now_ms, 0);
    } else if (strcmp(cmd, "complete") == 0) {
        a->completed = true;
        asr_set_phase(a, ASR_PH_COMPLETE);
        okay(a, now_ms, 0);
    } else if (strcmp(cmd, "disconnect") == 0) {
        a->disconnected = true;
        if (a->reboot && now_ms + a->cfg.leave_ms < a->leave_at_ms)
            a->leave_at_ms = now_ms + a->cfg.leave_ms;
        okay(a, now_ms, 0);
    } else if (!fl && (strcmp(cmd, "verify") == 0 || strcmp(cmd, "call") == 0)) {
        if (cmd[0] == 'v')
            cmd_verify(a, now_ms);
        else
            cmd_call(a, now_ms);
    } else if (fl && strcmp(cmd, "partition") == 0) {
        cmd_partition(a, now_ms);
    } else if (fl && strcmp(cmd, "enable") == 0) {
        okay(a, now_ms, 0); /* meaning unknown (§7.3): accepted, no effect */
    } else if (fl && starts(cmd, "flash:")) {
        cmd_flash(a, cmd + 6, now_ms);
    } else if (fl && starts(cmd, "erase:")) {
        cmd_erase(a, cmd + 6, now_ms);
    } else if (strcmp(cmd, "partition") == 0 || strcmp(cmd, "enable") == 0 ||
               starts(cmd, "flash:") || starts(cmd, "erase:")) {
        asr_fail(a, now_ms, "'%s' is not served by the boot ROM", cmd);
    } else if (strcmp(cmd, "verify") == 0 || strcmp(cmd, "call") == 0) {
        asr_fail(a, now_ms, "'%s' is not served by the flasher", cmd);
    } else {
        asr_fail(a, now_ms, "unknown command '%.40s'", cmd);
    }
}
