/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The parsers of what a client sends first (agent/sniff.c). */
#ifndef HUSH_AGENT_SNIFF_H
#define HUSH_AGENT_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SINKHOLE_FIRST_MAX 16384 /* bytes of a TCP connection read at most */
#define TLS_CT_HANDSHAKE   22	 /* TLS record type of a handshake (ClientHello) */

/*
 * The sinkhole catcher's parsers.  Pure code, bounds-checked to
 * the byte, no allocation.  Both return 1 when decided (fields filled, maybe
 * empty), 0 when more bytes are needed, -EINVAL when buf is not (a prefix
 * of) what they parse.
 *
 * sinkhole_tls_sni(): buf is the start of a TLS stream: records of type 22
 * (handshake) carrying a ClientHello, which may span several records.  The
 * server_name extension's first host_name goes to sni ("" if there is
 * none).  Decided as soon as the server_name extension has been read,
 * before the rest of the hello.  final: no more bytes will come; what began
 * as a well-formed ClientHello is then decided (1) even if incomplete, with
 * the name if it arrived.
 *
 * sinkhole_http_req(): buf is the start of an HTTP/1.x request: request line
 * "METHOD SP TARGET SP HTTP/1.d" CRLF (a bare LF is accepted), headers up to
 * the empty line; Host matched case-insensitively, its value without
 * surrounding blanks.  With final, a complete request line suffices (Host is
 * what has arrived of the headers).
 */
struct sinkhole_http {
	char method[16];
	char path[512];
	char host[256];
};

int sinkhole_tls_sni(const uint8_t *buf, size_t len, bool final, char *sni, size_t snilen);
int sinkhole_http_req(const uint8_t *buf, size_t len, bool final, struct sinkhole_http *out);

#endif /* HUSH_AGENT_SNIFF_H */
