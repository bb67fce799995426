/* An fd on /dev/net/tun: a queue of a tun or tap device, or one never attached.
 *
 * The device is a link of the tree's network namespace (ns/net-tun.c): the
 * namespace's restore makes it, persistent, with its addresses and routes,
 * before any fd; the fd then attaches with TUNSETIFF (same name, same flags),
 * gets the queue's settings back, takes the persistence away if the device had
 * none, and detaches again if it was a detached queue of a multi-queue device.
 * A device in the caller's namespace (the tree shares it) is made again by
 * its first fd's restore, with its link's description (ns/net-tun.c), when
 * the tree alone keeps it: not persistent, its queues all in one process.
 * Any other device outside the holder's own namespace is refused: the restore
 * could not make it where it was.  In an external namespace (joined, not
 * saved) only a persistent device is kept: the restore attaches to it there.
 *
 * Only TUNSETQUEUE IFF_ATTACH_QUEUE tells a detached queue (older kernels also
 * answer TUNGETIFF with EBADFD there, and 6.18 does not): the dump tries it,
 * reads the queue attached, and detaches it again, which leaves the device's
 * queues as they were.  Packets queued in the device at the dump are lost, as
 * on a network that drops them.  TUNSETOFFLOAD has no getter: its flags are read back from the device's active
 * features (ethtool), where the kernel puts them.  Not kept: TUNSETTXFILTER
 * and eBPF steering/filter programs (none can be read back); a tap with a
 * classic socket filter (TUNATTACHFILTER) is refused. */
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "util.h"

#define MISC_MAJOR 10
#define TUN_MINOR 200
/* what TUNGETIFF reports that TUNSETIFF takes back */
#define TUN_FD_FLAGS (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_NAPI | IFF_NAPI_FRAGS | \
		      IFF_PERSIST)

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20   /* (Linux 6.2) */
#define TUN_F_USO6 0x40
#endif
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6)

static bool used;   /* this dump has a tun fd or link: image version 14 */

/* The tun links of the dumped namespaces and how many of their queues the
 * tree's fds are: a device without persistence whose queues are held outside
 * the tree too (slirp4netns, pasta) would come back persistent, ownerless. */
struct tun_link {
	uint64_t netns;
	char name[IFNAMSIZ];
	uint32_t queues, held;
	bool persist;
	pid_t pid;              /* the first holder of a queue of the tree's, and its fd */
	int fd;
	uint32_t *ids;          /* shared descriptions counted already */
	size_t nr_ids;
};
static struct tun_link *links;
static size_t nr_links;

void tun_dump_note(void)
{
	used = true;
}

void tun_dump_reset(void)
{
	used = false;
	for (size_t i = 0; i < nr_links; i++)
		free(links[i].ids);
	free(links);
	links = NULL;
	nr_links = 0;
}

int tun_dump_link(uint64_t netns, const char *name, uint32_t queues, bool persist)
{
	struct tun_link *n = realloc(links, (nr_links + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	links = n;
	n = &links[nr_links++];
	memset(n, 0, sizeof(*n));
	n->netns = netns;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->queues = queues;
	n->persist = persist;
	return 0;
}

/* A queue of the tree's on device name of namespace netns (shared_id: one
 * description several processes hold, counted once). */
static struct tun_link *find_link(uint64_t netns, const char *name)
{
	for (size_t i = 0; i < nr_links; i++)
		if (links[i].netns == netns && !strcmp(links[i].name, name))
			return &links[i];
	return NULL;
}

static int count_queue(const struct fd_dump_ctx *c, uint64_t netns, const char *name, uint32_t shared_id, bool host)
{
	for (size_t i = 0; i < nr_links; i++) {
		struct tun_link *l = &links[i];
		if (l->netns != netns || strcmp(l->name, name))
			continue;
		/* the first fd's restore makes it: the others must come after, in the same process */
		if (host && l->held && l->pid != c->pid)
			return pr_err("pid %d: fd %d: tun/tap device %s, of the network namespace libcr runs in, has "
				      "queues in pid %d too: libcr makes such a device again only for the queues of one "
				      "process", c->pid, c->fd, name, l->pid), -EOPNOTSUPP;
		for (size_t k = 0; shared_id && k < l->nr_ids; k++)
			if (l->ids[k] == shared_id)
				return 0;
		if (shared_id) {
			uint32_t *n = realloc(l->ids, (l->nr_ids + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			l->ids = n;
			l->ids[l->nr_ids++] = shared_id;
		}
		if (!l->held++) {
			l->pid = c->pid;
			l->fd = c->fd;
		}
		return 0;
	}
	return 0;
}

int tun_dump_check(void)
{
	for (size_t i = 0; i < nr_links; i++)
		if (!links[i].persist && !links[i].held)
			return pr_err("network namespace: tun/tap device %s is not persistent and only processes "
				      "outside the tree hold its queues (slirp4netns, pasta, a VPN daemon?): dump them "
				      "with the tree", links[i].name), -EOPNOTSUPP;
		else if (!links[i].persist && links[i].held < links[i].queues)
			return pr_err("pid %d: fd %d: tun/tap device %s has %u queues and the tree holds %u: the "
				      "others are a process's outside the tree (slirp4netns, pasta, a VPN daemon?), "
				      "which keep the device alive: dump that process with the tree", links[i].pid,
				      links[i].fd, links[i].name, links[i].queues, links[i].held), -EOPNOTSUPP;
	return 0;
}

bool tun_dump_used(void)
{
	return used;
}

static bool is_tun(dev_t rdev)
{
	return major(rdev) == MISC_MAJOR && minor(rdev) == TUN_MINOR;
}

static bool tun_match(const struct fd_dump_ctx *c)
{
	return S_ISCHR(c->st.st_mode) && is_tun(c->st.st_rdev);
}

static ino_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The device is in the holder's own network namespace, one libcr saves (*ino),
 * or (*host) in ours, where the holder is too, and the tree owns it. */
static int check_netns(const struct fd_dump_ctx *c, int fd, const TunEntry *t, uint64_t *ino, bool *host)
{
	const char *name = t->name;
	int ns = ioctl(fd, TUNGETDEVNETNS);
	uint64_t holder, ours;
	ino_t dev;
	int ret;

	if (ns < 0)
		return pr_perror("pid %d: fd %d: can't find the network namespace of tun %s (TUNGETDEVNETNS)", c->pid,
				 c->fd, name);
	*ino = dev = fd_ino(ns);
	close(ns);
	if ((ret = ns_ino(c->pid, "net", &holder)) || (ret = ns_ino(getpid(), "net", &ours)))
		return ret;
	if (dev != holder)
		return pr_err("pid %d: fd %d: tun/tap device %s is in another network namespace than the process's: "
			      "libcr can't recreate it there", c->pid, c->fd, name), -EOPNOTSUPP;
	*host = dev == ours;
	if (*host && (t->flags & IFF_PERSIST))
		return pr_err("pid %d: fd %d: tun/tap device %s is persistent, in the network namespace libcr runs "
			      "in: not the tree's to make again (libcr does that for devices in the tree's own network "
			      "namespace, or for ones in its own that only the tree keeps alive)", c->pid, c->fd, name),
		       -EOPNOTSUPP;
	return 0;
}

/* Where TUNSETOFFLOAD's flags show: the device's features by these names. */
static const struct {
	const char *feature;
	unsigned flags;
} offloads[] = {
	{ "tx-checksum-ip-generic", TUN_F_CSUM },    { "tx-tcp-segmentation", TUN_F_TSO4 },
	{ "tx-tcp6-segmentation", TUN_F_TSO6 },      { "tx-tcp-ecn-segmentation", TUN_F_TSO_ECN },
	{ "tx-udp-segmentation", TUN_F_USO4 | TUN_F_USO6 },
};

struct offload_args {
	const char *name;
	unsigned flags;
};

/* In the device's namespace: its active features, as TUN_F_* flags. */
static int read_offload(void *p)
{
	struct offload_args *a = p;
	struct ethtool_sset_info *si = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_gfeatures *gf = NULL;
	struct ifreq r = { 0 };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -ENOMEM;
	uint32_t n;

	if (sk < 0)
		return pr_perror("tun %s: can't open a socket to read its offloads", a->name);
	snprintf(r.ifr_name, IFNAMSIZ, "%s", a->name);
	if (!(si = calloc(1, sizeof(*si) + 4)))
		goto out;
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_FEATURES;
	r.ifr_data = (void *)si;
	if (ioctl(sk, SIOCETHTOOL, &r) || !(si->sset_mask & (1ULL << ETH_SS_FEATURES))) {
		ret = pr_perror("tun %s: can't count its features (ETHTOOL_GSSET_INFO)", a->name);
		goto out;
	}
	n = si->data[0];
	if (n > 4096 || !(gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN)) ||
	    !(gf = calloc(1, sizeof(*gf) + (n + 31) / 32 * sizeof(gf->features[0]))))
		goto out;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = n;
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = (n + 31) / 32;
	r.ifr_data = (void *)gs;
	if (ioctl(sk, SIOCETHTOOL, &r)) {
		ret = pr_perror("tun %s: can't read its feature names (ETHTOOL_GSTRINGS)", a->name);
		goto out;
	}
	r.ifr_data = (void *)gf;
	if (ioctl(sk, SIOCETHTOOL, &r)) {
		ret = pr_perror("tun %s: can't read its features (ETHTOOL_GFEATURES)", a->name);
		goto out;
	}
	a->flags = 0;
	for (uint32_t i = 0; i < n && i < gs->len; i++) {
		const char *name = (const char *)gs->data + (size_t)i * ETH_GSTRING_LEN;
		if (!(gf->features[i / 32].active & (1u << (i % 32))))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(offloads); k++)
			if (!strncmp(name, offloads[k].feature, ETH_GSTRING_LEN))
				a->flags |= offloads[k].flags;
	}
	/* the kernel takes segmentation offloads only with the checksum one */
	if (!(a->flags & TUN_F_CSUM))
		a->flags = 0;
	ret = 0;
out:
	free(si);
	free(gs);
	free(gf);
	close(sk);
	return ret;
}

/* The queue's settings, with fd attached. */
static int read_queue(const struct fd_dump_ctx *c, int fd, TunEntry *t)
{
	struct offload_args oa = { t->name, 0 };
	struct sock_fprog prog = { 0 };
	int v, ns, ret;

	if (ioctl(fd, TUNGETSNDBUF, &v))
		return pr_perror("pid %d: fd %d: TUNGETSNDBUF", c->pid, c->fd);
	t->has_sndbuf = true;
	t->sndbuf = v;
	if (ioctl(fd, TUNGETVNETHDRSZ, &v))
		return pr_perror("pid %d: fd %d: TUNGETVNETHDRSZ", c->pid, c->fd);
	t->has_vnet_hdr_sz = true;
	t->vnet_hdr_sz = v;
	if (ioctl(fd, TUNGETVNETLE, &v))
		return pr_perror("pid %d: fd %d: TUNGETVNETLE", c->pid, c->fd);
	t->has_vnet_le = true;
	t->vnet_le = v;
	/* (EINVAL: a kernel without cross-endian virtio) */
	if (!ioctl(fd, TUNGETVNETBE, &v)) {
		t->has_vnet_be = true;
		t->vnet_be = v;
	}
	/* only a tap may have one; the kernel keeps the program's own pointer, not the code */
	if ((t->flags & IFF_TAP) && !ioctl(fd, TUNGETFILTER, &prog) && prog.len)
		return pr_err("pid %d: fd %d: tap %s has a socket filter (TUNATTACHFILTER), which libcr can't read "
			      "back", c->pid, c->fd, t->name), -EOPNOTSUPP;
	if ((ns = ioctl(fd, TUNGETDEVNETNS)) < 0)
		return pr_perror("pid %d: fd %d: TUNGETDEVNETNS", c->pid, c->fd);
	ret = netns_call(ns, read_offload, &oa);
	close(ns);
	if (ret)
		return ret;
	t->has_offload = true;
	t->offload = oa.flags;
	return 0;
}

static int tun_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	struct ifreq r = { 0 };
	bool detached = false, host = false;
	uint64_t ns = 0;
	TunEntry *t;
	int fd, ret;

	tun_dump_note();
	if (!(t = e->tun = malloc(sizeof(*t))))
		return -ENOMEM;
	tun_entry__init(t);
	if (!(t->path = strdup(c->link)))
		return -ENOMEM;
	if ((fd = files_getfd(c->pid, c->fd)) < 0)
		return fd;
	/* only a detached queue attaches (EINVAL: attached, or never) */
	r.ifr_flags = IFF_ATTACH_QUEUE;
	if (!ioctl(fd, TUNSETQUEUE, &r))
		detached = true;
	else if (errno != EINVAL) {
		ret = pr_perror("pid %d: fd %d: can't attach its detached queue", c->pid, c->fd);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	if (ioctl(fd, TUNGETIFF, &r)) {
		/* never attached: just reopened */
		ret = errno == EBADFD ? 0 : pr_perror("pid %d: fd %d: TUNGETIFF", c->pid, c->fd);
		goto out;
	}
	r.ifr_name[IFNAMSIZ - 1] = 0;
	t->has_flags = t->has_detached = true;
	t->flags = r.ifr_flags & TUN_FD_FLAGS;
	t->detached = detached;
	if (!(t->name = strdup(r.ifr_name)))
		ret = -ENOMEM;
	else
		ret = check_netns(c, fd, t, &ns, &host) ?: read_queue(c, fd, t);
	/* a device of ours: the first fd describes it, to make it again */
	if (!ret && host) {
		t->has_host = t->host = true;
		if (!find_link(ns, t->name))
			ret = nettun_dump_host(t->name, &t->host_link);
	}
	/* in a namespace not saved (an external one): it must still be there at the restore */
	if (!ret && !host && !find_link(ns, t->name) && !(t->flags & IFF_PERSIST)) {
		pr_err("pid %d: fd %d: tun/tap device %s is in a network namespace libcr does not save (an external "
		       "one): not persistent, it would not be there at the restore", c->pid, c->fd, t->name);
		ret = -EOPNOTSUPP;
	}
	if (!ret)
		ret = count_queue(c, ns, t->name, c->share.id, host);
out:
	if (detached) {
		struct ifreq d = { .ifr_flags = IFF_DETACH_QUEUE };
		if (ioctl(fd, TUNSETQUEUE, &d) && !ret)
			ret = pr_perror("pid %d: fd %d: can't detach its queue again", c->pid, c->fd);
	}
	close(fd);
	return ret;
}

static int set_int(int fd, unsigned long req, int v, const FdinfoEntry *e, const char *what)
{
	if (ioctl(fd, req, &v))
		return pr_perror("fd %u: tun %s: can't set its %s to %d", e->fd, e->tun->name, what, v);
	return 0;
}

/* fd attached to the device again, with the queue's settings. */
static int attach(int fd, const FdinfoEntry *e)
{
	const TunEntry *t = e->tun;
	struct ifreq r = { 0 };
	const NetLinkEntry *le = t->host_link ? t->host_link->links[0] : NULL;
	int ret;

	/* it must be the namespace's (made by its restore), not a new one made here;
	 * or the first queue of one of ours makes it, as it was */
	if (le && if_nametoindex(t->name))
		return pr_err("fd %u: tun/tap device %s: a link of that name is in the network namespace already",
			      e->fd, t->name), -EEXIST;
	if (!le && !if_nametoindex(t->name))
		return pr_err("fd %u: tun/tap device %s is not in the restored network namespace", e->fd, t->name),
		       -ENODEV;
	snprintf(r.ifr_name, IFNAMSIZ, "%s", t->name);
	r.ifr_flags = t->flags & ~IFF_PERSIST;
	if (ioctl(fd, TUNSETIFF, &r))
		return pr_perror("fd %u: can't attach to %s %s (TUNSETIFF)", e->fd, (t->flags & IFF_TAP) ? "tap" : "tun",
				 t->name);
	if (le && ((le->has_tun_owner && ioctl(fd, TUNSETOWNER, (unsigned long)le->tun_owner)) ||
		   (le->has_tun_group && ioctl(fd, TUNSETGROUP, (unsigned long)le->tun_group))))
		return pr_perror("fd %u: tun %s: can't set its owner or group", e->fd, t->name);
	if (le && (ret = nettun_restore_host(t->host_link)))
		return ret;
	if ((t->has_sndbuf && set_int(fd, TUNSETSNDBUF, t->sndbuf, e, "send buffer")) ||
	    (t->has_vnet_hdr_sz && set_int(fd, TUNSETVNETHDRSZ, t->vnet_hdr_sz, e, "vnet header size")) ||
	    (t->has_vnet_le && set_int(fd, TUNSETVNETLE, t->vnet_le, e, "vnet little-endian flag")) ||
	    (t->has_vnet_be && t->vnet_be && set_int(fd, TUNSETVNETBE, 1, e, "vnet big-endian flag")))
		return -EIO;
	if (t->has_offload && t->offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)t->offload))
		return pr_perror("fd %u: tun %s: can't set its offloads to %#x (TUNSETOFFLOAD)", e->fd, t->name,
				 t->offload);
	/* made persistent for the restore: the device lives with its queues again */
	if (!(t->flags & IFF_PERSIST) && ioctl(fd, TUNSETPERSIST, 0UL))
		return pr_perror("fd %u: tun %s: TUNSETPERSIST 0", e->fd, t->name);
	if (t->detached) {
		struct ifreq d = { .ifr_flags = IFF_DETACH_QUEUE };
		if (ioctl(fd, TUNSETQUEUE, &d))
			return pr_perror("fd %u: tun %s: can't detach its queue (TUNSETQUEUE)", e->fd, t->name);
	}
	return 0;
}

static int tun_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	struct stat st;
	int fd, ret;

	(void)fi;
	*inherited = false;
	if ((fd = open(e->tun->path, (e->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_NOCTTY | O_CLOEXEC)) < 0)
		return pr_perror("fd %u: can't open %s", e->fd, e->tun->path);
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || !is_tun(st.st_rdev)) {
		close(fd);
		return pr_err("fd %u: %s is not the tun device (10:200)", e->fd, e->tun->path), -ESTALE;
	}
	if (e->tun->name && (ret = attach(fd, e))) {
		close(fd);
		return ret;
	}
	return fd;
}

static bool valid_name(const char *n)
{
	size_t l = strlen(n);

	if (!l || l >= IFNAMSIZ || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (; *n; n++)
		if (*n == '/' || *n == ':' || *n <= ' ' || *n > '~')
			return false;
	return true;
}

static int tun_validate(const FdinfoEntry *e)
{
	const TunEntry *t = e->tun;
	uint32_t type = t ? t->flags & (IFF_TUN | IFF_TAP) : 0;

	if (!t || !path_is_clean(t->path) || strncmp(t->path, "/dev/", 5))
		return pr_err("fdinfo: fd %u: a tun fd without its device path, or one outside /dev", e->fd), -EINVAL;
	if (!t->name) {
		if (t->has_flags || t->has_detached || t->has_sndbuf || t->has_vnet_hdr_sz || t->has_vnet_le ||
		    t->has_vnet_be || t->has_offload || t->has_host || t->host_link)
			return pr_err("fdinfo: fd %u: a tun fd attached to no device, with a queue's settings", e->fd),
			       -EINVAL;
		return 0;
	}
	if (!valid_name(t->name) || !t->has_flags || (t->flags & ~TUN_FD_FLAGS) || (type != IFF_TUN && type != IFF_TAP) ||
	    (t->detached && !(t->flags & IFF_MULTI_QUEUE)) || (t->has_sndbuf && t->sndbuf <= 0) ||
	    (t->has_vnet_hdr_sz && (t->vnet_hdr_sz < 10 || t->vnet_hdr_sz > 65536)) ||
	    (t->has_offload && (t->offload & ~TUN_OFFLOADS)))
		return pr_err("fdinfo: fd %u: bad tun/tap queue", e->fd), -EINVAL;
	if (t->host_link && !t->host)
		return pr_err("fdinfo: fd %u: tun %s: a link to make, of a device not of the caller's namespace", e->fd,
			      t->name), -EINVAL;
	return t->host_link ? nettun_validate_host(t->host_link, t->name) : 0;
}

const struct fd_ops tun_fd_ops = {
	.kind = FD_KIND__FD_TUN, .name = "tun/tap queue",
	.match = tun_match, .dump = tun_dump, .restore = tun_restore, .validate = tun_validate,
};
