/* REST handlers, one route table per api_*.c file. Each table ends with an entry whose
 * handler is NULL. loop_http.c lists the tables in the order they are searched: the first
 * route whose pattern and method match wins. */
#ifndef FLASHRACK_API_H
#define FLASHRACK_API_H

#include "http.h"

/* Read-only station state: /healthz, station, slots, ignored ports, slot events. */
extern const struct http_route api_state_routes[];
/* One slot as GET /api/v1/slots/{label} shows it (api_events.c sends the same). */
json_t *api_state_slot_json(struct station *st, size_t index);
/* One slot_events row as GET /api/v1/events lists it (the live stream sends the same). */
struct db_slot_event;
json_t *api_slot_event_json(const struct db_slot_event *ev);
/* Live events: GET /api/v1/events/stream (api_events.c). */
extern const struct http_route api_events_routes[];
/* Job context and slot control (pause, resume, abort). */
extern const struct http_route api_control_routes[];
/* Restores the job context saved by PUT /api/v1/context; call once the database is open.
 * Logs what it restored, or why it could not (the context then starts empty). */
int api_control_restore(struct station *st);
/* Records: attempts (list, CSV export, one with its log), units/{imei}, stats. */
extern const struct http_route api_records_routes[];
/* Prometheus /metrics. */
extern const struct http_route api_metrics_routes[];
/* The dashboard's static files: /, /web/... (api_web.c). */
extern const struct http_route api_web_routes[];
/* Packages (upload, inspect, list, delete) and recipes (activation): api_packages.c. */
extern const struct http_route api_packages_routes[];
extern const struct http_route api_recipes_routes[];

#endif
