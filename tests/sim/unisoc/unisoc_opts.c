/* Options and stats of the "unisoc" model (the list is in README.md). */
#include "unisoc/unisoc_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct u64_opt {
    const char *key;
    uint64_t def, max;
    size_t off; /* offset of the uint64_t in struct unisoc_cfg */
};

#define CFG(field) offsetof(struct unisoc_cfg, field)

static const struct u64_opt u64_opts[] = {
    {"fdl2_max", 0, UNISOC_BSL_MAX_PAYLOAD, CFG(fdl2_max)},
    {"nak_chunk", 0, UINT32_MAX, CFG(nak_chunk)},
    {"nak_code", UNISOC_REP_VERIFY_ERROR, 0xFF, CFG(nak_code)},
    {"bad_check_at", 0, UINT32_MAX, CFG(bad_check_at)},
    {"drop_reply", 0, UINT32_MAX, CFG(drop_reply)},
    {"silent_after", 0, UINT32_MAX, CFG(silent_after)},
    {"unplug_at_chunk", 0, UINT32_MAX, CFG(unplug_at_chunk)},
    {"flash_rate", 0, UINT32_MAX, CFG(flash_rate)},
    {"exec_delay_ms", 0, 600000, CFG(exec_delay_ms)},
    {"reset_delay_ms", 100, 600000, CFG(reset_delay_ms)},
    {"checkbaud_idle_ms", 20, 60000, CFG(checkbaud_idle_ms)},
    {"log_every", 0, UINT32_MAX, CFG(log_every)},
};

static int get_bounded(struct sim_opts *opts, const char *key, uint64_t def, uint64_t max,
                       uint64_t *ret, char *err, size_t err_len)
{
    int r = sim_opts_get_u64(opts, key, def, ret, err, err_len);
    if (r == 0 && *ret > max) {
        snprintf(err, err_len, "option %s=%" PRIu64 " is above %" PRIu64, key, *ret, max);
        r = -EINVAL;
    }
    return r;
}

int sim_unisoc_parse_opts(struct sim_opts *opts, struct unisoc_cfg *cfg, char *err, size_t err_len)
{
    const char *chip = sim_opts_get(opts, "chip");
    if (!chip || strcmp(chip, "8910") == 0) {
        cfg->chip8850 = false;
    } else if (strcmp(chip, "8850") == 0) {
        cfg->chip8850 = true;
    } else {
        snprintf(err, err_len, "chip=%s: expected 8910 or 8850", chip);
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(u64_opts) / sizeof(u64_opts[0]); i++) {
        const struct u64_opt *o = &u64_opts[i];
        int r = get_bounded(opts, o->key, o->def, o->max, (uint64_t *)((char *)cfg + o->off), err,
                            err_len);
        if (r < 0)
            return r;
    }
    if (cfg->fdl2_max == 0)
        cfg->fdl2_max = cfg->chip8850 ? 0xFC00 : 0x800; /* notes §2.4 */
    if (cfg->fdl2_max < 0x210) {
        snprintf(err, err_len, "fdl2_max must be at least 0x210");
        return -EINVAL;
    }
    uint64_t v;
    int r =
        get_bounded(opts, "chip_id", cfg->chip8850 ? 0x8850 : 0x8910, UINT32_MAX, &v, err, err_len);
    if (r < 0)
        return r;
    cfg->chip_id = (uint32_t)v;
    if ((r = get_bounded(opts, "ram_base", 0x800000, UINT32_MAX, &v, err, err_len)) < 0)
        return r;
    cfg->ram_base = (uint32_t)v;
    if ((r = get_bounded(opts, "ram_size", 0x80000, 0x4000000, &v, err, err_len)) < 0)
        return r;
    cfg->ram_size = (uint32_t)v;
    if ((r = get_bounded(opts, "incompatible", 0, 1, &v, err, err_len)) < 0)
        return r;
    cfg->incompatible = v != 0;
    if ((r = get_bounded(opts, "reset_stay", 0, 1, &v, err, err_len)) < 0)
        return r;
    cfg->reset_stay = v != 0;
    const char *ver = sim_opts_get(opts, "rom_ver");
    if (!ver)
        ver = "SPRD3";
    if (strlen(ver) >= sizeof(cfg->rom_ver)) {
        snprintf(err, err_len, "rom_ver is longer than %zu characters", sizeof(cfg->rom_ver) - 1);
        return -EINVAL;
    }
    snprintf(cfg->rom_ver, sizeof(cfg->rom_ver), "%s", ver);
    const char *replug = sim_opts_get(opts, "reset_replug");
    if (replug) {
        if (!*replug || strlen(replug) >= sizeof(cfg->reset_replug) || strpbrk(replug, " \t\n")) {
            snprintf(err, err_len, "reset_replug=%s is not a profile name", replug);
            return -EINVAL;
        }
        /* "none": the module never comes back after its reset (a bad firmware) */
        snprintf(cfg->reset_replug, sizeof(cfg->reset_replug), "%s",
                 strcmp(replug, "none") ? replug : "");
    }
    const char *unit = sim_opts_get(opts, "unit");
    if (unit) {
        if (sim_unit_check(unit, err, err_len) < 0)
            return -EINVAL;
        snprintf(cfg->unit, sizeof(cfg->unit), "%s", unit);
    }
    return 0;
}

int sim_unisoc_flash_setup(struct unisoc *u, struct sim_opts *opts, char *err, size_t err_len)
{
    uint64_t base, size, limit, seed;
    int r = get_bounded(opts, "flash_base", 0x60000000, 0xFDFFF000u, &base, err, err_len);
    if (r == 0)
        r = get_bounded(opts, "flash_size", 0x1000000, 0x10000000, &size, err, err_len);
    if (r == 0)
        r = get_bounded(opts, "mem_limit", 0x4000000, 0x40000000, &limit, err, err_len);
    if (r == 0)
        r = get_bounded(opts, "nv_seed", 0x8910, UINT32_MAX, &seed, err, err_len);
    if (r < 0)
        return r;
    const char *imei = sim_opts_get(opts, "imei");
    if (!imei)
        imei = "869710030000011";
    r = sim_unisoc_flash_init(&u->flash, (uint32_t)base, (uint32_t)size, limit, imei,
                              (uint32_t)seed);
    if (r == -EINVAL)
        snprintf(err, err_len,
                 "flash_base/flash_size must be 4 KiB multiples below 0xFE000000, imei 15 digits");
    else if (r < 0)
        snprintf(err, err_len, "out of memory for the flash model");
    return r;
}

static const char *state_name(const struct unisoc *u)
{
    static const char *const names[] = {"pdl", "rom", "fdl1", "fdl2", "reset", "gone"};
    return names[u->stage];
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

int sim_unisoc_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct unisoc *u = (const struct unisoc *)m;
    const struct sim_unisoc_flash *f = &u->flash;
    size_t pos = 0;
    char h[65];
    int r = sim_stats_add(buf, cap, &pos, "chip", "%s", u->cfg.chip8850 ? "8850" : "8910");
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "state", "%s", state_name(u));
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "frames", "%" PRIu64, u->frames);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "bad_frames", "%" PRIu64, u->bad_frames);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "naks", "%" PRIu64, u->naks);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "replies", "%" PRIu64, u->replies);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "chunks", "%" PRIu64, u->chunks);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "rx_bytes", "%" PRIu64, u->rx_bytes);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "tx_bytes", "%" PRIu64, u->tx_bytes);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "bytes_written", "%" PRIu64, f->bytes_written);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "erases", "%" PRIu64, f->erases);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "mem_used", "%" PRIu64, f->mem_used);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "nv_intact", "%d", sim_unisoc_nv_intact(f) ? 1 : 0);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "nv_bytes", "%zu", f->nv_len);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "transcode", "%d", u->dec.escape ? 1 : 0);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "baud", "%" PRIu32, u->baud ? u->baud : u->line.baud);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "last_error", "%s", u->last_error);
    for (int i = 0; r == 0 && i < 2; i++) {
        if (!u->have_fdl[i])
            continue;
        hex(u->fdl_sha[i], 32, h);
        r = sim_stats_add(buf, cap, &pos, i ? "fdl2_sha256" : "fdl1_sha256", "%s", h);
    }
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "regions", "%zu", f->n_regions);
    for (size_t i = 0; r == 0 && i < f->n_regions; i++) {
        /* region_0xADDR=BYTES:SHA256 — what the last complete write to ADDR carried */
        char key[32];
        snprintf(key, sizeof(key), "region_0x%08" PRIx32, f->regions[i].addr);
        hex(f->regions[i].sha, 32, h);
        r = sim_stats_add(buf, cap, &pos, key, "%" PRIu64 ":%s", f->regions[i].bytes, h);
    }
    return r < 0 ? r : (int)pos;
}
