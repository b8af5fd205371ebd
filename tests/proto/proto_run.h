/* Runs a protocol session (protocols/) against a device model (tests/sim) in one process under
 * a virtual clock: the "proto" test layer. The session and the model were written
 * independently from the same notes; this is where a misreading of either shows up.
 *
 * What the runner plays is the job engine and a transport, reduced to their semantics:
 * WRITE offers bytes to the model (a model that accepts fewer is busy: time advances to its
 * next event), READ returns what the model has sent (one model tx call = one USB transfer) or
 * advances virtual time to the model's next event until the read's timeout, WAIT advances
 * time, SET_LINE becomes the model's line state, REENUMERATE waits for the model's
 * "replug"/"unplug" action. An "unplug" outside a re-enumeration ends the run as the job
 * would: disconnected (unless the session announced it with ctx->expect_leave_ms). */
#ifndef FLASHRACK_PROTO_RUN_H
#define FLASHRACK_PROTO_RUN_H

#include <stdint.h>

#include "protocol.h"
#include "sim.h"

/* The identity a "replug PROFILE" action comes back with (the rack's profile table, reduced
 * to what a session sees). */
struct proto_run_profile {
    const char *name;
    struct proto_link link;
};

struct proto_run_opts {
    const struct proto *driver;
    struct proto_params params;
    struct proto_link link; /* link at START */
    /* Profiles a model may replug as (NULL-name terminated); a replug into a profile not
     * listed ends the run as "internal" naming it. */
    const struct proto_run_profile *profiles;
    const char *model;
    const char *model_opts;
    uint64_t max_virtual_ms; /* the run fails as "timeout" past this (a job timeout) */
    uint64_t max_steps;
};

struct proto_run_result {
    int ok;
    enum fail_code code;
    char stage[32];
    char message[256];
    uint64_t virtual_ms;
    uint64_t steps;
    uint64_t bytes_to_device, bytes_from_device;
    unsigned reenumerations;
    char action[SIM_ACTION_MAX]; /* last model action seen ("replug PROFILE ...") */
    struct proto_progress progress;
    struct device_ident ident;
    char model_stats[SIM_STATS_MAX];
};

/* Returns 0 when the run happened (whatever its outcome), negative errno when it could not
 * start (bad model options: message in result->message). */
int proto_run(const struct proto_run_opts *opts, struct proto_run_result *result);

/* Value of "key" in a "key=value\n" stats text, copied into out; -ENOENT if absent. */
int proto_run_stat(const char *stats, const char *key, char *out, size_t outlen);

#endif
