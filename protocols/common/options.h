/* Driver options "key=value;key=value" (proto_params.options, from config). One tokenizer for
 * every driver, so every driver rejects a malformed option with the same words. */
#ifndef FLASHRACK_OPTIONS_H
#define FLASHRACK_OPTIONS_H

#include <stddef.h>

#define PROTO_OPTION_MAX 96 /* bytes of one "key=value" item */

/* Takes the next item from *cursor (advanced past it; empty items are skipped). Returns 1 with
 * key and value filled, 0 at the end, -EINVAL with a message naming the driver and the item
 * when it is not key=value or longer than PROTO_OPTION_MAX. */
int proto_option_next(const char **cursor, const char *driver, char *key, size_t keylen,
                      char *value, size_t valuelen, char *err, size_t errlen);

#endif
