/* aarch64 part of the kernel probe: SVE vector lengths, pointer authentication,
 * the address-space size. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "cr/cr.h"
#include "kerndat.h"
#include "kerndat-arch.h"
#include "log.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int kerndat_arch_map_vdso(void)
{
	return -1;   /* no such call: the vDSO is moved with mremap only */
}

void kerndat_arch_probe_stopped(pid_t pid, struct kerndat *kd)
{
	/* struct user_sve_header: size, max_size, vl, max_vl, flags, reserved */
	struct { uint32_t size, max_size; uint16_t vl, max_vl, flags, reserved; } h;
	struct iovec iov = { &h, sizeof(h) };

	kd->sve_max_vl = 0;
	if (!(getauxval(AT_HWCAP) & HWCAP_SVE))
		return;
	if (ptrace(PTRACE_GETREGSET, pid, (void *)(long)NT_ARM_SVE, &iov) < 0) {
		pr_debug("kerndat: PTRACE_GETREGSET(NT_ARM_SVE): %s", strerror(errno));
		return;
	}
	kd->sve_max_vl = h.max_vl;
}

unsigned long kerndat_arch_task_size(void)
{
	/* 39, 42, 47, 48 or 52 bits of user address space: the highest page that
	 * can be mapped (or is mapped already) tells. */
	static const int bits[] = { 52, 48, 47, 42, 39 };

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		unsigned long top = 1UL << bits[i], at = top - 2 * 4096;
		void *p = mmap((void *)at, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);
		if (p != MAP_FAILED) {
			munmap(p, 4096);
			if ((unsigned long)p == at)
				return top;
		} else if (errno == EEXIST) {
			return top;
		}
	}
	return 1UL << 39;
}

static char sve_detail[96], pac_detail[64];

int kerndat_arch_features(const struct kerndat *kd, struct cr_feature *tab, int max)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	int n = 0;

	if (max < 2)
		return 0;
	if (kd->sve_max_vl)
		snprintf(sve_detail, sizeof(sve_detail), "NT_ARM_SVE: vector lengths up to %u bytes",
			 kd->sve_max_vl);
	tab[n++] = (struct cr_feature){
		.name = "sve",
		.ok = kd->sve_max_vl != 0,
		.needed_for = "dump/restore of SVE registers (threads without SVE state need none)",
		.detail = kd->sve_max_vl ? sve_detail
			: !(hwcap & HWCAP_SVE) ? "this CPU has no SVE"
			: "PTRACE_GETREGSET(NT_ARM_SVE) failed",
	};
	snprintf(pac_detail, sizeof(pac_detail), "address keys %s, generic key %s",
		 hwcap & HWCAP_PACA ? "yes" : "no", hwcap & HWCAP_PACG ? "yes" : "no");
	tab[n++] = (struct cr_feature){
		.name = "pac",
		.ok = (hwcap & (HWCAP_PACA | HWCAP_PACG)) != 0,
		.needed_for = "dump/restore of pointer-authentication keys (only where the CPU has them)",
		.detail = pac_detail,
	};
	return n;
}
