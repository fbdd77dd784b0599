// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy hushd enforces: loaded once at start, and reloaded in place on
 * SIGHUP and `hush policy apply`.  A reload that fails at any step leaves the
 * running policy in force (in the kernel and in the DNS proxy).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/dnsproxy.h"
#include "agent/enforcer.h"
#include "agent/engine.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"

/* Load the file `name`, or text[0..len) named so; every error and warning
 * is printed as "hushd: policy: file:l:c: msg" (and errors kept in errs,
 * which may be NULL). */
int hushd_load_policy(struct hushd *d, const char *name, const char *text, size_t len,
		      struct policy_errors *errs, struct policy_loaded **out)
{
	struct policy_load_opts o = {
	    .name = name,
	    .text = text,
	    .len = len,
	    .dns_proxy = !d->no_dns,
	    .diag = stderr,
	    .prefix = "hushd: policy: ",
	};

	return policy_loaded_load(&o, out, errs);
}

/* Load and apply a new policy; on any failure the running one stays.  What
 * happened goes into msg (and the log's notes); the policy's errors into
 * errs (may be NULL). */
int hushd_reload(struct hushd *d, const char *name, const char *text, size_t len,
		 struct policy_errors *errs, char *msg, size_t msglen)
{
	struct policy_loaded *l;
	int ret;

	d->reload_ts = time(NULL);
	d->reload_ok = false;
	ret = hushd_load_policy(d, name, text, len, errs, &l);
	if (ret) {
		snprintf(msg, msglen, "policy %s rejected; the running policy (seq %llu) stays",
			 name, (unsigned long long)engine_policy_seq(d->eng));
		if (d->store)
			store_note(d->store, "%s", msg);
		return ret;
	}
	ret = d->dns ? dnsproxy_set_policy(d->dns, l->pol) : 0;
	if (!ret)
		ret = enforcer_set_policy(d->en, l);
	if (ret) {
		if (d->dns)
			dnsproxy_set_policy(d->dns, d->loaded->pol);
		snprintf(msg, msglen, "cannot apply %s: %s; the running policy stays", name,
			 strerror(-ret));
		policy_loaded_free(l);
		return ret;
	}
	policy_loaded_free(d->loaded);
	d->loaded = l;
	d->reload_ok = true;
	snprintf(msg, msglen, "policy %s applied (seq %llu)", name,
		 (unsigned long long)engine_policy_seq(d->eng));
	if (d->store)
		store_note(d->store, "%s", msg);
	return 0;
}
