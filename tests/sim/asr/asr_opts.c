/* Options and stats of the "asr" model (the lists are in README.md). */
#include "asr/asr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct u64_opt {
    const char *key;
    uint64_t def, min, max;
    size_t off; /* offset of the uint64_t in struct asr_cfg */
};

#define CFG(field) offsetof(struct asr_cfg, field)

static const struct u64_opt u64_opts[] = {
    {"mtu", 1024, 64, ASR_MTU_MAX, CFG(mtu)},
    {"rom_max", 0xF000, 1, 0x1000000, CFG(rom_max)},
    {"flasher_max", 0x100000, 1, 0x1000000, CFG(flasher_max)},
    {"jedec", 0x601800C8u, 0, UINT32_MAX, CFG(jedec)},
    {"flash_size", 0x1000000, ASR_BLOCK, 0x10000000, CFG(flash_size)},
    {"heartbeat_ms", 300, 0, 60000, CFG(heartbeat_ms)},
    {"call_ms", 50, 0, 600000, CFG(call_ms)},
    {"info_lines", 3, 0, 8, CFG(info_lines)},
    {"flash_rate", 0, 0, UINT32_MAX, CFG(flash_rate)},
    {"erase_ms", 0, 0, 600000, CFG(erase_ms)},
    {"reboot_wait_ms", 3000, 0, 600000, CFG(reboot_wait_ms)},
    {"leave_ms", 100, 0, 600000, CFG(leave_ms)},
    {"bad_reply_at", 0, 0, UINT32_MAX, CFG(bad_reply_at)},
    {"fail_nth", 1, 1, UINT32_MAX, CFG(fail_nth)},
    {"silent_after", 0, 0, UINT32_MAX, CFG(silent_after)},
    {"unplug_after_bytes", 0, 0, UINT64_MAX, CFG(unplug_after_bytes)},
};

struct text_opt {
    const char *key, *def;
    size_t off, cap;
};

#define TXT(field) offsetof(struct asr_cfg, field), sizeof(((struct asr_cfg *)0)->field)

static const struct text_opt text_opts[] = {
    {"rom", "2020.07.30", TXT(rom)},         {"product", "arom-tiny", TXT(product)},
    {"version", "0.5", TXT(version)},        {"fail_at", "", TXT(fail_at)},
    {"silent_at", "", TXT(silent_at)},       {"hang_at", "", TXT(hang_at)},
    {"reset_replug", "", TXT(reset_replug)},
};

static int get_bool(struct sim_opts *opts, const char *key, bool *ret, char *err, size_t err_len)
{
    uint64_t v;
    int r = sim_opts_get_u64(opts, key, 0, &v, err, err_len);
    if (r == 0 && v > 1) {
        snprintf(err, err_len, "option %s must be 0 or 1", key);
        r = -EINVAL;
    }
    *ret = v == 1;
    return r;
}

int sim_asr_parse_opts(struct sim_opts *opts, struct asr_cfg *cfg, char *err, size_t err_len)
{
    for (size_t i = 0; i < sizeof(u64_opts) / sizeof(u64_opts[0]); i++) {
        const struct u64_opt *o = &u64_opts[i];
        uint64_t *v = (uint64_t *)((char *)cfg + o->off);
        int r = sim_opts_get_u64(opts, o->key, o->def, v, err, err_len);
        if (r < 0)
            return r;
        if (*v < o->min || *v > o->max) {
            snprintf(err, err_len, "option %s=%" PRIu64 " outside %" PRIu64 "..%" PRIu64, o->key,
                     *v, o->min, o->max);
            return -EINVAL;
        }
    }
    if (cfg->flash_size % ASR_BLOCK) {
        snprintf(err, err_len, "flash_size must be a multiple of 4096");
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(text_opts) / sizeof(text_opts[0]); i++) {
        const struct text_opt *o = &text_opts[i];
        const char *v = sim_opts_get(opts, o->key);
        if (!v)
            v = o->def;
        /* Reply texts must stay printable and short enough for a 128-byte response. */
        if (strlen(v) >= o->cap || strpbrk(v, " \t\r\n")) {
            snprintf(err, err_len, "option %s=%s: at most %zu characters, no blanks", o->key, v,
                     o->cap - 1);
            return -EINVAL;
        }
        snprintf((char *)cfg + o->off, o->cap, "%s", v);
    }
    const char *qc = sim_opts_get(opts, "quirk_call");
    if (qc && strcmp(qc, "fail") != 0 && strcmp(qc, "run") != 0) {
        snprintf(err, err_len, "quirk_call=%s: expected fail or run", qc);
        return -EINVAL;
    }
    cfg->quirk_call_run = qc && strcmp(qc, "run") == 0;
    const char *unit = sim_opts_get(opts, "unit");
    if (unit) {
        if (sim_unit_check(unit, err, err_len) < 0)
            return -EINVAL;
        snprintf(cfg->unit, sizeof(cfg->unit), "%s", unit);
    }
    int r = get_bool(opts, "bad_hello", &cfg->bad_hello, err, err_len);
    if (r == 0)
        r = get_bool(opts, "reset_stay", &cfg->reset_stay, err, err_len);
    return r;
}

static const char *link_name(enum asr_link l)
{
    static const char *const names[] = {"wait", "init", "running", "gone"};
    return names[l];
}

static const char *phase_name(enum asr_phase p)
{
    static const char *const names[] = {"wait",   "init",   "rom",      "preboot",  "flasher",
                                        "probed", "ptable", "flashing", "complete", "rebooting"};
    return names[p];
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

#define ADD(key, ...)                                                                              \
    do {                                                                                           \
        if (r == 0)                                                                                \
            r = sim_stats_add(buf, cap, &pos, key, __VA_ARGS__);                                   \
    } while (0)

int sim_asr_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct asr *a = (const struct asr *)m;
    const struct sim_asr_flash *f = &a->flash;
    size_t pos = 0;
    int r = 0;
    char h[65];
    ADD("phase", "%s", phase_name(a->phase));
    ADD("link", "%s", link_name(a->link));
    ADD("rom", "%s", a->cfg.rom);
    ADD("mtu", "%zu", a->mtu);
    ADD("dtr", "%d", a->dtr ? 1 : 0);
    ADD("rx_bytes", "%" PRIu64, a->rx_bytes);
    ADD("tx_bytes", "%" PRIu64, a->tx_bytes);
    ADD("frames_in", "%" PRIu64, a->frames_in);
    ADD("frames_out", "%" PRIu64, a->frames_out);
    ADD("probes", "%" PRIu64, a->probes);
    ADD("hellos", "%" PRIu64, a->hellos);
    ADD("bad_hellos", "%" PRIu64, a->bad_hellos);
    ADD("lost_frames", "%" PRIu64, a->lost_frames);
    ADD("ignored_frames", "%" PRIu64, a->ignored_frames);
    ADD("heartbeats", "%" PRIu64, a->heartbeats);
    ADD("host_heartbeats", "%" PRIu64, a->host_heartbeats);
    ADD("commands", "%" PRIu64, a->commands);
    ADD("fails", "%" PRIu64, a->fails);
    ADD("infos", "%" PRIu64, a->infos);
    ADD("downloads", "%" PRIu64, a->downloads);
    ADD("download_bytes", "%" PRIu64, a->download_bytes);
    ADD("stray_data", "%" PRIu64, a->stray_data);
    ADD("verifies", "%" PRIu64, a->verifies);
    ADD("calls", "%" PRIu64, a->calls);
    for (unsigned i = 0; r == 0 && i < 2 && i < a->runs; i++) {
        hex(a->run_sha[i], 32, h);
        ADD(i ? "flasher_sha256" : "preboot_sha256", "%s", h);
    }
    ADD("jedec", "0x%08" PRIx32, f->jedec);
    ADD("flash_size", "0x%" PRIx32, f->size);
    ADD("ptable_entries", "%zu", f->have_table ? f->n_parts : (size_t)0);
    ADD("flash_cmds", "%" PRIu64, a->flash_cmds);
    ADD("sparse_segments", "%" PRIu64, f->segments);
    ADD("bytes_programmed", "%" PRIu64, f->bytes_programmed);
    ADD("erases", "%" PRIu64, f->erases);
    ADD("reboot", "%d", a->reboot ? 1 : 0);
    ADD("completed", "%d", a->completed ? 1 : 0);
    ADD("disconnected", "%d", a->disconnected ? 1 : 0);
    ADD("last_cmd", "%s", a->last_cmd);
    ADD("last_error", "%s", a->last_error);
    ADD("revision", "%s", f->fwrev.found);
    size_t written = 0;
    char erased[ASR_MAX_PARTS * 33 + 1] = "";
    for (size_t i = 0; i < f->n_rec; i++) {
        written += f->rec[i].written;
        if (f->rec[i].erased) {
            if (erased[0])
                strcat(erased, ",");
            strcat(erased, f->rec[i].name);
        }
    }
    ADD("partitions", "%zu", written);
    for (size_t i = 0; r == 0 && i < f->n_rec; i++) {
        if (!f->rec[i].written)
            continue;
        uint8_t sha[32];
        char key[48];
        if (sim_asr_record_sha(f, i, sha) < 0)
            return -ENOMEM;
        hex(sha, 32, h);
        snprintf(key, sizeof(key), "part_%s", f->rec[i].name);
        ADD(key, "%" PRIu64 ":%s", f->rec[i].extent, h);
    }
    ADD("erased", "%s", erased);
    return r < 0 ? r : (int)pos;
}
