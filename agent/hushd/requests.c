// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Requests on hushd's control socket: apply a policy, status, stop.  The
 * two that change something are refused from a process inside the cgroups
 * hushd enforces (contain.h), and the refusal is a note in the audit log.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/guard.h"
#include "agent/control.h"
#include "agent/db.h"
#include "agent/engine.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/store.h"
#include "agent/hushd/hushd.h"

/* "apply NAME" with the policy text as body: loaded once, here.  The
 * policy's errors go back to the client (and to our stderr). */
static void apply(struct hushd *d, int cfd, const struct control_req *req)
{
	struct policy_errors errs = {0};
	const char *name = req->arg[0] ? req->arg : "(policy)";
	char msg[1024], hex[2 * POLICY_HASH_LEN + 1];
	int ret;

	ret = hushd_reload(d, name, req->body ? req->body : "", req->body_len, &errs, msg,
			   sizeof(msg));
	if (ret == 0) {
		db_hex(d->loaded->hash, POLICY_HASH_LEN, hex);
		log_info("%s, sha256 %s", msg, hex);
		snprintf(msg, sizeof(msg), "seq %llu sha256 %s",
			 (unsigned long long)engine_policy_seq(d->eng), hex);
		control_reply(cfd, 1, msg, NULL);
	} else if (errs.n) {
		size_t tl = 0;
		char *text = NULL;
		FILE *mf = open_memstream(&text, &tl);

		if (mf) {
			policy_errors_print(&errs, "", mf);
			fclose(mf);
		}
		log_warnx("%s", msg);
		control_reply(cfd, 0, NULL, text ? text : "policy rejected\n");
		free(text);
	} else {
		log_warnx("%s", msg);
		strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
		control_reply(cfd, 0, NULL, msg);
	}
	policy_errors_free(&errs);
}

/* Whether the asker of a change stands outside enforcement; if not, the
 * reply says why and the log has a note. */
static bool may_change(struct hushd *d, int cfd, const struct control_req *req)
{
	char why[PATH_MAX + 256], msg[PATH_MAX + 300];
	int ret;

	if (req->peer_pid <= 0) {
		snprintf(why, sizeof(why),
			 "the asking process is not visible in hushd's pid namespace, so hushd "
			 "cannot tell whether it runs inside the enforced cgroup");
		ret = -ESRCH;
	} else {
		ret = guard_check(req->peer_pid, req->peer_pidfd, engine_cgroup_id(d->eng),
				  d->loaded->pol, why, sizeof(why));
	}
	if (ret == 0)
		return true;
	snprintf(msg, sizeof(msg), "refused: %s; nothing was changed\n", why);
	control_reply(cfd, 0, NULL, msg);
	log_warnx("control: \"%s\" refused: %s", req->verb, why);
	if (d->store)
		store_note(d->store, "control request \"%s\" refused: %s", req->verb, why);
	return false;
}

void hushd_control(struct hushd *d)
{
	struct control_req req;
	int cfd;

	cfd = control_accept(d->lfd, &req);
	if (cfd < 0)
		return;
	if ((strcmp(req.verb, "apply") == 0 || strcmp(req.verb, "stop") == 0) &&
	    !may_change(d, cfd, &req)) {
		/* refused */
	} else if (strcmp(req.verb, "apply") == 0) {
		apply(d, cfd, &req);
	} else if (strcmp(req.verb, "status") == 0) {
		struct json_writer w;

		jsonw_init_buf(&w, JSON_LINES);
		if (hushd_status_json(d, &w) == 0)
			control_reply(cfd, 1, NULL, w.buf);
		else
			control_reply(cfd, 0, NULL, "cannot build the status (out of memory)\n");
		jsonw_free(&w);
	} else if (strcmp(req.verb, "stop") == 0) {
		control_reply(cfd, 1, "stopping", NULL);
		log_info("stopped by `hush disable`: enforcement removed from %s", d->cgroup);
		d->stop = true;
		d->disabled = true;
	} else {
		control_reply(cfd, 0, NULL, "unknown request (apply, status, stop)\n");
	}
	control_req_free(&req);
	close(cfd);
}
