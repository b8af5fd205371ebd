/* ASR1803 (EC200A) host download session over WTPTP: boot ROM (DKB TIM + DKB) -> re-
 * enumeration -> DKB/bootloader (FBF TIM + FBF images, flashed) -> DISCONNECT -> reboot.
 * Sans-I/O: see protocols/protocol.h and protocols/asr1803/README.md.
 *
 * Session options (proto_params.options, "key=value;..."):
 *   fast=0|1         ask for fast download (raw data after DATAHEADER), default 1
 *   chunk=N          slow-mode DATA payload, 64..16376 (default 16376)
 *   status_ms=N      wait for the reply to a command (default 5000)
 *   data_ms=N        wait for DATA/DONE replies and the fast-mode end status (default 60000)
 *   ready_ms=N       wait for the "ready" notification after an image (default 600000)
 *   reenum_ms=N      how long the module may take to come back (default 30000)
 *   reboot_check=0|1 after the last DISCONNECT, wait for the module to come back out of
 *                    download mode (default 1)
 *   processor=TEXT   GETVERSION processor ("NZA3" default, empty = any), else no_match
 */
#ifndef FLASHRACK_ASR1803_H
#define FLASHRACK_ASR1803_H

#include "protocol.h"

extern const struct proto asr1803_proto;

int asr1803_session_new(const struct proto_params *params, struct proto_ctx *ctx,
                        void **ret_session);
void asr1803_session_step(void *session, const struct proto_event *in, struct proto_request *out);
void asr1803_session_free(void *session);

/* Nonzero for the EC200A download identities of the usb_ids table. */
int asr1803_is_download_id(uint16_t vid, uint16_t pid);

#endif
