/* x86_64 part of the kernel probe: the xsave layout and arch_prctl(ARCH_MAP_VDSO_*). */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "cr/cr.h"
#include "kerndat.h"
#include "kerndat-arch.h"
#include "log.h"
#include "uapi-compat.h"

/* The 48 bytes the kernel stores in the legacy area's software-reserved bytes
 * (offset 464 of the xsave image): its struct _fpx_sw_bytes. */
#define XSAVE_SW_OFFSET		464
#define FP_XSTATE_MAGIC1	0x46505853U

struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

#define XSAVE_MIN_SIZE		576	/* legacy area + xsave header */
#define XSTATE_BUF_SIZE		(64 * 1024)

int kerndat_arch_map_vdso(void)
{
	/* With a vDSO already mapped the kernel refuses with EEXIST before it
	 * looks at the address; a kernel without the call says EINVAL. */
	long ret = syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, 0UL);

	if (ret == 0 || errno == EEXIST)
		return 1;
	return 0;
}

static uint64_t xgetbv0(void)
{
	unsigned int a, b, c, d;
	uint32_t lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* Features the kernel enables per task on request (arch_prctl ARCH_REQ_XCOMP_PERM):
 * AMX tile data.  A task's signal frame holds them only once it has asked. */
#define XFEATURE_MASK_USER_DYNAMIC	(1ULL << 18)

/* The kernel's default user xsave size (non-compacted): the end of the last
 * enabled static feature, each feature's offset and size from CPUID leaf 0xd. */
static void sigframe_xstate(struct kerndat *kd)
{
	uint64_t mask = kd->xfeatures_mask & ~XFEATURE_MASK_USER_DYNAMIC;
	uint32_t size = XSAVE_MIN_SIZE;

	for (int i = 2; i < 63; i++) {
		unsigned int eax, ebx, ecx, edx;
		if (!(mask & (1ULL << i)) || !__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			continue;
		if (ebx + eax > size)
			size = ebx + eax;
	}
	kd->sigframe_xfeatures = mask;
	kd->sigframe_xstate_size = size < kd->xsave_size ? size : kd->xsave_size;
}

void kerndat_arch_probe_stopped(pid_t pid, struct kerndat *kd)
{
	struct fpx_sw_bytes sw;
	struct iovec iov;
	void *buf = malloc(XSTATE_BUF_SIZE);

	kd->xsave_size = 0;
	kd->xfeatures_mask = 0;
	if (!buf)
		return;
	iov.iov_base = buf;
	iov.iov_len = XSTATE_BUF_SIZE;
	if (ptrace(PTRACE_GETREGSET, pid, (void *)(long)NT_X86_XSTATE, &iov) < 0) {
		pr_debug("kerndat: PTRACE_GETREGSET(NT_X86_XSTATE): %s", strerror(errno));
		free(buf);
		return;
	}
	kd->xsave_size = iov.iov_len;
	if (iov.iov_len >= XSAVE_SW_OFFSET + sizeof(sw)) {
		memcpy(&sw, (char *)buf + XSAVE_SW_OFFSET, sizeof(sw));
		if (sw.magic1 == FP_XSTATE_MAGIC1)
			kd->xfeatures_mask = sw.xfeatures;
	}
	if (!kd->xfeatures_mask)
		kd->xfeatures_mask = xgetbv0();
	sigframe_xstate(kd);
	free(buf);
}

unsigned long kerndat_arch_task_size(void)
{
	/* 4-level paging: 47 bits.  With 5-level paging the kernel honours an
	 * mmap hint above 47 bits (and only then maps there). */
	const unsigned long low = (1UL << 47) - 4096, high = (1UL << 56) - 4096;
	void *hint = (void *)(1UL << 48), *p;

	p = mmap(hint, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return low;
	munmap(p, 4096);
	return (unsigned long)p >= (1UL << 47) ? high : low;
}

static const struct {
	int bit;
	const char *name;
} xfeature_names[] = {
	{ 0, "x87" }, { 1, "sse" }, { 2, "avx" }, { 3, "mpx" }, { 5, "avx512" },
	{ 9, "pkru" }, { 11, "cet" }, { 17, "amx" }, { 19, "apx" },
};

static char xsave_detail[160];

int kerndat_arch_features(const struct kerndat *kd, struct cr_feature *tab, int max)
{
	int n = 0, len;

	if (max < 2)
		return 0;

	len = snprintf(xsave_detail, sizeof(xsave_detail), "xfeatures 0x%llx (",
		       (unsigned long long)kd->xfeatures_mask);
	for (size_t i = 0; i < sizeof(xfeature_names) / sizeof(xfeature_names[0]); i++)
		if (kd->xfeatures_mask & (1ULL << xfeature_names[i].bit) && len < (int)sizeof(xsave_detail))
			len += snprintf(xsave_detail + len, sizeof(xsave_detail) - len, "%s%s",
					xsave_detail[len - 1] == '(' ? "" : " ", xfeature_names[i].name);
	if (len < (int)sizeof(xsave_detail))
		snprintf(xsave_detail + len, sizeof(xsave_detail) - len, "), NT_X86_XSTATE %u bytes",
			 kd->xsave_size);
	tab[n++] = (struct cr_feature){
		.name = "xsave",
		.ok = kd->xsave_size >= XSAVE_MIN_SIZE,
		.needed_for = "dump/restore of x87/SSE/AVX/AVX-512 registers",
		.detail = kd->xsave_size >= XSAVE_MIN_SIZE ? xsave_detail
			: !kd->ptrace_seize ? "not probed: needs ptrace-seize"
			: "PTRACE_GETREGSET(NT_X86_XSTATE) failed: no xsave on this CPU or kernel",
	};
	tab[n++] = (struct cr_feature){
		.name = "arch-map-vdso",
		.ok = kd->arch_map_vdso,
		.needed_for = "restore: mapping a fresh vDSO at the dumped address",
		.detail = kd->arch_map_vdso ? ""
			: "arch_prctl(ARCH_MAP_VDSO_64) not recognized (kernel without CONFIG_CHECKPOINT_RESTORE?)",
	};
	return n;
}
