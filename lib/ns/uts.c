/* UTS namespace: hostname and domainname, read in a child that joins the
 * tree's namespace, set again in a new one. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "image/image.h"
#include "log.h"
#include "ns/ns.h"
#include "ns.pb-c.h"
#include "util.h"

int uts_ns_dump(struct img_dir *dir, pid_t pid, uint32_t id)
{
	UtsEntry e = UTS_ENTRY__INIT;
	struct utsname u;
	char path[64];
	int nsfd, p[2], status;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open the UTS namespace of pid %d", pid);
	if (pipe2(p, O_CLOEXEC)) {
		close(nsfd);
		return pr_perror("can't make a pipe");
	}
	child = fork();
	if (child == 0) {
		if (setns(nsfd, CLONE_NEWUTS) || uname(&u) || write(p[1], &u, sizeof(u)) != sizeof(u))
			_exit(1);
		_exit(0);
	}
	close(nsfd);
	close(p[1]);
	int ret = child < 0 ? -errno : read_all(p[0], &u, sizeof(u));
	close(p[0]);
	if (child > 0 && (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)))
		ret = ret ?: -EIO;
	if (ret)
		return pr_err("can't read the hostname of pid %d's UTS namespace: %s", pid, strerror(-ret)), ret;
	u.nodename[sizeof(u.nodename) - 1] = u.domainname[sizeof(u.domainname) - 1] = 0;
	e.hostname = u.nodename;
	e.domainname = u.domainname;
	return img_write_one(dir, id ? IMG_UTSNS_N : IMG_UTSNS, id, &e.base);
}

static int uts_dump(struct img_dir *dir, pid_t pid, const struct ns_args *a)
{
	(void)a;
	return uts_ns_dump(dir, pid, 0);
}

int uts_ns_load(struct img_dir *dir, uint32_t id, void **state)
{
	struct img *img = img_open(dir, id ? IMG_UTSNS_N : IMG_UTSNS, id);
	UtsEntry *e;
	int ret;

	if (!img)
		return -ENOENT;
	ret = img_read_one(img, &uts_entry__descriptor, (ProtobufCMessage **)&e);
	img_close(img);
	if (ret)
		return ret;
	*state = e;
	if (strlen(e->hostname) > 64 || strlen(e->domainname) > 64)
		return pr_err("utsns%s%.0u.img: a hostname or domainname longer than 64 bytes", id ? "-" : "", id), -EINVAL;
	return 0;
}

static int uts_load(struct img_dir *dir, void **state)
{
	return uts_ns_load(dir, 0, state);
}

int uts_ns_restore(void *state)
{
	const UtsEntry *e = state;

	if (unshare(CLONE_NEWUTS))
		return pr_perror("can't create a UTS namespace");
	if (sethostname(e->hostname, strlen(e->hostname)) || setdomainname(e->domainname, strlen(e->domainname)))
		return pr_perror("can't set the hostname %s again", e->hostname);
	return 0;
}

static int uts_restore(void *state, const struct ns_args *a)
{
	(void)a;
	return uts_ns_restore(state);
}

void uts_ns_free(void *state)
{
	img_free_msg(state);
}

static void uts_free(void *state)
{
	uts_ns_free(state);
}

const struct ns_kind ns_kind_uts = { "uts", CLONE_NEWUTS, uts_dump, uts_load, uts_restore, uts_free };
