// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A policy as loaded; see loaded.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "rules/loaded.h"

static int sha256(const char *text, uint8_t out[POLICY_HASH_LEN])
{
	unsigned int n = POLICY_HASH_LEN;

	return EVP_Digest(text, strlen(text), out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* Messages errs[from..] to diag, prefixed. */
static void diag_print(const struct policy_load_opts *o, const struct policy_errors *e, size_t from)
{
	if (!o->diag)
		return;
	for (size_t i = from; i < e->n; i++)
		fprintf(o->diag, "%s%s\n", o->prefix ? o->prefix : "", e->msg[i]);
}

static int parse(const struct policy_load_opts *o, struct policy **pol, struct policy_errors *errs)
{
	int ret;

	if (o->text)
		ret = policy_parse(o->name, o->text, o->len, pol, errs);
	else if (o->name)
		ret = policy_load_file(o->name, pol, errs);
	else
		ret = policy_default(pol);
	if (ret || !o->set_mode)
		return ret;
	for (size_t i = 0; i < (*pol)->nscopes; i++) {
		(*pol)->scopes[i].mode = o->mode;
		(*pol)->scopes[i].has_mode = true;
	}
	return 0;
}

int policy_loaded_load(const struct policy_load_opts *o, struct policy_loaded **out,
		       struct policy_errors *errs)
{
	struct policy_errors own = {0}, *e = errs ? errs : &own;
	struct policy_loaded *l;
	size_t from = e->n;
	int ret;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* 1. Parse: every error of the text, not just the first. */
	ret = parse(o, &l->pol, e);
	if (ret)
		goto out;
	/* 2. The caller's changes (--mode is done above, a sinkhole here). */
	if (o->adjust) {
		ret = o->adjust(l->pol, o->ctx);
		if (ret)
			goto out;
	}
	/* 3. Compile: what no map can hold is an error too. */
	ret = policy_compile(l->pol, &l->pc, e);
	if (ret)
		goto out;
	/* 4. The text the kernel keeps, and its hash. */
	l->text = policy_to_string(l->pol);
	ret = l->text ? sha256(l->text, l->hash) : -ENOMEM;
	if (ret)
		goto out;
	/* 5. Lint: statements that cannot take effect as written. */
	ret = policy_lint(l->pol, o->dns_proxy, &l->warn);
	if (ret < 0)
		goto out;
	ret = 0;
	diag_print(o, &l->warn, 0);
out:
	if (ret) {
		diag_print(o, e, from);
		policy_loaded_free(l);
		l = NULL;
	}
	policy_errors_free(&own);
	*out = l;
	return ret;
}

void policy_loaded_free(struct policy_loaded *l)
{
	if (!l)
		return;
	policy_errors_free(&l->warn);
	free(l->text);
	policy_compiled_free(l->pc);
	policy_free(l->pol);
	free(l);
}
