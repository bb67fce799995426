/* The architecture's part of the kernel probe (lib/kerndat.c).  Every
 * architecture provides these four functions; generic code knows nothing of
 * xsave or arch_prctl. */
#ifndef LIB_ARCH_KERNDAT_ARCH_H
#define LIB_ARCH_KERNDAT_ARCH_H

#include <sys/types.h>

struct kerndat;
struct cr_feature;

/* Run in a throw-away child whose vDSO is mapped: 1 if the kernel can map a
 * vDSO on request (x86_64: arch_prctl(ARCH_MAP_VDSO_64)), 0 if not, -1 if the
 * architecture has no such call.  Async-signal-safe (the caller forked). */
int kerndat_arch_map_vdso(void);

/* With @pid a ptrace-stopped throw-away child: fill the arch's register
 * facts of @kd (x86_64: xfeatures_mask, xsave_size). */
void kerndat_arch_probe_stopped(pid_t pid, struct kerndat *kd);

/* The highest user address + 1 (4- or 5-level paging, found by asking mmap). */
unsigned long kerndat_arch_task_size(void);

/* Append the architecture's rows of cr_check() to @tab (room for @max);
 * returns how many.  Strings stay valid for the life of the process. */
int kerndat_arch_features(const struct kerndat *kd, struct cr_feature *tab, int max);

#endif
