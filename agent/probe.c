// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "agent/probe.h"

bool probe_bpf_lsm(char *why, size_t len)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_LSM_MAC);
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id, fd, err;

	if (!vmlinux) {
		snprintf(why, len, "no kernel BTF (/sys/kernel/btf/vmlinux)");
		return false;
	}
	id = btf__find_by_name_kind(vmlinux, "bpf_lsm_socket_create", BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id < 0) {
		snprintf(why, len, "kernel built without CONFIG_BPF_LSM");
		return false;
	}
	o.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "hush_probe_lsm", "GPL", insns, 2, &o);
	if (fd >= 0) {
		close(fd);
		snprintf(why, len, "BPF LSM programs load here");
		return true;
	}
	err = errno;
	if (err == EPERM)
		snprintf(why, len,
			 "the kernel refuses BPF LSM programs (EPERM: kernel lockdown "
			 "or missing capability)");
	else if (err == EINVAL)
		snprintf(why, len,
			 "BPF LSM is not active (\"bpf\" missing from the lsm= boot "
			 "parameter)");
	else
		snprintf(why, len, "loading a BPF LSM program fails: %s", strerror(err));
	return false;
}
