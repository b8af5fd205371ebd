/* Logging to stderr with journald "<N>" level prefixes (sd-daemon(3)), so systemd keeps the
 * levels when the daemon runs as a service and a terminal still reads fine. */
#ifndef FLASHRACK_LOG_H
#define FLASHRACK_LOG_H

enum log_level {
    LOG_LEVEL_ERR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "err", "warning", "notice", "info", "debug"; returns -EINVAL otherwise. */
int log_level_from_string(const char *s, enum log_level *ret_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Per-slot line: "<6>slot A3 [1-1.3]: message". slot may be NULL for unmapped ports. */
void log_slot(enum log_level level, const char *slot, const char *port, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_err(...)     log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
