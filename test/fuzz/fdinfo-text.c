/* The /proc/PID/fdinfo text parsers of the fd kinds that read it (eventfd,
 * signalfd, epoll, inotify, fanotify, file locks and leases), each run on the input as the fdinfo of
 * one of our own fds.  Their kernel look-ups (kcmp, open_by_handle_at) then
 * fail or find our own files: only the parsing is under test. */
#include <stdlib.h>
#include <unistd.h>
#include "files/files.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	return 0;
}

static void one(char *text, const struct fd_ops *ops, const char *link)
{
	struct fd_dump_ctx c = { .pid = getpid(), .fd = 0, .link = (char *)link, .fdinfo = text,
				 .dup_of = -1 };
	FdinfoEntry *e = malloc(sizeof(*e));

	if (!e)
		abort();
	fdinfo_entry__init(e);
	if (ops)
		ops->dump(&c, e);
	else
		locks_dump(&c, e);
	fdinfo_entry__free_unpacked(e, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);

	one(s, &eventfd_fd_ops, "anon_inode:[eventfd]");
	one(s, &signalfd_fd_ops, "anon_inode:[signalfd]");
	one(s, &epoll_fd_ops, "anon_inode:[eventpoll]");
	one(s, &inotify_fd_ops, "anon_inode:inotify");
	one(s, &fanotify_fd_ops, "anon_inode:[fanotify]");
	one(s, NULL, "/tmp/locked");
	free(s);
	return 0;
}
