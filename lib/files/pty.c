/* Pseudo-terminal pairs whose master is in the tree (a terminal emulator, a
 * screen-like tool, a test harness): the master (/dev/ptmx) and every fd of
 * the slave (/dev/pts/N) come back as one pair at the same index N, with the
 * terminal's settings (termios, window size, packet mode, lock).  Bytes queued
 * in the pair are not kept.  A slave whose master is outside the tree is the
 * caller's terminal: tty.c's (--shell-job); or, with --orphan-pts-master, a
 * runtime's console (runc's terminal: true): saved with the slave's settings,
 * made anew as a pair at restore whose master goes to libcr (pty_set_master_sink)
 * and on to the caller (cr_restore_opts.pts_master).
 *
 * The index: /dev/ptmx hands out the lowest free one, so the restore opens
 * masters until it gets N (and closes the others); N must be free here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#define PTY_KEY (1ULL << 62)   /* fi->pipes holds the pairs too: keys apart from pipe inodes */
#define PTY_MAX_INDEX (1 << 20)

bool pty_is_master(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 5 && minor(st->st_rdev) == 2;
}

int pty_slave_index(const struct stat *st)
{
	unsigned maj = major(st->st_rdev);

	if (!S_ISCHR(st->st_mode) || maj < 136 || maj > 143)
		return -1;
	return (maj - 136) * 256 + minor(st->st_rdev);
}

int pty_master_index(pid_t pid, int fd)
{
	char name[32], *info;
	const char *v;
	int index = -1;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	if ((info = read_proc(pid, name, NULL)) && (v = fdinfo_value(info, "tty-index:")))
		index = atoi(v);
	free(info);
	return index;
}

/* The slave of a pair whose master this process (or, by the scan, the tree) holds. */
static bool master_here(const struct fd_dump_ctx *c, int index)
{
	if (c->share.pty_pair)
		return true;
	for (int i = 0; i < c->nr_all; i++)
		if (pty_is_master(&c->all[i].st) && pty_master_index(c->pid, c->all[i].fd) == index)
			return true;
	return false;
}

static bool pty_match(const struct fd_dump_ctx *c)
{
	int index = pty_slave_index(&c->st);

	return pty_is_master(&c->st) || (index >= 0 && (master_here(c, index) || c->orphan_pts));
}

/* The terminal's termios and window size, through fd (either end). */
static int read_settings(int fd, PtyEntry *p)
{
	struct termios t;
	struct winsize ws;

	if (ioctl(fd, TCGETS, &t) || ioctl(fd, TIOCGWINSZ, &ws))
		return -errno;
	if (!(p->termios.data = malloc(sizeof(t))))
		return -ENOMEM;
	memcpy(p->termios.data, &t, sizeof(t));
	p->termios.len = sizeof(t);
	p->has_termios = true;
	p->has_rows = p->has_cols = p->has_xpixel = p->has_ypixel = true;
	p->rows = ws.ws_row, p->cols = ws.ws_col, p->xpixel = ws.ws_xpixel, p->ypixel = ws.ws_ypixel;
	return 0;
}

static int pty_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	PtyEntry *p = malloc(sizeof(*p));
	int fd, pkt = 0, locked = 0, ret = 0;

	if (!p)
		return -ENOMEM;
	pty_entry__init(p);
	e->pty = p;
	p->master = pty_is_master(&c->st);
	if (!p->master) {
		p->index = pty_slave_index(&c->st);
		if (master_here(c, p->index))
			return 0;
		/* the master is the runtime's: the settings are read through the slave */
		p->has_ext_master = p->ext_master = true;
		if ((fd = files_getfd(c->pid, c->fd)) < 0)
			return fd;
		if ((ret = read_settings(fd, p)) && ret != -ENOMEM)
			pr_err("pid %d: fd %d: can't read the settings of %s: %s", c->pid, c->fd, c->link,
			       strerror(-ret));
		close(fd);
		return ret;
	}
	if ((int)(p->index = pty_master_index(c->pid, c->fd)) < 0)
		return pr_err("pid %d: fd %d is a pty master whose index the kernel does not tell (tty-index)",
			      c->pid, c->fd), -EOPNOTSUPP;
	/* the terminal's settings, through the very master (pidfd_getfd) */
	if ((fd = files_getfd(c->pid, c->fd)) < 0)
		return fd;
	if ((ret = read_settings(fd, p))) {
		if (ret != -ENOMEM)
			pr_err("pid %d: can't read the settings of pty %u: %s", c->pid, p->index, strerror(-ret));
	} else {
		p->has_packet = p->has_locked = true;
		p->packet = !ioctl(fd, TIOCGPKT, &pkt) && pkt;
		p->locked = !ioctl(fd, TIOCGPTLCK, &locked) && locked;
	}
	close(fd);
	return ret;
}

/* A master at index from the ptmx at path: the lowest free index comes first,
 * so open until it is ours; -1 with a message if it is taken. */
static int open_master_at(const char *ptmx, uint32_t index)
{
	int extra[64], nr_extra = 0, m = -1, got, unlock = 0;

	for (;;) {
		if ((m = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || ioctl(m, TIOCGPTN, &got)) {
			pr_perror("can't make pty %u", index);
			if (m >= 0)
				close(m);
			m = -1;
			break;
		}
		if ((uint32_t)got == index)
			break;
		if ((uint32_t)got > index || nr_extra == (int)ARRAY_SIZE(extra)) {
			pr_err("can't make pty %u: it is in use here (got %d)", index, got);
			close(m);
			m = -1;
			break;
		}
		extra[nr_extra++] = m;
	}
	while (nr_extra)
		close(extra[--nr_extra]);
	if (m >= 0 && ioctl(m, TIOCSPTLCK, &unlock)) {
		pr_perror("can't unlock pty %u", index);
		close(m);
		m = -1;
	}
	return m;
}

/* Pairs made while the mounts were (pty_premake), as kept fds' slots. */
static struct { uint32_t index; int m, s; } premade[8];
static int nr_premade;
static int master_sink = -1;   /* kept slot of the socket to libcr */

int pty_premake(int devpts_fd, uint32_t index)
{
	char path[64];
	int m, s;

	if (nr_premade == (int)ARRAY_SIZE(premade))
		return pr_err("pty %u: too many ptys bound elsewhere", index), -ENOSPC;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/ptmx", devpts_fd);
	if ((m = open_master_at(path, index)) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%u", devpts_fd, index);
	if ((s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(m);
		return pr_perror("can't open the slave of the new pty %u", index);
	}
	premade[nr_premade].index = index;
	if ((premade[nr_premade].m = kept_fd_add(m)) < 0 || (premade[nr_premade].s = kept_fd_add(s)) < 0) {
		close(s);
		if (premade[nr_premade].m < 0)
			close(m);
		return pr_err("pty %u: no room to keep it", index), -ENOSPC;
	}
	nr_premade++;
	return 0;
}

void pty_set_master_sink(int kept_slot)
{
	master_sink = kept_slot;
}

/* The pair at index, made once per process (the ends stashed above the fd table). */
static struct pipe_rst *pty_get(struct files_image *fi, uint32_t index)
{
	struct pipe_rst *p;
	int m = -1, s = -1, ret;

	for (size_t i = 0; i < fi->nr_pipes; i++)
		if (fi->pipes[i].ino == (PTY_KEY | index))
			return &fi->pipes[i];
	for (int i = 0; i < nr_premade; i++)
		if (premade[i].index == index) {
			m = fcntl(kept_fd_get(premade[i].m), F_DUPFD_CLOEXEC, 0);
			s = fcntl(kept_fd_get(premade[i].s), F_DUPFD_CLOEXEC, 0);
			if (m < 0 || s < 0) {
				pr_perror("can't take the pty %u made with the mounts", index);
				goto fail;
			}
			break;
		}
	if (m < 0) {
		char path[32];
		if ((m = open_master_at("/dev/ptmx", index)) < 0)
			return NULL;
		snprintf(path, sizeof(path), "/dev/pts/%u", index);
		if ((s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
			pr_perror("can't open %s", path);
			goto fail;
		}
	}
	if (!(p = realloc(fi->pipes, (fi->nr_pipes + 1) * sizeof(*p))))
		goto fail;
	fi->pipes = p;
	/* files_stash_fd closes the fd it moves, and only then */
	if ((ret = files_stash_fd(fi, m)) < 0)
		goto fail;
	m = ret;
	if ((ret = files_stash_fd(fi, s)) < 0)
		goto fail;
	s = ret;
	p = &fi->pipes[fi->nr_pipes++];
	*p = (struct pipe_rst){ .ino = PTY_KEY | index, .end = { m, s }, .first = { -1, -1 } };
	return p;
fail:
	if (m >= 0)
		close(m);
	if (s >= 0)
		close(s);
	return NULL;
}

/* termios and window size, through either end. */
static int set_settings(int fd, const PtyEntry *pe)
{
	struct winsize ws = { .ws_row = pe->rows, .ws_col = pe->cols, .ws_xpixel = pe->xpixel, .ws_ypixel = pe->ypixel };

	if (pe->has_termios && pe->termios.len == sizeof(struct termios) && ioctl(fd, TCSETS, pe->termios.data))
		return pr_perror("can't set the termios of pty %u", pe->index);
	if (pe->has_rows && ioctl(fd, TIOCSWINSZ, &ws))
		return pr_perror("can't set the window size of pty %u", pe->index);
	return 0;
}

/* A new pair for a slave whose master was outside: the slave's settings, and the
 * master off to libcr (the socket holds it until libcr takes it). */
static int hand_out_master(struct pipe_rst *p, const PtyEntry *pe)
{
	int sk = kept_fd_get(master_sink);
	uint32_t index = pe->index;

	if (sk < 0)
		return pr_err("pty %u had its master outside the tree: no one takes the new one", pe->index), -EINVAL;
	if (set_settings(p->end[0], pe))
		return -EIO;
	if (send_fds(sk, &index, sizeof(index), &p->end[0], 1, NULL, 0, 0) != sizeof(index))
		return pr_perror("can't hand the master of pty %u to libcr", pe->index);
	close(p->end[0]);
	p->end[0] = -1;
	return 0;
}

static int pty_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	const PtyEntry *pe = e->pty;
	struct pipe_rst *p = pty_get(fi, pe->index);
	int k = pe->master ? 0 : 1, fd;

	*inherited = false;
	if (!p)
		return -EIO;
	if (pe->ext_master && p->end[0] >= 0 && p->first[0] < 0 && hand_out_master(p, pe))
		return -EIO;
	if (p->end[k] >= 0 && p->first[k] < 0) {
		fd = p->end[k];
		p->end[k] = -1;
		p->first[k] = e->fd;
	} else if (!pe->master) {
		/* another open file description of the slave */
		char path[32];
		snprintf(path, sizeof(path), "/dev/pts/%u", pe->index);
		if ((fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
			return pr_perror("can't open %s again for fd %u", path, e->fd);
	} else {
		return pr_err("fd %u: pty %u has a second master description", e->fd, pe->index), -EINVAL;
	}
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* Once every fd is in place: the terminal's settings, through the master. */
static int pty_finish(struct files_image *fi, const FdinfoEntry *e)
{
	const PtyEntry *pe = e->pty;
	int fd = e->fd, on;

	(void)fi;
	if (!pe->master)
		return 0;
	if (set_settings(fd, pe))
		return -EIO;
	on = pe->packet;
	if (pe->packet && ioctl(fd, TIOCPKT, &on))
		return pr_perror("can't set packet mode of pty %u", pe->index);
	on = 1;
	if (pe->locked && ioctl(fd, TIOCSPTLCK, &on))
		return pr_perror("can't lock pty %u", pe->index);
	return 0;
}

static int pty_validate(const FdinfoEntry *e)
{
	const PtyEntry *p = e->pty;

	if (!p || p->index >= PTY_MAX_INDEX)
		return pr_err("fdinfo: fd %u is a pty without a valid index", e->fd), -EINVAL;
	if (p->has_termios && p->termios.len != sizeof(struct termios))
		return pr_err("fdinfo: fd %u: pty settings of %zu bytes", e->fd, p->termios.len), -EINVAL;
	if (p->ext_master && p->master)
		return pr_err("fdinfo: fd %u: a pty master marked as outside the tree", e->fd), -EINVAL;
	return 0;
}

bool pty_any_orphan(const struct files_image *fi)
{
	for (size_t i = 0; i < fi->nr; i++)
		if (fi->fds[i]->kind == FD_KIND__FD_PTY && fi->fds[i]->pty && fi->fds[i]->pty->ext_master)
			return true;
	return false;
}

int pty_find_slave(const struct files_image *fi, uint32_t index)
{
	for (size_t i = 0; i < fi->nr; i++)
		if (fi->fds[i]->kind == FD_KIND__FD_PTY && fi->fds[i]->pty && !fi->fds[i]->pty->master &&
		    fi->fds[i]->pty->index == index)
			return fi->fds[i]->fd;
	return -1;
}

const struct fd_ops pty_fd_ops = {
	.kind = FD_KIND__FD_PTY, .name = "pty",
	.match = pty_match, .dump = pty_dump, .restore = pty_restore, .finish = pty_finish,
	.validate = pty_validate,
};
