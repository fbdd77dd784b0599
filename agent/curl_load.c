// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libcurl on first use (see curl_load.h).  The functions below carry
 * libcurl's own names, so the binaries need no -lcurl: each forwards to the
 * library's function, which hush_curl_load() looks up with dlsym() in a
 * private (RTLD_LOCAL) handle.  The two variadic ones read their one argument
 * by the type curl.h gives the option or info number (as libcurl itself
 * does) and pass it on.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <curl/curl.h>

#include "agent/curl_load.h"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static bool loaded;
static const char *load_error;
static char load_why[512];

/* The table, filled from a handle; false (and why) when a symbol is absent. */
static bool resolve(void *h, const char *soname)
{
	static const char *const names[] = {
	    "curl_global_init",	  "curl_easy_init",    "curl_easy_setopt",
	    "curl_easy_perform",  "curl_easy_getinfo", "curl_easy_cleanup",
	    "curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
	};
	void *sym[sizeof(names) / sizeof(names[0])];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sym[i] = dlsym(h, names[i]);
		if (!sym[i]) {
			snprintf(load_why, sizeof(load_why),
				 "cannot load libcurl: %s has no %s (need libcurl 7.62 or later; "
				 "install the package libcurl4)",
				 soname, names[i]);
			return false;
		}
	}
	/* POSIX: dlsym()'s object pointers convert to function pointers */
	*(void **)&fn.global_init = sym[0];
	*(void **)&fn.easy_init = sym[1];
	*(void **)&fn.easy_setopt = sym[2];
	*(void **)&fn.easy_perform = sym[3];
	*(void **)&fn.easy_getinfo = sym[4];
	*(void **)&fn.easy_cleanup = sym[5];
	*(void **)&fn.easy_strerror = sym[6];
	*(void **)&fn.slist_append = sym[7];
	*(void **)&fn.slist_free_all = sym[8];
	return true;
}

const char *hush_curl_load(const char *soname)
{
	const char *why = NULL;
	void *h;

	if (!soname)
		soname = HUSH_CURL_SONAME;
	pthread_mutex_lock(&load_mu);
	if (loaded)
		goto out;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_why, sizeof(load_why),
			 "cannot load libcurl: %s (install the package libcurl4; hush needs it "
			 "only to ask container engines)",
			 dlerror());
		why = load_why;
	} else if (!resolve(h, soname)) {
		dlclose(h);
		why = load_why;
	} else {
		loaded = true; /* the handle stays open for the process's life */
	}
out:
	load_error = why;
	pthread_mutex_unlock(&load_mu);
	return why;
}

const char *hush_curl_error(void)
{
	const char *why;

	pthread_mutex_lock(&load_mu);
	why = load_error;
	pthread_mutex_unlock(&load_mu);
	return why;
}

/* Loaded (by the first call of any function below), or not. */
static bool ready(void)
{
	return hush_curl_load(NULL) == NULL;
}

/* The parentheses keep curl.h's type-checking macros of the same names out. */
CURLcode(curl_global_init)(long flags)
{
	return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *(curl_easy_init)(void)
{
	return ready() ? fn.easy_init() : NULL;
}

CURLcode(curl_easy_setopt)(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT) {
		rc = fn.easy_setopt(h, opt, va_arg(ap, long));
	} else if (opt >= CURLOPTTYPE_FUNCTIONPOINT && opt < CURLOPTTYPE_OFF_T) {
		void (*f)(void) = va_arg(ap, void (*)(void));

		rc = fn.easy_setopt(h, opt, f);
	} else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) {
		rc = fn.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	} else {
		rc = fn.easy_setopt(h, opt, va_arg(ap, void *)); /* objects, blobs */
	}
	va_end(ap);
	return rc;
}

CURLcode(curl_easy_perform)(CURL *h)
{
	return ready() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

CURLcode(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = fn.easy_getinfo(h, info, va_arg(ap, void *)); /* every kind: a pointer */
	va_end(ap);
	return rc;
}

void(curl_easy_cleanup)(CURL *h)
{
	if (ready())
		fn.easy_cleanup(h);
}

const char *(curl_easy_strerror)(CURLcode rc)
{
	return ready() ? fn.easy_strerror(rc) : "libcurl is not loaded";
}

struct curl_slist *(curl_slist_append)(struct curl_slist *l, const char *s)
{
	return ready() ? fn.slist_append(l, s) : NULL;
}

void(curl_slist_free_all)(struct curl_slist *l)
{
	if (ready())
		fn.slist_free_all(l);
}
