/* Random (version 4) UUIDs for attempt records: the idempotency key an MES deduplicates on,
 * so it must be unique across stations and restarts without coordination (RFC 9562 §5.4). */
#ifndef FLASHRACK_UUID_H
#define FLASHRACK_UUID_H

#include <stdbool.h>

/* Canonical text form "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx" plus NUL. */
#define UUID_STR_SIZE 37

/* Writes a new lowercase UUIDv4 from getrandom(2) into out. Returns 0 or -errno (getrandom
 * fails only on very old kernels or under a seccomp filter; we never fall back to a weaker
 * source, because a predictable or repeated key would merge two attempts at the MES). */
int uuid_v4_generate(char out[UUID_STR_SIZE]);

/* True when s is a UUID in canonical text form (any version, either letter case). */
bool uuid_is_valid(const char *s);

#endif
