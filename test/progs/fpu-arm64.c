/* fpu-arm64: FP/SIMD, SVE, x19-x28 and pointer-authentication state across a
 * dump (the aarch64 twin of fpu-avx512; skipped cleanly elsewhere).
 *
 * One assembly function loads known random values into fpsr and fpcr, then
 * either (SVE) z0-z31, p0-p15 and ffr at this thread's vector length, or (no
 * SVE) v0-v31, and x19-x28; it then spins in user mode, without a syscall (a
 * syscall would discard the SVE state, as the ABI allows), until another
 * thread that waited for CHECK sets a flag; right after, still in the same
 * function, it stores every one of those registers.  Then C compares them.
 * The dump catches the spinning thread with all of that state live.
 *
 * Where the CPU has pointer authentication, a pointer signed with the
 * instruction key A (pacia) and a generic MAC (pacga) are computed before
 * READY and after CHECK: they agree only if the keys came back.
 *
 * --corrupt: after CHECK the stored copy of z17 (v17) is changed, so the
 * check must fail.
 */
#include "tst.h"

#include <pthread.h>
#include <string.h>

#if !defined(__aarch64__)
int main(int argc, char **argv)
{
	tst_init(argc, argv);
	tst_info("SKIP: FP/SIMD and SVE of aarch64; this is another architecture (fpu-avx512 is its twin)");
	tst_ready();
	tst_wait_check();
	tst_pass();
}
#else
#include <stdlib.h>
#include <sys/auxv.h>

#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef HWCAP_PACA
#define HWCAP_PACA (1 << 30)
#endif
#ifndef HWCAP_PACG
#define HWCAP_PACG (1UL << 31)
#endif

/* What run_regs reads and writes; the offsets are used by the assembly. */
struct io {
	uint8_t *zin, *zout;       /*  0,  8: z0-z31, vl bytes each */
	uint8_t *pin, *pout;       /* 16, 24: p0-p15 then ffr, vl/8 bytes each */
	uint64_t *gin, *gout;      /* 32, 40: x19-x28 */
	volatile uint32_t *flag;   /* 48 */
	uint32_t *fpin, *fpout;    /* 56, 64: fpsr, fpcr */
	uint64_t sve;              /* 72 */
	uint8_t *vin, *vout;       /* 80, 88: v0-v31 without SVE */
};

void run_regs(struct io *io);
uint64_t pac_sign(uint64_t ptr, uint64_t modifier);
uint64_t pac_generic(uint64_t value, uint64_t modifier);

#define R8(m) m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7)
#define R16(m) R8(m) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15)
#define R32(m) R16(m) m(16) m(17) m(18) m(19) m(20) m(21) m(22) m(23) \
	m(24) m(25) m(26) m(27) m(28) m(29) m(30) m(31)
#define LZ(n) "ldr z" #n ", [x1, #" #n ", mul vl]\n"
#define SZ(n) "str z" #n ", [x1, #" #n ", mul vl]\n"
#define LP(n) "ldr p" #n ", [x1, #" #n ", mul vl]\n"
#define SP(n) "str p" #n ", [x1, #" #n ", mul vl]\n"
#define LQ(n) "ldr q" #n ", [x1, #" #n "*16]\n"
#define SQ(n) "str q" #n ", [x1, #" #n "*16]\n"

__asm__(".arch armv8.3-a+sve\n"
	".text\n"
	".globl run_regs\n"
	".type run_regs, %function\n"
	"run_regs:\n"
	"stp x29, x30, [sp, #-160]!\n"
	"mov x29, sp\n"
	"stp x19, x20, [sp, #16]\n"
	"stp x21, x22, [sp, #32]\n"
	"stp x23, x24, [sp, #48]\n"
	"stp x25, x26, [sp, #64]\n"
	"stp x27, x28, [sp, #80]\n"
	"stp d8, d9, [sp, #96]\n"
	"stp d10, d11, [sp, #112]\n"
	"stp d12, d13, [sp, #128]\n"
	"stp d14, d15, [sp, #144]\n"
	"mov x15, x0\n"
	"ldr x1, [x15, #56]\n"
	"ldr w2, [x1]\n"
	"ldr w3, [x1, #4]\n"
	"msr fpcr, x3\n"
	"msr fpsr, x2\n"
	"ldr x1, [x15, #72]\n"
	"cbz x1, 2f\n"
	"ldr x1, [x15, #16]\n"
	"ldr p0, [x1, #16, mul vl]\n"   /* ffr, through p0 */
	"wrffr p0.b\n"
	R16(LP)
	"ldr x1, [x15, #0]\n"
	R32(LZ)
	"b 3f\n"
	"2:\n"
	"ldr x1, [x15, #80]\n"
	R32(LQ)
	"3:\n"
	"ldr x1, [x15, #32]\n"
	"ldp x19, x20, [x1, #0]\n"
	"ldp x21, x22, [x1, #16]\n"
	"ldp x23, x24, [x1, #32]\n"
	"ldp x25, x26, [x1, #48]\n"
	"ldp x27, x28, [x1, #64]\n"
	"ldr x1, [x15, #48]\n"
	"4:\n"                           /* the dump finds us here */
	"ldr w2, [x1]\n"
	"cbz w2, 4b\n"
	"ldr x1, [x15, #40]\n"
	"stp x19, x20, [x1, #0]\n"
	"stp x21, x22, [x1, #16]\n"
	"stp x23, x24, [x1, #32]\n"
	"stp x25, x26, [x1, #48]\n"
	"stp x27, x28, [x1, #64]\n"
	"ldr x1, [x15, #64]\n"
	"mrs x2, fpsr\n"
	"mrs x3, fpcr\n"
	"str w2, [x1]\n"
	"str w3, [x1, #4]\n"
	"ldr x1, [x15, #72]\n"
	"cbz x1, 5f\n"
	"ldr x1, [x15, #8]\n"
	R32(SZ)
	"ldr x1, [x15, #24]\n"
	R16(SP)
	"rdffr p0.b\n"
	"str p0, [x1, #16, mul vl]\n"
	"b 6f\n"
	"5:\n"
	"ldr x1, [x15, #88]\n"
	R32(SQ)
	"6:\n"
	"msr fpcr, xzr\n"
	"msr fpsr, xzr\n"
	"ldp x19, x20, [sp, #16]\n"
	"ldp x21, x22, [sp, #32]\n"
	"ldp x23, x24, [sp, #48]\n"
	"ldp x25, x26, [sp, #64]\n"
	"ldp x27, x28, [sp, #80]\n"
	"ldp d8, d9, [sp, #96]\n"
	"ldp d10, d11, [sp, #112]\n"
	"ldp d12, d13, [sp, #128]\n"
	"ldp d14, d15, [sp, #144]\n"
	"ldp x29, x30, [sp], #160\n"
	"ret\n"
	".size run_regs, .-run_regs\n"
	".globl pac_sign\n"
	".type pac_sign, %function\n"
	"pac_sign:\n"
	"pacia x0, x1\n"
	"ret\n"
	".globl pac_generic\n"
	".type pac_generic, %function\n"
	"pac_generic:\n"
	"pacga x0, x0, x1\n"
	"ret\n");

static uint32_t flag;

static void *checker(void *arg)
{
	(void)arg;
	tst_wait_check();
	__atomic_store_n(&flag, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static uint64_t sve_vl(void)
{
	uint64_t vl;

	__asm__ volatile(".arch armv8.2-a+sve\n\trdvl %0, #1" : "=r"(vl));
	return vl;
}

static void compare(const char *what, int nregs, size_t len, const uint8_t *in, const uint8_t *out)
{
	for (int r = 0; r < nregs; r++)
		for (size_t b = 0; b < len; b++)
			if (in[r * len + b] != out[r * len + b])
				tst_fail("%s%d byte %zu: %02x, want %02x", what, r, b, out[r * len + b], in[r * len + b]);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	unsigned long hwcap = getauxval(AT_HWCAP);
	uint64_t s = tst_seed(), vl = 16, gin[10], gout[10];
	uint32_t fpin[2], fpout[2];
	struct io io = { .gin = gin, .gout = gout, .flag = &flag, .fpin = fpin, .fpout = fpout };
	uint64_t pa_ptr = 0x0000ffffc0de1230ULL, pa_mod = tst_rand(&s), pa = 0, pg = 0;
	pthread_t th;

	if (hwcap & HWCAP_SVE) {
		vl = sve_vl();
		io.sve = 1;
	}
	io.zin = calloc(32, vl);
	io.zout = calloc(32, vl);
	io.pin = calloc(17, vl / 8);
	io.pout = calloc(17, vl / 8);
	io.vin = calloc(32, 16);
	io.vout = calloc(32, 16);
	if (!io.zin || !io.zout || !io.pin || !io.pout || !io.vin || !io.vout)
		tst_fail("out of memory");
	tst_fill(io.zin, 32 * vl, s);
	tst_fill(io.pin, 16 * (vl / 8), s ^ 1);
	/* ffr must be monotonic (a run of true elements, then false): its first k bits */
	uint64_t k = tst_rand(&s) % (vl + 1);
	for (uint64_t b = 0; b < k; b++)
		io.pin[16 * (vl / 8) + b / 8] |= 1u << (b % 8);
	tst_fill(io.vin, 32 * 16, s ^ 2);
	tst_fill(gin, sizeof(gin), s ^ 3);
	/* fpcr: round toward zero (RMode 11), flush-to-zero, default NaN; fpsr: QC and
	 * every cumulative exception flag */
	fpin[0] = 0x0800009f;
	fpin[1] = 0x03c00000;
	tst_info("SVE %s (vector length %llu bytes), PAC address keys %s, generic key %s",
		 io.sve ? "live" : "absent", (unsigned long long)vl, hwcap & HWCAP_PACA ? "yes" : "no",
		 hwcap & HWCAP_PACG ? "yes" : "no");
	if (hwcap & HWCAP_PACA)
		pa = pac_sign(pa_ptr, pa_mod);
	if (hwcap & HWCAP_PACG)
		pg = pac_generic(pa_ptr, pa_mod);

	if (pthread_create(&th, NULL, checker, NULL))
		tst_fail("pthread_create failed");
	tst_ready();
	run_regs(&io);
	pthread_join(th, NULL);

	if (tst_corrupting()) {
		io.zout[17 * vl + 3] ^= 1;
		io.vout[17 * 16 + 3] ^= 1;
	}
	if (io.sve) {
		compare("z", 32, vl, io.zin, io.zout);
		compare("p", 16, vl / 8, io.pin, io.pout);
		compare("ffr", 1, vl / 8, io.pin + 16 * (vl / 8), io.pout + 16 * (vl / 8));
		if (sve_vl() != vl)
			tst_fail("SVE vector length %llu bytes, was %llu", (unsigned long long)sve_vl(),
				 (unsigned long long)vl);
	} else {
		compare("v", 32, 16, io.vin, io.vout);
	}
	for (int r = 0; r < 10; r++)
		if (gin[r] != gout[r])
			tst_fail("x%d: %016llx, want %016llx", 19 + r, (unsigned long long)gout[r],
				 (unsigned long long)gin[r]);
	if (fpout[0] != fpin[0])
		tst_fail("fpsr: %08x, want %08x", fpout[0], fpin[0]);
	if (fpout[1] != fpin[1])
		tst_fail("fpcr: %08x, want %08x", fpout[1], fpin[1]);
	if ((hwcap & HWCAP_PACA) && pac_sign(pa_ptr, pa_mod) != pa)
		tst_fail("pacia signs %016llx as %016llx, was %016llx: the instruction key A changed",
			 (unsigned long long)pa_ptr, (unsigned long long)pac_sign(pa_ptr, pa_mod),
			 (unsigned long long)pa);
	if ((hwcap & HWCAP_PACG) && pac_generic(pa_ptr, pa_mod) != pg)
		tst_fail("pacga gives %016llx, was %016llx: the generic key changed",
			 (unsigned long long)pac_generic(pa_ptr, pa_mod), (unsigned long long)pg);
	tst_pass();
}
#endif
