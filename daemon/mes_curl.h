/* libcurl's multi interface inside the station's libuv loop, shared by the MES push (mes.c)
 * and the pre-flash interlock (mes_interlock.c).
 *
 * curl tells us which sockets to watch (one uv_poll_t per socket) and when to call it back
 * (one uv_timer_t); we call curl_multi_socket_action. DNS goes through curl's threaded
 * resolver. Nothing blocks the loop. The owner builds each easy handle (its CURLOPT_PRIVATE
 * is the owner's), adds it here, and gets it back in done() when the transfer ended: already
 * removed from the multi handle, still to be cleaned up by the owner. */
#ifndef FLASHRACK_MES_CURL_H
#define FLASHRACK_MES_CURL_H

#include <curl/curl.h>
#include <stdint.h>
#include <uv.h>

struct mes_curl;
struct config_mes;

/* A transfer ended with res (CURLE_OK: an HTTP answer came, whatever its status). */
typedef void (*mes_curl_done_fn)(void *ud, CURL *easy, CURLcode res);

/* -ENOMEM, or -EIO when libcurl cannot be set up (curl_global_init is done here). */
int mes_curl_new(uv_loop_t *loop, mes_curl_done_fn done, void *ud, struct mes_curl **ret);

/* Starts a transfer: 0, or -EIO when curl refuses it (the easy handle stays the caller's). */
int mes_curl_add(struct mes_curl *mc, CURL *easy);

/* Cancels a transfer that has not ended: done() is not called for it. */
void mes_curl_remove(struct mes_curl *mc, CURL *easy);

/* Cancels nothing (remove the transfers first), drops curl's pooled connections, closes the
 * handles and calls closed(ud) from the loop once the last one closed; mc is freed then.
 * mc NULL does nothing (closed is not called). */
void mes_curl_free(struct mes_curl *mc, void (*closed)(void *ud), void *ud);

/* The options every MES request shares, set on easy: a JSON POST of body (copied) to url,
 * http(s) only, no redirects, timeout_ms for the whole request, [mes] token as bearer and its
 * TLS keys (tls_verify, ca_file), the answer to write(.., ud), curl's error text to errbuf
 * (CURL_ERROR_SIZE bytes). Content-Type, "Expect:" and Authorization are appended to
 * *headers, which may hold the caller's own lines and stays the caller's to free (also on
 * error). 0, -ENOMEM, or -EIO when curl refuses an option. */
int mes_curl_post(CURL *easy, const struct config_mes *cfg, const char *url, uint32_t timeout_ms,
                  struct curl_slist **headers, const char *body, curl_write_callback write,
                  void *ud, char *errbuf);

#endif
