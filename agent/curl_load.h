/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libcurl, loaded the first time it is needed (dlopen) instead of by the
 * dynamic loader at every start of hush and hushd.
 *
 * Only the engine clients speak HTTP (the Docker and podman APIs, the CRI
 * over HTTP/2): `hush test --image`, `hush test --compose` and hushd's
 * container metadata.  Linked, libcurl and the 27 libraries it brings
 * (GnuTLS, Kerberos, LDAP, ...) cost every `hush log` 9 ms of its start, half
 * of it.  agent/curl_load.c defines the nine libcurl functions hush calls and
 * forwards each to the library, loaded on the first call, so the callers
 * keep curl.h's API and its type checks; when libcurl cannot be loaded,
 * curl_global_init() fails, curl_easy_init() and curl_slist_append() return
 * NULL and hush_curl_error() says why.  The package depends on libcurl4.
 */
#ifndef HUSH_AGENT_CURL_LOAD_H
#define HUSH_AGENT_CURL_LOAD_H

/* The library's file name (Debian 12: package libcurl4, 7.88). */
#define HUSH_CURL_SONAME "libcurl.so.4"

/*
 * Load libcurl from soname (NULL: HUSH_CURL_SONAME) if it is not loaded yet.
 * NULL when it is, else why not ("cannot load libcurl.so.4: ...; install
 * the package libcurl4"), a static string.  Thread-safe; once loaded, it
 * stays loaded whatever soname later calls name.
 */
const char *hush_curl_load(const char *soname);

/* Why the last load failed, or NULL when libcurl is loaded or never tried. */
const char *hush_curl_error(void);

#endif
