/* ASR160x (Crane: EC600N/M/K, EC800N/M/K, EG810M, EG912N ...) host download session: the
 * "aboot" fastboot dialect inside SMUX framing on the ROM's USB bulk pipe, driven by the
 * release zip's download.json. Sans-I/O: see protocols/protocol.h and protocols/asr/README.md.
 *
 * Session options (proto_params.options, "key=value;..."):
 *   probe_ms=N      how long the preamble probe is repeated (default 5000, >= 200)
 *   link_ms=N       no frame at all (not even a heartbeat) for this long = link lost; armed
 *                   once HELLO is answered (default 3000, 0 = off)
 *   mtu=N           MTU offered in HELLO, 64..1024 (default 1024)
 *   max_download=N  cap on the device's max-download-size (default 0 = the device's value)
 *   reboot=0|1      end with reboot/complete/disconnect and wait for the module to come back
 *                   (default 1), or only "complete"
 *   reenum_ms=N     how long the module may take to come back after reboot (default 30000)
 */
#ifndef FLASHRACK_ASR_H
#define FLASHRACK_ASR_H

#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

extern const struct proto asr_proto;

/* struct proto sniff hook: a zip whose directory names download.json. */
int asr_sniff(const uint8_t *data, size_t len);

int asr_session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret_session);
void asr_session_step(void *session, const struct proto_event *in, struct proto_request *out);
void asr_session_free(void *session);

#endif
