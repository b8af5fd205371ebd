/* Model registry, the generic wrappers, option parsing, and the "silent" model (a device that
 * takes everything and never answers: a placeholder for platforms whose model comes later). */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sim_model_ops sim_stream_ops;
extern const struct sim_model_ops sim_unisoc_ops;
extern const struct sim_model_ops sim_at_module_ops;
extern const struct sim_model_ops sim_asr_ops;
extern const struct sim_model_ops sim_asr1803_ops;
static const struct sim_model_ops sim_silent_ops;

/* Add new models here; names are what rack profiles and "model=" options refer to. */
static const struct sim_model_ops *const registry[] = {
    &sim_stream_ops,
    &sim_silent_ops,
    &sim_unisoc_ops,
    &sim_at_module_ops,
    &sim_asr_ops,
    &sim_asr1803_ops,
};

const struct sim_model_ops *sim_model_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

size_t sim_model_count(void)
{
    return sizeof(registry) / sizeof(registry[0]);
}

const struct sim_model_ops *sim_model_at(size_t index)
{
    return index < sim_model_count() ? registry[index] : NULL;
}

int sim_model_create(const char *name, const char *options, struct sim_model **ret_model, char *err,
                     size_t err_len)
{
    const struct sim_model_ops *ops = sim_model_find(name);
    if (!ops) {
        snprintf(err, err_len, "unknown model '%s'", name ? name : "(null)");
        return -ENOENT;
    }
    struct sim_opts opts;
    int r = sim_opts_parse(options, &opts, err, err_len);
    if (r < 0)
        return r;
    uint64_t link_rate = 0;
    r = sim_opts_get_u64(&opts, "link_rate", 0, &link_rate, err, err_len);
    if (r < 0) {
        sim_opts_free(&opts);
        return r;
    }
    struct sim_model *m = NULL;
    r = ops->create(&opts, &m, err, err_len);
    if (r == 0) {
        const char *unused = sim_opts_first_unused(&opts);
        if (unused) {
            snprintf(err, err_len, "model %s: unknown option '%s'", ops->name, unused);
            ops->destroy(m);
            r = -EINVAL;
        } else {
            m->ops = ops;
            m->link_rate = link_rate;
            m->link_free_us = 0;
            m->link_waiting = false;
            *ret_model = m;
        }
    }
    sim_opts_free(&opts);
    return r;
}

void sim_model_destroy(struct sim_model *m)
{
    if (m)
        m->ops->destroy(m);
}

const char *sim_model_name(const struct sim_model *m)
{
    return m->ops->name;
}

unsigned sim_model_max_chans(const struct sim_model *m)
{
    return m->ops->max_chans;
}

void sim_model_start(struct sim_model *m, uint64_t now_ms)
{
    if (m->ops->start)
        m->ops->start(m, now_ms);
}

size_t sim_model_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                    uint64_t now_ms)
{
    if (chan >= m->ops->max_chans || len == 0)
        return len; /* nobody listens there: the bytes vanish, as on real hardware */
    if (!m->link_rate) {
        size_t n = m->ops->rx(m, chan, data, len, now_ms);
        return n > len ? len : n;
    }
    /* A link of link_rate bytes/s: bytes are taken in slices of 10 ms of link time (512
     * bytes at least) once the link has carried the previous ones; the caller offers the
     * rest again at link_free_us (next_event_ms). Slices, not single packets, keep the
     * rack's timer wake-ups at ~100/s per busy device. */
    uint64_t now_us = now_ms * 1000;
    if (m->link_free_us > now_us) {
        m->link_waiting = true;
        return 0;
    }
    if (m->link_free_us < now_us)
        m->link_free_us = now_us;
    uint64_t quota = m->link_rate / 100;
    if (quota < 512)
        quota = 512;
    size_t slice = len < quota ? len : (size_t)quota;
    size_t n = m->ops->rx(m, chan, data, slice, now_ms);
    if (n > slice)
        n = slice;
    m->link_free_us += (uint64_t)n * 1000000 / m->link_rate;
    /* Only the link's own limit wakes the caller; a busy model has its own next_event_ms. */
    m->link_waiting = n == slice && n < len;
    return n;
}

size_t sim_model_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap, uint64_t now_ms)
{
    if (chan >= m->ops->max_chans || cap == 0)
        return 0;
    size_t n = m->ops->tx(m, chan, buf, cap, now_ms);
    return n > cap ? cap : n;
}

void sim_model_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                    uint64_t now_ms)
{
    if (m->ops->line && chan < m->ops->max_chans)
        m->ops->line(m, chan, line, now_ms);
}

int sim_model_control(struct sim_model *m, const struct sim_setup *setup, uint8_t *data,
                      uint64_t now_ms)
{
    if (!m->ops->control)
        return -EPIPE;
    return m->ops->control(m, setup, data, now_ms);
}

uint64_t sim_model_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    uint64_t due = m->ops->next_event_ms ? m->ops->next_event_ms(m, now_ms) : SIM_NEVER;
    if (m->link_waiting) {
        /* Once the link is free again the model waits for the host to offer the rest; a
         * host that abandoned the transfer never does, so a past time is no event. */
        uint64_t link_ms = (m->link_free_us + 999) / 1000;
        if (link_ms > now_ms && link_ms < due)
            due = link_ms;
    }
    return due;
}

int sim_model_stats(const struct sim_model *m, char *buf, size_t cap)
{
    if (cap == 0)
        return -ENOSPC;
    buf[0] = '\0';
    return m->ops->stats(m, buf, cap);
}

int sim_model_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    if (!m->ops->take_action || cap == 0)
        return 0;
    return m->ops->take_action(m, buf, cap, now_ms);
}

int sim_stats_add(char *buf, size_t cap, size_t *pos, const char *key, const char *fmt, ...)
{
    if (*pos >= cap)
        return -ENOSPC;
    int n = snprintf(buf + *pos, cap - *pos, "%s=", key);
    if (n < 0 || (size_t)n >= cap - *pos)
        goto full;
    *pos += (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 1 >= cap - *pos)
        goto full;
    *pos += (size_t)n;
    buf[(*pos)++] = '\n';
    buf[*pos] = '\0';
    return 0;
full:
    buf[cap - 1] = '\0';
    *pos = cap;
    return -ENOSPC;
}

/* ---- options ---- */

int sim_opts_parse(const char *text, struct sim_opts *opts, char *err, size_t err_len)
{
    memset(opts, 0, sizeof(*opts));
    if (!text || !*text)
        return 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len == 0 || !eq || eq == p) {
            snprintf(err, err_len, "option '%.*s' is not key=value", (int)len, p);
            goto fail;
        }
        if (opts->count == SIM_OPTS_MAX) {
            snprintf(err, err_len, "more than %d options", SIM_OPTS_MAX);
            goto fail;
        }
        opts->kv[opts->count].key = strndup(p, (size_t)(eq - p));
        opts->kv[opts->count].value = strndup(eq + 1, len - (size_t)(eq - p) - 1);
        opts->kv[opts->count].used = false;
        opts->count++;
        if (!opts->kv[opts->count - 1].key || !opts->kv[opts->count - 1].value) {
            snprintf(err, err_len, "out of memory");
            sim_opts_free(opts);
            return -ENOMEM;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
fail:
    sim_opts_free(opts);
    return -EINVAL;
}

void sim_opts_free(struct sim_opts *opts)
{
    for (size_t i = 0; i < opts->count; i++) {
        free(opts->kv[i].key);
        free(opts->kv[i].value);
    }
    opts->count = 0;
}

const char *sim_opts_get(struct sim_opts *opts, const char *key)
{
    const char *value = NULL;
    /* The last occurrence wins, so a plug command can override a profile default. */
    for (size_t i = 0; i < opts->count; i++) {
        if (strcmp(opts->kv[i].key, key) == 0) {
            opts->kv[i].used = true;
            value = opts->kv[i].value;
        }
    }
    return value;
}

int sim_opts_get_u64(struct sim_opts *opts, const char *key, uint64_t def, uint64_t *ret, char *err,
                     size_t err_len)
{
    const char *v = sim_opts_get(opts, key);
    if (!v) {
        *ret = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-') {
        snprintf(err, err_len, "option %s=%s is not a number", key, v);
        return -EINVAL;
    }
    *ret = x;
    return 0;
}

const char *sim_opts_first_unused(const struct sim_opts *opts)
{
    for (size_t i = 0; i < opts->count; i++)
        if (!opts->kv[i].used)
            return opts->kv[i].key;
    return NULL;
}

/* ---- "silent": swallows every byte, never answers, remembers the line state ----
 * Options: leave_after_ms=N makes the device drop off the bus N ms after it was plugged
 * (a module that crashes or reboots); with replug=PROFILE it comes back as PROFILE on the
 * same port, the way a module re-enumerates into download mode. */

struct silent {
    struct sim_model base;
    uint64_t rx_bytes[SIM_MAX_CHANS];
    uint64_t line_changes;
    struct sim_line line;
    uint64_t leave_after_ms, leave_at_ms;
    char replug[64];
    bool left;
};

static int silent_create(struct sim_opts *opts, struct sim_model **ret_model, char *err,
                         size_t err_len)
{
    struct silent *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    s->leave_at_ms = SIM_NEVER;
    int r = sim_opts_get_u64(opts, "leave_after_ms", SIM_NEVER, &s->leave_after_ms, err, err_len);
    const char *replug = sim_opts_get(opts, "replug");
    if (r == 0 && replug) {
        if (!*replug || strlen(replug) >= sizeof(s->replug) || strpbrk(replug, " \t\n")) {
            snprintf(err, err_len, "replug=%s is not a profile name", replug);
            r = -EINVAL;
        } else {
            snprintf(s->replug, sizeof(s->replug), "%s", replug);
        }
    }
    if (r == 0 && s->replug[0] && s->leave_after_ms == SIM_NEVER) {
        snprintf(err, err_len, "replug= needs leave_after_ms=");
        r = -EINVAL;
    }
    if (r < 0) {
        free(s);
        return r;
    }
    *ret_model = &s->base;
    return 0;
}

static void silent_start(struct sim_model *m, uint64_t now_ms)
{
    struct silent *s = (struct silent *)m;
    if (s->leave_after_ms != SIM_NEVER)
        s->leave_at_ms = now_ms + s->leave_after_ms;
}

static uint64_t silent_next_event_ms(const struct sim_model *m, uint64_t now_ms)
{
    (void)now_ms;
    const struct silent *s = (const struct silent *)m;
    return s->left ? SIM_NEVER : s->leave_at_ms;
}

static int silent_take_action(struct sim_model *m, char *buf, size_t cap, uint64_t now_ms)
{
    struct silent *s = (struct silent *)m;
    if (s->left || s->leave_at_ms == SIM_NEVER || now_ms < s->leave_at_ms)
        return 0;
    s->left = true;
    if (s->replug[0])
        snprintf(buf, cap, "replug %s", s->replug);
    else
        snprintf(buf, cap, "unplug");
    return 1;
}

static void silent_destroy(struct sim_model *m)
{
    free(m);
}

static size_t silent_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                        uint64_t now_ms)
{
    (void)data;
    (void)now_ms;
    ((struct silent *)m)->rx_bytes[chan] += len;
    return len;
}

static size_t silent_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap,
                        uint64_t now_ms)
{
    (void)m;
    (void)chan;
    (void)buf;
    (void)cap;
    (void)now_ms;
    return 0;
}

static void silent_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                        uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    struct silent *s = (struct silent *)m;
    s->line = *line;
    s->line_changes++;
}

static int silent_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct silent *s = (const struct silent *)m;
    size_t pos = 0;
    uint64_t total = 0;
    for (unsigned i = 0; i < SIM_MAX_CHANS; i++)
        total += s->rx_bytes[i];
    int r = sim_stats_add(buf, cap, &pos, "rx_bytes", "%" PRIu64, total);
    for (unsigned i = 0; r == 0 && i < SIM_MAX_CHANS; i++) {
        if (!s->rx_bytes[i])
            continue;
        char key[32];
        snprintf(key, sizeof(key), "rx_bytes_chan%u", i);
        r = sim_stats_add(buf, cap, &pos, key, "%" PRIu64, s->rx_bytes[i]);
    }
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "line_changes", "%" PRIu64, s->line_changes);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "dtr", "%d", s->line.dtr);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "rts", "%d", s->line.rts);
    if (r == 0)
        r = sim_stats_add(buf, cap, &pos, "baud", "%" PRIu32, s->line.baud);
    return r < 0 ? r : (int)pos;
}

static const struct sim_model_ops sim_silent_ops = {
    .name = "silent",
    .summary = "accepts every byte on every channel and never answers",
    .max_chans = SIM_MAX_CHANS,
    .create = silent_create,
    .destroy = silent_destroy,
    .rx = silent_rx,
    .tx = silent_tx,
    .start = silent_start,
    .line = silent_line,
    .next_event_ms = silent_next_event_ms,
    .stats = silent_stats,
    .take_action = silent_take_action,
};
