// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Requests on hushd's control socket: apply a policy, status, stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/control.h"
#include "agent/db.h"
#include "agent/engine.h"
#include "agent/json.h"
#include "agent/log.h"
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

void hushd_control(struct hushd *d)
{
	struct control_req req;
	int cfd;

	cfd = control_accept(d->lfd, &req);
	if (cfd < 0)
		return;
	if (strcmp(req.verb, "apply") == 0) {
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
