#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem/mem.h"
#include "proc/privs.h"
#include "proc/proc.h"
#include "util.h"

/* map_files needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN): say so when that is why */
static int map_files_failed(const char *mf, const char *what)
{
	int err = errno, ret = privs_explain(err, CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN,
					     "reading /proc/PID/map_files (the files a process maps)");

	if (ret)
		return ret;
	errno = err;
	return pr_perror("can't stat %s (%s)", mf, what);
}

static int classify(pid_t pid, const struct proc_vma *p, VmaEntry *v)
{
	v->flags = p->shared ? MAP_SHARED : MAP_PRIVATE;
	if (p->growsdown)
		v->flags |= MAP_GROWSDOWN;
	if (p->lock) {
		v->has_lock = true;
		v->lock = p->lock;
	}
	if (p->madv) {
		v->has_madv = true;
		v->madv = p->madv;
	}
	if (!strcmp(p->path, "[vdso]"))
		v->kind = VMA_KIND__VMA_VDSO;
	else if (!strcmp(p->path, "[vvar]"))
		v->kind = VMA_KIND__VMA_VVAR;
	else if (!strcmp(p->path, "[vvar_vclock]"))
		v->kind = VMA_KIND__VMA_VVAR_VCLOCK;
	else if (!strcmp(p->path, "[vsyscall]"))
		v->kind = VMA_KIND__VMA_VSYSCALL;
	else if (p->path[0] == '/' && p->deleted && p->shared && !strcmp(p->path, "/dev/zero"))
		v->kind = VMA_KIND__VMA_ANON_SHARED;   /* MAP_SHARED|MAP_ANONYMOUS is shmem named dev/zero */
	else if (p->deleted && p->shared && !strcmp(p->path, "/[aio]"))
		return pr_err("pid %d has an AIO context (io_setup) whose ring is at 0x%lx: kernel AIO contexts can't "
			      "be checkpointed yet", pid, (unsigned long)p->start), -EOPNOTSUPP;
	else if (p->path[0] == '/') {
		/* deleted files and memfds are saved whole as ghosts (files_dump); SysV shm is not a
		 * file: its inode number is the segment's id, its contents go with the IPC namespace */
		if (p->deleted && !strncmp(p->path, "/SYSV", 5)) {
			v->kind = VMA_KIND__VMA_SYSV_SHM;
			v->has_sysv_shmid = v->has_pgoff = true;
			v->sysv_shmid = p->ino;
			v->pgoff = p->pgoff;
		} else {
			v->kind = p->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
		}
	} else if (p->shared)
		return pr_err("pid %d has a shared mapping %s at 0x%lx that is not supported yet", pid,
			      p->path[0] ? p->path : "(anonymous)", (unsigned long)p->start), -EOPNOTSUPP;
	else {
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
		v->flags |= MAP_ANONYMOUS;
	}
	if (v->kind == VMA_KIND__VMA_ANON_SHARED)
		v->flags |= MAP_ANONYMOUS;
	if (p->path[0]) {
		v->name = strdup(p->path);
		if (!v->name)
			return -ENOMEM;
	}
	if (v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) {
		/* map_files names the very file mapped, whatever happened to the path since */
		char mf[128];
		struct stat st;

		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)p->start,
			 (unsigned long)p->end);
		if (stat(mf, &st))
			return map_files_failed(mf, p->path);
		v->path = v->name;
		v->has_pgoff = v->has_file_size = v->has_file_mtime_ns = true;
		v->pgoff = p->pgoff;
		v->file_size = st.st_size;
		v->file_mtime_ns = stat_mtime_ns(&st);
	} else if (v->kind == VMA_KIND__VMA_ANON_SHARED) {
		/* the object, so that every process mapping it gets the same one back */
		char mf[128];
		struct stat st;

		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)p->start,
			 (unsigned long)p->end);
		if (stat(mf, &st))
			return map_files_failed(mf, "shared anonymous memory");
		v->has_pgoff = v->has_shm_ino = v->has_shm_size = true;
		v->pgoff = p->pgoff;
		v->shm_ino = st.st_ino;
		v->shm_size = st.st_size;
	}
	return 0;
}

int mem_collect(pid_t pid, const struct proc_stat *st, uint64_t brk, MmEntry *mm)
{
	struct proc_vma *pv;
	char path[64];
	size_t auxv_len;
	int nr, ret;
	uint64_t *auxv;

	mm_entry__init(mm);
	mm->mm_start_code = st->start_code;
	mm->mm_end_code = st->end_code;
	mm->mm_start_data = st->start_data;
	mm->mm_end_data = st->end_data;
	mm->mm_start_stack = st->start_stack;
	mm->mm_start_brk = st->start_brk;
	mm->mm_brk = brk;
	mm->mm_arg_start = st->arg_start;
	mm->mm_arg_end = st->arg_end;
	mm->mm_env_start = st->env_start;
	mm->mm_env_end = st->env_end;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	mm->exe_path = xreadlink(path);
	if (!mm->exe_path)
		return pr_perror("can't read %s", path);
	auxv = (uint64_t *)read_proc(pid, "auxv", &auxv_len);
	if (!auxv)
		return pr_perror("can't read /proc/%d/auxv", pid);
	mm->n_mm_saved_auxv = auxv_len / sizeof(uint64_t);
	mm->mm_saved_auxv = auxv;

	if ((ret = proc_parse_smaps(pid, &pv, &nr)))
		return ret;
	mm->vmas = calloc(nr, sizeof(VmaEntry *));
	if (!mm->vmas) {
		free(pv);
		return -ENOMEM;
	}
	for (int i = 0; i < nr; i++) {
		VmaEntry *v = malloc(sizeof(*v));
		if (!v) {
			ret = -ENOMEM;
			break;
		}
		vma_entry__init(v);
		mm->vmas[mm->n_vmas++] = v;
		v->start = pv[i].start;
		v->end = pv[i].end;
		v->prot = pv[i].prot;
		if ((ret = classify(pid, &pv[i], v)))
			break;
	}
	free(pv);
	return ret;
}

void mem_free(MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		free(mm->vmas[i]->name);
		free(mm->vmas[i]);
	}
	free(mm->vmas);
	free(mm->mm_saved_auxv);
	free(mm->exe_path);
	mm_entry__init(mm);
}

int mem_vma_dumps_content(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
	       v->kind == VMA_KIND__VMA_ANON_SHARED;
}

int mem_validate(const MmEntry *mm, unsigned long task_size)
{
	uint64_t prev_end = 0;

	if (!path_is_clean(mm->exe_path))
		return pr_err("mm image: the executable path is not absolute or has . or .."), -EINVAL;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (v->start >= v->end || (v->start | v->end) & (PAGE_SIZE - 1) || v->end > task_size ||
		    v->start < prev_end)
			return pr_err("mm image: area %zu [0x%lx-0x%lx) is empty, unaligned, overlapping or outside "
				      "user space", i, (unsigned long)v->start, (unsigned long)v->end), -EINVAL;
		if (v->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
			return pr_err("mm image: area 0x%lx has bad protection bits 0x%x",
				      (unsigned long)v->start, v->prot), -EINVAL;
		if (v->kind == VMA_KIND__VMA_ANON_SHARED && v->has_shm_ino &&
		    (!v->has_pgoff || v->pgoff & (PAGE_SIZE - 1) || v->shm_size > (1ULL << 46) ||
		     v->pgoff > v->shm_size || v->end - v->start > v->shm_size - v->pgoff))
			return pr_err("mm image: shared area 0x%lx lies outside its object of %lu bytes",
				      (unsigned long)v->start, (unsigned long)v->shm_size), -EINVAL;
		if (v->has_lock && v->lock != 1 && v->lock != 3)
			return pr_err("mm image: area 0x%lx has a bad lock %u (1: mlock, 3: on fault)",
				      (unsigned long)v->start, v->lock), -EINVAL;
		if (v->madv & ~MEM_MADV_RESTORED)
			return pr_err("mm image: area 0x%lx has unknown madvise bits 0x%lx", (unsigned long)v->start,
				      (unsigned long)(v->madv & ~MEM_MADV_RESTORED)), -EINVAL;
		if ((v->kind == VMA_KIND__VMA_SYSV_SHM && (!v->has_sysv_shmid || !v->has_pgoff)) ||
		    (v->kind != VMA_KIND__VMA_SYSV_SHM && (v->has_sysv_key || v->has_sysv_size)) ||
		    v->has_sysv_key != v->has_sysv_size || (v->has_sysv_size && v->sysv_size + PAGE_SIZE - 1 < v->end - v->start))
			return pr_err("mm image: SysV area 0x%lx names no segment, or a bad one", (unsigned long)v->start), -EINVAL;
		if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) &&
		    (!path_is_clean(v->path) || !v->has_pgoff || v->pgoff & (PAGE_SIZE - 1)))
			return pr_err("mm image: file area 0x%lx has no clean absolute path or a bad offset",
				      (unsigned long)v->start), -EINVAL;
		prev_end = v->end;
	}
	if (mm->n_mm_saved_auxv > 128 || mm->n_mm_saved_auxv % 2)
		return pr_err("mm image: auxv of %zu words is malformed", mm->n_mm_saved_auxv), -EINVAL;
	return 0;
}

/* The syscall site: the start of the first private executable mapping.  Not a
 * shared one: the bytes planted there for a remote syscall would be written to its
 * file or shmem, seen by every process that maps it (and a file's mtime moves). */
uint64_t mem_exec_site(const MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_vmas; i++)
		if ((mm->vmas[i]->prot & PROT_EXEC) && (mm->vmas[i]->kind == VMA_KIND__VMA_FILE_PRIVATE ||
							mm->vmas[i]->kind == VMA_KIND__VMA_ANON_PRIVATE))
			return mm->vmas[i]->start;
	return 0;
}
