/* Kernel uapi newer than the build machine's headers (Debian 12 ships 6.1).
 *
 * Every definition sits behind a guard, so the file also builds against newer
 * headers, where the system's definitions win.  The system headers that would
 * define these are included first, so the guards see them: include this file
 * instead of <linux/fs.h>, <linux/userfaultfd.h>, <linux/ptrace.h> and
 * <linux/sched.h>.  (<linux/ptrace.h> is pulled in after glibc's <sys/ptrace.h>,
 * the one order in which the two agree.)
 *
 * Whether the running kernel supports any of this is decided by kerndat.c,
 * never by these headers.
 */
#ifndef LIB_UAPI_COMPAT_H
#define LIB_UAPI_COMPAT_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/types.h>
#include <linux/version.h>
#include <linux/fs.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>

/* ---- PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7) */
#ifndef PAGEMAP_SCAN

/* Page categories: masks in pm_scan_arg, reported in page_region.categories. */
#define PAGE_IS_WPALLOWED	(1 << 0)	/* uffd async write-protection enabled */
#define PAGE_IS_WRITTEN		(1 << 1)	/* written since it was write-protected */
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

struct page_region {
	__u64 start;
	__u64 end;			/* exclusive */
	__u64 categories;
};

/* pm_scan_arg.flags */
#define PM_SCAN_WP_MATCHING	(1 << 0)	/* write-protect the matched pages */
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)	/* fail if a page is not uffd-WP-async */

struct pm_scan_arg {
	__u64 size;			/* sizeof(struct pm_scan_arg) */
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;			/* out: where the walk stopped */
	__u64 vec;			/* struct page_region[vec_len] */
	__u64 vec_len;
	__u64 max_pages;		/* 0: no limit */
	__u64 category_inverted;
	__u64 category_mask;		/* all of these (after inversion) */
	__u64 category_anyof_mask;	/* at least one of these */
	__u64 return_mask;		/* categories to report */
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)

#endif /* PAGEMAP_SCAN */

/* Linux 6.14: guard regions (MADV_GUARD_INSTALL) */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif

/* ---- userfaultfd */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1	/* userfaultfd() flag: user-mode faults only (5.11) */
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC			0xAA	/* ioctls on /dev/userfaultfd (6.1) */
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW		_IO(USERFAULTFD_IOC, 0x00)
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM	(1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)	/* WP markers on never-touched pages (6.4) */
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON		(1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)	/* WP faults resolved by the kernel (6.7) */
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE		(1 << 16)
#endif

/* ---- ptrace */
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION	0x420f
#endif
/* The macro alone cannot guard the struct: glibc >= 2.35 defines the request
 * without the struct, which arrived with it in the 5.13 uapi. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 13, 0)
struct ptrace_rseq_configuration {
	__u64 rseq_abi_pointer;
	__u32 rseq_abi_size;
	__u32 signature;
	__u32 flags;
	__u32 pad;
};
#endif

/* ---- clone3 (5.3; set_tid 5.5, cgroup 5.7) */
#ifndef CLONE_ARGS_SIZE_VER0
struct clone_args {
	__aligned_u64 flags;
	__aligned_u64 pidfd;
	__aligned_u64 child_tid;
	__aligned_u64 parent_tid;
	__aligned_u64 exit_signal;
	__aligned_u64 stack;
	__aligned_u64 stack_size;
	__aligned_u64 tls;
	__aligned_u64 set_tid;
	__aligned_u64 set_tid_size;
	__aligned_u64 cgroup;
};
#define CLONE_ARGS_SIZE_VER0	64
#endif
#ifndef CLONE_ARGS_SIZE_VER1
#define CLONE_ARGS_SIZE_VER1	80	/* + set_tid, set_tid_size */
#endif
#ifndef CLONE_ARGS_SIZE_VER2
#define CLONE_ARGS_SIZE_VER2	88	/* + cgroup */
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME		0x00000080
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD		0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP	0x200000000ULL
#endif

#ifndef __NR_clone3
#define __NR_clone3		435	/* the same number on every architecture */
#endif

/* ---- x86_64 arch_prctl (harmless elsewhere: only the x86 arch code uses them) */
#ifndef ARCH_MAP_VDSO_X32
#define ARCH_MAP_VDSO_X32	0x2001
#endif
#ifndef ARCH_MAP_VDSO_32
#define ARCH_MAP_VDSO_32	0x2002
#endif
#ifndef ARCH_MAP_VDSO_64
#define ARCH_MAP_VDSO_64	0x2003
#endif

#endif /* LIB_UAPI_COMPAT_H */
