/* Unisoc (Spreadtrum) host download session: UIS8910DM (PDL ROM -> FDL1 -> FDL2) and the
 * classic BSL ROM path of UIS8850 (ROM/CRC -> FDL1/sum -> FDL2), driven by the PAC's XML
 * scheme. Sans-I/O: see protocols/protocol.h and protocols/unisoc/README.md.
 *
 * Session options (proto_params.options, "key=value;..."):
 *   write_nv=0|1     write NV / calibration / PhaseCheck entries and NV erases (default 0)
 *   format_fs=0|1    perform file-system format entries (FMT_FSSYS, 0xFE000006; default 0)
 *   baud=N           CHANGE_BAUD target on serial links, 0 = keep the line (default 921600)
 *   chunk=N          FDL2 MIDST payload, even, 64..0xF000 (default 0x800)
 *   transcode=0|1    0 sends DISABLE_TRANSCODE to FDL2 (default 1: keep escaping)
 *   ver=TEXT         the first VER reply must contain TEXT, else no_match (default: any)
 *   reenum_ms=N      how long the module may take to come back after reset (default 30000)
 */
#ifndef FLASHRACK_UNISOC_H
#define FLASHRACK_UNISOC_H

#include "protocol.h"

extern const struct proto unisoc_proto;

int unisoc_session_new(const struct proto_params *params, struct proto_ctx *ctx,
                       void **ret_session);
void unisoc_session_step(void *session, const struct proto_event *in, struct proto_request *out);
void unisoc_session_free(void *session);

#endif
