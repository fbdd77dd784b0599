// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent/control.h"
#include "agent/fsutil.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

static int sock_path(const char *run_dir, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", run_dir, CONTROL_SOCK_NAME) >=
	    (int)sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int control_listen(const char *run_dir)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = mkdir_p(run_dir, 0700);
	if (ret)
		return ret;
	ret = sock_path(run_dir, &sun);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(sun.sun_path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int read_all(int fd, char **buf, size_t *len, size_t max)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= max + 4096) {
				free(b);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(b, cap + 1);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			int err = -errno;

			if (errno == EINTR)
				continue;
			free(b);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void control_req_free(struct control_req *req)
{
	free(req->body);
	req->body = NULL;
	if (req->peer_pidfd >= 0)
		close(req->peer_pidfd);
	req->peer_pidfd = -1;
}

/* Who is asking: root or our own uid only; its pid, and a pidfd where the
 * kernel has SO_PEERPIDFD (the pid alone may be reused by the time it is
 * looked at).  0, or -EACCES after replying. */
static int peer_check(int cfd, struct control_req *req)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int pfd = -1;

	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != getuid())) {
		control_reply(cfd, 0, NULL, "permission denied: only root may control hushd\n");
		return -EACCES;
	}
	req->peer_pid = cr.pid;
	len = sizeof(pfd);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) == 0 && pfd >= 0)
		req->peer_pidfd = pfd;
	return 0;
}

int control_accept(int lfd, struct control_req *req)
{
	struct timeval tv = {.tv_sec = 5};
	char *buf = NULL, *nl, *sp;
	size_t len;
	int cfd, ret;

	memset(req, 0, sizeof(*req));
	req->peer_pidfd = -1;
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return -errno;
	/* The client may be slow or hostile: never block hushd for long. */
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = peer_check(cfd, req);
	if (ret) {
		close(cfd);
		return ret;
	}
	ret = read_all(cfd, &buf, &len, CONTROL_MAX_BODY);
	if (ret) {
		control_reply(cfd, 0, NULL,
			      ret == -EFBIG ? "request too large (policy over 16 MiB)\n"
					    : "cannot read request\n");
		control_req_free(req);
		close(cfd);
		return ret;
	}
	nl = memchr(buf, '\n', len);
	if (!nl) {
		control_reply(cfd, 0, NULL, "malformed request\n");
		control_req_free(req);
		free(buf);
		close(cfd);
		return -EINVAL;
	}
	*nl = 0;
	sp = strchr(buf, ' ');
	if (sp)
		*sp++ = 0;
	snprintf(req->verb, sizeof(req->verb), "%s", buf);
	snprintf(req->arg, sizeof(req->arg), "%s", sp ? sp : "");
	req->body_len = len - (size_t)(nl + 1 - buf);
	req->body = malloc(req->body_len + 1);
	if (!req->body) {
		control_req_free(req);
		free(buf);
		close(cfd);
		return -ENOMEM;
	}
	memcpy(req->body, nl + 1, req->body_len);
	req->body[req->body_len] = 0;
	free(buf);
	return cfd;
}

int control_reply(int cfd, int ok, const char *detail, const char *text)
{
	char head[1100];
	int ret;

	snprintf(head, sizeof(head), "%s%s%s\n", ok ? "ok" : "error", detail ? " " : "",
		 detail ? detail : "");
	ret = write_all(cfd, head, strlen(head));
	if (!ret && text)
		ret = write_all(cfd, text, strlen(text));
	return ret;
}

int control_call(const char *run_dir, const char *verb, const char *arg, const char *body,
		 size_t body_len, char **detail, char **text)
{
	return control_call_tmo(run_dir, verb, arg, body, body_len, 30, detail, text);
}

int control_call_tmo(const char *run_dir, const char *verb, const char *arg, const char *body,
		     size_t body_len, int timeout_s, char **detail, char **text)
{
	struct timeval tv = {.tv_sec = timeout_s};
	struct sockaddr_un sun;
	char head[1100], *buf = NULL, *nl;
	size_t len;
	int fd, ret;

	*detail = NULL;
	*text = NULL;
	ret = sock_path(run_dir, &sun);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		goto out;
	}
	snprintf(head, sizeof(head), "%s%s%s\n", verb, arg ? " " : "", arg ? arg : "");
	ret = write_all(fd, head, strlen(head));
	if (!ret && body_len)
		ret = write_all(fd, body, body_len);
	if (ret)
		goto out;
	shutdown(fd, SHUT_WR);
	ret = read_all(fd, &buf, &len, CONTROL_MAX_BODY);
	if (ret)
		goto out;
	nl = memchr(buf, '\n', len);
	if (nl)
		*nl = 0;
	ret = strncmp(buf, "ok", 2) == 0 ? 1 : 0;
	{
		const char *d = buf + (ret ? 2 : 5);

		while (*d == ' ')
			d++;
		*detail = strdup(d);
		*text = strdup(nl ? nl + 1 : "");
		if (!*detail || !*text) {
			free(*detail);
			free(*text);
			*detail = *text = NULL;
			ret = -ENOMEM;
		}
	}
out:
	free(buf);
	close(fd);
	return ret;
}

/* The text of column c into buf ("" if NULL). */
static void col_copy(sqlite3_stmt *st, int c, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, c);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

int control_status_parse(const char *reply, struct control_status *s)
{
	sqlite3 *m = NULL;
	sqlite3_stmt *st = NULL;
	int ret = -EINVAL;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->rollup_behind = -1;
	/* hushd's reply starts with its pid: read even from a reply cut short. */
	if (sscanf(reply, "{\"pid\":%d", &s->pid) != 1)
		s->pid = -1;
	if (sqlite3_open(":memory:", &m) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(m,
			       "SELECT json_extract(?1, '$.pid'), json_extract(?1, '$.db.path'),"
			       " json_extract(?1, '$.db.open'), json_extract(?1, '$.db.error'),"
			       " json_extract(?1, '$.db.writer_lag_s'),"
			       " json_extract(?1, '$.db.pending_rows'),"
			       " json_extract(?1, '$.db.gap_events'),"
			       " json_extract(?1, '$.db.late_events'),"
			       " json_extract(?1, '$.db.rollup_behind')",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, reply, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out; /* not JSON */
	ret = 0;
	if (sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		s->pid = sqlite3_column_int(st, 0);
	if (sqlite3_column_type(st, 1) != SQLITE_TEXT)
		goto out;
	s->writer = true;
	col_copy(st, 1, s->db_path, sizeof(s->db_path));
	s->db_open = sqlite3_column_int(st, 2);
	col_copy(st, 3, s->db_error, sizeof(s->db_error));
	s->lag_s = sqlite3_column_double(st, 4);
	s->pending_rows = sqlite3_column_int64(st, 5);
	s->gap_events = sqlite3_column_int64(st, 6);
	s->late_events = sqlite3_column_int64(st, 7);
	if (sqlite3_column_type(st, 8) == SQLITE_INTEGER)
		s->rollup_behind = sqlite3_column_int64(st, 8);
out:
	sqlite3_finalize(st);
	sqlite3_close(m);
	return ret;
}
