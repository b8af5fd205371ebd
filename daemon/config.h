/* Station configuration from an INI file (libinih). Unknown sections and keys are errors
 * that name the line: a typo in a slot map must not silently leave a port unmapped. */
#ifndef FLASHRACK_CONFIG_H
#define FLASHRACK_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_SLOTS   256
#define CONFIG_LABEL_MAX   32
#define CONFIG_PATTERN_MAX 64
#define CONFIG_USB_IDS_MAX 64
#define CONFIG_MAX_RECIPES 32

struct config_slot {
    char label[CONFIG_LABEL_MAX];  /* "A1" */
    char port[CONFIG_PATTERN_MAX]; /* physical port path "1-1.2" or fnmatch glob "*-1.2" */
    int row, column;               /* 1-based position in the rack drawing */
};

/* Extra USB ids from config, added to a driver's built-in table ("usb_id = 2c7c:0901:3:at"). */
struct config_usb_id {
    uint16_t vid, pid;
    int8_t interface_number;
    char role[16]; /* "at", or a protocol driver name ("unisoc", "asr", ...) */
};

/* A firmware package the station offers ("[recipe NAME]"). */
struct config_recipe {
    char name[CONFIG_LABEL_MAX];
    char package[PATH_MAX]; /* file or extracted directory; relative to the working directory */
    char options[256];      /* driver options for its flash sessions ("key=value;..."), "" = none */
};

/* The per-slot production flow ([flow]). */
struct config_flow {
    uint32_t retries;           /* automatic retries of a transient failure (same module) */
    uint32_t retry_delay_ms;    /* pause before a retry: let a glitching module settle */
    uint32_t reboot_timeout_ms; /* after the flash: the module must be back in AT mode by then */
    char at_options[128];       /* extra options of the AT sessions ("sync_tries=8;...") */
};

/* Bearer tokens of the HTTP API ([auth]; docs/http.md "Auth"). */
#define CONFIG_TOKENS_MAX 64
#define CONFIG_TOKEN_MIN  16  /* bytes of a token: shorter ones are refused as guessable */
#define CONFIG_TOKEN_MAX  128 /* bytes of a token */
struct config_token {
    char role[16];               /* "operator", "supervisor", "admin" or "mes" */
    char name[CONFIG_LABEL_MAX]; /* who the audit log names; the role when not given */
    char secret[CONFIG_TOKEN_MAX + 1];
};
struct config_auth {
    struct config_token tokens[CONFIG_TOKENS_MAX];
    size_t token_count;
    int open_reads; /* 1 (default): reads need no token; 0: every call but /healthz needs one */
};

/* MES push ([mes], docs/mes-integration.md). url "" = push off (records still queue). */
struct config_mes {
    char url[512];           /* http:// or https:// */
    char token[256];         /* bearer token, "" = no Authorization header */
    char ca_file[PATH_MAX];  /* CA bundle for https, "" = the system's */
    int tls_verify;          /* 1 (default): verify the server's certificate and name */
    uint32_t timeout_ms;     /* whole request */
    uint32_t max_in_flight;  /* concurrent requests */
    uint32_t backoff_min_ms; /* first retry delay; doubles per failed try ... */
    uint32_t backoff_max_ms; /* ... up to this cap (jitter: each delay in [d/2, d]) */
    /* The pre-flash interlock (daemon/mes_interlock.h); token and TLS keys are shared with
     * the push. Keep it last: a reload restarts the push only when a field before it changed. */
    struct config_mes_interlock {
        char url[512];       /* "" = off */
        uint32_t timeout_ms; /* whole request */
        int allow_on_error;  /* 0 (default) block: no answer fails the try; 1: flash unchecked */
    } interlock;
};

/* The package catalogue of the API ([packages]; docs/http.md "Packages"). */
struct config_packages {
    uint32_t max_upload_mb; /* one upload's body; Content-Length over it is 413 at once */
    uint32_t max_uploads;   /* uploads at once (each holds a temp file and a connection) */
};

struct config_limits {
    uint32_t max_jobs;               /* modules in their download part at once (flow_queue.h) */
    uint32_t no_progress_timeout_ms; /* watchdog: no byte moved for this long fails the job */
    uint32_t job_timeout_ms;         /* whole job */
    uint32_t reenumerate_timeout_ms; /* default wait for a device to come back */
    uint64_t max_job_steps;          /* step budget of one session */
    uint32_t http_max_connections;
    uint32_t http_max_body_bytes;
    uint32_t wire_ring_frames; /* frames kept per job for the failure record */
};

struct config {
    char path[PATH_MAX]; /* file it was read from, "" for defaults/strings */
    char station_id[64];
    char log_level[16];
    char http_listen[64]; /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080"; port 0 = any */
    /* dashboard files (daemon/api_web.c), an absolute path */
    char http_web_root[PATH_MAX];
    char db_path[PATH_MAX];
    char data_dir[PATH_MAX];
    char cache_dir[PATH_MAX];
    int rack_rows, rack_columns;
    struct config_slot slots[CONFIG_MAX_SLOTS];
    size_t slot_count;
    struct config_usb_id usb_ids[CONFIG_USB_IDS_MAX];
    size_t usb_id_count;
    struct config_recipe recipes[CONFIG_MAX_RECIPES];
    size_t recipe_count;
    struct config_limits limits;
    struct config_flow flow;
    struct config_auth auth;
    struct config_mes mes;
    struct config_packages packages;
};

void config_defaults(struct config *cfg);
/* Load and validate. On error returns a negative errno and writes "file:line: problem". */
int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen);
int config_load_string(const char *text, struct config *cfg, char *err, size_t errlen);

/* Split "host:port" / "[v6]:port"; returns -EINVAL on a malformed address. */
int config_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *ret_port);

/* The slot whose port pattern matches port_path, or NULL. Exact paths win over globs. */
const struct config_slot *config_slot_for_port(const struct config *cfg, const char *port_path);
const struct config_slot *config_slot_by_label(const struct config *cfg, const char *label);

#endif
