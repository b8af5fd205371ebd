/* Options and stats of the "asr1803" model (the list is in README.md). */
#include "asr1803/asr1803_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct u64_opt {
    const char *key;
    uint64_t def, min, max;
    size_t off; /* offset of the uint64_t in struct wtptp_cfg */
};

#define CFG(field) offsetof(struct wtptp_cfg, field)

static const struct u64_opt u64_opts[] = {
    {"rom_date", 0x03162017, 0, UINT32_MAX, CFG(rom_date)},
    {"dkb_date", 0x06012014, 0, UINT32_MAX, CFG(dkb_date)},
    {"ddr_size", 0x08000000, 0, UINT32_MAX, CFG(ddr_size)},
    {"flash_id", 0x001840C8, 0, UINT32_MAX, CFG(flash_id)},
    {"flash_size", 0x08000000, 0, UINT32_MAX, CFG(flash_size)},
    {"chip_id", 15, 0, UINT32_MAX, CFG(chip_id)},
    {"rom_buf", 0x4000, 1, WTPTP_MAX_LEN, CFG(rom_buf)},
    {"bl_buf", 0x10000, 1, WTPTP_MAX_LEN, CFG(bl_buf)},
    {"max_image", 0x4000000, 1, UINT32_MAX, CFG(max_image)},
    {"dkb_boot_ms", 500, 0, 600000, CFG(dkb_boot_ms)},
    {"reset_delay_ms", 200, 0, 600000, CFG(reset_delay_ms)},
    {"image_base", 0, 0, UINT32_MAX, CFG(image_base)},
    {"byte_base", 0, 0, UINT64_MAX / 2, CFG(byte_base)},
    {"nack_image", 0, 0, UINT32_MAX, CFG(nack_image)},
    {"nack_code", WTPTP_ERR_DOWNLOAD, 1, 0xFF, CFG(nack_code)},
    {"bad_reply", 0, 0, UINT32_MAX, CFG(bad_reply)},
    {"silent_after", 0, 0, UINT32_MAX, CFG(silent_after)},
    {"silent_image", 0, 0, UINT32_MAX, CFG(silent_image)},
    {"unplug_after_bytes", 0, 0, UINT64_MAX / 2, CFG(unplug_after_bytes)},
    {"flash_rate", 0, 0, UINT32_MAX, CFG(flash_rate)},
};

static int get_bounded(struct sim_opts *opts, const char *key, uint64_t def, uint64_t min,
                       uint64_t max, uint64_t *ret, char *err, size_t err_len)
{
    int r = sim_opts_get_u64(opts, key, def, ret, err, err_len);
    if (r == 0 && (*ret < min || *ret > max)) {
        snprintf(err, err_len, "option %s=%" PRIu64 " is outside %" PRIu64 "..%" PRIu64, key, *ret,
                 min, max);
        r = -EINVAL;
    }
    return r;
}

static int get_bool(struct sim_opts *opts, const char *key, bool def, bool *ret, char *err,
                    size_t err_len)
{
    uint64_t v;
    int r = get_bounded(opts, key, def, 0, 1, &v, err, err_len);
    *ret = v != 0;
    return r;
}

/* Picks one of names[] (index returned in *ret); the first is the default. */
static int get_enum(struct sim_opts *opts, const char *key, const char *const *names, int n,
                    int *ret, char *err, size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    *ret = 0;
    if (!v)
        return 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(v, names[i]) == 0) {
            *ret = i;
            return 0;
        }
    }
    snprintf(err, err_len, "option %s=%s is not one of the allowed values (see README.md)", key, v);
    return -EINVAL;
}

static int get_fourcc(struct sim_opts *opts, const char *key, const char *def, char out[5],
                      char *err, size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    if (!v)
        v = def;
    if (strlen(v) != 4) {
        snprintf(err, err_len, "option %s=%s must be 4 characters", key, v);
        return -EINVAL;
    }
    memcpy(out, v, 5);
    return 0;
}

static int get_profile(struct sim_opts *opts, const char *key, const char *def, char *out,
                       size_t cap, char *err, size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    if (!v)
        v = def;
    if (strlen(v) >= cap || strpbrk(v, " \t\n\"'\\")) {
        snprintf(err, err_len, "%s=%s is not a profile name", key, v);
        return -EINVAL;
    }
    snprintf(out, cap, "%s", v);
    return 0;
}

/* The options a fresh model needs after the DKB re-enumeration, as "k=v k=v" (the rack splits
 * an action like a shell would, so only plain characters pass). Only a ROM-stage model
 * re-enumerates into the DKB. */
static int build_carry(const struct sim_opts *opts, struct wtptp_cfg *cfg, char *err,
                       size_t err_len)
{
    size_t pos = 0, count = 0;
    cfg->carry[0] = '\0';
    if (cfg->start_stage != WTPTP_ST_ROM)
        return 0;
    for (size_t i = 0; i < opts->count; i++) {
        const char *k = opts->kv[i].key, *v = opts->kv[i].value;
        if (!strcmp(k, "stage") || !strcmp(k, "image_base") || !strcmp(k, "byte_base"))
            continue;
        if (strpbrk(k, " \t\n\"'\\") || strpbrk(v, " \t\n\"'\\")) {
            snprintf(err, err_len, "option %s=%s cannot be carried over the DKB re-enumeration", k,
                     v);
            return -EINVAL;
        }
        int n =
            snprintf(cfg->carry + pos, sizeof(cfg->carry) - pos, "%s%s=%s", pos ? " " : "", k, v);
        if (n < 0 || (size_t)n >= sizeof(cfg->carry) - pos) {
            snprintf(err, err_len, "options too long to carry over the DKB re-enumeration");
            return -EINVAL;
        }
        pos += (size_t)n;
        count++;
    }
    /* The fresh model gets these, stage/image_base/byte_base and the profile's default again. */
    if (count + 4 > SIM_OPTS_MAX) {
        snprintf(err, err_len, "%zu options are too many to carry over the DKB re-enumeration",
                 count);
        return -EINVAL;
    }
    /* The whole action must fit: "replug P stage=bl image_base=U32 byte_base=U64 CARRY". */
    if (strlen(cfg->dkb_replug) + pos + 64 >= SIM_ACTION_MAX) {
        snprintf(err, err_len, "options too long to carry over the DKB re-enumeration");
        return -EINVAL;
    }
    return 0;
}

int sim_wtptp_parse_opts(struct sim_opts *opts, struct wtptp_cfg *cfg, char *err, size_t err_len)
{
    static const char *const stages[] = {"rom", "bl"};
    static const char *const nack_ats[] = {"done", "select", "verify", "header", "data"};
    static const enum wtptp_nack_at nack_map[] = {NACK_AT_DONE, NACK_AT_SELECT, NACK_AT_VERIFY,
                                                  NACK_AT_HEADER, NACK_AT_DATA};
    static const char *const kinds[] = {"cmd", "status", "dlen"};
    static const char *const preambles[] = {"4", "6", "echo"};
    int e, r;
    for (size_t i = 0; i < sizeof(u64_opts) / sizeof(u64_opts[0]); i++) {
        const struct u64_opt *o = &u64_opts[i];
        r = get_bounded(opts, o->key, o->def, o->min, o->max, (uint64_t *)((char *)cfg + o->off),
                        err, err_len);
        if (r < 0)
            return r;
    }
    if ((r = get_enum(opts, "stage", stages, 2, &e, err, err_len)) < 0)
        return r;
    cfg->start_stage = e ? WTPTP_ST_BL : WTPTP_ST_ROM;
    if ((r = get_enum(opts, "nack_at", nack_ats, 5, &e, err, err_len)) < 0)
        return r;
    cfg->nack_at = nack_map[e];
    if ((r = get_enum(opts, "bad_kind", kinds, 3, &e, err, err_len)) < 0)
        return r;
    cfg->bad_kind = (enum wtptp_bad_kind)e;
    if ((r = get_enum(opts, "preamble_reply", preambles, 3, &e, err, err_len)) < 0)
        return r;
    cfg->preamble = (enum wtptp_preamble_mode)e;
    if ((r = get_bool(opts, "fast", true, &cfg->fast, err, err_len)) < 0 ||
        (r = get_bool(opts, "rom_fast", false, &cfg->rom_fast, err, err_len)) < 0 ||
        (r = get_bool(opts, "fbf_check", true, &cfg->fbf_check, err, err_len)) < 0 ||
        (r = get_bool(opts, "reset_stay", false, &cfg->reset_stay, err, err_len)) < 0)
        return r;
    /* GETVERSION: the ROM values are a gap choice, the DKB ones the §3.4 signature. */
    if ((r = get_fourcc(opts, "rom_version", "1000", cfg->rom_version, err, err_len)) < 0 ||
        (r = get_fourcc(opts, "dkb_version", "3311", cfg->dkb_version, err, err_len)) < 0 ||
        (r = get_fourcc(opts, "processor", "NZA3", cfg->processor, err, err_len)) < 0 ||
        (r = get_fourcc(opts, "ddr_id", "0808", cfg->ddr_id, err, err_len)) < 0)
        return r;
    if ((r = get_profile(opts, "dkb_replug", "asr1803-dl", cfg->dkb_replug, sizeof(cfg->dkb_replug),
                         err, err_len)) < 0 ||
        (r = get_profile(opts, "reset_replug", "", cfg->reset_replug, sizeof(cfg->reset_replug),
                         err, err_len)) < 0)
        return r;
    if (!cfg->dkb_replug[0]) {
        snprintf(err, err_len, "dkb_replug= needs a profile name");
        return -EINVAL;
    }
    const char *unit = sim_opts_get(opts, "unit");
    if (unit) {
        if ((r = sim_unit_check(unit, err, err_len)) < 0)
            return r;
        snprintf(cfg->unit, sizeof(cfg->unit), "%s", unit);
    }
    return build_carry(opts, cfg, err, err_len);
}

static const char *state_name(const struct wtptp *w)
{
    switch (w->stage) {
    case WTPTP_ST_ROM:
        return "rom";
    case WTPTP_ST_BL:
        return w->program_until_ms != SIM_NEVER ? "programming" : "bl";
    case WTPTP_ST_DKB_BOOT:
        return "dkb_boot";
    case WTPTP_ST_REBOOTING:
        return "rebooting";
    default:
        return "gone";
    }
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

int sim_wtptp_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct wtptp *w = (const struct wtptp *)m;
    size_t pos = 0;
    int r = 0;
    char name[16], h[65];
    ADD("state", "%s", state_name(w));
    ADD("packets", "%" PRIu64, w->packets);
    ADD("bad_packets", "%" PRIu64, w->bad_packets);
    ADD("naks", "%" PRIu64, w->naks);
    ADD("seq_errors", "%" PRIu64, w->seq_errors);
    ADD("replies", "%" PRIu64, w->replies);
    ADD("rx_bytes", "%" PRIu64, w->rx_bytes);
    ADD("tx_bytes", "%" PRIu64, w->tx_bytes);
    ADD("data_bytes", "%" PRIu64, w->data_bytes);
    ADD("preambles", "%" PRIu64, w->preambles);
    ADD("images", "%" PRIu64, w->images);
    ADD("declined", "%" PRIu64, w->declined);
    ADD("fast_images", "%" PRIu64, w->fast_images);
    ADD("slow_images", "%" PRIu64, w->slow_images);
    ADD("messages", "%" PRIu64, w->messages);
    ADD("last_nack_code", "0x%02x", w->last_nack_code);
    ADD("last_error", "%s", w->last_error);
    if (w->next_want < w->n_want && (w->stage == WTPTP_ST_ROM || w->stage == WTPTP_ST_BL))
        sim_wtptp_id_name(w->want[w->next_want], name, sizeof(name));
    else
        snprintf(name, sizeof(name), "none");
    ADD("requested", "%s", name);
    ADD("image_base", "%" PRIu64, w->cfg.image_base);
    ADD("byte_base", "%" PRIu64, w->cfg.byte_base);
    ADD("fw_revision", "%s", w->fwrev.found);
    if (w->have_tim) {
        ADD("tim_version", "0x%06" PRIx32, w->last_tim.version);
        ADD("tim_images", "%" PRIu32, w->last_tim.num_images);
    }
    if (w->have_fbf) {
        ADD("fbf_chip_id", "%" PRIu32, w->last_fbf.chip_id);
        ADD("fbf_opt_value", "%" PRIu32, w->last_fbf.opt_value);
        ADD("fbf_images", "%" PRIu32, w->last_fbf.n_images);
    }
    for (size_t i = 0; r == 0 && i < w->n_store; i++) {
        /* img_<stage>_<ID>=BYTES:SHA256 of exactly the bytes the host sent for that image */
        char key[40];
        sim_wtptp_id_name(w->store[i].id, name, sizeof(name));
        snprintf(key, sizeof(key), "img_%s_%s", w->store[i].stage == WTPTP_ST_ROM ? "rom" : "bl",
                 name);
        hex(w->store[i].sha, 32, h);
        ADD(key, "%" PRIu64 ":%s", w->store[i].bytes, h);
    }
    return r < 0 ? r : (int)pos;
}
