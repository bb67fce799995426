/* Unit tests of cr_show_image(): images written to a temporary directory are
 * decoded in both modes into a memfd; the text must hold the expected lines and
 * the JSON must be valid (checked by the small strict validator below).
 * SHOW_VERBOSE=1 in the environment prints every decoded output. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cr/cr.h"
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
static char *text, *json;       /* the last show() outputs */
static int text_ret, json_ret;

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

/* ---- a strict JSON validator (RFC 8259): returns the end of the value or NULL */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *j_value(const char *p, int depth);

static const char *j_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = *p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)                   /* also the end of the text */
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		if (c < 0x80) {
			p++;
			continue;
		}
		/* UTF-8: the text must be valid */
		int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
		if (!len || (c >= 0xf5))
			return NULL;
		for (int i = 1; i < len; i++)
			if (((unsigned char)p[i] & 0xc0) != 0x80)
				return NULL;
		if ((c == 0xe0 && (unsigned char)p[1] < 0xa0) || (c == 0xed && (unsigned char)p[1] > 0x9f) ||
		    (c == 0xf0 && (unsigned char)p[1] < 0x90) || (c == 0xf4 && (unsigned char)p[1] > 0x8f))
			return NULL;
		p += len;
	}
}

static const char *digits(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *j_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = digits(p)))
		return NULL;
	if (*p == '.' && !(p = digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(p = digits(p)))
			return NULL;
	}
	return p;
}

static const char *j_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = ws(p);
	switch (*p) {
	case '{':
		p = ws(p + 1);
		if (*p == '}')
			return p + 1;
		for (;;) {
			if (!(p = j_string(ws(p))))
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
			if (!(p = j_value(p, depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == '}')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '[':
		p = ws(p + 1);
		if (*p == ']')
			return p + 1;
		for (;;) {
			if (!(p = j_value(p, depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	case '"':
		return j_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return j_number(p);
	}
}

static bool json_valid(const char *s)
{
	const char *end = j_value(s, 0);

	return end && !*ws(end);
}

/* The validator itself must accept and refuse the right things. */
static int t_validator(void)
{
	static const char *good[] = {
		"[]", "{}", " [ 1 , -2.5e+3 , 0 , \"a\\u00ffb\\n\" , true , false , null ] ",
		"{\"a\": {\"b\": [{}]}}", "18446744073709551615", "\"\xc3\xa9\xf0\x9f\x98\x80\"",
	};
	static const char *bad[] = {
		"", "[", "[1,]", "{\"a\" 1}", "{a: 1}", "[01]", "[0x10]", "\"\t\"", "\"\\x41\"",
		"[1] [2]", "\"\xff\"", "\"\xed\xa0\x80\"", "[1.]", "{\"a\":1,}", "'a'", "[-]",
		"\"\\u12g4\"", "tru", "[NaN]",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(json_valid(good[i]), "validator refused good JSON %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!json_valid(bad[i]), "validator accepted bad JSON %s", bad[i]);
	return 0;
}

/* ---- helpers */

static char *img_path(const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", dir.path, name);
	return buf;
}

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

/* Write a record image by hand: header, then the given raw payloads. */
static int write_raw(const char *name, enum img_kind kind, const void *const *payloads,
		     const size_t *lens, int n)
{
	uint32_t hdr[2] = { IMG_MAGIC, img_desc(kind)->magic };
	int fd = open(img_path(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok;

	CHECK(fd >= 0, "create %s: %s", name, strerror(errno));
	ok = write(fd, hdr, 8) == 8;
	for (int i = 0; ok && i < n; i++) {
		uint32_t rec[2] = { lens[i], crc32c(0, payloads[i], lens[i]) };

		ok = write(fd, rec, 8) == 8 && write(fd, payloads[i], lens[i]) == (ssize_t)lens[i];
	}
	close(fd);
	CHECK(ok, "write %s failed", name);
	return 0;
}

static char *show_one(const char *path, bool as_json, int *ret)
{
	int fd = memfd_create("show", 0);
	off_t len;
	char *buf;

	if (fd < 0)
		return NULL;
	cr_error_reset();
	*ret = cr_show_image(path, as_json, fd);
	len = lseek(fd, 0, SEEK_END);
	buf = malloc(len + 1);
	if (buf && pread(fd, buf, len, 0) != len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = 0;
	close(fd);
	if (buf && getenv("SHOW_VERBOSE"))
		printf("---- %s (%s) returned %d %s\n%s", path, as_json ? "json" : "text", *ret,
		       *ret ? cr_last_error() : "", buf);
	return buf;
}

/* Decode name in both modes into text/json; the JSON must be valid either way. */
static int show(const char *name)
{
	free(text);
	free(json);
	text = show_one(img_path(name), false, &text_ret);
	json = show_one(img_path(name), true, &json_ret);
	CHECK(text && json, "can't capture the output: %s", strerror(errno));
	CHECK(json_valid(json), "the JSON of %s is not valid:\n%s", name, json);
	return 0;
}

static int show_ok(const char *name)
{
	if (show(name))
		return -1;
	CHECK(!text_ret && !json_ret, "cr_show_image(%s) failed: %d/%d %s", name, text_ret, json_ret,
	      cr_last_error());
	return 0;
}

#define HAS(buf, s) CHECK(strstr(buf, s), "%s output lacks \"%s\":\n%s", \
			  buf == json ? "JSON" : "text", s, buf)
#define LACKS(buf, s) CHECK(!strstr(buf, s), "%s output has \"%s\":\n%s", \
			    buf == json ? "JSON" : "text", s, buf)

static int count(const char *buf, const char *s)
{
	int n = 0;

	for (const char *p = buf; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/* ---- cases */

static int t_inventory(void)
{
	InventoryEntry e = INVENTORY_ENTRY__INIT;
	char *feats[] = { "avx512f", "xsave" };
	const ProtobufCMessage *msgs[] = { &e.base };

	e.img_version = 1; e.arch = "x86_64"; e.kernel_release = "6.18.0"; e.tool_version = "0.1.0";
	e.root_pid = 4242; e.has_xfeatures_mask = 1; e.xfeatures_mask = 0x2e7;
	e.n_cpu_features = 2; e.cpu_features = feats; e.page_size = 4096;
	if (write_img(IMG_INVENTORY, 0, msgs, 1) || show_ok("inventory.img"))
		return -1;
	HAS(text, "# record 0: inventory_entry\n");
	HAS(text, "\nimg_version: 1\n");
	HAS(text, "\narch: \"x86_64\"\n");
	HAS(text, "\nroot_pid: 4242\n");
	HAS(text, "\nxfeatures_mask: 0x2e7\n");
	HAS(text, "\ncpu_features: [\"avx512f\", \"xsave\"]\n");
	HAS(text, "# inventory.img: 1 record\n");
	LACKS(text, "xsave_size");              /* absent optional field */
	HAS(json, "\"arch\": \"x86_64\"");
	HAS(json, "\"xfeatures_mask\": 743");
	HAS(json, "\"cpu_features\": [\"avx512f\", \"xsave\"]");
	HAS(json, "\"page_size\": 4096");
	LACKS(json, "xsave_size");
	CHECK(json[0] == '[' && count(json, "\"img_version\"") == 1, "not one object in an array");
	return 0;
}

static int t_mm(void)
{
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry v[3] = { VMA_ENTRY__INIT, VMA_ENTRY__INIT, VMA_ENTRY__INIT };
	VmaEntry *vp[3] = { &v[0], &v[1], &v[2] };
	uint64_t auxv[] = { 6, 4096, 0, 0 };
	const ProtobufCMessage *msgs[] = { &mm.base };

	mm.mm_start_code = 0x400000; mm.mm_brk = 0x425000; mm.exe_path = "/usr/bin/counter";
	mm.mm_start_stack = 0x7ffd00002000;
	mm.n_mm_saved_auxv = 4; mm.mm_saved_auxv = auxv;
	v[0].start = 0x400000; v[0].end = 0x401000; v[0].prot = 5; v[0].flags = 2;
	v[0].kind = VMA_KIND__VMA_FILE_PRIVATE; v[0].has_pgoff = 1; v[0].pgoff = 8192;
	v[0].path = "/usr/bin/counter";
	v[1].start = 0x404000; v[1].end = 0x425000; v[1].prot = 3; v[1].flags = 0x22;
	v[1].kind = VMA_KIND__VMA_ANON_PRIVATE; v[1].name = "[heap]";
	v[2].start = 0x7ffd00010000; v[2].end = 0x7ffd00012000; v[2].prot = 5; v[2].flags = 2;
	v[2].kind = VMA_KIND__VMA_VVAR_VCLOCK; v[2].name = "[vvar_vclock]";
	mm.n_vmas = 3; mm.vmas = vp;
	if (write_img(IMG_MM, 7, msgs, 1) || show_ok("mm-7.img"))
		return -1;
	HAS(text, "\nmm_start_code: 0x400000\n");
	HAS(text, "\nmm_brk: 0x425000\n");
	HAS(text, "\nmm_start_stack: 0x7ffd00002000\n");
	HAS(text, "\nmm_saved_auxv: [0x6, 0x1000, 0x0, 0x0]\n");
	HAS(text, "\nvmas[0]:\n  start: 0x400000\n  end: 0x401000\n  prot: 5\n  flags: 0x2\n"
		  "  kind: VMA_FILE_PRIVATE\n  pgoff: 8192\n  path: \"/usr/bin/counter\"\n");
	HAS(text, "\nvmas[1]:\n  start: 0x404000\n");
	HAS(text, "  kind: VMA_ANON_PRIVATE\n  name: \"[heap]\"\n");
	HAS(text, "\nvmas[2]:\n  start: 0x7ffd00010000\n  end: 0x7ffd00012000\n");
	HAS(text, "  kind: VMA_VVAR_VCLOCK\n");
	CHECK(count(text, "pgoff") == 1, "absent pgoff printed");
	HAS(json, "\"kind\": \"VMA_FILE_PRIVATE\"");
	HAS(json, "\"kind\": \"VMA_VVAR_VCLOCK\"");
	HAS(json, "\"start\": 4194304");
	HAS(json, "\"mm_start_stack\": 140724603461632");
	HAS(json, "\"mm_saved_auxv\": [6, 4096, 0, 0]");
	HAS(json, "\"name\": \"[heap]\"");
	CHECK(count(json, "\"start\":") == 3, "not three vma objects in the JSON");
	return 0;
}

static int t_core(void)
{
	CoreEntry c = CORE_ENTRY__INIT;
	CredsEntry cr = CREDS_ENTRY__INIT;
	ItimerEntry it = ITIMER_ENTRY__INIT, *itp[1] = { &it };
	AltstackEntry as = ALTSTACK_ENTRY__INIT;
	SigactionEntry sa = SIGACTION_ENTRY__INIT, *sap[1] = { &sa };
	ThreadEntry th = THREAD_ENTRY__INIT, *thp[1] = { &th };
	ThreadCoreX86 x86 = THREAD_CORE_X86__INIT;
	UserX86Regs regs = USER_X86_REGS__INIT;
	SiginfoEntry si = SIGINFO_ENTRY__INIT, *sip[1] = { &si };
	uint32_t groups[] = { 4, 27 };
	uint8_t xsave[2696], siginfo[16];
	const ProtobufCMessage *msgs[] = { &c.base };
	char hex[200];

	for (size_t i = 0; i < sizeof(xsave); i++)
		xsave[i] = i;
	for (size_t i = 0; i < sizeof(siginfo); i++)
		siginfo[i] = 0xf0 + i;
	cr.uid = 1000; cr.n_groups = 2; cr.groups = groups; cr.cap_eff = 0x1ffffffffffull;
	cr.has_no_new_privs = 1; cr.no_new_privs = 0;
	sa.sig = 10; sa.handler = 0x401234; sa.flags = 0x14000004; sa.restorer = 0x7f0000001000;
	sa.mask = 0x200;
	it.which = 1; it.isec = 1; it.iusec = 500000;
	as.sp = 0x7f0000100000; as.size = 65536; as.flags = 2;
	th.altstack = &as; th.has_robust_list = 1; th.robust_list = 0x7f1234567a20;
	regs.ip = 0x401000; regs.sp = 0x7ffd00001000; regs.ax = (uint64_t)-4; regs.fs_base = 0x7f1234567740;
	x86.gpregs = &regs; x86.xsave.len = sizeof(xsave); x86.xsave.data = xsave;
	si.siginfo.len = sizeof(siginfo); si.siginfo.data = siginfo; si.shared = 1;
	th.tid = 4242; th.arch = "x86_64"; th.x86 = &x86; th.sigmask = 0x4000; th.comm = "worker";
	th.n_pending = 1; th.pending = sip;
	c.pid = 4242; c.umask = 022; c.exit_signal = 17; c.creds = &cr; c.n_itimers = 1; c.itimers = itp;
	c.n_sigactions = 1; c.sigactions = sap; c.n_threads = 1; c.threads = thp;
	if (write_img(IMG_CORE, 4242, msgs, 1) || show_ok("core-4242.img"))
		return -1;
	HAS(text, "# record 0: core_entry\npid: 4242\n");
	HAS(text, "\numask: 022\n");
	HAS(text, "\ncreds:\n  uid: 1000\n");
	HAS(text, "\n  groups: [4, 27]\n");
	HAS(text, "\n  cap_eff: 0x1ffffffffff\n");
	HAS(text, "\n  no_new_privs: false\n");
	HAS(text, "\nsigactions[0]:\n  sig: 10\n  handler: 0x401234\n  flags: 0x14000004\n"
		  "  restorer: 0x7f0000001000\n  mask: 0x200\n");
	HAS(text, "\nitimers[0]:\n  isec: 1\n  iusec: 500000\n");
	HAS(text, "\n  which: 1\n");
	HAS(text, "\n  altstack:\n    sp: 0x7f0000100000\n    size: 65536\n    flags: 0x2\n");
	HAS(text, "\n  robust_list: 0x7f1234567a20\n");
	HAS(json, "\"itimers\": [\n      {\n");
	HAS(text, "\nthreads[0]:\n  tid: 4242\n  arch: \"x86_64\"\n  x86:\n    gpregs:\n      r15: 0x0\n");
	HAS(text, "\n      ax: 0xfffffffffffffffc\n");
	HAS(text, "\n      r15: 0x0\n");
	HAS(text, "\n      ip: 0x401000\n");
	HAS(text, "\n      sp: 0x7ffd00001000\n");
	HAS(text, "\n      fs_base: 0x7f1234567740\n");
	HAS(text, "\n  sigmask: 0x4000\n");
	HAS(text, "\n  pending[0]:\n    siginfo: f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n    shared: true\n");
	/* bytes: the first 64 in hex, then the size */
	for (int i = 0; i < 64; i++)
		sprintf(hex + 2 * i, "%02x", i);
	HAS(text, "\n    xsave: ");
	HAS(text, hex);
	HAS(text, "... (2696 bytes)\n");
	CHECK(strlen(text) < 4000, "the text output holds the whole xsave area");
	LACKS(text, "shared_pending");
	LACKS(text, "dumpable");
	HAS(json, "\"handler\": 4198964");
	HAS(json, "\"ax\": 18446744073709551612");
	HAS(json, "\"shared\": true");
	HAS(json, "\"no_new_privs\": false");
	HAS(json, "\"shared_pending\": []");
	HAS(json, "\"rlimits\": []");
	HAS(json, "\"siginfo\": \"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\"");
	{
		const char *p = strstr(json, "\"xsave\": \"");
		const char *q = p ? strchr(p + 10, '"') : NULL;

		CHECK(p && q && q - (p + 10) == 2 * 2696, "JSON xsave is not the full hex");
		CHECK(!strncmp(p + 10, hex, 128), "JSON xsave starts wrong");
	}
	return 0;
}

static int t_pagemap(void)
{
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry e[2] = { PAGEMAP_ENTRY__INIT, PAGEMAP_ENTRY__INIT };
	const ProtobufCMessage *msgs[] = { &h.base, &e[0].base, &e[1].base };

	h.pages_id = 3;
	e[0].vaddr = 0x400000; e[0].nr_pages = 1;
	e[1].vaddr = 0x7ffd00000000; e[1].nr_pages = 33;
	if (write_img(IMG_PAGEMAP, 1, msgs, 3) || show_ok("pagemap-1.img"))
		return -1;
	HAS(text, "# record 0: pagemap_head\npages_id: 3\n\n# record 1: pagemap_entry\n"
		  "vaddr: 0x400000\nnr_pages: 1\n\n# record 2: pagemap_entry\nvaddr: 0x7ffd00000000\n"
		  "nr_pages: 33\n\n# pagemap-1.img: 3 records\n");
	HAS(json, "\"pages_id\": 3");
	HAS(json, "\"vaddr\": 140724603453440");
	CHECK(count(json, "\"vaddr\"") == 2 && count(json, "\"pages_id\"") == 1, "wrong JSON objects");
	CHECK(strstr(json, "pages_id") < strstr(json, "vaddr"), "the head is not first");
	return 0;
}

static int t_strings(void)
{
	FdinfoEntry f[2] = { FDINFO_ENTRY__INIT, FDINFO_ENTRY__INIT };
	RegFileEntry reg = REG_FILE_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &f[0].base, &f[1].base };

	reg.path = "/tmp/a\tb\"c\\d\x01" "e\xff" "f\xc3\xa9g\xf0\x9f\x98\x80h\x7f\xed\xa0\x80\xc3";
	reg.pos = 5; reg.size = 10; reg.mode = 0100644;
	f[0].fd = 3; f[0].kind = FD_KIND__FD_REG; f[0].flags = 02; f[0].cloexec = 1; f[0].reg = &reg;
	f[1].fd = 0; f[1].kind = FD_KIND__FD_TTY; f[1].tty_path = "/dev/pts/3\n";
	if (write_img(IMG_FDINFO, 5, msgs, 2) || show_ok("fdinfo-5.img"))
		return -1;
	HAS(json, "\"path\": \"/tmp/a\\tb\\\"c\\\\d\\u0001e\\u00fff\xc3\xa9g\xf0\x9f\x98\x80h\\u007f"
		  "\\u00ed\\u00a0\\u0080\\u00c3\"");
	HAS(json, "\"tty_path\": \"/dev/pts/3\\n\"");
	HAS(json, "\"kind\": \"FD_REG\",\n    \"flags\": 2,");
	HAS(json, "\"kind\": \"FD_TTY\"");
	HAS(json, "\"cloexec\": true");
	HAS(json, "\"cloexec\": false");
	HAS(text, "\nkind: FD_REG\nflags: 0x2\n");
	HAS(text, "\nreg:\n  path: \"/tmp/a\\tb\\\"c\\\\d\\u0001e\\u00ff");
	HAS(text, "\ntty_path: \"/dev/pts/3\\n\"\n");
	HAS(text, "\n  mode: 0100644\n");
	HAS(json, "\"mode\": 33188");
	return 0;
}

static int t_unknown_enum(void)
{
	PipeEntry p = PIPE_ENTRY__INIT;
	FdinfoEntry f = FDINFO_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &f.base };

	p.ino = 1;
	f.fd = 9; f.kind = 42; f.pipe = &p;
	if (write_img(IMG_FDINFO, 6, msgs, 1) || show_ok("fdinfo-6.img"))
		return -1;
	HAS(text, "\nkind: 42\n");
	HAS(json, "\"kind\": 42");
	return 0;
}

/* A record with a field this build does not know (from a newer writer). */
static int t_unknown_field(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	uint8_t buf[64];
	size_t len;
	const void *pl[1] = { buf };

	fs.cwd = "/w"; fs.root = "/";
	len = fs_entry__pack(&fs, buf);
	buf[len++] = 15 << 3;   /* field 15, varint */
	buf[len++] = 0x2a;
	if (write_raw("fs-7.img", IMG_FS, pl, &len, 1) || show_ok("fs-7.img"))
		return -1;
	HAS(text, "cwd: \"/w\"\nroot: \"/\"\n# 1 unknown field(s)");
	HAS(json, "\"cwd\": \"/w\"");
	return 0;
}

static int t_empty(void)
{
	if (write_img(IMG_PSTREE, 0, NULL, 0) || show_ok("pstree.img"))
		return -1;
	CHECK(!strcmp(text, "# pstree.img: 0 records\n"), "text of an empty image: %s", text);
	CHECK(!strcmp(json, "[]\n"), "JSON of an empty image: %s", json);
	return 0;
}

static int t_many(void)
{
	enum { N = 20000 };
	PstreeEntry *e = calloc(N, sizeof(*e));
	const ProtobufCMessage **msgs = calloc(N, sizeof(*msgs));
	uint32_t th[] = { 1, 2, 3 };
	int ret = -1;
	char last[64];

	if (!e || !msgs)
		return fail("out of memory");
	for (int i = 0; i < N; i++) {
		pstree_entry__init(&e[i]);
		e[i].pid = i + 1;
		e[i].n_threads = 3;
		e[i].threads = th;
		msgs[i] = &e[i].base;
	}
	if (write_img(IMG_PSTREE, 0, msgs, N) || show_ok("pstree.img"))
		goto out;
	snprintf(last, sizeof(last), "# record %d: pstree_entry\npid: %d\n", N - 1, N);
	if (!strstr(text, last) || count(text, "threads: [1, 2, 3]\n") != N ||
	    count(json, "\"threads\": [1, 2, 3]") != N || !strstr(json, "\"pid\": 20000,"))
		fail("not all %d records decoded", N);
	else
		ret = 0;
out:
	free(e);
	free(msgs);
	return ret;
}

/* fs-8.img: two good records, then one with a flipped byte, then one more. */
static int make_damaged(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	uint8_t b[4][64];
	size_t lens[4];
	const void *pl[4] = { b[0], b[1], b[2], b[3] };
	uint32_t hdr[2] = { IMG_MAGIC, img_desc(IMG_FS)->magic };
	int fd;

	for (int i = 0; i < 4; i++) {
		char cwd[16];

		snprintf(cwd, sizeof(cwd), "/dir%d", i);
		fs.cwd = cwd; fs.root = "/";
		lens[i] = fs_entry__pack(&fs, b[i]);
	}
	if (write_raw("fs-8.img", IMG_FS, pl, lens, 4))
		return -1;
	/* flip a payload byte of record 2 after the checksum was taken */
	fd = open(img_path("fs-8.img"), O_WRONLY);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	b[2][3] ^= 0x20;
	CHECK(pwrite(fd, b[2], lens[2], sizeof(hdr) + 8 + lens[0] + 8 + lens[1] + 8) == (ssize_t)lens[2],
	      "pwrite");
	close(fd);
	return 0;
}

static int t_corrupt(void)
{
	if (make_damaged() || show("fs-8.img"))
		return -1;
	CHECK(text_ret == -EIO && json_ret == -EIO, "returned %d/%d, want -EIO", text_ret, json_ret);
	CHECK(strstr(cr_last_error(), "corrupt") && strstr(cr_last_error(), "fs-8.img"),
	      "message: %s", cr_last_error());
	HAS(text, "cwd: \"/dir0\"");
	HAS(text, "cwd: \"/dir1\"");
	LACKS(text, "/dir3");
	LACKS(text, "records");                 /* no end-of-image summary */
	HAS(json, "\"cwd\": \"/dir1\"");        /* and the JSON stays valid (checked by show) */
	LACKS(json, "/dir2");
	return 0;
}

static int t_truncated(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &fs.base, &fs.base };
	off_t size;
	int fd;

	fs.cwd = "/dir0"; fs.root = "/";
	if (write_img(IMG_FS, 8, msgs, 2))
		return -1;
	/* cut the second record short */
	fd = open(img_path("fs-8.img"), O_WRONLY);
	size = lseek(fd, 0, SEEK_END);
	CHECK(!ftruncate(fd, size - 3), "ftruncate");
	close(fd);
	if (show("fs-8.img"))
		return -1;
	CHECK(text_ret < 0 && json_ret < 0, "returned %d/%d, want an error", text_ret, json_ret);
	CHECK(strstr(cr_last_error(), "truncated"), "message: %s", cr_last_error());
	CHECK(count(text, "cwd: \"/dir0\"") == 1, "the good record is not shown once:\n%s", text);
	CHECK(count(json, "\"cwd\": \"/dir0\"") == 1, "the good record is not in the JSON once");
	return 0;
}

static int t_bad_magic(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &fs.base };
	uint32_t bad = 0x12345678;
	int fd, ret;

	fs.cwd = "/"; fs.root = "/";
	if (write_img(IMG_FS, 10, msgs, 1))
		return -1;
	fd = open(img_path("fs-10.img"), O_WRONLY);
	CHECK(pwrite(fd, &bad, 4, 4) == 4, "pwrite");
	close(fd);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ret = cr_show_image(img_path("fs-10.img"), false, fd);
	close(fd);
	CHECK(ret < 0, "an image with a bad magic decoded");
	CHECK(strstr(cr_last_error(), "magic"), "message: %s", cr_last_error());
	return 0;
}

static int t_missing(void)
{
	int ret;

	ret = cr_show_image(img_path("core-31337.img"), true, STDOUT_FILENO);
	CHECK(ret == -ENOENT, "missing image: returned %d, want -ENOENT", ret);
	CHECK(strstr(cr_last_error(), "core-31337.img"), "message: %s", cr_last_error());
	ret = cr_show_image(img_path("hello.txt"), true, STDOUT_FILENO);
	CHECK(ret == -EINVAL, "unknown name: returned %d, want -EINVAL", ret);
	CHECK(strstr(cr_last_error(), "hello.txt"), "message: %s", cr_last_error());
	ret = cr_show_image(img_path("pages-1.img"), false, STDOUT_FILENO);
	CHECK(ret == -EINVAL, "pages image: returned %d, want -EINVAL", ret);
	ret = cr_show_image(NULL, false, STDOUT_FILENO);
	CHECK(ret == -EINVAL, "NULL path: returned %d, want -EINVAL", ret);
	return 0;
}

static int t_bad_out_fd(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &fs.base };
	int fd, ret;

	fs.cwd = "/"; fs.root = "/";
	if (write_img(IMG_FS, 11, msgs, 1))
		return -1;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = cr_show_image(img_path("fs-11.img"), false, fd);
	close(fd);
	CHECK(ret == -EBADF, "writing to a read-only fd: returned %d, want -EBADF", ret);
	CHECK(strstr(cr_last_error(), "fs-11.img"), "message: %s", cr_last_error());
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
	char tmpl[] = "/tmp/libcr-unit-show-XXXXXX";

	if (!mkdtemp(tmpl) || img_dir_open(&dir, tmpl)) {
		printf("FAIL setup: can't make a temporary directory: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	run("json-validator", t_validator);
	run("inventory", t_inventory);
	run("mm-enums-and-addresses", t_mm);
	run("core-nested-and-bytes", t_core);
	run("pagemap-head-then-entries", t_pagemap);
	run("string-escapes", t_strings);
	run("unknown-enum-value", t_unknown_enum);
	run("unknown-field", t_unknown_field);
	run("empty-image", t_empty);
	run("many-records", t_many);
	run("corrupt-record", t_corrupt);
	run("truncated-record", t_truncated);
	run("bad-magic", t_bad_magic);
	run("missing-or-unknown", t_missing);
	run("bad-output-fd", t_bad_out_fd);

	free(text);
	free(json);
	rm_tree(tmpl);
	img_dir_close(&dir);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
