/* The page pipeline, restore side: build every area of the image in a free
 * region of our address space (never overlapping its final place), fill it from
 * the pages image, and describe the moves the restorer will make. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ipc-shared.h"
#include "kerndat.h"
#include "log.h"
#include "fault.h"
#include "mem/copyin.h"
#include "mem/layers.h"
#include "mem/lazy.h"
#include "mem/mem.h"
#include "mem/parts.h"
#include "mem/premap.h"
#include "mem/shmem.h"
#include "proc/proc.h"
#include "util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static bool is_vdso_kind(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR || k == VMA_KIND__VMA_VVAR_VCLOCK;
}

static bool premapped(const VmaEntry *v)
{
	return !is_vdso_kind(v->kind) && v->kind != VMA_KIND__VMA_VSYSCALL;
}

/* Areas that can hold huge pages keep their address modulo the huge page size in
 * the premap area too, so that moving them into place keeps the huge pages whole.
 * Only where the process could have had them: in "madvise" mode an area it did not
 * madvise has small pages only, and gets small pages back. */
static uint64_t thp_align(const VmaEntry *v)
{
	const struct kerndat *kd = kerndat_get();
	unsigned long thp = kd->thp_size;

	if (!thp || v->kind != VMA_KIND__VMA_ANON_PRIVATE || v->end - v->start < thp ||
	    (v->madv & (1ULL << MADV_NOHUGEPAGE)) || (!kd->thp_always && !(v->madv & (1ULL << MADV_HUGEPAGE))))
		return 0;
	return thp;
}

/* Where area v goes in the premap area, given the next free address. */
static uint64_t premap_place(const VmaEntry *v, uint64_t at)
{
	uint64_t align = thp_align(v);

	return align ? at + ((v->start - at) & (align - 1)) : at;
}

uint64_t premap_size(const MmEntry *mm)
{
	uint64_t sz = 0;

	for (size_t i = 0; i < mm->n_vmas; i++)
		if (premapped(mm->vmas[i]))
			sz += mm->vmas[i]->end - mm->vmas[i]->start + thp_align(mm->vmas[i]);
	return sz;
}

static bool overlaps_image(const MmEntry *mm, uint64_t start, uint64_t len)
{
	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->kind != VMA_KIND__VMA_VSYSCALL && start < mm->vmas[i]->end &&
		    mm->vmas[i]->start < start + len)
			return true;
	return false;
}

/* Reserve 'len' bytes free both here and in the image's layout: try the top and the
 * bottom of every gap between the image's areas. */
int premap_reserve(const MmEntry *mm, uint64_t len, unsigned long task_size, uint64_t *out)
{
	uint64_t prev_end = 1 << 20;

	for (size_t i = 0; i <= mm->n_vmas; i++) {
		uint64_t next = i < mm->n_vmas ? mm->vmas[i]->start : task_size - (64 << 20);
		if (i < mm->n_vmas && mm->vmas[i]->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (next > prev_end && next - prev_end >= len + 2 * PAGE_SIZE) {
			uint64_t tries[2] = { next - len - PAGE_SIZE, prev_end + PAGE_SIZE };
			for (int t = 0; t < 2; t++) {
				void *p = mmap((void *)tries[t], len, PROT_NONE,
					       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
				if (p == MAP_FAILED)
					continue;
				if ((uint64_t)p == tries[t] && !overlaps_image(mm, tries[t], len)) {
					*out = tries[t];
					return 0;
				}
				munmap(p, len);
			}
		}
		if (i < mm->n_vmas && mm->vmas[i]->end > prev_end)
			prev_end = mm->vmas[i]->end;
	}
	return pr_err("no free address range of %lu bytes for restoring: the image's layout leaves no room",
		      (unsigned long)len), -ENOMEM;
}

/* Is there a gap of len bytes between the image's areas (as premap_reserve looks)? */
static bool layout_has_room(const MmEntry *mm, uint64_t len, unsigned long task_size)
{
	uint64_t prev_end = 1 << 20;

	for (size_t i = 0; i <= mm->n_vmas; i++) {
		uint64_t next = i < mm->n_vmas ? mm->vmas[i]->start : task_size - (64 << 20);
		if (i < mm->n_vmas && mm->vmas[i]->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (next > prev_end && next - prev_end >= len + 2 * PAGE_SIZE)
			return true;
		if (i < mm->n_vmas && mm->vmas[i]->end > prev_end)
			prev_end = mm->vmas[i]->end;
	}
	return false;
}

/* Before anything is created: the layout leaves room for the premap area and the
 * restorer, and every pagemap run lies in an area whose pages are dumped, in
 * order, those stored here adding up to the pages image's size (fill_pages checks
 * again as it goes; runs kept in parent images are checked when read). */
int premap_check(struct img_dir *dir, pid_t pid, const MmEntry *mm, unsigned long task_size)
{
	struct img *pm;
	struct page_parts parts = { 0 };
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t total[PAGE_PARTS] = { 0 }, prev_end = 0;
	size_t vi = 0;
	int ret, part;

	if (!layout_has_room(mm, premap_size(mm) + (16 << 20), task_size))
		return pr_err("mm-%d.img: the areas leave no free address range for the restorer and the premap "
			      "area (%lu bytes)", pid, (unsigned long)premap_size(mm)), -EINVAL;
	if (!(pm = img_open(dir, IMG_PAGEMAP, pid)))
		return -ENOENT;
	if ((ret = img_read_one(pm, &pagemap_head__descriptor, (ProtobufCMessage **)&head)))
		goto out;
	page_parts_init(&parts, dir, head->pages_id);
	if (!page_parts_get(&parts, 0)) {
		ret = -ENOENT;
		goto out;
	}
	while ((ret = img_read_msg(pm, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe)) > 0) {
		uint64_t start = pe->vaddr, len = (uint64_t)pe->nr_pages * PAGE_SIZE;
		uint32_t n = pe->nr_pages;
		bool parent = pe->has_in_parent && pe->in_parent;   /* its pages are in the parent images */

		part = page_part(pm, pe);
		img_free_msg(&pe->base);
		if (part < 0) {
			ret = part;
			break;
		}
		while (vi < mm->n_vmas && mm->vmas[vi]->end <= start)
			vi++;
		if (!n || start & (PAGE_SIZE - 1) || start + len < start || start < prev_end || vi == mm->n_vmas ||
		    start < mm->vmas[vi]->start || start + len > mm->vmas[vi]->end ||
		    !premapped(mm->vmas[vi]) || !mem_vma_dumps_content(mm->vmas[vi])) {
			ret = (pr_err("%s: run 0x%lx+%u pages is outside every area that holds pages, overflows or is "
				      "out of order", pm->name, (unsigned long)start, n), -EINVAL);
			break;
		}
		prev_end = start + len;
		if (!parent)
			total[part] += len;
	}
	if (!ret)
		ret = page_parts_check(&parts, total);
out:
	img_free_msg(head ? &head->base : NULL);
	page_parts_close(&parts);
	img_close(pm);
	return ret;
}

static int check_file(const VmaEntry *v, int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return pr_perror("can't stat %s", v->path);
	if (v->has_file_size && ((uint64_t)st.st_size != v->file_size ||
	    (v->has_file_mtime_ns &&
	     !mtime_unchanged(v->file_mtime_ns, &st))))
		return pr_err("mapped file %s changed since the dump (size %lu -> %lld or modification time): "
			      "refusing to map a different file", v->path, (unsigned long)v->file_size,
			      (long long)st.st_size), -ESTALE;
	return 0;
}

/* The advice the area had (VmFlags hg, nh, dd...): mremap carries it into place. */
static int apply_advice(const VmaEntry *v, void *at)
{
	for (int advice = 0; advice < 64; advice++) {
		if (!(v->madv & (1ULL << advice)) || !madvise(at, v->end - v->start, advice))
			continue;
		/* KSM may be built out: merging is an optimization, not the program's state */
		if (advice == MADV_MERGEABLE && errno == EINVAL) {
			pr_warn("area 0x%lx was mergeable (KSM), this kernel has no KSM", (unsigned long)v->start);
			continue;
		}
		return pr_perror("can't madvise(%d) area 0x%lx as it was", advice, (unsigned long)v->start);
	}
	return 0;
}

static int premap_one(const VmaEntry *v, const struct shmem_set *shm, uint64_t at)
{
	uint64_t len = v->end - v->start;
	int rw = PROT_READ | PROT_WRITE, fd = -1, ret = 0;
	void *p;

	switch (v->kind) {
	case VMA_KIND__VMA_ANON_PRIVATE:
		/* the kernel charges only writable private memory to the commit limit: a
		 * reservation without write (MariaDB keeps 8 TB of PROT_NONE) is mapped
		 * writable here to be filled, but must not be charged (ENOMEM) */
		p = mmap((void *)at, len, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			 (v->prot & PROT_WRITE ? 0 : MAP_NORESERVE) |
			 (v->flags & MAP_GROWSDOWN ? MAP_GROWSDOWN : 0), -1, 0);
		break;
	case VMA_KIND__VMA_ANON_SHARED: {
		const struct shmem_obj *o = v->has_shm_ino ? shmem_find(shm, v->shm_ino) : NULL;
		/* old_size 0: a second mapping of the same shared pages */
		p = o ? mremap((char *)o->addr + v->pgoff, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)at)
		      : mmap((void *)at, len, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	}
	case VMA_KIND__VMA_FILE_PRIVATE:
	case VMA_KIND__VMA_FILE_SHARED: {
		bool shared = v->kind == VMA_KIND__VMA_FILE_SHARED;
		fd = open(v->path, (shared && (v->prot & PROT_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0)
			return pr_perror("can't open mapped file %s", v->path);
		if ((ret = check_file(v, fd))) {
			close(fd);
			return ret;
		}
		p = mmap((void *)at, len, shared ? (int)v->prot : rw, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED,
			 fd, v->pgoff);
		break;
	}
	case VMA_KIND__VMA_SYSV_SHM:
		/* the segment is there already: the root remade the IPC namespace first, or it
		 * is the caller's namespace's, kept there */
		if (v->has_sysv_key && (ret = ipc_shared_shm_check(v)))
			return ret;
		if (v->pgoff)
			return pr_err("area 0x%lx maps SysV segment %u from offset %lu: only whole attaches are "
				      "restored", (unsigned long)v->start, v->sysv_shmid, (unsigned long)v->pgoff), -EOPNOTSUPP;
		p = shmat(v->sysv_shmid, (void *)at, SHM_REMAP | (v->prot & PROT_WRITE ? 0 : SHM_RDONLY) |
						      (v->prot & PROT_EXEC ? SHM_EXEC : 0));
		if (p == (void *)-1)
			return pr_perror("can't attach SysV segment %u for area 0x%lx", v->sysv_shmid,
					 (unsigned long)v->start);
		return 0;
	default:
		return 0;
	}
	if (p == MAP_FAILED)
		ret = pr_perror("can't premap area 0x%lx-0x%lx (%s)", (unsigned long)v->start,
				(unsigned long)v->end, v->name ? v->name : "anonymous");
	if (fd >= 0)
		close(fd);
	return ret ?: apply_advice(v, p);
}

/* Make the pages of [dst, dst + len) present in as few steps as possible: whole
 * huge pages where the run covers them (one page touched, then collapsed: no
 * per-page faults), then everything else in one populate call.  Page faults one
 * by one cost ~12 us each on a VM, and copying into huge pages is ~4x faster. */
static void populate_run(const VmaEntry *v, char *dst, uint64_t start, uint64_t len)
{
	uint64_t thp = thp_align(v);

	if (thp) {
		uint64_t first = (start + thp - 1) & ~(thp - 1), last = (start + len) & ~(thp - 1);
		if (last > first) {
			for (uint64_t a = first; a < last; a += thp)
				*(volatile char *)(dst + (a - start)) = 0;
			/* best effort: without it the populate below does all the work */
			madvise(dst + (first - start), last - first, MADV_COLLAPSE);
		}
	}
	madvise(dst, len, MADV_POPULATE_WRITE);
}

/* Large runs are copied from the pages image mapped (its page cache, populated
 * in one call) rather than read: read() walks the page cache a page at a time.
 * A 1 GiB restore filled its memory in 0.52 s instead of 0.70 s here (medians
 * of 6, warm memory).  The image was checked to hold every run (premap_check). */
#define READ_MAP_MIN   (1UL << 20)
#define READ_MAP_CHUNK (64UL << 20)

static int read_run(struct img *pages, char *dst, uint64_t len, uint64_t *off)
{
	while (len >= READ_MAP_MIN) {
		uint64_t n = len < READ_MAP_CHUNK ? len : READ_MAP_CHUNK;
		struct stat st;
		void *src;

		/* a page of the mapping past the end would kill us (SIGBUS): read() says why */
		if (fstat(pages->fd, &st) || (uint64_t)st.st_size < *off + n)
			break;
		src = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, pages->fd, *off);
		if (src == MAP_FAILED)
			break;   /* not mappable: read it */
		memcpy(dst, src, n);
		munmap(src, n);
		dst += n;
		*off += n;
		len -= n;
	}
	while (len) {
		ssize_t n = pread(pages->fd, dst, len > (1UL << 30) ? (1UL << 30) : len, *off);
		if (n <= 0)
			return n ? pr_perror("can't read %s", pages->name)
				 : (pr_err("%s is truncated at offset %lu", pages->name, (unsigned long)*off), -EIO);
		dst += n;
		*off += n;
		len -= n;
	}
	return 0;
}

/* Runs come in address order, their contents back to back in the pages image;
 * adjacent runs of one area are filled as one. */
/* Lazy restore leaves private anonymous areas empty: the lazy-pages daemon fills them. */
static bool filled_lazily(const VmaEntry *v, bool lazy)
{
	/* (locked memory is present when the process runs: mlock would fault it all in) */
	return lazy && v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->has_lock && v->lock);
}

/* An area huge pages can back keeps the populate path: it fills whole huge pages
 * (MADV_COLLAPSE), faster still than UFFDIO_COPY's small pages (1 GiB restored in
 * 0.40 s against 0.55 s here), and the process keeps huge pages where it may
 * have had them.  The rest, and everything when THP is off, is copied in. */
static bool fill_by_copyin(const struct copyin *ci, const VmaEntry *v)
{
	return copyin_usable(ci, v) && !thp_align(v);
}

/* Pages of a run that a pre-dump's images hold, into a registered area: read
 * through the layers into a bounce buffer, copied in from there. */
static int copyin_parent(struct copyin *ci, struct layer **layers, struct img_dir *dir, pid_t pid, uint64_t start,
			 uint64_t len, char *dst)
{
	const uint64_t chunk = 4UL << 20;
	char *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret = 0;

	if (buf == MAP_FAILED)
		return pr_perror("can't map a buffer for the pre-dump's pages");
	for (uint64_t done = 0; done < len && !ret; done += chunk) {
		uint64_t n = len - done < chunk ? len - done : chunk;
		if (!(ret = layers_read(layers, dir, pid, start + done, n, buf)))
			ret = copyin_from_buf(ci, dst + done, buf, n);
	}
	munmap(buf, chunk);
	return ret;
}

static int fill_pages(struct img_dir *dir, pid_t pid, const MmEntry *mm, const struct rst_vma *rv,
		      const size_t *idx, size_t nr, bool lazy)
{
	struct copyin ci;
	struct img *pm = img_open(dir, IMG_PAGEMAP, pid), *pages;
	struct page_parts parts = { 0 };
	struct layer *layers = NULL;
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off[PAGE_PARTS] = { 0 }, run_start = 0, run_len = 0;
	size_t vi = 0, run_vi = 0;
	int ret, part = 0, run_part = 0;

	if (!pm)
		return -ENOENT;
	copyin_open(&ci);
	/* Every area filled this way is registered before any other is populated: its
	 * own VMA then, which a huge page faulted in for a neighbour can't reach into
	 * (UFFDIO_COPY would find it there: EEXIST). */
	for (size_t i = 0; i < nr; i++)
		if (!filled_lazily(mm->vmas[idx[i]], lazy) && mem_vma_dumps_content(mm->vmas[idx[i]]) &&
		    fill_by_copyin(&ci, mm->vmas[idx[i]]) &&
		    (ret = copyin_area(&ci, rv[i].premap, rv[i].end - rv[i].start)))
			goto out;
	if ((ret = img_read_one(pm, &pagemap_head__descriptor, (ProtobufCMessage **)&head)))
		goto out;
	page_parts_init(&parts, dir, head->pages_id);
	if (!page_parts_get(&parts, 0)) {
		ret = -ENOENT;
		goto out;
	}
	for (;;) {
		uint64_t len = 0, start = 0;
		bool from_parent = false;

		ret = img_read_msg(pm, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe);
		if (ret > 0) {
			from_parent = pe->has_in_parent && pe->in_parent;
			len = (uint64_t)pe->nr_pages * PAGE_SIZE;
			start = pe->vaddr;
			/* advance to the area that holds this run */
			while (vi < nr && rv[vi].end <= start)
				vi++;
			if ((part = page_part(pm, pe)) < 0) {
				img_free_msg(&pe->base);
				ret = part;
				break;
			}
			if (!pe->nr_pages || start & (PAGE_SIZE - 1) || vi == nr || start < rv[vi].start ||
			    start + len > rv[vi].end || start + len < start || start < run_start + run_len ||
			    !mem_vma_dumps_content(mm->vmas[idx[vi]])) {
				pr_err("%s: run 0x%lx+%u pages is outside every area that holds pages, or out of "
				       "order", pm->name, (unsigned long)start, pe->nr_pages);
				img_free_msg(&pe->base);
				ret = -EINVAL;
				break;
			}
			img_free_msg(&pe->base);
			if (!from_parent && run_len && vi == run_vi && part == run_part && start == run_start + run_len) {
				run_len += len;
				continue;
			}
		}
		if (ret < 0)
			break;
		if (run_len && !(pages = page_parts_get(&parts, run_part))) {
			ret = -ENOENT;
			break;
		}
		if (run_len && filled_lazily(mm->vmas[idx[run_vi]], lazy)) {
			off[run_part] += run_len;   /* its bytes stay in the image for the daemon */
		} else if (run_len && fill_by_copyin(&ci, mm->vmas[idx[run_vi]])) {
			char *dst = (char *)(rv[run_vi].premap + (run_start - rv[run_vi].start));
			if ((ret = copyin_queue(&ci, dst, pages->fd, off[run_part], run_len)))
				break;
			off[run_part] += run_len;
		} else if (run_len) {
			char *dst = (char *)(rv[run_vi].premap + (run_start - rv[run_vi].start));
			populate_run(mm->vmas[idx[run_vi]], dst, run_start, run_len);
			if ((ret = read_run(pages, dst, run_len, &off[run_part])))
				break;
		}
		if (!len)
			break;
		if (from_parent) {
			/* not written since the pre-dump: its images have it */
			char *dst = (char *)(rv[vi].premap + (start - rv[vi].start));
			if (filled_lazily(mm->vmas[idx[vi]], lazy)) {
			} else if (fill_by_copyin(&ci, mm->vmas[idx[vi]])) {
				if ((ret = copyin_parent(&ci, &layers, dir, pid, start, len, dst)))
					break;
			} else {
				populate_run(mm->vmas[idx[vi]], dst, start, len);
				if ((ret = layers_read(&layers, dir, pid, start, len, dst)))
					break;
			}
			run_start = start + len;   /* the next run must come after it */
			run_len = 0;
			continue;
		}
		run_start = start;
		run_len = len;
		run_vi = vi;
		run_part = part;
	}
	if (ret == 0)
		ret = copyin_flush(&ci);
	for (int k = 0; k < PAGE_PARTS && ret == 0; k++) {
		struct stat st;
		if (!parts.f[k])
			continue;   /* no run of the part (checked by premap_check) */
		if (fstat(parts.f[k]->fd, &st) || (uint64_t)st.st_size < off[k] ||
		    (!lazy && (uint64_t)st.st_size != off[k]))
			ret = (pr_err("%s has %lu bytes more than its pagemap lists", parts.f[k]->name,
				      (unsigned long)(st.st_size - off[k])), -EINVAL);
	}
out:
	/* the areas become ordinary memory again: pages not filled fault in as zeroes */
	if (copyin_close(&ci) && !ret)
		ret = -EIO;
	layers_free(layers);
	img_free_msg(head ? &head->base : NULL);
	page_parts_close(&parts);
	img_close(pm);
	return ret;
}

int premap_build(struct img_dir *dir, pid_t pid, const MmEntry *mm, const struct shmem_set *shm,
		 uint64_t premap_start, struct rst_vma *rv, uint32_t *nr_out, struct lazy_area **lazy, size_t *nr_lazy)
{
	size_t *idx = calloc(mm->n_vmas + 1, sizeof(size_t));
	uint64_t at = premap_start;
	uint32_t nr = 0;
	int ret = 0;

	*nr_out = 0;
	if (fault_hit("restore-premap")) {
		free(idx);
		return -ENOMEM;
	}
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < mm->n_vmas && !ret; i++) {
		const VmaEntry *v = mm->vmas[i];
		if (!premapped(v))
			continue;
		at = premap_place(v, at);
		if ((ret = premap_one(v, shm, at)))
			break;
		rv[nr] = (struct rst_vma){ .premap = at, .start = v->start, .end = v->end, .prot = v->prot,
					   .lock = v->has_lock ? v->lock : 0 };
		idx[nr++] = i;
		at += v->end - v->start;
	}
	if (!ret)
		ret = fill_pages(dir, pid, mm, rv, idx, nr, lazy != NULL);
	if (!ret && lazy) {
		/* the areas the daemon fills, where they are now and where they belong */
		*nr_lazy = 0;
		if (!(*lazy = calloc(nr + 1, sizeof(**lazy))))
			ret = -ENOMEM;
		for (uint32_t i = 0; !ret && i < nr; i++)
			if (filled_lazily(mm->vmas[idx[i]], true))
				(*lazy)[(*nr_lazy)++] = (struct lazy_area){
					rv[i].premap, rv[i].start, rv[i].end - rv[i].start,
					mm->vmas[idx[i]]->madv & (1ULL << MADV_WIPEONFORK) ? LAZY_WIPE_ON_FORK : 0 };
	}
	for (uint32_t i = 0; i < nr && !ret; i++) {
		const VmaEntry *v = mm->vmas[idx[i]];
		if (v->kind != VMA_KIND__VMA_FILE_SHARED &&
		    mprotect((void *)rv[i].premap, v->end - v->start, v->prot))
			ret = pr_perror("can't protect area 0x%lx", (unsigned long)v->start);
	}
	free(idx);
	*nr_out = nr;
	return ret;
}

static const struct { const char *name; VmaKind kind; } vdso_kinds[PREMAP_VDSO_KINDS] = {
	{ "[vvar]", VMA_KIND__VMA_VVAR }, { "[vvar_vclock]", VMA_KIND__VMA_VVAR_VCLOCK },
	{ "[vdso]", VMA_KIND__VMA_VDSO },
};

/* Once, in libcr: parsing maps in every task costs a page fault per area (the
 * parser's records are large) in each of them. */
int premap_vdso_here(struct vdso_here *here)
{
	struct proc_vma *pv;
	int n, ret;

	*here = (struct vdso_here){ 0 };
	if ((ret = proc_parse_maps(getpid(), &pv, &n)))
		return ret;
	for (size_t k = 0; k < PREMAP_VDSO_KINDS; k++)
		for (int i = 0; i < n; i++)
			if (!strcmp(pv[i].path, vdso_kinds[k].name)) {
				here->k[k].start = pv[i].start;
				here->k[k].len = pv[i].end - pv[i].start;
			}
	free(pv);
	return 0;
}

/* This kernel's vDSO areas, matched by kind to the image's. */
int premap_vdso(const MmEntry *mm, const struct vdso_here *here, struct rst_vdso_area *areas, uint32_t *nr)
{
	*nr = 0;
	for (size_t k = 0; k < PREMAP_VDSO_KINDS; k++) {
		uint64_t len = here->k[k].len;
		const VmaEntry *img = NULL;

		for (size_t i = 0; i < mm->n_vmas; i++)
			if (mm->vmas[i]->kind == vdso_kinds[k].kind)
				img = mm->vmas[i];
		if (!len && !img)
			continue;
		if (!len || (img && img->end - img->start != len))
			return pr_err("the image's %s (%lu bytes) does not match this kernel's (%lu bytes): restoring "
				      "onto a kernel with another vDSO layout is not supported yet", vdso_kinds[k].name,
				      img ? (unsigned long)(img->end - img->start) : 0UL, (unsigned long)len),
			       -EOPNOTSUPP;
		areas[*nr] = (struct rst_vdso_area){ .cur = here->k[k].start, .len = len,
						     .target = img ? img->start : 0 };
		(*nr)++;
	}
	return 0;
}
