/* REST handlers, one route table per api_*.c file. Each table ends with an entry whose
 * handler is NULL. loop_http.c lists the tables in the order they are searched: the first
 * route whose pattern and method match wins. */
#ifndef FLASHRACK_API_H
#define FLASHRACK_API_H

#include "http.h"

/* Read-only station state: /healthz, station, slots, ignored ports, slot events. */
extern const struct http_route api_state_routes[];

#endif
