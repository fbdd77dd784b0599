// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cri_pod: make and end Kubernetes pods on a CRI runtime the way the kubelet
 * does, with hush's own CRI client (agent/cri_grpc.c), for the tests.
 *
 *   cri_pod SOCK version
 *   cri_pod SOCK up --namespace NS --pod NAME --uid UID --cgroup-parent CG
 *               [--pod-label K=V]... [--log-dir DIR] --container NAME --image REF
 *               [--label K=V]... [--mount HOST:CTR]... -- CMD [ARG]...
 *       RunPodSandbox (host network, as hostNetwork: true), CreateContainer,
 *       StartContainer; prints "POD_ID CONTAINER_ID".  The kubelet's labels
 *       and annotations are set: io.kubernetes.pod.{name,namespace,uid} on
 *       the pod and the container, io.kubernetes.container.name on the
 *       container, kubernetes.io/config.source and the container hash and
 *       restart count annotations.
 *   cri_pod SOCK down POD_ID        StopPodSandbox, RemovePodSandbox
 *   cri_pod SOCK list               ListPodSandbox and ListContainers, one
 *                                   line each: pod|ctr ID NS/NAME NAME STATE
 *   cri_pod SOCK status ID          ContainerStatus (else PodSandboxStatus):
 *                                   one JSON object as hushd would name it
 *
 * Exit 0 on success, 1 when the runtime says no (its gRPC status and message
 * on stderr), 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/containers.h"
#include "agent/cri.h"

#define MAXKV 32

struct kv {
	size_t n;
	Runtime__V1__PodSandboxConfig__LabelsEntry e[MAXKV]; /* a key and a value */
};

struct up {
	const char *ns, *pod, *uid, *cgp, *logdir, *cname, *image;
	struct kv plab, clab;
	char *mounts[MAXKV];
	size_t nmounts;
	char **cmd;
	size_t ncmd;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: cri_pod SOCK version | list | status ID | down POD_ID\n"
		"       cri_pod SOCK up --namespace NS --pod NAME --uid UID --cgroup-parent CG\n"
		"               [--pod-label K=V]... [--log-dir DIR] --container NAME --image REF\n"
		"               [--label K=V]... [--mount HOST:CTR]... -- CMD [ARG]...\n");
	return 2;
}

static int kv_add(struct kv *kv, const char *k, const char *v)
{
	Runtime__V1__PodSandboxConfig__LabelsEntry init =
	    RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;

	if (kv->n == MAXKV)
		return -1;
	kv->e[kv->n] = init;
	kv->e[kv->n].key = (char *)k;
	kv->e[kv->n++].value = (char *)v;
	return 0;
}

static int kv_arg(struct kv *kv, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return -1;
	*eq = 0;
	return kv_add(kv, arg, eq + 1);
}

/* A map field of any entry type from kv: the entry types are layout-equal,
 * and protobuf-c packs each through the field's own descriptor. */
static void **kv_map(struct kv *kv, const ProtobufCMessageDescriptor *d, size_t *n)
{
	void **v = calloc(kv->n ? kv->n : 1, sizeof(*v));

	for (size_t i = 0; v && i < kv->n; i++) {
		kv->e[i].base.descriptor = d;
		v[i] = &kv->e[i];
	}
	*n = kv->n;
	return v;
}

static void fail(const char *what, int rc, const char *err)
{
	fprintf(stderr, "cri_pod: %s: %s\n", what, rc ? err : "?");
}

static int parse_up(int argc, char **argv, struct up *u)
{
	static const struct option opts[] = {{"namespace", required_argument, NULL, 'n'},
					     {"pod", required_argument, NULL, 'p'},
					     {"uid", required_argument, NULL, 'u'},
					     {"cgroup-parent", required_argument, NULL, 'g'},
					     {"pod-label", required_argument, NULL, 'P'},
					     {"log-dir", required_argument, NULL, 'L'},
					     {"container", required_argument, NULL, 'c'},
					     {"image", required_argument, NULL, 'i'},
					     {"label", required_argument, NULL, 'l'},
					     {"mount", required_argument, NULL, 'm'},
					     {NULL, 0, NULL, 0}};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			u->ns = optarg;
			break;
		case 'p':
			u->pod = optarg;
			break;
		case 'u':
			u->uid = optarg;
			break;
		case 'g':
			u->cgp = optarg;
			break;
		case 'L':
			u->logdir = optarg;
			break;
		case 'c':
			u->cname = optarg;
			break;
		case 'i':
			u->image = optarg;
			break;
		case 'P':
			if (kv_arg(&u->plab, optarg))
				return -1;
			break;
		case 'l':
			if (kv_arg(&u->clab, optarg))
				return -1;
			break;
		case 'm':
			if (u->nmounts == MAXKV || !strchr(optarg, ':'))
				return -1;
			u->mounts[u->nmounts++] = optarg;
			break;
		default:
			return -1;
		}
	}
	if (!u->ns || !u->pod || !u->uid || !u->cgp || !u->cname || !u->image || optind >= argc)
		return -1;
	u->cmd = argv + optind;
	u->ncmd = (size_t)(argc - optind);
	/* the kubelet's own labels */
	kv_add(&u->plab, "io.kubernetes.pod.name", u->pod);
	kv_add(&u->plab, "io.kubernetes.pod.namespace", u->ns);
	kv_add(&u->plab, "io.kubernetes.pod.uid", u->uid);
	kv_add(&u->clab, "io.kubernetes.container.name", u->cname);
	kv_add(&u->clab, "io.kubernetes.pod.name", u->pod);
	kv_add(&u->clab, "io.kubernetes.pod.namespace", u->ns);
	kv_add(&u->clab, "io.kubernetes.pod.uid", u->uid);
	return 0;
}

static void pod_config(struct up *u, Runtime__V1__PodSandboxConfig *pc,
		       Runtime__V1__PodSandboxMetadata *md, Runtime__V1__LinuxPodSandboxConfig *lx,
		       Runtime__V1__LinuxSandboxSecurityContext *sc,
		       Runtime__V1__NamespaceOption *no, struct kv *ann)
{
	md->name = (char *)u->pod;
	md->uid = (char *)u->uid;
	md->namespace_ = (char *)u->ns;
	pc->metadata = md;
	if (u->logdir)
		pc->log_directory = (char *)u->logdir;
	pc->labels = (Runtime__V1__PodSandboxConfig__LabelsEntry **)kv_map(
	    &u->plab, &runtime__v1__pod_sandbox_config__labels_entry__descriptor, &pc->n_labels);
	kv_add(ann, "kubernetes.io/config.source", "api");
	kv_add(ann, "kubernetes.io/config.seen", "2026-01-01T00:00:00.000000000Z");
	pc->annotations = (Runtime__V1__PodSandboxConfig__AnnotationsEntry **)kv_map(
	    ann, &runtime__v1__pod_sandbox_config__annotations_entry__descriptor,
	    &pc->n_annotations);
	/* hostNetwork: true; the kubelet's PID namespace per container */
	no->network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	no->pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	no->ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	sc->namespace_options = no;
	lx->cgroup_parent = (char *)u->cgp;
	lx->security_context = sc;
	pc->linux = lx;
}

static int
ctr_config(struct up *u, Runtime__V1__ContainerConfig *cc, Runtime__V1__ContainerMetadata *md,
	   Runtime__V1__ImageSpec *img, Runtime__V1__Mount *mnt, Runtime__V1__Mount **mntp,
	   Runtime__V1__LinuxContainerConfig *lx, Runtime__V1__LinuxContainerSecurityContext *sc,
	   Runtime__V1__NamespaceOption *no, struct kv *ann, char *logpath, size_t loglen)
{
	Runtime__V1__Mount init = RUNTIME__V1__MOUNT__INIT;

	md->name = (char *)u->cname;
	cc->metadata = md;
	img->image = (char *)u->image;
	cc->image = img;
	cc->command = u->cmd;
	cc->n_command = u->ncmd;
	for (size_t i = 0; i < u->nmounts; i++) {
		char *c = strchr(u->mounts[i], ':');

		mnt[i] = init;
		*c = 0;
		mnt[i].host_path = u->mounts[i];
		mnt[i].container_path = c + 1;
		mntp[i] = &mnt[i];
	}
	cc->mounts = mntp;
	cc->n_mounts = u->nmounts;
	cc->labels = (Runtime__V1__ContainerConfig__LabelsEntry **)kv_map(
	    &u->clab, &runtime__v1__container_config__labels_entry__descriptor, &cc->n_labels);
	kv_add(ann, "io.kubernetes.container.hash", "1b2c3d4e");
	kv_add(ann, "io.kubernetes.container.restartCount", "0");
	kv_add(ann, "io.kubernetes.container.terminationMessagePath", "/dev/termination-log");
	kv_add(ann, "io.kubernetes.pod.terminationGracePeriod", "30");
	cc->annotations = (Runtime__V1__ContainerConfig__AnnotationsEntry **)kv_map(
	    ann, &runtime__v1__container_config__annotations_entry__descriptor, &cc->n_annotations);
	if (u->logdir) {
		snprintf(logpath, loglen, "%s/0.log", u->cname);
		cc->log_path = logpath;
	}
	no->network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	no->pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	no->ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	sc->namespace_options = no;
	lx->security_context = sc;
	cc->linux = lx;
	return cc->labels && cc->annotations ? 0 : -1;
}

static int do_up(struct cri_client *c, int argc, char **argv)
{
	struct up u = {0};
	Runtime__V1__PodSandboxConfig pc = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata pmd = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxConfig plx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxSandboxSecurityContext psc =
	    RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption pno = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	Runtime__V1__RunPodSandboxRequest rreq = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RunPodSandboxResponse *rresp = NULL;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata cmd = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__LinuxContainerConfig clx = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerSecurityContext csc =
	    RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption cno = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	Runtime__V1__Mount mnt[MAXKV], *mntp[MAXKV];
	Runtime__V1__CreateContainerRequest creq = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__CreateContainerResponse *cresp = NULL;
	Runtime__V1__StartContainerRequest sreq = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	ProtobufCMessage *sresp = NULL;
	static struct kv pann, cann;
	char err[512], logpath[160];
	int rc, ret = 1;

	if (parse_up(argc, argv, &u))
		return usage();
	pod_config(&u, &pc, &pmd, &plx, &psc, &pno, &pann);
	if (ctr_config(&u, &cc, &cmd, &img, mnt, mntp, &clx, &csc, &cno, &cann, logpath,
		       sizeof(logpath)) ||
	    !pc.labels || !pc.annotations) {
		fprintf(stderr, "cri_pod: out of memory\n");
		return 1;
	}
	rreq.config = &pc;
	rc = cri_call(c, "RunPodSandbox", &rreq.base,
		      &runtime__v1__run_pod_sandbox_response__descriptor,
		      (ProtobufCMessage **)&rresp, err, sizeof(err));
	if (rc) {
		fail("RunPodSandbox", rc, err);
		goto out;
	}
	creq.pod_sandbox_id = rresp->pod_sandbox_id;
	creq.config = &cc;
	creq.sandbox_config = &pc;
	rc = cri_call(c, "CreateContainer", &creq.base,
		      &runtime__v1__create_container_response__descriptor,
		      (ProtobufCMessage **)&cresp, err, sizeof(err));
	if (rc) {
		fail("CreateContainer", rc, err);
		printf("%s -\n", rresp->pod_sandbox_id);
		goto out;
	}
	sreq.container_id = cresp->container_id;
	rc = cri_call(c, "StartContainer", &sreq.base,
		      &runtime__v1__start_container_response__descriptor, &sresp, err, sizeof(err));
	printf("%s %s\n", rresp->pod_sandbox_id, cresp->container_id);
	if (rc)
		fail("StartContainer", rc, err);
	else
		ret = 0;
out:
	if (sresp)
		cri_free(sresp);
	if (cresp)
		cri_free(cresp);
	if (rresp)
		cri_free(rresp);
	free(pc.labels);
	free(pc.annotations);
	free(cc.labels);
	free(cc.annotations);
	return ret;
}

static int do_down(struct cri_client *c, const char *id)
{
	Runtime__V1__StopPodSandboxRequest st = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxRequest rm = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	char err[512];
	int rc;

	st.pod_sandbox_id = (char *)id;
	rc = cri_call(c, "StopPodSandbox", &st.base,
		      &runtime__v1__stop_pod_sandbox_response__descriptor, &resp, err, sizeof(err));
	if (rc) {
		fail("StopPodSandbox", rc, err);
		return 1;
	}
	cri_free(resp);
	rm.pod_sandbox_id = (char *)id;
	rc = cri_call(c, "RemovePodSandbox", &rm.base,
		      &runtime__v1__remove_pod_sandbox_response__descriptor, &resp, err,
		      sizeof(err));
	if (rc) {
		fail("RemovePodSandbox", rc, err);
		return 1;
	}
	cri_free(resp);
	return 0;
}

static int do_list(struct cri_client *c)
{
	Runtime__V1__ListPodSandboxResponse *p = NULL;
	Runtime__V1__ListContainersResponse *l = NULL;
	char err[512];
	int rc;

	if ((rc = cri_list_pods(c, &p, err, sizeof(err)))) {
		fail("ListPodSandbox", rc, err);
		return 1;
	}
	for (size_t i = 0; i < p->n_items; i++) {
		Runtime__V1__PodSandbox *s = p->items[i];

		printf("pod %s %s/%s POD %s\n", s->id, s->metadata ? s->metadata->namespace_ : "-",
		       s->metadata ? s->metadata->name : "-",
		       s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY ? "ready"
										 : "notready");
	}
	cri_free(p);
	if ((rc = cri_list_containers(c, NULL, -1, &l, err, sizeof(err)))) {
		fail("ListContainers", rc, err);
		return 1;
	}
	for (size_t i = 0; i < l->n_containers; i++) {
		Runtime__V1__Container *k = l->containers[i];
		static const char *const st[] = {"created", "running", "exited", "unknown"};

		printf("ctr %s %s %s %s\n", k->id, k->pod_sandbox_id,
		       k->metadata ? k->metadata->name : "-", st[(unsigned)k->state & 3]);
	}
	cri_free(l);
	return 0;
}

static void json_str(const char *k, const char *v, const char *sep)
{
	printf("\"%s\":\"", k);
	for (; v && *v; v++) {
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			printf("\\u%04x", *v);
		else
			putchar(*v);
	}
	printf("\"%s", sep);
}

/* ContainerStatus + its pod (by ListContainers' pod id), else the pod. */
static int do_status(struct cri_client *c, const char *id)
{
	Runtime__V1__ContainerStatusResponse *cs = NULL;
	Runtime__V1__ListContainersResponse *l = NULL;
	Runtime__V1__PodSandboxStatusResponse *ps = NULL;
	struct ctr_meta m;
	const char *pod = id;
	char err[512];
	int rc;

	memset(&m, 0, sizeof(m));
	rc = cri_container_status(c, id, &cs, err, sizeof(err));
	if (rc == 0 && cs->status) {
		cri_meta_status(&m, cs->status);
		if ((rc = cri_list_containers(c, id, -1, &l, err, sizeof(err))) == 0 &&
		    l->n_containers == 1)
			pod = l->containers[0]->pod_sandbox_id;
	} else if (rc != CRI_NOT_FOUND) {
		fail("ContainerStatus", rc, err);
		return 1;
	}
	rc = cri_pod_status(c, pod, &ps, err, sizeof(err));
	if (rc == 0 && ps->status)
		cri_meta_pod(&m, ps->status, !cs);
	else if (!cs)
		fail("PodSandboxStatus", rc, err);
	if (cs || ps) {
		printf("{");
		json_str("name", m.name, ",");
		json_str("image", m.image, ",");
		json_str("image_id", m.image_id, ",");
		json_str("pod_namespace", m.pod_ns, ",");
		json_str("pod_name", m.pod_name, ",");
		printf("\"running\":%s,\"labels\":{", m.running ? "true" : "false");
		for (size_t i = 0; i < m.nlabels; i++)
			json_str(m.lkey[i], m.lval[i], i + 1 < m.nlabels ? "," : "");
		printf("}}\n");
	}
	ctr_meta_free(&m);
	if (cs)
		cri_free(cs);
	if (l)
		cri_free(l);
	if (ps)
		cri_free(ps);
	return cs || ps ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct cri_client *c;
	int ret;

	if (argc < 3)
		return usage();
	c = cri_open(argv[1]);
	if (!c)
		return 1;
	cri_set_timeout(c, 60000); /* RunPodSandbox mounts, starts a shim */
	if (!strcmp(argv[2], "version")) {
		Runtime__V1__VersionResponse *v = NULL;
		char err[512];
		int rc = cri_version(c, &v, err, sizeof(err));

		if (rc)
			fail("Version", rc, err);
		else
			printf("%s %s %s\n", v->runtime_name, v->runtime_version,
			       v->runtime_api_version);
		if (v)
			cri_free(v);
		ret = rc ? 1 : 0;
	} else if (!strcmp(argv[2], "up")) {
		ret = do_up(c, argc - 2, argv + 2);
	} else if (!strcmp(argv[2], "down") && argc == 4) {
		ret = do_down(c, argv[3]);
	} else if (!strcmp(argv[2], "list") && argc == 3) {
		ret = do_list(c);
	} else if (!strcmp(argv[2], "status") && argc == 4) {
		ret = do_status(c, argv[3]);
	} else {
		ret = usage();
	}
	cri_close(c);
	return ret;
}
