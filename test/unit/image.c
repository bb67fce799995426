/* Unit tests of the image codec (lib/image/image.c): every record kind round
 * trips, and damaged images (truncated, flipped, bad magic, lying lengths,
 * missing) give an error with a clear message instead of a crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image/image.h"
#include "log.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "fdinfo.pb-c.h"

static int npass, nfail;
static char why[1024];
static struct img_dir dir = { .dfd = -1 };

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

#define CHECK(cond, ...) do { if (!(cond)) return fail(__VA_ARGS__); } while (0)
/* An error path: the call failed and the message mentions `word`. */
#define CHECK_ERR(cond, word) do { \
	if (!(cond)) return fail("%s: expected failure, got success", #cond); \
	if (!strstr(cr_last_error(), word)) \
		return fail("message lacks \"%s\": \"%s\"", word, cr_last_error()); \
} while (0)

static void run(const char *name, int (*fn)(void))
{
	cr_error_reset();
	why[0] = 0;
	if (fn() == 0) {
		printf("PASS %s\n", name);
		npass++;
	} else {
		printf("FAIL %s: %s\n", name, why);
		nfail++;
	}
	fflush(stdout);
}

/* ---- helpers */

static int write_img(enum img_kind kind, unsigned id, const ProtobufCMessage *const *msgs, int n)
{
	struct img *img = img_create(&dir, kind, id);
	int ret;

	CHECK(img, "img_create: %s", cr_last_error());
	for (int i = 0; i < n; i++) {
		ret = img_write_msg(img, msgs[i]);
		if (ret) {
			img_close(img);
			return fail("img_write_msg #%d: %d %s", i, ret, cr_last_error());
		}
	}
	ret = img_close_write(img);
	CHECK(!ret, "img_close_write: %d %s", ret, cr_last_error());
	return 0;
}

static int same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
	uint8_t *pa, *pb;
	int same;

	if (la != lb)
		return 0;
	pa = malloc(la + 1);
	pb = malloc(lb + 1);
	protobuf_c_message_pack(a, pa);
	protobuf_c_message_pack(b, pb);
	same = !memcmp(pa, pb, la);
	free(pa);
	free(pb);
	return same;
}

/* Read back n records (the first as the head type where the kind has one), check
 * each packs to the same bytes as what was written, and that the image then ends.
 * The decoded records are left in out[] for field checks. */
static int read_back(enum img_kind kind, unsigned id, const ProtobufCMessage *const *msgs, int n,
		     ProtobufCMessage **out)
{
	const struct img_desc *d = img_desc(kind);
	struct img *img = img_open(&dir, kind, id);
	ProtobufCMessage *m;
	int ret;

	CHECK(img, "img_open: %s", cr_last_error());
	for (int i = 0; i < n; i++) {
		const ProtobufCMessageDescriptor *desc = !i && d->head ? d->head : d->msg;

		out[i] = NULL;
		ret = img_read_msg(img, desc, &out[i]);
		if (ret != 1) {
			img_close(img);
			return fail("img_read_msg #%d: %d %s", i, ret, cr_last_error());
		}
		if (out[i]->descriptor != desc || !same_packed(out[i], msgs[i])) {
			img_close(img);
			return fail("record #%d differs after the round trip", i);
		}
	}
	for (int i = 0; i < 2; i++) {
		ret = img_read_msg(img, d->msg, &m);
		if (ret != 0 || m) {
			img_close(img);
			return fail("end of image: read #%d returned %d, want 0", i, ret);
		}
	}
	img_close(img);
	CHECK(!cr_error_isset(), "an error was set on a clean read: %s", cr_last_error());
	return 0;
}

static void free_all(ProtobufCMessage **m, int n)
{
	for (int i = 0; i < n; i++)
		img_free_msg(m[i]);
}

static char *img_path(const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", dir.path, name);
	return buf;
}

static int file_size(const char *name)
{
	struct stat st;

	return stat(img_path(name), &st) ? -1 : (int)st.st_size;
}

static int patch_file(const char *name, off_t off, const void *p, size_t n)
{
	int fd = open(img_path(name), O_WRONLY);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = pwrite(fd, p, n, off);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static int read_byte(const char *name, off_t off)
{
	int fd = open(img_path(name), O_RDONLY);
	unsigned char c;
	ssize_t r;

	if (fd < 0)
		return -1;
	r = pread(fd, &c, 1, off);
	close(fd);
	return r == 1 ? c : -1;
}

/* ---- round trips of every kind */

static int t_inventory(void)
{
	InventoryEntry e = INVENTORY_ENTRY__INIT;
	char *feats[] = { "avx512f", "xsave", "ünïcode" };
	ProtobufCMessage *out[1];
	const ProtobufCMessage *msgs[] = { &e.base };
	int ret;

	e.img_version = IMG_VERSION;
	e.arch = "x86_64";
	e.kernel_release = "6.18.0-test";
	e.tool_version = "0.1.0";
	e.root_pid = 4242;
	e.has_xfeatures_mask = 1;
	e.xfeatures_mask = 0x2e7;
	e.has_xsave_size = 1;
	e.xsave_size = 2696;
	e.n_cpu_features = 3;
	e.cpu_features = feats;
	e.page_size = 4096;
	if (write_img(IMG_INVENTORY, 0, msgs, 1) || read_back(IMG_INVENTORY, 0, msgs, 1, out))
		return -1;
	InventoryEntry *r = (InventoryEntry *)out[0];
	ret = r->img_version == IMG_VERSION && !strcmp(r->arch, "x86_64") &&
	      !strcmp(r->kernel_release, "6.18.0-test") && r->root_pid == 4242 &&
	      r->has_xfeatures_mask && r->xfeatures_mask == 0x2e7 && r->has_xsave_size &&
	      r->xsave_size == 2696 && r->n_cpu_features == 3 &&
	      !strcmp(r->cpu_features[2], "ünïcode") && r->page_size == 4096;
	free_all(out, 1);
	CHECK(ret, "inventory fields differ");
	return 0;
}

static int t_inventory_optional_absent(void)
{
	InventoryEntry e = INVENTORY_ENTRY__INIT;
	ProtobufCMessage *out[1];
	const ProtobufCMessage *msgs[] = { &e.base };
	int ret;

	e.arch = "aarch64";
	e.kernel_release = "";
	e.tool_version = "";
	e.page_size = 65536;
	if (write_img(IMG_INVENTORY, 0, msgs, 1) || read_back(IMG_INVENTORY, 0, msgs, 1, out))
		return -1;
	InventoryEntry *r = (InventoryEntry *)out[0];
	ret = !r->has_xfeatures_mask && !r->has_xsave_size && !r->n_cpu_features &&
	      !strcmp(r->kernel_release, "") && r->page_size == 65536;
	free_all(out, 1);
	CHECK(ret, "absent optional fields came back set");
	return 0;
}

static int t_pstree(void)
{
	PstreeEntry a = PSTREE_ENTRY__INIT, b = PSTREE_ENTRY__INIT;
	uint32_t ta[] = { 100, 101, 102 };
	ProtobufCMessage *out[2];
	const ProtobufCMessage *msgs[] = { &a.base, &b.base };
	int ret;

	a.pid = 100; a.ppid = 1; a.pgid = 100; a.sid = 100;
	a.n_threads = 3; a.threads = ta;
	b.pid = 200; b.ppid = 100; b.pgid = 100; b.sid = 100;
	if (write_img(IMG_PSTREE, 0, msgs, 2) || read_back(IMG_PSTREE, 0, msgs, 2, out))
		return -1;
	PstreeEntry *r0 = (PstreeEntry *)out[0], *r1 = (PstreeEntry *)out[1];
	ret = r0->pid == 100 && r0->n_threads == 3 && r0->threads[2] == 102 &&
	      r1->pid == 200 && r1->ppid == 100 && !r1->n_threads;
	free_all(out, 2);
	CHECK(ret, "pstree fields differ");
	return 0;
}

static int t_core(void)
{
	CoreEntry c = CORE_ENTRY__INIT;
	CredsEntry cr = CREDS_ENTRY__INIT;
	ItimerEntry it[2] = { ITIMER_ENTRY__INIT, ITIMER_ENTRY__INIT }, *itp[2] = { &it[0], &it[1] };
	AltstackEntry as = ALTSTACK_ENTRY__INIT;
	RlimitEntry rl[2] = { RLIMIT_ENTRY__INIT, RLIMIT_ENTRY__INIT }, *rlp[2] = { &rl[0], &rl[1] };
	SigactionEntry sa = SIGACTION_ENTRY__INIT, *sap[1] = { &sa };
	ThreadEntry th = THREAD_ENTRY__INIT, *thp[1] = { &th };
	ThreadCoreX86 x86 = THREAD_CORE_X86__INIT;
	UserX86Regs regs = USER_X86_REGS__INIT;
	RseqEntry rs = RSEQ_ENTRY__INIT;
	SiginfoEntry si = SIGINFO_ENTRY__INIT, *sip[1] = { &si };
	uint32_t groups[] = { 0, 4, 27 };
	uint8_t xsave[2696], siginfo[128];
	ProtobufCMessage *out[1];
	const ProtobufCMessage *msgs[] = { &c.base };
	int ret;

	for (size_t i = 0; i < sizeof(xsave); i++)
		xsave[i] = i * 7;
	memset(siginfo, 0xa5, sizeof(siginfo));
	cr.uid = 1000; cr.euid = 1000; cr.suid = 1000; cr.fsuid = 1000;
	cr.gid = 100; cr.egid = 100; cr.sgid = 100; cr.fsgid = 100;
	cr.n_groups = 3; cr.groups = groups;
	cr.cap_inh = 0; cr.cap_prm = ~0ull; cr.cap_eff = 0x1ffffffffffull; cr.cap_bnd = ~0ull;
	cr.has_cap_amb = 1; cr.cap_amb = 0;
	cr.has_no_new_privs = 1; cr.no_new_privs = 1;
	rl[0].resource = 7; rl[0].cur = 1024; rl[0].max = 4096;
	rl[1].resource = 3; rl[1].cur = 8 << 20; rl[1].max = ~0ull;
	sa.sig = 10; sa.handler = 0x401234; sa.flags = 0x14000004; sa.restorer = 0x7f0000001000;
	sa.mask = 1ull << 9;
	it[0].which = 0; it[0].isec = 1; it[0].iusec = 500000; it[0].vsec = 2; it[0].vusec = 0;
	it[1].which = 2; it[1].vsec = 3;
	as.sp = 0x7f0000100000; as.size = 65536; as.flags = 0;
	regs.ip = 0x401000; regs.sp = 0x7ffd00001000; regs.ax = (uint64_t)-4; regs.orig_ax = 35;
	regs.flags = 0x246; regs.cs = 0x33; regs.ss = 0x2b; regs.fs_base = 0x7f1234567740;
	x86.gpregs = &regs;
	x86.xsave.len = sizeof(xsave);
	x86.xsave.data = xsave;
	rs.rseq_abi_pointer = 0x7f1234567e00; rs.rseq_abi_size = 32; rs.signature = 0x53053053;
	si.siginfo.len = sizeof(siginfo); si.siginfo.data = siginfo; si.shared = 0;
	th.tid = 4242; th.arch = "x86_64"; th.x86 = &x86; th.sigmask = 1ull << 14;
	th.rseq = &rs; th.comm = "worker"; th.n_pending = 1; th.pending = sip;
	th.has_clear_child_tid = 1; th.clear_child_tid = 0x7f1234567a10;
	th.altstack = &as; th.has_robust_list = 1; th.robust_list = 0x7f1234567a20;
	th.has_robust_list_len = 1; th.robust_list_len = 24;
	c.pid = 4242; c.personality = 0; c.umask = 022; c.exit_signal = 17;
	c.creds = &cr;
	c.n_rlimits = 2; c.rlimits = rlp;
	c.n_sigactions = 1; c.sigactions = sap;
	c.n_itimers = 2; c.itimers = itp;
	c.n_threads = 1; c.threads = thp;
	c.n_shared_pending = 1; c.shared_pending = sip;
	c.has_dumpable = 1; c.dumpable = 1;

	if (write_img(IMG_CORE, 4242, msgs, 1) || read_back(IMG_CORE, 4242, msgs, 1, out))
		return -1;
	CoreEntry *r = (CoreEntry *)out[0];
	ThreadEntry *rt = r->n_threads == 1 ? r->threads[0] : NULL;
	ret = r->pid == 4242 && r->umask == 022 && r->exit_signal == 17 &&
	      r->creds && r->creds->n_groups == 3 && r->creds->groups[2] == 27 &&
	      r->creds->cap_eff == 0x1ffffffffffull && r->creds->has_cap_amb &&
	      !r->creds->has_securebits && r->creds->has_no_new_privs && r->creds->no_new_privs &&
	      r->n_rlimits == 2 && r->rlimits[1]->max == ~0ull &&
	      r->n_sigactions == 1 && r->sigactions[0]->restorer == 0x7f0000001000 &&
	      r->n_itimers == 2 && r->itimers[0]->iusec == 500000 && r->itimers[1]->which == 2 &&
	      r->itimers[1]->vsec == 3 && rt && rt->altstack && rt->altstack->sp == 0x7f0000100000 &&
	      rt->altstack->size == 65536 && rt->has_robust_list && rt->robust_list_len == 24 &&
	      rt && rt->tid == 4242 && !strcmp(rt->comm, "worker") && rt->x86 && rt->x86->gpregs &&
	      rt->x86->gpregs->ip == 0x401000 && rt->x86->gpregs->ax == (uint64_t)-4 &&
	      rt->x86->xsave.len == sizeof(xsave) && !memcmp(rt->x86->xsave.data, xsave, sizeof(xsave)) &&
	      rt->rseq && rt->rseq->signature == 0x53053053 &&
	      rt->n_pending == 1 && rt->pending[0]->siginfo.len == 128 &&
	      rt->has_clear_child_tid && rt->clear_child_tid == 0x7f1234567a10 &&
	      r->n_shared_pending == 1 && r->has_dumpable && r->dumpable;
	free_all(out, 1);
	CHECK(ret, "core fields differ");
	return 0;
}

static int t_mm(void)
{
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry v[3] = { VMA_ENTRY__INIT, VMA_ENTRY__INIT, VMA_ENTRY__INIT };
	VmaEntry *vp[3] = { &v[0], &v[1], &v[2] };
	uint64_t auxv[] = { 33, 0x7ffd12345000, 6, 4096, 0, 0 };
	ProtobufCMessage *out[1];
	const ProtobufCMessage *msgs[] = { &mm.base };
	int ret;

	mm.mm_start_code = 0x400000; mm.mm_end_code = 0x401000;
	mm.mm_start_data = 0x402000; mm.mm_end_data = 0x403000;
	mm.mm_start_stack = 0x7ffd00002000; mm.mm_start_brk = 0x404000; mm.mm_brk = 0x425000;
	mm.mm_arg_start = 0x7ffd00002100; mm.mm_arg_end = 0x7ffd00002200;
	mm.mm_env_start = 0x7ffd00002200; mm.mm_env_end = 0x7ffd00002f00;
	mm.exe_path = "/usr/bin/counter";
	mm.n_mm_saved_auxv = 6; mm.mm_saved_auxv = auxv;
	v[0].start = 0x400000; v[0].end = 0x401000; v[0].prot = 5; v[0].flags = 2;
	v[0].kind = VMA_KIND__VMA_FILE_PRIVATE; v[0].has_pgoff = 1; v[0].pgoff = 0;
	v[0].path = "/usr/bin/counter"; v[0].has_file_size = 1; v[0].file_size = 16384;
	v[0].has_file_mtime_ns = 1; v[0].file_mtime_ns = 1700000000123456789ull;
	v[1].start = 0x404000; v[1].end = 0x425000; v[1].prot = 3; v[1].flags = 0x22;
	v[1].kind = VMA_KIND__VMA_ANON_PRIVATE; v[1].name = "[heap]";
	v[2].start = 0x7ffd00010000; v[2].end = 0x7ffd00012000; v[2].prot = 5; v[2].flags = 2;
	v[2].kind = VMA_KIND__VMA_VDSO; v[2].name = "[vdso]"; v[2].has_madv = 1; v[2].madv = 1 << 16;
	mm.n_vmas = 3; mm.vmas = vp;

	if (write_img(IMG_MM, 7, msgs, 1) || read_back(IMG_MM, 7, msgs, 1, out))
		return -1;
	MmEntry *r = (MmEntry *)out[0];
	ret = r->mm_brk == 0x425000 && !strcmp(r->exe_path, "/usr/bin/counter") &&
	      r->n_mm_saved_auxv == 6 && r->mm_saved_auxv[1] == 0x7ffd12345000 &&
	      r->n_vmas == 3 && r->vmas[0]->kind == VMA_KIND__VMA_FILE_PRIVATE &&
	      r->vmas[0]->file_mtime_ns == 1700000000123456789ull &&
	      r->vmas[1]->path == NULL && !strcmp(r->vmas[1]->name, "[heap]") &&
	      !r->vmas[1]->has_pgoff && r->vmas[2]->kind == VMA_KIND__VMA_VDSO &&
	      r->vmas[2]->end == 0x7ffd00012000 && r->vmas[2]->madv == 1 << 16;
	free_all(out, 1);
	CHECK(ret, "mm fields differ");
	return 0;
}

static int t_pagemap(void)
{
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry e[3] = { PAGEMAP_ENTRY__INIT, PAGEMAP_ENTRY__INIT, PAGEMAP_ENTRY__INIT };
	ProtobufCMessage *out[4];
	const ProtobufCMessage *msgs[] = { &h.base, &e[0].base, &e[1].base, &e[2].base };
	int ret;

	h.pages_id = 3;
	e[0].vaddr = 0x400000; e[0].nr_pages = 1;
	e[1].vaddr = 0x404000; e[1].nr_pages = 33;
	e[2].vaddr = 0x7ffd00000000; e[2].nr_pages = 0xffffffffu;
	if (write_img(IMG_PAGEMAP, 1, msgs, 4) || read_back(IMG_PAGEMAP, 1, msgs, 4, out))
		return -1;
	ret = out[0]->descriptor == &pagemap_head__descriptor &&
	      ((PagemapHead *)out[0])->pages_id == 3 &&
	      ((PagemapEntry *)out[2])->nr_pages == 33 &&
	      ((PagemapEntry *)out[3])->vaddr == 0x7ffd00000000 &&
	      ((PagemapEntry *)out[3])->nr_pages == 0xffffffffu;
	free_all(out, 4);
	CHECK(ret, "pagemap fields differ");
	return 0;
}

static int t_fdinfo(void)
{
	FdinfoEntry f[3] = { FDINFO_ENTRY__INIT, FDINFO_ENTRY__INIT, FDINFO_ENTRY__INIT };
	RegFileEntry reg = REG_FILE_ENTRY__INIT;
	PipeEntry pipe = PIPE_ENTRY__INIT;
	ProtobufCMessage *out[3];
	const ProtobufCMessage *msgs[] = { &f[0].base, &f[1].base, &f[2].base };
	int ret;

	reg.path = "/tmp/some file\twith \"quotes\""; reg.pos = 12345; reg.size = 99999; reg.mode = 0100644;
	reg.has_dev = 1; reg.dev = 0x803; reg.has_ino = 1; reg.ino = 1234567;
	pipe.ino = 77; pipe.has_external = 1; pipe.external = 1;
	f[0].fd = 0; f[0].kind = FD_KIND__FD_CHR; f[0].flags = 0; f[0].cloexec = 0;
	f[0].tty_path = NULL;
	f[1].fd = 3; f[1].kind = FD_KIND__FD_REG; f[1].flags = 02002; f[1].cloexec = 1; f[1].reg = &reg;
	f[2].fd = 1; f[2].kind = FD_KIND__FD_PIPE; f[2].flags = 1; f[2].pipe = &pipe;
	if (write_img(IMG_FDINFO, 5, msgs, 3) || read_back(IMG_FDINFO, 5, msgs, 3, out))
		return -1;
	FdinfoEntry *r1 = (FdinfoEntry *)out[1], *r2 = (FdinfoEntry *)out[2];
	ret = ((FdinfoEntry *)out[0])->kind == FD_KIND__FD_CHR && !((FdinfoEntry *)out[0])->reg &&
	      r1->kind == FD_KIND__FD_REG && r1->cloexec && r1->reg &&
	      !strcmp(r1->reg->path, reg.path) && r1->reg->pos == 12345 && r1->reg->ino == 1234567 &&
	      !r1->reg->has_mtime_ns && !r1->pipe &&
	      r2->kind == FD_KIND__FD_PIPE && r2->pipe && r2->pipe->ino == 77 && r2->pipe->external;
	free_all(out, 3);
	CHECK(ret, "fdinfo fields differ");
	return 0;
}

static int t_fs(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	ProtobufCMessage *out[1];
	const ProtobufCMessage *msgs[] = { &fs.base };
	int ret;

	fs.cwd = "/home/user/work";
	fs.root = "/";
	if (write_img(IMG_FS, 9, msgs, 1) || read_back(IMG_FS, 9, msgs, 1, out))
		return -1;
	ret = !strcmp(((FsEntry *)out[0])->cwd, "/home/user/work") && !strcmp(((FsEntry *)out[0])->root, "/");
	free_all(out, 1);
	CHECK(ret, "fs fields differ");
	return 0;
}

/* More records than the 64 KiB write buffer holds, and one record larger than it. */
static int t_many_and_large(void)
{
	enum { N = 20000 };
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry *e = calloc(N, sizeof(*e));
	const ProtobufCMessage **msgs = calloc(N + 1, sizeof(*msgs));
	ProtobufCMessage **out = calloc(N + 1, sizeof(*out));
	ThreadCoreX86 x = THREAD_CORE_X86__INIT;
	UserX86Regs regs = USER_X86_REGS__INIT;
	size_t big = 300 << 10;
	uint8_t *xs = malloc(big);
	int ret = -1;

	if (!e || !msgs || !out || !xs)
		return fail("out of memory");
	msgs[0] = &h.base;
	for (int i = 0; i < N; i++) {
		pagemap_entry__init(&e[i]);
		e[i].vaddr = 0x10000000ull + i * 0x3000ull;
		e[i].nr_pages = i + 1;
		msgs[i + 1] = &e[i].base;
	}
	if (write_img(IMG_PAGEMAP, 2, msgs, N + 1) || read_back(IMG_PAGEMAP, 2, msgs, N + 1, out))
		goto out;
	free_all(out, N + 1);
	/* a record larger than the write buffer: a core with a 300 KiB xsave area */
	for (size_t i = 0; i < big; i++)
		xs[i] = i ^ (i >> 8);
	x.gpregs = &regs;
	x.xsave.len = big;
	x.xsave.data = xs;
	{
		CoreEntry c = CORE_ENTRY__INIT;
		CredsEntry cr = CREDS_ENTRY__INIT;
		ThreadEntry th = THREAD_ENTRY__INIT, *thp[1] = { &th };
		const ProtobufCMessage *cm[] = { &c.base, &c.base };
		ProtobufCMessage *co[2];

		th.arch = "x86_64"; th.comm = "big"; th.x86 = &x;
		c.creds = &cr; c.n_threads = 1; c.threads = thp;
		if (write_img(IMG_CORE, 3, cm, 2) || read_back(IMG_CORE, 3, cm, 2, co))
			goto out;
		ret = ((CoreEntry *)co[1])->threads[0]->x86->xsave.len == big ? 0 :
		      fail("big record came back with the wrong size");
		free_all(co, 2);
	}
out:
	free(e);
	free(msgs);
	free(out);
	free(xs);
	return ret;
}

/* pages-N.img is raw: created and opened as a plain fd, no header. */
static int t_pages_raw(void)
{
	struct img *img = img_create(&dir, IMG_PAGES, 4);
	char buf[8192], back[8192];
	int ret;

	CHECK(img, "img_create pages: %s", cr_last_error());
	memset(buf, 0x5a, sizeof(buf));
	ret = write(img->fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
	if (!ret) {
		img_close(img);
		return fail("write to pages image failed");
	}
	ret = img_close_write(img);
	CHECK(!ret, "img_close_write pages: %d %s", ret, cr_last_error());
	CHECK(file_size("pages-4.img") == sizeof(buf), "pages-4.img is %d bytes, want %zu",
	      file_size("pages-4.img"), sizeof(buf));
	img = img_open(&dir, IMG_PAGES, 4);
	CHECK(img, "img_open pages: %s", cr_last_error());
	ret = read(img->fd, back, sizeof(back)) == (ssize_t)sizeof(back) && !memcmp(buf, back, sizeof(buf));
	img_close(img);
	CHECK(ret, "pages content differs");
	return 0;
}

/* ---- damaged images */

/* fs-20.img with two records; returns the file size. */
static int make_fs2(unsigned id)
{
	FsEntry a = FS_ENTRY__INIT, b = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &a.base, &b.base };
	char name[64];

	a.cwd = "/first"; a.root = "/";
	b.cwd = "/second/record/is/longer"; b.root = "/";
	if (write_img(IMG_FS, id, msgs, 2))
		return -1;
	snprintf(name, sizeof(name), "fs-%u.img", id);
	return file_size(name);
}

/* Read records until an error; want one good record and then the error. */
static int read_until_error(enum img_kind kind, unsigned id, int want_good, const char *word)
{
	struct img *img = img_open(&dir, kind, id);
	ProtobufCMessage *m;
	int ret, good = 0;

	CHECK(img, "img_open: %s", cr_last_error());
	while ((ret = img_read_msg(img, img_desc(kind)->msg, &m)) == 1) {
		img_free_msg(m);
		good++;
	}
	img_close(img);
	CHECK(ret < 0, "read ended with %d after %d records, want an error", ret, good);
	CHECK(!m, "an error left a message in *out");
	CHECK(good == want_good, "%d good records before the error, want %d", good, want_good);
	CHECK_ERR(ret < 0, word);
	return 0;
}

static int t_truncated_mid_record(void)
{
	int size = make_fs2(20);

	CHECK(size > 0, "setup: %s", why);
	CHECK(!truncate(img_path("fs-20.img"), size - 5), "truncate: %s", strerror(errno));
	return read_until_error(IMG_FS, 20, 1, "truncated");
}

static int t_truncated_mid_header(void)
{
	int size = make_fs2(21), first;

	CHECK(size > 0, "setup: %s", why);
	/* cut 3 bytes into the second record's 8-byte header */
	first = read_byte("fs-21.img", 8) | read_byte("fs-21.img", 9) << 8;
	CHECK(!truncate(img_path("fs-21.img"), IMG_HDR_SIZE + 8 + first + 3), "truncate: %s", strerror(errno));
	return read_until_error(IMG_FS, 21, 1, "truncated");
}

static int t_flipped_payload(void)
{
	int size = make_fs2(22), c;

	CHECK(size > 0, "setup: %s", why);
	c = read_byte("fs-22.img", size - 3);
	c ^= 0x01;
	CHECK(!patch_file("fs-22.img", size - 3, &c, 1), "patch failed");
	return read_until_error(IMG_FS, 22, 1, "corrupt");
}

static int t_flipped_crc(void)
{
	int size = make_fs2(23), c;

	CHECK(size > 0, "setup: %s", why);
	c = read_byte("fs-23.img", IMG_HDR_SIZE + 4) ^ 0x80;
	CHECK(!patch_file("fs-23.img", IMG_HDR_SIZE + 4, &c, 1), "patch failed");
	return read_until_error(IMG_FS, 23, 0, "corrupt");
}

static int t_bad_magic(void)
{
	int size = make_fs2(24);
	uint32_t bad = 0xdeadbeef;
	struct img *img;

	CHECK(size > 0, "setup: %s", why);
	CHECK(!patch_file("fs-24.img", 0, &bad, 4), "patch failed");
	img = img_open(&dir, IMG_FS, 24);
	if (img) {
		img_close(img);
		return fail("an image with a bad magic opened");
	}
	CHECK_ERR(!img, "magic");
	return 0;
}

static int t_wrong_kind_magic(void)
{
	struct img *img;

	CHECK(make_fs2(25) > 0, "setup: %s", why);
	{
		char from[4096];

		snprintf(from, sizeof(from), "%s", img_path("fs-25.img"));
		CHECK(!rename(from, img_path("mm-25.img")), "rename: %s", strerror(errno));
	}
	img = img_open(&dir, IMG_MM, 25);
	if (img) {
		img_close(img);
		return fail("an fs image opened as an mm image");
	}
	CHECK_ERR(!img, "magic");
	return 0;
}

static int t_shorter_than_header(void)
{
	struct img *img;

	CHECK(make_fs2(26) > 0, "setup: %s", why);
	CHECK(!truncate(img_path("fs-26.img"), 5), "truncate: %s", strerror(errno));
	img = img_open(&dir, IMG_FS, 26);
	if (img) {
		img_close(img);
		return fail("a 5-byte image opened");
	}
	CHECK_ERR(!img, "truncated");
	return 0;
}

static int t_length_past_eof(void)
{
	uint32_t len = 1000;

	CHECK(make_fs2(27) > 0, "setup: %s", why);
	CHECK(!patch_file("fs-27.img", IMG_HDR_SIZE, &len, 4), "patch failed");
	return read_until_error(IMG_FS, 27, 0, "claims");
}

static int t_length_huge(void)
{
	uint32_t len = 0xffffffffu;
	int size = make_fs2(28), first;

	CHECK(size > 0, "setup: %s", why);
	first = read_byte("fs-28.img", 8) | read_byte("fs-28.img", 9) << 8;
	/* the second record lies: 4 GiB, and 0xfffffff8 so that len + 8 wraps */
	CHECK(!patch_file("fs-28.img", IMG_HDR_SIZE + 8 + first, &len, 4), "patch failed");
	if (read_until_error(IMG_FS, 28, 1, "corrupt"))
		return -1;
	cr_error_reset();
	len = 0xfffffff8u;
	CHECK(!patch_file("fs-28.img", IMG_HDR_SIZE + 8 + first, &len, 4), "patch failed");
	return read_until_error(IMG_FS, 28, 1, "corrupt");
}

/* A record whose checksum is right but whose payload is not the message. */
static int t_undecodable(void)
{
	uint32_t hdr[2] = { IMG_MAGIC, img_desc(IMG_CORE)->magic };
	uint8_t junk[16] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3 };
	uint32_t rec[2] = { sizeof(junk), crc32c(0, junk, sizeof(junk)) };
	uint32_t empty[2] = { 0, crc32c(0, "", 0) };
	int fd = open(img_path("core-29.img"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok;

	CHECK(fd >= 0, "create: %s", strerror(errno));
	ok = write(fd, hdr, 8) == 8 && write(fd, rec, 8) == 8 && write(fd, junk, sizeof(junk)) == sizeof(junk);
	close(fd);
	CHECK(ok, "write failed");
	if (read_until_error(IMG_CORE, 29, 0, "decode"))
		return -1;
	/* an empty record lacks core_entry's required fields */
	cr_error_reset();
	fd = open(img_path("core-29.img"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	ok = write(fd, hdr, 8) == 8 && write(fd, empty, 8) == 8;
	close(fd);
	CHECK(ok, "write failed");
	return read_until_error(IMG_CORE, 29, 0, "corrupt");
}

static int t_empty_image(void)
{
	struct img *img;
	ProtobufCMessage *m;
	int ret;

	CHECK(!write_img(IMG_FS, 30, NULL, 0), "%s", why);
	CHECK(file_size("fs-30.img") == IMG_HDR_SIZE, "empty image is %d bytes", file_size("fs-30.img"));
	img = img_open(&dir, IMG_FS, 30);
	CHECK(img, "img_open: %s", cr_last_error());
	ret = img_read_msg(img, &fs_entry__descriptor, &m);
	if (ret != 0) {
		img_close(img);
		return fail("empty image: img_read_msg returned %d", ret);
	}
	ret = img_read_one(img, &fs_entry__descriptor, &m);
	img_close(img);
	CHECK(ret < 0, "img_read_one on an empty image returned %d", ret);
	CHECK_ERR(ret < 0, "truncated");
	return 0;
}

static int t_read_one(void)
{
	FsEntry a = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &a.base };
	ProtobufCMessage *m = NULL;
	struct img *img;
	int ret;

	a.cwd = "/"; a.root = "/";
	CHECK(!write_img(IMG_FS, 31, msgs, 1), "%s", why);
	img = img_open(&dir, IMG_FS, 31);
	CHECK(img, "img_open: %s", cr_last_error());
	ret = img_read_one(img, &fs_entry__descriptor, &m);
	img_close(img);
	CHECK(ret == 0 && m, "img_read_one returned %d", ret);
	img_free_msg(m);
	return 0;
}

static int t_missing(void)
{
	struct img *img = img_open(&dir, IMG_CORE, 99999);

	if (img) {
		img_close(img);
		return fail("a missing image opened");
	}
	CHECK_ERR(!img, "missing");
	CHECK(strstr(cr_last_error(), "core-99999.img"), "message does not name the file: %s",
	      cr_last_error());
	return 0;
}

static int t_missing_dir(void)
{
	struct img_dir d;
	int ret = img_dir_open(&d, "/nonexistent/libcr-images");

	CHECK(ret < 0, "opening a missing directory succeeded");
	CHECK(ret == -ENOENT, "img_dir_open returned %d, want -ENOENT", ret);
	CHECK_ERR(ret < 0, "/nonexistent/libcr-images");
	return 0;
}

static int t_open_path(void)
{
	struct img *img;
	ProtobufCMessage *m;
	int ret;

	CHECK(make_fs2(32) > 0, "setup: %s", why);
	img = img_open_path(img_path("fs-32.img"));
	CHECK(img, "img_open_path: %s", cr_last_error());
	CHECK(img->kind == IMG_FS, "kind %d, want IMG_FS", img->kind);
	ret = img_read_msg(img, &fs_entry__descriptor, &m);
	img_close(img);
	CHECK(ret == 1, "read: %d", ret);
	img_free_msg(m);

	img = img_open_path(img_path("notanimage.txt"));
	CHECK(!img, "a file with an unknown name opened");
	CHECK_ERR(!img, "notanimage.txt");
	cr_error_reset();
	img = img_open_path(img_path("pages-1.img"));
	CHECK(!img, "a pages image opened as a record image");
	CHECK_ERR(!img, "pages");
	cr_error_reset();
	img = img_open_path(img_path("mm-424242.img"));
	CHECK(!img, "a missing file opened");
	CHECK_ERR(!img, "mm-424242.img");
	return 0;
}

static int t_kind_of_name(void)
{
	static const struct { const char *name; int kind; } cases[] = {
		{ "inventory.img", IMG_INVENTORY }, { "pstree.img", IMG_PSTREE },
		{ "core-1.img", IMG_CORE }, { "core-4194304.img", IMG_CORE },
		{ "mm-42.img", IMG_MM }, { "pagemap-42.img", IMG_PAGEMAP },
		{ "fdinfo-42.img", IMG_FDINFO }, { "fs-42.img", IMG_FS },
		{ "pages-1.img", IMG_PAGES }, { "pages-0.img", IMG_PAGES },
		{ "", -1 }, { "inventory", -1 }, { "inventory.img.bak", -1 },
		{ "xinventory.img", -1 }, { "core.img", -1 }, { "core-.img", -1 },
		{ "core-1x.img", -1 }, { "core-1.im", -1 }, { "core--1.img", -1 },
		{ "core-1.img2", -1 }, { "core1.img", -1 }, { "Core-1.img", -1 },
		{ "pagemap.img", -1 }, { "pages-x.img", -1 }, { "fs-1", -1 },
		{ "mm-1.img ", -1 }, { "pstree.img/", -1 }, { "-1.img", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int k = img_kind_of_name(cases[i].name);

		CHECK(k == cases[i].kind, "img_kind_of_name(\"%s\") = %d, want %d",
		      cases[i].name, k, cases[i].kind);
	}
	/* every kind's own pattern, filled in, maps back to the kind */
	for (int k = 0; k < IMG__NR; k++) {
		char name[64];

		snprintf(name, sizeof(name), img_desc(k)->name, 123u);
		CHECK(img_kind_of_name(name) == k, "%s does not map back to kind %d", name, k);
	}
	return 0;
}

static int t_crc32c(void)
{
	/* the standard check value of CRC-32C */
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283u, "crc32c(\"123456789\") = %08x",
	      crc32c(0, "123456789", 9));
	CHECK(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u, "crc32c does not chain");
	CHECK(crc32c_portable(0, "123456789", 9) == 0xe3069283u, "crc32c_portable(\"123456789\") = %08x",
	      crc32c_portable(0, "123456789", 9));
	/* the CPU's instruction and the table agree at every length and alignment */
	unsigned char buf[300];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; off + len <= sizeof(buf); len += 1 + len / 8)
			CHECK(crc32c(0x1234, buf + off, len) == crc32c_portable(0x1234, buf + off, len),
			      "crc32c and crc32c_portable differ at offset %zu, length %zu", off, len);
	return 0;
}

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[4096];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

int main(void)
{
	char tmpl[] = "/tmp/libcr-unit-image-XXXXXX";

	if (!mkdtemp(tmpl) || img_dir_open(&dir, tmpl)) {
		printf("FAIL setup: can't make a temporary directory: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	run("roundtrip-inventory", t_inventory);
	run("roundtrip-inventory-optional-absent", t_inventory_optional_absent);
	run("roundtrip-pstree", t_pstree);
	run("roundtrip-core", t_core);
	run("roundtrip-mm", t_mm);
	run("roundtrip-pagemap", t_pagemap);
	run("roundtrip-fdinfo", t_fdinfo);
	run("roundtrip-fs", t_fs);
	run("roundtrip-many-and-large", t_many_and_large);
	run("pages-raw", t_pages_raw);
	run("empty-image", t_empty_image);
	run("read-one", t_read_one);
	run("truncated-mid-record", t_truncated_mid_record);
	run("truncated-mid-header", t_truncated_mid_header);
	run("flipped-payload-byte", t_flipped_payload);
	run("flipped-crc-byte", t_flipped_crc);
	run("bad-magic", t_bad_magic);
	run("wrong-kind-magic", t_wrong_kind_magic);
	run("shorter-than-header", t_shorter_than_header);
	run("length-past-eof", t_length_past_eof);
	run("length-huge", t_length_huge);
	run("undecodable-record", t_undecodable);
	run("missing-image", t_missing);
	run("missing-dir", t_missing_dir);
	run("open-path", t_open_path);
	run("kind-of-name", t_kind_of_name);
	run("crc32c", t_crc32c);

	rm_tree(tmpl);
	img_dir_close(&dir);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
