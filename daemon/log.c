#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

int log_level_from_string(const char *s, enum log_level *ret_level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"err", LOG_LEVEL_ERR},       {"error", LOG_LEVEL_ERR}, {"warning", LOG_LEVEL_WARNING},
        {"notice", LOG_LEVEL_NOTICE}, {"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *ret_level = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

/* One fprintf per line so lines from one process never interleave mid-line. */
static void log_line(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof(text), fmt, ap);
    fprintf(stderr, "<%d>%s%s\n", (int)level, prefix, text);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, "", fmt, ap);
    va_end(ap);
}

void log_slot(enum log_level level, const char *slot, const char *port, const char *fmt, ...)
{
    if (level > current_level)
        return;
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "slot %s [%s]: ", slot && *slot ? slot : "-",
             port && *port ? port : "-");
    va_list ap;
    va_start(ap, fmt);
    log_line(level, prefix, fmt, ap);
    va_end(ap);
}
