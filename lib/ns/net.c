/* The tree's own network namespace, as a whole.
 *
 * Dump: the root's namespace is its own when it differs from ours (every task
 * of the tree must share it).  The dumper never leaves its namespace: a thread
 * of ours enters the tree's (setns) to list it through rtnetlink, to read its
 * sysctls and to open the sock_diag sockets that find the tree's sockets; the
 * network lock's nft runs in it too (netlock.c).  `--external net[INODE]:KEY`
 * names a namespace the caller owns (podman: extRootNetNS): only the key is
 * saved, and the restore joins what the caller gives for it
 * (`--external net[KEY]:PATH`, PATH a /proc/PID/ns/net or /run/netns file).
 *
 * Restore: the root, before it opens any file, makes a new namespace
 * (unshare) and fills it: links, addresses, links up, routes, rules, sysctls;
 * then its sockets and its children's land in it.  A veth whose peer was
 * outside is made with the peer in the caller's namespace; one whose peer is in
 * another namespace of the tree, by the first of the two filled (net-peer.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include "image/image.h"
#include "log.h"
#include "net/inet.h"
#include "ns/net.h"
#include "ns/ns.h"
#include "proc/tree.h"
#include "util.h"

static int target_fd = -1;   /* the namespace whose sockets sock_diag lists */
static int caller_fd = -1;   /* restored tasks: the caller's namespace (lazy-pages daemon) */
/* the tree's other namespaces (-1: ours): a socket made before its holder moved */
static int others[NETNS_MAX_OTHERS];
static size_t nr_others;

struct ns_call {
	int nsfd;
	int (*fn)(void *);
	void *arg;
	int ret;
	char error[512];         /* the thread's error message (it is per thread) */
};

static void *ns_thread(void *p)
{
	struct ns_call *c = p;

	if (setns(c->nsfd, CLONE_NEWNET))
		c->ret = pr_perror("can't enter the tree's network namespace");
	else
		c->ret = c->fn(c->arg);
	if (c->ret && cr_error_isset())
		snprintf(c->error, sizeof(c->error), "%s", cr_last_error());
	return NULL;
}

int netns_call(int nsfd, int (*fn)(void *), void *arg)
{
	struct ns_call c = { nsfd, fn, arg, 0, "" };
	pthread_t th;
	int err;

	if (nsfd < 0)
		return fn(arg);
	if ((err = pthread_create(&th, NULL, ns_thread, &c)))
		return errno = err, pr_perror("can't start a thread for the tree's network namespace");
	pthread_join(th, NULL);
	if (c.ret && c.error[0] && !cr_error_isset())
		pr_err("%s", c.error);
	return c.ret;
}

struct connect_args {
	struct nl_sock *sk;
	int protocol;
};

static int do_connect(void *p)
{
	struct connect_args *a = p;

	return nl_connect(a->sk, a->protocol);
}

struct socket_args {
	int domain, type, protocol, fd;
};

static int do_socket(void *p)
{
	struct socket_args *a = p;

	a->fd = socket(a->domain, a->type, a->protocol);
	return a->fd < 0 ? pr_perror("can't create a socket in the tree's network namespace") : 0;
}

int netns_socket(int domain, int type, int protocol)
{
	struct socket_args a = { domain, type, protocol, -1 };
	int ret = netns_call(target_fd, do_socket, &a);

	return ret < 0 ? ret : a.fd;
}

int netns_nl_connect(struct nl_sock *sk, int protocol)
{
	struct connect_args a = { sk, protocol };

	return netns_call(target_fd, do_connect, &a);
}

/* The external entry "net[INODE]" that names inode ino, if any. */
static const char *external_key(uint64_t ino, const struct cr_external *ext, size_t nr_ext)
{
	char key[48];

	snprintf(key, sizeof(key), "net[%llu]", (unsigned long long)ino);
	for (size_t i = 0; i < nr_ext; i++)
		if (!strcmp(ext[i].key, key))
			return ext[i].value;
	return NULL;
}

int netns_dump_prepare(const struct tree *t, const struct cr_external *ext, size_t nr_ext, struct netns_dump *nd)
{
	uint64_t root, ours;
	char path[64];
	int ret;

	nd->fd = -1;
	nd->external = NULL;
	/* (processes in other namespaces than the root's: nested.c) */
	if ((ret = ns_ino(t->tasks[0].s.pid, "net", &root)) || (ret = ns_ino(getpid(), "net", &ours)))
		return ret;
	if (root == ours)
		return 0;
	nd->external = external_key(root, ext, nr_ext);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", t->tasks[0].s.pid);
	if ((nd->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open the network namespace of pid %d", t->tasks[0].s.pid);
	target_fd = nd->fd;
	netlock_set_netns(nd->fd);
	pr_info("network namespace %llu: the tree's %s", (unsigned long long)root, nd->external ? "(external)" : "own");
	return 0;
}

void netns_dump_target(int fd)
{
	target_fd = fd;
}

int netns_dump_current(void)
{
	return target_fd;
}

void netns_dump_set_others(const int *fds, size_t n)
{
	nr_others = n < NETNS_MAX_OTHERS ? n : NETNS_MAX_OTHERS;
	for (size_t i = 0; i < nr_others; i++)
		others[i] = fds[i];
}

size_t netns_dump_others(const int **fds)
{
	*fds = others;
	return nr_others;
}

void netns_dump_end(struct netns_dump *nd)
{
	target_fd = -1;
	netlock_set_netns(-1);
	if (nd->fd >= 0)
		close(nd->fd);
	nd->fd = -1;
}

struct dump_args {
	NetnsEntry *e;
	const struct cr_external *ext;
	size_t nr_ext;
};

/* On the thread that entered the namespace. */
static int dump_inside(void *p)
{
	struct dump_args *a = p;
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	if ((ret = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return pr_err("network namespace: can't open a rtnetlink socket: %s", nl_geterror(ret)), -EIO;
	}
	ret = netlink_dump_links(sk, a->e, a->ext, a->nr_ext) ?: netaddr_dump(sk, a->e) ?: netroute_dump(sk, a->e) ?:
	      netrule_dump(sk, a->e) ?: netsysctl_dump(a->e);
	nl_socket_free(sk);
	return ret;
}

int netns_dump(struct img_dir *dir, const struct netns_dump *nd, const struct cr_external *ext, size_t nr_ext)
{
	NetnsEntry *e;
	int ret;

	if (nd->fd < 0)
		return 0;
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	netns_entry__init(e);
	if (nd->external) {
		if (!(e->external = strdup(nd->external)))
			ret = -ENOMEM;
		else
			ret = 0;
	} else {
		struct dump_args a = { e, ext, nr_ext };
		ret = netns_call(nd->fd, dump_inside, &a);
	}
	if (!ret)
		ret = img_write_one(dir, nd->img_id ? IMG_NETNS_N : IMG_NETNS, nd->img_id, &e->base);
	img_free_msg(&e->base);
	return ret;
}

const char *netns_link_name(const NetnsEntry *e, uint32_t ifindex)
{
	for (size_t i = 0; i < e->n_links; i++)
		if (e->links[i]->ifindex == ifindex)
			return e->links[i]->name;
	return NULL;
}

/* ------------------------------------------------------------------ restore */

static int validate(const NetnsEntry *e, uint32_t id)
{
	int ret;

	if (e->external) {
		if (!e->external[0] || strlen(e->external) > 256 || e->n_links || e->n_addrs || e->n_routes ||
		    e->n_rules || e->n_sysctls)
			return pr_err("netns.img: bad external namespace record"), -EINVAL;
		return 0;
	}
	if (e->n_links > 4096 || e->n_addrs > 65536 || e->n_routes > 65536 || e->n_rules > 65536 || e->n_sysctls > 65536)
		return pr_err("netns.img: too many records"), -EINVAL;
	for (size_t i = 0; i < e->n_links; i++) {
		if ((ret = netlink_validate_link(e->links[i])))
			return ret;
		if (e->links[i]->has_peer_netns && e->links[i]->peer_netns == id)
			return pr_err("netns.img: veth %s's peer is in its own namespace, as another one's",
				      e->links[i]->name), -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (e->links[k]->ifindex == e->links[i]->ifindex || !strcmp(e->links[k]->name, e->links[i]->name))
				return pr_err("netns.img: link %s appears twice", e->links[i]->name), -EINVAL;
	}
	return netaddr_validate(e) ?: netsysctl_validate(e);
}

static const char *find_external(const struct cr_external *ext, size_t nr, const char *key)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(ext[i].key, key))
			return ext[i].value;
	return NULL;
}

/* netns.img (id 0) or netns-ID.img read and validated; *out NULL when the
 * root's is not there (a nested one must be). */
static int read_image(struct img_dir *dir, uint32_t id, NetnsEntry **out)
{
	struct img *img;
	int ret;

	*out = NULL;
	if (!id && faccessat(dir->dfd, "netns.img", F_OK, 0))
		return 0;
	if (!(img = img_open(dir, id ? IMG_NETNS_N : IMG_NETNS, id)))
		return -ENOENT;
	ret = img_read_one(img, &netns_entry__descriptor, (ProtobufCMessage **)out);
	img_close(img);
	if (ret >= 0 && (ret = validate(*out, id)))
		img_free_msg(&(*out)->base);
	if (ret < 0)
		*out = NULL;
	return ret < 0 ? ret : 0;
}

int netns_check_image(struct img_dir *dir)
{
	NetnsEntry *e;
	int ret = read_image(dir, 0, &e);

	if (e)
		img_free_msg(&e->base);
	return ret;
}

int netns_load(struct img_dir *dir, const struct cr_external *ext, size_t nr_ext, struct netns_restore *nr)
{
	return netns_load_id(dir, 0, ext, nr_ext, nr);
}

int netns_load_id(struct img_dir *dir, uint32_t id, const struct cr_external *ext, size_t nr_ext,
		  struct netns_restore *nr)
{
	int ret;

	memset(nr, 0, sizeof(*nr));
	nr->host_fd = nr->join_fd = -1;
	nr->ext = ext;
	nr->nr_ext = nr_ext;
	nr->id = id;
	if ((ret = read_image(dir, id, &nr->e)) || !nr->e)
		return ret;   /* none: the tree shared the caller's namespace */
	if ((nr->host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		ret = pr_perror("can't open our network namespace");
		goto fail;
	}
	if (nr->e->external) {
		char key[300];
		const char *path;

		snprintf(key, sizeof(key), "net[%s]", nr->e->external);
		if (!(path = find_external(ext, nr_ext, key))) {
			pr_err("the tree was in an external network namespace (%s): give it with --external "
			       "%s:PATH (a /proc/PID/ns/net or /run/netns file)", nr->e->external, key);
			ret = -EINVAL;
			goto fail;
		}
		if ((nr->join_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			ret = pr_perror("can't open the network namespace %s (--external %s)", path, key);
			goto fail;
		}
		/* the lock of its connections is in it, and the dump's was too */
		if (!id)
			netlock_set_netns(nr->join_fd);
		return 0;
	}
	return 0;
fail:
	netns_free(nr);
	return ret < 0 ? ret : -EINVAL;
}

bool netns_restore_own(const struct netns_restore *nr)
{
	return nr->e && !nr->e->external;
}

/* In the namespace made for it: links, addresses, links up, routes, rules, sysctls. */
static int fill(const struct netns_restore *nr)
{
	struct nl_sock *sk;
	int ret;

	if (!(sk = nl_socket_alloc()))
		return -ENOMEM;
	if ((ret = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return pr_err("network namespace: can't open a rtnetlink socket: %s", nl_geterror(ret)), -EIO;
	}
	ret = netpeer_pull_all(sk, nr->e, nr) ?: netlink_restore_links(sk, nr->e, nr) ?: netaddr_restore(sk, nr->e) ?: netlink_links_up(sk, nr->e) ?:
	      netroute_restore(sk, nr->e) ?: netrule_restore(sk, nr->e) ?: netsysctl_restore(nr->e);
	nl_socket_free(sk);
	if (ret)
		return ret;
	pr_info("network namespace%s%.0u: %zu links, %zu addresses, %zu routes, %zu rules, %zu sysctls restored",
		nr->id ? " " : "", nr->id, nr->e->n_links, nr->e->n_addrs, nr->e->n_routes, nr->e->n_rules,
		nr->e->n_sysctls);
	return 0;
}

/* The caller's namespace kept out of the way of the fds the tasks restore, until
 * their restorer (the lazy-pages daemon's socket is made there). */
void netns_keep_caller(int host_fd)
{
	struct rlimit rl;

	if (caller_fd >= 0 || host_fd < 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 256 ||
	    (caller_fd = fcntl(host_fd, F_DUPFD_CLOEXEC, rl.rlim_cur - 8)) < 0)
		caller_fd = fcntl(host_fd, F_DUPFD_CLOEXEC, 0);
}

int netns_restore(const struct netns_restore *nr)
{
	int ret;

	if (!nr->e)
		return 0;
	netns_keep_caller(nr->host_fd);
	if (nr->join_fd >= 0) {
		if (setns(nr->join_fd, CLONE_NEWNET))
			return pr_perror("can't join the network namespace given for %s", nr->e->external);
		return 0;
	}
	if (unshare(CLONE_NEWNET))
		return pr_perror("can't create a network namespace (unshare CLONE_NEWNET)");
	if ((ret = fill(nr)))
		return ret;
	/* its connections stay locked until every socket is back: the lock is in it */
	return tcp_restore_lock();
}

int netns_restore_nested(const struct netns_restore *nr)
{
	netns_keep_caller(nr->host_fd);
	if (nr->join_fd >= 0) {
		if (setns(nr->join_fd, CLONE_NEWNET))
			return pr_perror("can't join the network namespace given for %s", nr->e->external);
		return 0;
	}
	if (unshare(CLONE_NEWNET))
		return pr_perror("can't create nested network namespace %u (unshare CLONE_NEWNET)", nr->id);
	/* (its connections' lock: nested.c, once it is filled) */
	return fill(nr);
}

int netns_caller_socket(int domain, int type, int protocol)
{
	int ours, sk, err;

	if (caller_fd < 0)
		return socket(domain, type, protocol);
	if ((ours = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (setns(caller_fd, CLONE_NEWNET)) {
		close(ours);
		return -1;
	}
	sk = socket(domain, type, protocol);
	err = errno;
	if (setns(ours, CLONE_NEWNET))
		sk = (close(sk), err = errno, -1);
	close(ours);
	errno = err;
	return sk;
}

int netns_caller_fd(void)
{
	return caller_fd;
}

void netns_caller_close(void)
{
	if (caller_fd >= 0)
		close(caller_fd);
	caller_fd = -1;
}

int netns_adopt_lock(const struct netns_restore *nr, pid_t host_pid)
{
	char path[64];
	int fd;

	if (!netns_restore_own(nr) || !netlock_name())
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", host_pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open the network namespace of restored pid %d", host_pid);
	netlock_adopt(fd);
	return 0;
}

void netns_free(struct netns_restore *nr)
{
	if (nr->e)
		img_free_msg(&nr->e->base);
	nr->e = NULL;
	if (nr->host_fd >= 0)
		close(nr->host_fd);
	if (nr->join_fd >= 0) {
		if (!nr->id)
			netlock_set_netns(-1);
		close(nr->join_fd);
	}
	nr->host_fd = nr->join_fd = -1;
}
