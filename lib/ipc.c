/* SysV IPC of a tree that runs in its own IPC namespace: every shared memory
 * segment (with its contents), semaphore set (with its values) and message
 * queue (with its messages) is saved, and remade at the same id with the same
 * key, owner and mode in a new IPC namespace that the restored root creates
 * before anything else.  Processes attach their segments again at the same
 * addresses (premap: shmat).
 *
 * Dump: a child of ours joins the tree's IPC namespace (setns) and walks the
 * objects with the *_STAT commands; messages are copied with MSG_COPY and the
 * segments attached read-only, so a tree that keeps running loses nothing.
 * Restore: the ids come from kernel.{shm,sem,msg}_next_id, set before each get.
 *
 * POSIX message queues of the namespace are listed through a private mount of
 * its mqueue filesystem; their messages are received and sent back in the same
 * order (the tree is frozen: nobody sees the queue meanwhile).  A registration
 * for notification (mq_notify) is not kept. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "image/image.h"
#include "ipc.h"
#include "log.h"
#include "ns/userns.h"
#include "util.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#define IPC_MSG_MAX (1 << 20)        /* bytes of one message we read */
#define IPC_SHM_MAX (1ULL << 32)     /* a segment we save */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

static IpcPermEntry *perm_of(const struct ipc_perm *p, int id)
{
	IpcPermEntry *e = malloc(sizeof(*e));

	if (!e)
		return NULL;
	ipc_perm_entry__init(e);
	e->key = p->__key;
	e->id = id;
	e->mode = p->mode;
	e->uid = p->uid;
	e->gid = p->gid;
	e->cuid = p->cuid;
	e->cgid = p->cgid;
	return e;
}

static int write_entry(struct img *img, IpcEntry *e)
{
	int ret = img_write_msg(img, &e->base);

	img_free_msg(&e->base);
	return ret;
}

static int dump_shm(struct img *img, struct img *data)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info), ret = 0;

	for (int idx = 0; idx <= max && !ret; idx++) {
		struct shmid_ds ds;
		int id = shmctl(idx, SHM_STAT, &ds);
		IpcEntry *e;
		void *p;

		if (id < 0)
			continue;
		if (ds.shm_segsz > IPC_SHM_MAX)
			return pr_err("SysV segment %d holds %zu bytes, more than can be saved", id, ds.shm_segsz),
			       -EFBIG;
		if (!(e = malloc(sizeof(*e))))
			return -ENOMEM;
		ipc_entry__init(e);
		if (!(e->shm = malloc(sizeof(*e->shm))))
			return free(e), -ENOMEM;
		ipc_shm_entry__init(e->shm);
		e->shm->perm = perm_of(&ds.shm_perm, id);
		e->shm->size = ds.shm_segsz;
		e->shm->has_destroyed = e->shm->destroyed = ds.shm_perm.mode & SHM_DEST;
		if ((p = shmat(id, NULL, SHM_RDONLY)) == (void *)-1) {
			img_free_msg(&e->base);
			return pr_perror("can't read SysV segment %d", id);
		}
		ret = write_all(data->fd, p, ds.shm_segsz);
		shmdt(p);
		if (ret)
			return img_free_msg(&e->base), errno = -ret, pr_perror("can't save SysV segment %d", id);
		ret = write_entry(img, e);
	}
	return ret;
}

static int dump_sem(struct img *img)
{
	struct seminfo info;
	int max = semctl(0, 0, SEM_INFO, (union semun){ .__buf = &info }), ret = 0;

	for (int idx = 0; idx <= max && !ret; idx++) {
		struct semid_ds ds;
		int id = semctl(idx, 0, SEM_STAT, (union semun){ .buf = &ds });
		unsigned short *vals;
		IpcEntry *e;

		if (id < 0)
			continue;
		if (!(vals = calloc(ds.sem_nsems + 1, sizeof(*vals))))
			return -ENOMEM;
		if (semctl(id, 0, GETALL, (union semun){ .array = vals })) {
			free(vals);
			return pr_perror("can't read semaphore set %d", id);
		}
		if (!(e = malloc(sizeof(*e)))) {
			free(vals);
			return -ENOMEM;
		}
		ipc_entry__init(e);
		if (!(e->sem = malloc(sizeof(*e->sem)))) {
			free(vals);
			free(e);
			return -ENOMEM;
		}
		ipc_sem_entry__init(e->sem);
		if (!(e->sem->values = calloc(ds.sem_nsems + 1, sizeof(uint32_t)))) {
			free(vals);
			img_free_msg(&e->base);
			return -ENOMEM;
		}
		e->sem->perm = perm_of(&ds.sem_perm, id);
		e->sem->n_values = ds.sem_nsems;
		for (size_t i = 0; i < ds.sem_nsems; i++)
			e->sem->values[i] = vals[i];
		free(vals);
		ret = write_entry(img, e);
	}
	return ret;
}

struct msgbuf_any {
	long mtype;
	char mtext[IPC_MSG_MAX];
};

static int dump_msg(struct img *img)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info), ret = 0;
	struct msgbuf_any *buf = malloc(sizeof(*buf));

	if (!buf)
		return -ENOMEM;
	for (int idx = 0; idx <= max && !ret; idx++) {
		struct msqid_ds ds;
		int id = msgctl(idx, MSG_STAT, &ds);
		IpcEntry *e;

		if (id < 0)
			continue;
		if (!(e = malloc(sizeof(*e)))) {
			ret = -ENOMEM;
			break;
		}
		ipc_entry__init(e);
		if (!(e->msg = malloc(sizeof(*e->msg)))) {
			free(e);
			ret = -ENOMEM;
			break;
		}
		ipc_msg_entry__init(e->msg);
		e->msg->perm = perm_of(&ds.msg_perm, id);
		e->msg->qbytes = ds.msg_qbytes;
		if (!(e->msg->msgs = calloc(ds.msg_qnum + 1, sizeof(*e->msg->msgs)))) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		/* MSG_COPY: the n-th message, left in the queue */
		for (msgqnum_t i = 0; i < ds.msg_qnum && !ret; i++) {
			ssize_t n = msgrcv(id, buf, IPC_MSG_MAX, i, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
			IpcMsg *m;
			if (n < 0) {
				ret = pr_perror("can't copy message %lu of queue %d", (unsigned long)i, id);
				break;
			}
			if (!(m = malloc(sizeof(*m)))) {
				ret = -ENOMEM;
				break;
			}
			ipc_msg__init(m);
			if (!(m->mtext.data = malloc(n + 1))) {
				free(m);
				ret = -ENOMEM;
				break;
			}
			m->mtype = buf->mtype;
			m->mtext.len = n;
			memcpy(m->mtext.data, buf->mtext, n);
			e->msg->msgs[e->msg->n_msgs++] = m;
		}
		if (ret)
			img_free_msg(&e->base);
		else
			ret = write_entry(img, e);
	}
	free(buf);
	return ret;
}

/* POSIX queues: listed in a private mount of the namespace's mqueue filesystem. */
static int dump_mq(struct img *img)
{
	char dir[] = "/tmp/libcr-mq-XXXXXX", *buf = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int ret = 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return pr_perror("can't make a mount namespace to list the message queues");
	if (!mkdtemp(dir))
		return pr_perror("can't make %s", dir);
	if (mount("mqueue", dir, "mqueue", 0, NULL)) {
		ret = errno == ENODEV ? 0 : pr_perror("can't mount the mqueue filesystem");
		rmdir(dir);
		return ret;
	}
	if (!(d = opendir(dir))) {
		ret = pr_perror("can't list the message queues");
		goto out;
	}
	while (!ret && (de = readdir(d))) {
		char name[300], path[400];
		struct mq_attr attr;
		struct stat st;
		IpcEntry *e;
		mqd_t q;

		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "/%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || (q = mq_open(name, O_RDWR | O_NONBLOCK)) == (mqd_t)-1 || mq_getattr(q, &attr)) {
			ret = pr_perror("can't open the message queue %s", name);
			break;
		}
		if (!(e = malloc(sizeof(*e)))) {
			mq_close(q);
			ret = -ENOMEM;
			break;
		}
		ipc_entry__init(e);
		if (!(e->mq = malloc(sizeof(*e->mq))) || !(buf = realloc(buf, attr.mq_msgsize + 1))) {
			free(e->mq);
			free(e);
			mq_close(q);
			ret = -ENOMEM;
			break;
		}
		ipc_mq_entry__init(e->mq);
		e->mq->name = strdup(de->d_name);
		e->mq->mode = st.st_mode & 07777;
		e->mq->uid = st.st_uid;
		e->mq->gid = st.st_gid;
		e->mq->maxmsg = attr.mq_maxmsg;
		e->mq->msgsize = attr.mq_msgsize;
		e->mq->msgs = calloc(attr.mq_curmsgs + 1, sizeof(*e->mq->msgs));
		/* take every message out, then put them back in the same order */
		for (long i = 0; i < attr.mq_curmsgs && e->mq->msgs; i++) {
			unsigned prio;
			ssize_t n = mq_receive(q, buf, attr.mq_msgsize, &prio);
			IpcMqMsg *m = n >= 0 ? malloc(sizeof(*m)) : NULL;
			if (!m)
				break;
			ipc_mq_msg__init(m);
			m->prio = prio;
			m->data.len = n;
			m->data.data = malloc(n + 1);
			if (m->data.data)
				memcpy(m->data.data, buf, n);
			e->mq->msgs[e->mq->n_msgs++] = m;
		}
		for (size_t i = 0; i < e->mq->n_msgs; i++)
			if (mq_send(q, (char *)e->mq->msgs[i]->data.data, e->mq->msgs[i]->data.len, e->mq->msgs[i]->prio))
				ret = pr_perror("can't put a message back into %s", name);
		if (!ret && (!e->mq->name || !e->mq->msgs || e->mq->n_msgs != (size_t)attr.mq_curmsgs))
			ret = (pr_err("can't read every message of the queue %s", name), -EIO);
		mq_close(q);
		if (ret)
			img_free_msg(&e->base);
		else
			ret = write_entry(img, e);
	}
out:
	if (d)
		closedir(d);
	free(buf);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return ret;
}

/* In the child, inside the namespace. */
static int dump_all(struct img_dir *dir, uint32_t id)
{
	struct img *img = img_create(dir, id ? IMG_IPC_N : IMG_IPC, id),
		   *data = img_create(dir, id ? IMG_IPCDATA_N : IMG_IPCDATA, id);
	int ret;

	if (!img || !data) {
		img_close(img);
		img_close(data);
		return -EIO;
	}
	ret = dump_shm(img, data) ?: dump_sem(img) ?: dump_msg(img) ?: dump_mq(img);
	if (ret) {
		img_close(img);
		img_close(data);
		return ret;
	}
	return img_close_write(img) ?: img_close_write(data);
}

int ipc_dump(struct img_dir *dir, pid_t pid)
{
	return ipc_dump_id(dir, pid, 0);
}

int ipc_dump_id(struct img_dir *dir, pid_t pid, uint32_t id)
{
	char path[64], err[512] = "";
	int ns, p[2], st;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	if ((ns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s", path);
	if (pipe2(p, O_CLOEXEC)) {
		close(ns);
		return pr_perror("pipe");
	}
	child = fork();
	if (child == 0) {
		int ret = setns(ns, CLONE_NEWIPC) ? pr_perror("can't join the IPC namespace of pid %d", pid)
						  : dump_all(dir, id);
		if (ret)
			(void)!write(p[1], cr_last_error(), strlen(cr_last_error()));
		_exit(ret ? 1 : 0);
	}
	close(ns);
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return pr_perror("fork");
	}
	ssize_t n = read(p[0], err, sizeof(err) - 1);
	close(p[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return pr_err("SysV IPC of pid %d: %s", pid, n > 0 ? err : "the dumping child failed"), -EIO;
	return 0;
}

/* ---- restore */

void ipc_free(struct ipc_image *ii)
{
	for (size_t i = 0; i < ii->nr; i++)
		img_free_msg(&ii->e[i]->base);
	free(ii->e);
	memset(ii, 0, sizeof(*ii));
}

static int check_entry(const IpcEntry *e)
{
	const IpcPermEntry *p = e->shm ? e->shm->perm : e->sem ? e->sem->perm : e->msg ? e->msg->perm : NULL;

	if (!!e->shm + !!e->sem + !!e->msg + !!e->mq != 1)
		return pr_err("ipc.img: a record that is not one shm, sem, msg or mqueue object"), -EINVAL;
	if (e->mq) {
		const IpcMqEntry *q = e->mq;
		if (!q->name[0] || strchr(q->name, '/') || strlen(q->name) > 255 || q->maxmsg == 0 ||
		    q->maxmsg > 65536 || q->msgsize == 0 || q->msgsize > (16 << 20) || q->n_msgs > q->maxmsg)
			return pr_err("ipc.img: message queue \"%s\" has bad attributes", q->name), -EINVAL;
		for (size_t i = 0; i < q->n_msgs; i++)
			if (q->msgs[i]->data.len > q->msgsize)
				return pr_err("ipc.img: a message longer than queue %s takes", q->name), -EINVAL;
		return 0;
	}
	if (!p)
		return pr_err("ipc.img: an object without its owner and mode"), -EINVAL;
	if (p->id > (1U << 30))
		return pr_err("ipc.img: object id %u out of range", p->id), -EINVAL;
	if (e->shm && (e->shm->size == 0 || e->shm->size > IPC_SHM_MAX))
		return pr_err("ipc.img: segment %u of %lu bytes", p->id, (unsigned long)e->shm->size), -EINVAL;
	if (e->sem && (e->sem->n_values == 0 || e->sem->n_values > 32000))
		return pr_err("ipc.img: semaphore set %u of %zu semaphores", p->id, e->sem->n_values), -EINVAL;
	for (size_t i = 0; e->msg && i < e->msg->n_msgs; i++)
		if (e->msg->msgs[i]->mtype <= 0 || e->msg->msgs[i]->mtext.len > IPC_MSG_MAX)
			return pr_err("ipc.img: queue %u has a bad message", p->id), -EINVAL;
	return 0;
}

int ipc_load(struct img_dir *dir, struct ipc_image *ii)
{
	return ipc_load_id(dir, 0, ii);
}

int ipc_load_id(struct img_dir *dir, uint32_t id, struct ipc_image *ii)
{
	struct img *img;
	IpcEntry *e;
	int ret;

	memset(ii, 0, sizeof(*ii));
	ii->id = id;
	if (!id && faccessat(dir->dfd, "ipc.img", F_OK, 0))
		return 0;   /* the tree shared the caller's IPC namespace */
	ii->own_ns = true;
	if (!(img = img_open(dir, id ? IMG_IPC_N : IMG_IPC, id)))
		return -ENOENT;
	while ((ret = img_read_msg(img, &ipc_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		IpcEntry **n = realloc(ii->e, (ii->nr + 1) * sizeof(*n));
		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		ii->e = n;
		ii->e[ii->nr++] = e;
		if ((ret = check_entry(e)))
			break;
	}
	img_close(img);
	if (ret < 0) {
		ipc_free(ii);
		ii->id = id;
	}
	return ret < 0 ? ret : 0;
}

static int write_sysctl(const char *path, uint64_t v);

static int set_sysctl(const char *name, uint64_t v)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	return write_sysctl(path, v);
}

static int next_id(const char *kind, uint32_t id)
{
	char name[32];

	snprintf(name, sizeof(name), "%s_next_id", kind);
	return set_sysctl(name, id);
}

static int set_perm(int (*ctl)(int, int, void *), int id, const IpcPermEntry *p, void *ds, struct ipc_perm *perm,
		    const char *what)
{
	if (ctl(id, IPC_STAT, ds))
		return pr_perror("can't read %s %u", what, p->id);
	/* ours, as the dump read them: in the tree's user namespace, its ids */
	perm->uid = userns_uid_in(p->uid);
	perm->gid = userns_gid_in(p->gid);
	perm->mode = p->mode & 0777;
	if (ctl(id, IPC_SET, ds))
		return pr_perror("can't set the owner and mode of %s %u", what, p->id);
	return 0;
}

static int shm_ctl(int id, int cmd, void *ds) { return shmctl(id, cmd, ds); }
static int sem_ctl(int id, int cmd, void *ds) { return semctl(id, 0, cmd, (union semun){ .buf = ds }); }
static int msg_ctl(int id, int cmd, void *ds) { return msgctl(id, cmd, ds); }

static int restore_shm(const IpcShmEntry *s, int data_fd)
{
	const IpcPermEntry *p = s->perm;
	struct shmid_ds ds;
	int id, ret;
	void *at;

	if ((ret = next_id("shm", p->id)))
		return ret;
	if ((id = shmget(p->key, s->size, IPC_CREAT | IPC_EXCL | (p->mode & 0777))) < 0)
		return pr_perror("can't remake SysV segment %u (key 0x%x)", p->id, p->key);
	if ((uint32_t)id != p->id)
		return pr_err("SysV segment %u came back as %d", p->id, id), -EEXIST;
	if ((at = shmat(id, NULL, 0)) == (void *)-1)
		return pr_perror("can't fill SysV segment %u", p->id);
	ret = read_all(data_fd, at, s->size);
	shmdt(at);
	if (ret)
		return pr_err("ipcdata.img is short of the contents of segment %u", p->id), -EIO;
	return set_perm(shm_ctl, id, p, &ds, &ds.shm_perm, "SysV segment");
}

static int restore_sem(const IpcSemEntry *s)
{
	const IpcPermEntry *p = s->perm;
	unsigned short *vals = calloc(s->n_values, sizeof(*vals));
	struct semid_ds ds;
	int id, ret;

	if (!vals)
		return -ENOMEM;
	if ((ret = next_id("sem", p->id)))
		goto out;
	if ((id = semget(p->key, s->n_values, IPC_CREAT | IPC_EXCL | (p->mode & 0777))) < 0) {
		ret = pr_perror("can't remake semaphore set %u (key 0x%x)", p->id, p->key);
		goto out;
	}
	if ((uint32_t)id != p->id) {
		ret = (pr_err("semaphore set %u came back as %d", p->id, id), -EEXIST);
		goto out;
	}
	for (size_t i = 0; i < s->n_values; i++)
		vals[i] = s->values[i];
	if (semctl(id, 0, SETALL, (union semun){ .array = vals })) {
		ret = pr_perror("can't set the values of semaphore set %u", p->id);
		goto out;
	}
	ret = set_perm(sem_ctl, id, p, &ds, &ds.sem_perm, "semaphore set");
out:
	free(vals);
	return ret;
}

static int restore_msg(const IpcMsgEntry *q, struct msgbuf_any *buf)
{
	const IpcPermEntry *p = q->perm;
	struct msqid_ds ds;
	int id, ret;

	if ((ret = next_id("msg", p->id)))
		return ret;
	/* a queue gets kernel.msgmnb bytes; raising its own limit later would need
	 * CAP_SYS_RESOURCE: the namespace's default is made large enough first */
	if (q->qbytes > 16384 && (ret = set_sysctl("msgmnb", q->qbytes)))
		return ret;
	id = msgget(p->key, IPC_CREAT | IPC_EXCL | (p->mode & 0777));
	if (q->qbytes > 16384)
		set_sysctl("msgmnb", 16384);
	if (id < 0)
		return pr_perror("can't remake message queue %u (key 0x%x)", p->id, p->key);
	if ((uint32_t)id != p->id)
		return pr_err("message queue %u came back as %d", p->id, id), -EEXIST;
	for (size_t i = 0; i < q->n_msgs; i++) {
		buf->mtype = q->msgs[i]->mtype;
		memcpy(buf->mtext, q->msgs[i]->mtext.data, q->msgs[i]->mtext.len);
		if (msgsnd(id, buf, q->msgs[i]->mtext.len, IPC_NOWAIT))
			return pr_perror("can't put message %zu back into queue %u", i, p->id);
	}
	if ((ret = set_perm(msg_ctl, id, p, &ds, &ds.msg_perm, "message queue")))
		return ret;
	/* a smaller limit than the namespace's default is the owner's own choice */
	if (q->qbytes < ds.msg_qbytes) {
		ds.msg_qbytes = q->qbytes;
		if (msgctl(id, IPC_SET, &ds))
			return pr_perror("can't set the size of queue %u", p->id);
	}
	return 0;
}

static int read_sysctl(const char *path, uint64_t *v)
{
	char *s = read_file(path, NULL);
	int ret = s && sscanf(s, "%lu", (unsigned long *)v) == 1 ? 0 : -EIO;

	free(s);
	return ret;
}

static int write_sysctl(const char *path, uint64_t v)
{
	char val[24];

	snprintf(val, sizeof(val), "%lu", (unsigned long)v);
	return write_file(path, val) ? pr_perror("can't set %s to %lu", path, (unsigned long)v) : 0;
}

static int restore_mq(const IpcMqEntry *q)
{
	struct mq_attr attr = { .mq_maxmsg = q->maxmsg, .mq_msgsize = q->msgsize };
	static const char *const limits[2] = { "/proc/sys/fs/mqueue/msg_max", "/proc/sys/fs/mqueue/msgsize_max" };
	uint64_t was[2] = { 0, 0 }, need[2] = { q->maxmsg, q->msgsize };
	char name[300];
	int ret = 0;
	mqd_t m;

	/* a queue larger than the namespace's limits needs CAP_SYS_RESOURCE: the
	 * limits of the new namespace are raised for its creation instead */
	for (int i = 0; i < 2 && !ret; i++)
		if (!read_sysctl(limits[i], &was[i]) && need[i] > was[i])
			ret = write_sysctl(limits[i], need[i]);
	snprintf(name, sizeof(name), "/%s", q->name);
	m = ret ? (mqd_t)-1 : mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK | O_CLOEXEC, q->mode, &attr);
	for (int i = 0; i < 2; i++)
		if (was[i] && need[i] > was[i])
			write_sysctl(limits[i], was[i]);
	if (ret)
		return ret;
	if (m == (mqd_t)-1)
		return pr_perror("can't remake the message queue %s", name);
	for (size_t i = 0; i < q->n_msgs && !ret; i++)
		if (mq_send(m, (char *)q->msgs[i]->data.data, q->msgs[i]->data.len, q->msgs[i]->prio))
			ret = pr_perror("can't put message %zu back into %s", i, name);
	if (!ret && fchown(m, userns_uid_in(q->uid), userns_gid_in(q->gid)))
		ret = pr_perror("can't give the message queue %s to %u:%u", name, q->uid, q->gid);
	if (!ret && fchmod(m, q->mode))
		ret = pr_perror("can't set the mode of the message queue %s", name);
	mq_close(m);
	return ret;
}

int ipc_restore(struct img_dir *dir, const struct ipc_image *ii)
{
	struct msgbuf_any *buf = NULL;
	int data_fd = -1, ret = 0;

	if (!ii->own_ns)
		return 0;
	if (unshare(CLONE_NEWIPC))
		return pr_perror("can't make a new IPC namespace");
	char data[32];
	snprintf(data, sizeof(data), "ipcdata%s%.0u.img", ii->id ? "-" : "", ii->id);
	if ((data_fd = openat(dir->dfd, data, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s/%s", dir->path, data);
	for (size_t i = 0; i < ii->nr && !ret; i++) {
		const IpcEntry *e = ii->e[i];
		if (e->shm)
			ret = restore_shm(e->shm, data_fd);
		else if (e->mq)
			ret = restore_mq(e->mq);
		else if (e->sem)
			ret = restore_sem(e->sem);
		else if (!buf && !(buf = malloc(sizeof(*buf))))
			ret = -ENOMEM;
		else
			ret = restore_msg(e->msg, buf);
	}
	free(buf);
	close(data_fd);
	return ret;
}

int ipc_finish(const struct ipc_image *ii)
{
	for (size_t i = 0; i < ii->nr; i++)
		if (ii->e[i]->shm && ii->e[i]->shm->destroyed && shmctl(ii->e[i]->shm->perm->id, IPC_RMID, NULL))
			return pr_perror("can't mark segment %u removed again", ii->e[i]->shm->perm->id);
	return 0;
}
