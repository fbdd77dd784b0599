// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* hush policy check FILE | show | apply FILE | suggest [OPTIONS] */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/control.h"
#include "agent/engine.h"
#include "agent/fsutil.h"
#include "agent/log.h"
#include "agent/suggest_log.h"
#include "rules/loaded.h"
#include "cli/cli.h"
#include "cli/log_cli.h"

static int policy_usage_to(FILE *f)
{
	fprintf(f, "usage: hush policy check FILE... | show | apply FILE\n"
		   "       hush policy suggest [--db FILE] [--since T] [--until T] [--unit U]\n"
		   "                 [--container ID] [--cgroup GLOB] [FILTERS of hush log]\n"
		   "                 [--root CGROUP] [--mode enforce|audit] [--resolver ADDR]\n"
		   "                 [--out FILE]\n"
		   "  check FILE...  parse and lint each policy (\"-\": standard input)\n"
		   "  show           the policy hushd enforces now\n"
		   "  apply FILE     check FILE, then have the running hushd enforce it\n"
		   "  suggest        the smallest policy that allows what the log saw\n"
		   "exit codes: 0 success, 1 invalid policy or failure, 2 usage error\n");
	return EXIT_USAGE;
}

static int policy_usage(void)
{
	return policy_usage_to(stderr);
}

/* Read FILE ("-": stdin) into *text and load it; errors and warnings are
 * printed as "hush: policy: file:l:c: msg". */
static int check(const char *path, char **text, size_t *len, struct policy_loaded **out)
{
	struct policy_errors errs = {0};
	struct policy_load_opts o = {
	    .name = strcmp(path, "-") == 0 ? "(stdin)" : path,
	    .dns_proxy = true,
	    .diag = stderr,
	    .prefix = "hush: policy: ",
	};
	int ret;

	*out = NULL;
	ret = cli_read_file(path, text, len);
	if (ret) {
		log_errno(ret, "policy: %s", path);
		return ret;
	}
	o.text = *text ? *text : "";
	o.len = *len;
	ret = policy_loaded_load(&o, out, &errs);
	if (ret)
		fprintf(stderr, "hush: policy: %s rejected (%zu error%s); nothing was changed\n",
			path, errs.n, errs.n == 1 ? "" : "s");
	policy_errors_free(&errs);
	return ret;
}

/* Validate each FILE; print the normalized policy (with a "# FILE" header
 * when there are several).  Exit 1 if any is invalid. */
static int do_check(int n, char **paths)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		struct policy_loaded *l;
		char *text = NULL;
		size_t len;

		if (check(paths[i], &text, &len, &l)) {
			bad++;
		} else {
			if (n > 1)
				printf("%s# %s\n", i ? "\n" : "", paths[i]);
			policy_print(l->pol, stdout);
			cli_policy_containers(l->pol);
			policy_loaded_free(l);
		}
		free(text);
	}
	return bad ? EXIT_FAIL : EXIT_OK;
}

static int do_show(struct cli *c)
{
	struct engine_pinned st;
	char *text = NULL;
	int ret;

	ret = engine_pinned_read(c->pin_dir, &st);
	if (ret || !st.present) {
		if (ret)
			log_errno(ret, "cannot read pinned state in %s", c->pin_dir);
		else
			log_warnx("no policy is enforced (nothing pinned in %s)", c->pin_dir);
		return EXIT_FAIL;
	}
	ret = engine_pinned_policy(c->pin_dir, &text);
	if (ret) {
		log_errno(ret, "cannot read the policy text from %s", c->pin_dir);
		return EXIT_FAIL;
	}
	printf("# policy held by the kernel: seq %llu, sha256 ", (unsigned long long)st.policy_seq);
	for (int i = 0; i < 32; i++)
		printf("%02x", st.policy_hash[i]);
	printf("\n%s", text);
	free(text);
	return EXIT_OK;
}

static int do_apply(struct cli *c, const char *path)
{
	char *text = NULL, *detail = NULL, *reply = NULL, name[PATH_MAX];
	struct policy_loaded *l;
	size_t len;
	int ret;

	/* Validate here first: errors come back even if hushd is down.  hushd
	 * loads the text sent once more, as its own. */
	ret = check(path, &text, &len, &l);
	if (ret) {
		free(text);
		return EXIT_FAIL;
	}
	policy_loaded_free(l);
	if (!realpath(path, name))
		snprintf(name, sizeof(name), "%s", path);
	ret = control_call(c->run_dir, "apply", name, text, len, &detail, &reply);
	free(text);
	if (ret < 0) {
		log_errno(ret,
			  "cannot reach hushd at %s/%s (is hushd running? the pinned "
			  "policy stays in force until hushd applies a new one)",
			  c->run_dir, CONTROL_SOCK_NAME);
		return EXIT_FAIL;
	}
	if (ret == 0 && strncmp(reply, "refused:", 8) == 0) {
		/* Asked from inside the enforced cgroups (control.h). */
		fprintf(stderr, "hush: hushd: %s", reply);
		log_warnx("hushd refused to apply %s; the running policy stays", path);
	} else if (ret == 0) {
		fprintf(stderr, "%s", reply);
		log_warnx("hushd rejected %s; the running policy stays", path);
	} else {
		printf("applied %s: %s\n", path, detail);
	}
	free(detail);
	free(reply);
	return ret == 1 ? EXIT_OK : EXIT_FAIL;
}

/* ---- suggest ---- */

struct sg_opts {
	const char *out, *cgroup, *root, *mode, *resolver;
	char **rest; /* options for log_parse_args, rest[0] a placeholder */
	int nrest;
	struct opts lo;
};

/* Our own options out of argv; the others (filters) go to log_parse_args. */
static int sg_args(struct sg_opts *o, int argc, char **argv)
{
	static const char *const own[] = {"--out", "--cgroup", "--root", "--mode", "--resolver"};
	const char **dst[] = {&o->out, &o->cgroup, &o->root, &o->mode, &o->resolver};

	o->rest = calloc((size_t)argc + 1, sizeof(*o->rest));
	if (!o->rest)
		return -ENOMEM;
	o->rest[o->nrest++] = "suggest";
	for (int i = 0; i < argc; i++) {
		size_t k, n = sizeof(own) / sizeof(own[0]);

		for (k = 0; k < n; k++) {
			size_t l = strlen(own[k]);

			if (strncmp(argv[i], own[k], l) != 0 || (argv[i][l] && argv[i][l] != '='))
				continue;
			if (argv[i][l] == '=') {
				*dst[k] = argv[i] + l + 1;
			} else if (i + 1 < argc) {
				*dst[k] = argv[++i];
			} else {
				log_warnx("policy suggest: %s needs a value", own[k]);
				return -EINVAL;
			}
			if (!**dst[k]) {
				log_warnx("policy suggest: %s needs a value", own[k]);
				return -EINVAL;
			}
			break;
		}
		if (k == n)
			o->rest[o->nrest++] = argv[i];
	}
	if (o->mode && strcmp(o->mode, "enforce") && strcmp(o->mode, "audit")) {
		log_warnx("policy suggest: --mode %s: use enforce or audit", o->mode);
		return -EINVAL;
	}
	if (log_parse_args(&o->lo, o->nrest, o->rest))
		return -EINVAL;
	if (o->lo.verb != VB_QUERY || o->lo.fmt != FMT_TABLE || o->lo.follow || o->lo.limit_set) {
		log_warnx("policy suggest: takes the filters of `hush log`, not its verbs, "
			  "--json, --csv, --limit or --follow");
		return -EINVAL;
	}
	if (o->lo.f.verdict && strcmp(o->lo.f.verdict, "deny") == 0) {
		log_warnx("policy suggest: --denied: a policy is suggested from what was allowed "
			  "or audited");
		return -EINVAL;
	}
	return 0;
}

/* The policy in force (pinned), parsed; NULL if none. */
static struct policy *pinned_policy(struct cli *c)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *text = NULL;

	if (engine_pinned_policy(c->pin_dir, &text) == 0 && text)
		(void)policy_parse("(pinned)", text, strlen(text), &p, &errs);
	policy_errors_free(&errs);
	free(text);
	return p;
}

/* Mode and resolver: the options, else the policy in force, else enforce
 * and the resolver most asked in the log. */
static void sg_head(struct cli *c, const struct sg_opts *o, struct suggest *s,
		    struct suggest_head *h, char *res, size_t rlen, char *note, size_t nlen)
{
	struct policy *p = pinned_policy(c);
	int64_t n = 0;

	h->mode = o->mode;
	h->resolver = o->resolver;
	if (!h->mode && p) {
		h->mode = p->scopes[0].mode == HUSH_MODE_AUDIT ? "audit" : "enforce";
		snprintf(note, nlen, "mode %s: kept from the policy in force%s", h->mode,
			 p->scopes[0].mode == HUSH_MODE_AUDIT
			     ? " (write `mode enforce` once the rules look right)"
			     : "");
	}
	if (!h->resolver && p && p->has_resolver) {
		char a[POLICY_ADDRSTRLEN];

		policy_prefix_text(a, p->resolver_family, p->resolver,
				   p->resolver_family == AF_INET ? 32 : 128, false);
		if (p->resolver_port == 53)
			snprintf(res, rlen, "%s", a);
		else
			snprintf(res, rlen, p->resolver_family == AF_INET ? "%s:%u" : "[%s]:%u", a,
				 p->resolver_port);
		h->resolver = res;
	}
	if (!h->resolver && suggest_needs_resolver(s) && suggest_resolver(s, res, rlen, &n)) {
		h->resolver = res;
		snprintf(note + strlen(note), nlen - strlen(note),
			 "%sresolver: the address clients asked most (%lld queries); the proxy "
			 "forwards allowed names there",
			 note[0] ? "\n# " : "", (long long)n);
	}
	h->resolver_note = note[0] ? note : NULL;
	policy_free(p);
}

/* The rendered text must load as a policy: else it is our bug. */
static int sg_validate(const char *text, size_t len)
{
	struct policy_load_opts lo = {.name = "(suggested)",
				      .text = text,
				      .len = len,
				      .dns_proxy = true,
				      .diag = stderr,
				      .prefix = "hush: policy suggest: "};
	struct policy_loaded *l = NULL;
	int ret = policy_loaded_load(&lo, &l, NULL);

	policy_loaded_free(l);
	return ret;
}

static int sg_write(const char *path, const char *text, size_t len)
{
	if (!path || strcmp(path, "-") == 0)
		return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
	return write_file_atomic(path, text, len);
}

static int sg_render(struct cli *c, struct sg_opts *o, struct suggest *s,
		     const struct suggest_stats *st, char **text, size_t *len)
{
	char res[80] = "", note[512] = "", src[PATH_MAX + 160], a[40], b[40];
	struct suggest_head h = {.source = src};
	FILE *m = open_memstream(text, len);
	int ret;

	if (!m)
		return -ENOMEM;
	sg_head(c, o, s, &h, res, sizeof(res), note, sizeof(note));
	if (st->attempts) {
		time_t t1 = (time_t)(st->first / 1000000000), t2 = (time_t)(st->last / 1000000000);
		struct tm tm;

		strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t1, &tm));
		strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t2, &tm));
		snprintf(src, sizeof(src), "from %s (enforced cgroup %s): %lld attempts, %s .. %s",
			 o->lo.db, o->root, (long long)st->attempts, a, b);
	} else {
		snprintf(src, sizeof(src), "from %s (enforced cgroup %s): no attempt matched",
			 o->lo.db, o->root);
	}
	ret = suggest_render(s, &h, m);
	if (fclose(m) && !ret)
		ret = -EIO;
	return ret;
}

/* --root as the log writes cgroup paths: below the cgroup2 mount ("/llm"),
 * whether given so or as a directory under the mount; no trailing '/'. */
static void sg_root(const char *in, char *out, size_t len)
{
	char mnt[PATH_MAX] = "";
	size_t ml, n;

	if (cgroup_find_mount(mnt, sizeof(mnt)) == 0 && (ml = strlen(mnt)) > 1 &&
	    strncmp(in, mnt, ml) == 0 && (in[ml] == '/' || !in[ml]))
		in += ml;
	snprintf(out, len, "%s%s", in[0] == '/' ? "" : "/", in);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
}

static int do_suggest(struct cli *c, int argc, char **argv)
{
	struct sg_opts o = {0};
	struct suggest_src src;
	struct suggest_stats st = {0};
	struct suggest *s = NULL;
	struct db *db = NULL;
	char err[1024], root[4096], *text = NULL;
	size_t len = 0;
	int ret, rc = EXIT_FAIL;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			policy_usage_to(stdout);
			return EXIT_OK;
		}
	}
	ret = sg_args(&o, argc, argv);
	if (ret) {
		free(o.rest);
		return ret == -ENOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	ret = db_open(o.lo.db, DB_RDONLY, &db, err, sizeof(err));
	if (ret) {
		log_warnx("%s", err);
		goto out;
	}
	if (o.root) {
		sg_root(o.root, root, sizeof(root));
		o.root = root;
	} else {
		if (suggest_log_root(db, root, sizeof(root))) {
			log_warnx("policy suggest: no \"hushd started\" note in %s names the "
				  "enforced cgroup: give --root CGROUP (as in the log's cgroup "
				  "paths, e.g. /llm; / for host-wide)",
				  o.lo.db);
			goto out;
		}
		o.root = root;
	}
	src = (struct suggest_src){.f = o.lo.f, .root = o.root, .cgroup = o.cgroup};
	if (suggest_new(&s) || (ret = suggest_from_log(db, &src, s, &st, err, sizeof(err)))) {
		log_warnx("policy suggest: %s", s ? err : "out of memory");
		goto out;
	}
	ret = sg_render(c, &o, s, &st, &text, &len);
	if (ret) {
		log_errno(ret, "policy suggest: cannot render the policy");
		goto out;
	}
	if (sg_validate(text, len)) {
		fwrite(text, 1, len, stderr);
		log_warnx("policy suggest: the suggested policy does not load (a bug in hush: "
			  "please report it with the text above)");
		goto out;
	}
	ret = sg_write(o.out, text, len);
	if (ret) {
		log_errno(ret, "policy suggest: cannot write %s", o.out ? o.out : "stdout");
		goto out;
	}
	rc = EXIT_OK;
out:
	free(text);
	suggest_free(s);
	db_close(db);
	free(o.rest);
	return rc;
}

int do_policy(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return policy_usage();
	for (int i = 1; i < argc && i < 3; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			policy_usage_to(stdout);
			return EXIT_OK;
		}
	}
	if (strcmp(argv[1], "check") == 0 && argc >= 3)
		return do_check(argc - 2, argv + 2);
	if (strcmp(argv[1], "show") == 0 && argc == 2)
		return do_show(c);
	if (strcmp(argv[1], "apply") == 0 && argc == 3)
		return do_apply(c, argv[2]);
	if (strcmp(argv[1], "suggest") == 0)
		return do_suggest(c, argc - 2, argv + 2);
	return policy_usage();
}
