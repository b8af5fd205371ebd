/* Host side of the loopback "stream" test protocol (tests/rack/README.md): a test-only
 * protocol driver that pushes SINK bytes to the device and pulls SOURCE bytes back, both a
 * deterministic xorshift32 stream, and checks both directions by SHA-256. */
#ifndef FLASHRACK_STREAM_PROTO_H
#define FLASHRACK_STREAM_PROTO_H

#include "protocol.h"

extern const struct proto stream_proto;

/* Options: "sink=BYTES;source=BYTES;seed=N;chunk=BYTES;reenumerate=0|1" */
struct stream_report {
    uint64_t sink_bytes, source_bytes;
    char sink_sha256[65];   /* of what the host sent */
    char device_sha256[65]; /* what the device reported */
    int device_status;      /* 0 = device found the bytes equal to G(seed) */
    int source_ok;
    uint16_t reenumerated_vid, reenumerated_pid; /* what came back, with reenumerate=1 */
};
/* Valid after the session answered DONE or FAIL. */
void stream_session_report(const void *session, struct stream_report *ret);

#endif
