/* A pid or mount namespace owned by a nested user namespace (`unshare -U -r -p -f`,
 * bubblewrap; `unshare -U -r -m`): a pid one's init's record names the owner (pstree.img
 * pid_ns_owner), a mount one's ns.img instance.  Below, the pid one; a mount one is
 * the same but for whose helper it is: its maker's own, right after its fork, and the
 * copy the helper's unshare makes is of the maker's first copy of its parent's, rid of
 * the mounts the images lack (nested.c, mnt-nested.c).
 *
 * The restored tasks stay in the root's user namespace until their very end
 * (userns-nested.c), and a namespace belongs to the user namespace of whoever
 * makes it: the init's parent cloning it with CLONE_NEWPID would make the pid
 * namespace the root's.  So the parent forks a helper that enters the owner
 * (setns), unshares CLONE_NEWPID and hands back its pid_for_children: a namespace
 * nested in the parent's own, owned by the nested one, nobody in it yet.  The
 * parent enters it (setns) and clones the init at PID 1 there: clone3's set_tid
 * wants CAP_CHECKPOINT_RESTORE over the owner, which the parent has from an
 * ancestor user namespace.  The helper is a process of the parent's pid namespace
 * and every one above: it takes one PID, the same at every level, that no
 * process of the images has (from pid_max down, halved while some level's pid_max is
 * lower), so that it never holds a PID
 * the tree's next clone wants.  Its clone leaves each namespace's cursor
 * (ns_last_pid) alone, as the tree's do. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cr/cr.h"
#include "log.h"
#include "ns/userns-nested.h"
#include "ns/userns-pid.h"
#include "proc/pidview.h"
#include "restorer-args.h"
#include "util.h"

#ifndef PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE
#define PIDFD_GET_MNT_NAMESPACE _IO(0xFF, 3)
#define PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE _IO(0xFF, 6)
#endif

/* Some process of the images has PID v at some level. */
static bool image_pid(PstreeEntry *const *entries, size_t nr, uint32_t v)
{
	for (size_t i = 0; i < nr; i++) {
		const PstreeEntry *e = entries[i];
		if (e->pid == v)
			return true;
		for (size_t t = 0; t < e->n_threads; t++)
			if (e->threads[t] == v)
				return true;
		for (size_t t = 0; t < e->n_pid_ns_threads; t++)
			if (e->pid_ns_threads[t] == v)
				return true;
		for (size_t t = 0; t < e->n_pid_ns_mid; t++)
			if (e->pid_ns_mid[t] == v)
				return true;
	}
	return false;
}

/* The helper: into the owner, a new pid namespace for its children; then it says so
 * (or why not) and stays until its maker has taken the namespace. */
static void __attribute__((noreturn)) helper(int userns_fd, int flag, int sk)
{
	const char *why = NULL;
	char msg[256], c;
	int n = 0;

	if (setns(userns_fd, CLONE_NEWUSER))
		why = "can't enter the user namespace owning it (setns)";
	else if (unshare(flag))
		why = "can't make it in that user namespace (unshare)";
	if (why)
		n = snprintf(msg, sizeof(msg), "%s: %s", why, strerror(errno));
	if (send(sk, msg, n, 0) == n && !why)
		(void)!recv(sk, &c, 1, 0);
	_exit(why ? 1 : 0);
}

/* A helper child of task self makes a namespace (flag) in user namespace owner;
 * *out: its fd, through the helper's pidfd (ioctl req); what: for the messages. */
static int make_in(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr, size_t self,
		   uint32_t owner, int flag, unsigned long req, const char *what, int *out)
{
	const PstreeEntry *e = entries[self];
	int userns_fd = usernest_fd(set, owner), sk[2], pidfd = -1, st, ret = 0;
	int32_t tid[RST_MAX_PID_LEVELS];
	int levels = pidview_set_tid(e, 0, tid);
	char *m = read_file("/proc/sys/kernel/pid_max", NULL);
	long max = m ? strtol(m, NULL, 10) : 0;
	char buf[256];
	pid_t pid = -1;
	ssize_t n;

	*out = -1;
	free(m);
	if (userns_fd < 0)
		return pr_err("pid %u: the nested user namespace %u owning %s was not made", e->pid, owner, what),
		       -EINVAL;
	if (max < 1024 || max > (1L << 22))
		max = 32768;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return pr_perror("pid %u: can't make a socket for the maker of %s", e->pid, what);
	for (uint32_t v = max - 1, tries = 0; v > 1 && tries < 256; v--) {
		if (image_pid(entries, nr, v))
			continue;
		tries++;
		for (int l = 0; l < levels; l++)
			tid[l] = v;
		struct clone_args ca = { .flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pidfd, .exit_signal = SIGCHLD,
					 .set_tid = (uintptr_t)tid, .set_tid_size = levels };
		if ((pid = syscall(__NR_clone3, &ca, sizeof(ca))) == 0) {
			close(sk[0]);
			helper(userns_fd, flag, sk[1]);
		}
		/* beyond some level's pid_max (a namespace's own starts at the kernel's limit,
		 * above its parent's: ours was read in ours): lower */
		if (pid < 0 && errno == EINVAL && v > 1024) {
			v = v / 2 + 1;
			continue;
		}
		if (pid > 0 || errno != EEXIST)
			break;
	}
	close(sk[1]);
	if (pid <= 0) {
		close(sk[0]);
		return pr_perror("pid %u: can't fork the maker of %s (clone3 at a free PID)", e->pid, what);
	}
	n = recv(sk[0], buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	if (n)
		ret = (pr_err("pid %u: %s, owned by nested user namespace %u: %s", e->pid, what, owner,
			      n > 0 ? buf : "its maker died"), -EIO);
	/* (a pid one nobody is in yet: /proc/PID/ns/pid_for_children shows nothing, the pidfd does) */
	else if ((*out = ioctl(pidfd, req, 0)) < 0)
		ret = pr_perror("pid %u: can't take %s, owned by nested user namespace %u (an ioctl of pidfds of Linux "
				"6.11 and later)", e->pid, what, owner);
	close(sk[0]);
	close(pidfd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return ret;
}

int usernest_pid_make(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr, size_t parent,
		      size_t init, int *out)
{
	char what[64];

	snprintf(what, sizeof(what), "the pid namespace of its child %u", entries[init]->pid);
	return make_in(set, entries, nr, parent, entries[init]->pid_ns_owner, CLONE_NEWPID,
		       PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE, what, out);
}

int usernest_mnt_make(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr, size_t self,
		      uint32_t owner, int *out)
{
	return make_in(set, entries, nr, self, owner, CLONE_NEWNS, PIDFD_GET_MNT_NAMESPACE, "its mount namespace",
		       out);
}

int usernest_pid_check(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		const PstreeEntry *e = entries[i];

		if (!e->has_pid_ns_owner || !e->pid_ns_owner)
			continue;
		if (e->zombie || !e->has_pid_ns || !e->pid_ns || !e->n_pid_ns_threads || e->pid_ns_threads[0] != 1 ||
		    !usernest_listed(set, e->pid_ns_owner))
			return pr_err("pstree.img: pid %u names the owner of its pid namespace (nested user namespace %u), "
				      "but it is not the init of a nested pid namespace, or ns.img does not list that "
				      "user namespace", e->pid, e->pid_ns_owner), -EINVAL;
	}
	return 0;
}
