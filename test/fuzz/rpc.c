/* crtool swrk's requests: the input is one packet as a runtime sends it, decoded
 * as swrk decodes it (rpc_req__unpack) and, when it carries options, mapped by
 * rpc_opts_map(), the function swrk calls before every dump and restore.  A
 * runtime's request is untrusted input like an image.
 * What the options name is made harmless: the "runtime" whose fds they name
 * is a child of ours holding only directories and /dev/null, and we run in a
 * mount namespace of our own without the cgroup hierarchies, so a cg_root can
 * not move this process anywhere (the lookup runs, the move finds no hierarchy). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "criu-compat.h"
#include "fuzz.h"

#define PEER_FDS 32
#define SYNC_FD  100

static pid_t peer;

/* As a runtime's table looks: fds 0-2 and 16-31 /dev/null, the directories a
 * request names at 3-15 (the work directory); then wait. */
static void peer_main(int sync)
{
	const char *dir = fuzz_workdir();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(sync, SYNC_FD) < 0)
		_exit(1);
	for (int fd = 0; fd < SYNC_FD; fd++)
		close(fd);
	for (int fd = 0; fd < PEER_FDS; fd++) {
		int n = fd < 3 || fd > 15 ? open("/dev/null", O_RDWR) : open(dir, O_RDONLY | O_DIRECTORY);
		if (n != fd)
			_exit(1);
	}
	if (write(SYNC_FD, "", 1) != 1)
		_exit(1);
	close(SYNC_FD);
	for (;;)
		pause();
}

static void kill_peer(void)
{
	if (peer > 0)
		kill(peer, SIGKILL);
}

/* Every cgroup hierarchy unmounted, in a mount namespace of our own. */
static void hide_cgroups(void)
{
	char line[4096];
	FILE *f;
	bool again = true;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("fuzz: a private mount namespace");
		exit(2);
	}
	while (again) {
		again = false;
		if (!(f = fopen("/proc/self/mountinfo", "r"))) {
			perror("fuzz: mountinfo");
			exit(2);
		}
		while (fgets(line, sizeof(line), f)) {
			char mnt[4096], fstype[64], *dash = strstr(line, " - ");
			if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
			    sscanf(dash + 3, "%63s", fstype) != 1 || strncmp(fstype, "cgroup", 6))
				continue;
			if (umount2(mnt, MNT_DETACH)) {
				fprintf(stderr, "fuzz: can't unmount %s\n", mnt);
				exit(2);
			}
			again = true;
		}
		fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int p[2];
	char c;

	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	hide_cgroups();
	if (pipe(p)) {
		perror("fuzz: pipe");
		exit(2);
	}
	fuzz_workdir();
	if ((peer = fork()) < 0) {
		perror("fuzz: fork");
		exit(2);
	}
	if (!peer)
		peer_main(p[1]);
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		fprintf(stderr, "fuzz: the peer process did not set up its fds\n");
		exit(2);
	}
	close(p[0]);
	atexit(kill_peer);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RpcReq *req = rpc_req__unpack(NULL, size, data);
	struct rpc_mapped m;
	char msg[1024];
	int ret;

	if (!req)
		return 0;
	if (req->opts) {
		ret = rpc_opts_map(req->opts, req->type, peer, &m, msg, sizeof(msg));
		if (fuzz_verbose())
			fprintf(stderr, "fuzz: rpc_opts_map: %d %s\n", ret, ret ? msg : "");
		rpc_opts_free(&m);
	}
	rpc_req__free_unpacked(req, NULL);
	return 0;
}
