/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A policy as loaded: one source of policy text turned, once, into all that
 * the rest of hush needs of it: the parsed form, the compiled map entries,
 * the normalized text the kernel keeps (and `hush policy show` prints), its
 * SHA-256 (as engine_pinned_read() reports it once applied), and the lint
 * warnings.  Every policy enters through policy_loaded_load(): hushd at
 * start, on SIGHUP and on `hush policy apply`; `hush policy check|apply`;
 * `hush run`; `hush test`.
 */
#ifndef HUSH_RULES_LOADED_H
#define HUSH_RULES_LOADED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/policy.h"

#define POLICY_HASH_LEN 32 /* SHA-256 */

struct policy_loaded {
	struct policy *pol;
	struct policy_compiled *pc;    /* compiled from pol */
	char *text;		       /* policy_to_string(pol) */
	uint8_t hash[POLICY_HASH_LEN]; /* SHA-256 of text */
	struct policy_errors warn;     /* policy_lint(pol): "file:l:c: warning: ..." */
};

struct policy_load_opts {
	/* What to load: text[0..len) named `name` in messages; or, with text
	 * NULL, the file `name`; or, both NULL, the built-in "loopback only"
	 * policy (policy_default). */
	const char *name;
	const char *text;
	size_t len;
	bool dns_proxy; /* a DNS proxy will judge DNS (what the lint expects) */
	bool set_mode;	/* every scope gets `mode` (HUSH_MODE_*): --mode */
	uint8_t mode;
	/* Called between parse and compile to change the parsed policy (e.g.
	 * to point the resolver at a sinkhole); may be NULL.  Returns 0 or a
	 * negative errno, which the load returns (reporting it is the
	 * caller's: nothing is printed for it). */
	int (*adjust)(struct policy *p, void *ctx);
	void *ctx;
	/* If set, errors and warnings are printed there, one per line, each
	 * prefixed with `prefix` (e.g. "hushd: policy: "). */
	FILE *diag;
	const char *prefix;
};

/*
 * Parse, adjust, compile, normalize, hash and lint.  0 with *out set; else
 * *out is NULL and the error is returned: -EINVAL for a policy with errors
 * (each appended to errs, which may be NULL), an I/O error reading the file
 * (one message "file: strerror"), -ENOMEM, or adjust's error.
 */
int policy_loaded_load(const struct policy_load_opts *o, struct policy_loaded **out,
		       struct policy_errors *errs);
void policy_loaded_free(struct policy_loaded *l);

#endif /* HUSH_RULES_LOADED_H */
