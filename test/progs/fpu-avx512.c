/* fpu-avx512: AVX-512, x87 and SSE register state across a dump.
 *
 * One asm block loads known random values into zmm0-31, k0-7, the eight x87
 * registers st0-7, the x87 control word, MXCSR and rbx/r12-r15, then waits for
 * CHECK with a raw read(0) syscall (the process is dumped inside it, with all
 * of that state live), and right after the syscall returns stores every one of
 * those registers to memory, still inside the same asm block so the compiler
 * cannot touch them in between.  Then C compares all of it.
 *
 * Interrupted reads (-EINTR) are retried inside the asm, so the engine may
 * either restart the syscall or return EINTR.
 *
 * --corrupt: after CHECK the stored copy of zmm17 is changed, so the check
 * must fail.
 */
#include "tst.h"

#include <string.h>

#if !defined(__x86_64__)
/* Another architecture: a clean skip (fpu-arm64 is the aarch64 twin). */
int main(int argc, char **argv)
{
	tst_init(argc, argv);
	tst_info("SKIP: AVX-512 is x86_64; this is another architecture");
	tst_ready();
	tst_wait_check();
	tst_pass();
}
#else

#define STR_(x) #x
#define STR(x) STR_(x)

uint8_t zin[32 * 64] __attribute__((aligned(64))), zout[32 * 64] __attribute__((aligned(64)));
uint64_t kin[8], kout[8];
uint8_t stin[8 * 16] __attribute__((aligned(16))), stout[8 * 16] __attribute__((aligned(16)));
uint32_t mxin, mxout, mxdef = 0x1f80;
uint16_t cwin, cwout, cwdef = 0x037f;
uint64_t gin[5], gout[5];
char rdbuf[64];
long rdret;

#define LZ(n) "vmovdqu64 zin+" #n "*64(%%rip), %%zmm" #n "\n\t"
#define SZ(n) "vmovdqu64 %%zmm" #n ", zout+" #n "*64(%%rip)\n\t"
#define LK(n) "kmovq kin+" #n "*8(%%rip), %%k" #n "\n\t"
#define SK(n) "kmovq %%k" #n ", kout+" #n "*8(%%rip)\n\t"
#define LST(n) "fldt stin+" #n "*16(%%rip)\n\t"
#define SST(n) "fstpt stout+" #n "*16(%%rip)\n\t"

static void run(void)
{
	asm volatile(
		"fninit\n\t"
		LST(0) LST(1) LST(2) LST(3) LST(4) LST(5) LST(6) LST(7)
		"fldcw cwin(%%rip)\n\t"
		"ldmxcsr mxin(%%rip)\n\t"
		LZ(0) LZ(1) LZ(2) LZ(3) LZ(4) LZ(5) LZ(6) LZ(7)
		LZ(8) LZ(9) LZ(10) LZ(11) LZ(12) LZ(13) LZ(14) LZ(15)
		LZ(16) LZ(17) LZ(18) LZ(19) LZ(20) LZ(21) LZ(22) LZ(23)
		LZ(24) LZ(25) LZ(26) LZ(27) LZ(28) LZ(29) LZ(30) LZ(31)
		LK(0) LK(1) LK(2) LK(3) LK(4) LK(5) LK(6) LK(7)
		"mov gin+0(%%rip), %%rbx\n\t"
		"mov gin+8(%%rip), %%r12\n\t"
		"mov gin+16(%%rip), %%r13\n\t"
		"mov gin+24(%%rip), %%r14\n\t"
		"mov gin+32(%%rip), %%r15\n\t"
		"1:\n\t"
		"xor %%eax, %%eax\n\t" /* SYS_read */
		"xor %%edi, %%edi\n\t"
		"lea rdbuf(%%rip), %%rsi\n\t"
		"mov $64, %%edx\n\t"
		"syscall\n\t"
		"cmp $-4, %%rax\n\t" /* -EINTR: again */
		"je 1b\n\t"
		"mov %%rax, rdret(%%rip)\n\t"
		SZ(0) SZ(1) SZ(2) SZ(3) SZ(4) SZ(5) SZ(6) SZ(7)
		SZ(8) SZ(9) SZ(10) SZ(11) SZ(12) SZ(13) SZ(14) SZ(15)
		SZ(16) SZ(17) SZ(18) SZ(19) SZ(20) SZ(21) SZ(22) SZ(23)
		SZ(24) SZ(25) SZ(26) SZ(27) SZ(28) SZ(29) SZ(30) SZ(31)
		SK(0) SK(1) SK(2) SK(3) SK(4) SK(5) SK(6) SK(7)
		"mov %%rbx, gout+0(%%rip)\n\t"
		"mov %%r12, gout+8(%%rip)\n\t"
		"mov %%r13, gout+16(%%rip)\n\t"
		"mov %%r14, gout+24(%%rip)\n\t"
		"mov %%r15, gout+32(%%rip)\n\t"
		"stmxcsr mxout(%%rip)\n\t"
		"fnstcw cwout(%%rip)\n\t"
		SST(7) SST(6) SST(5) SST(4) SST(3) SST(2) SST(1) SST(0)
		"ldmxcsr mxdef(%%rip)\n\t"
		"fldcw cwdef(%%rip)\n\t"
		"vzeroupper\n\t"
		:
		:
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "rbx", "r12", "r13", "r14", "r15",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
		  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
		  "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
		  "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
		  "memory", "cc");
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) {
		tst_info("SKIP: this CPU has no AVX-512F/BW");
		tst_ready();
		tst_wait_check();
		tst_pass();
	}
	uint64_t s = tst_seed();
	tst_fill(zin, sizeof(zin), s);
	tst_fill(kin, sizeof(kin), s ^ 1);
	tst_fill(gin, sizeof(gin), s ^ 2);
	for (int i = 0; i < 8; i++) {
		/* normal 80-bit numbers: explicit integer bit set, exponent 1..0x7ffe */
		uint64_t mant = tst_rand(&s) | (1ULL << 63);
		uint16_t se = (uint16_t)(1 + tst_rand(&s) % 0x7ffe) | (uint16_t)(tst_rand(&s) & 0x8000);
		memcpy(stin + i * 16, &mant, 8);
		memcpy(stin + i * 16 + 8, &se, 2);
	}
	/* x87: 53-bit precision, round up, all exceptions masked. */
	cwin = 0x0a7f;
	/* MXCSR: FTZ, round toward zero, all exceptions masked, DAZ, PE flag set. */
	mxin = 0xffe0;

	tst_ready();
	run();

	if (rdret < 0)
		tst_fail("read(0): error %ld", -rdret);
	if (rdret == 0)
		tst_fail("stdin closed before CHECK");
	if (rdret != 6 || memcmp(rdbuf, "CHECK\n", 6))
		tst_fail("read(0) returned %ld bytes '%.*s', want \"CHECK\\n\"", rdret, (int)rdret, rdbuf);
	if (tst_corrupting())
		zout[17 * 64 + 40] ^= 1;

	for (int r = 0; r < 32; r++)
		for (int b = 0; b < 64; b++)
			if (zin[r * 64 + b] != zout[r * 64 + b])
				tst_fail("zmm%d byte %d: %02x, want %02x (%s)", r, b, zout[r * 64 + b],
					 zin[r * 64 + b],
					 b < 16 ? "xmm part" : b < 32 ? "ymm upper part" : "zmm upper part");
	for (int r = 0; r < 8; r++)
		if (kin[r] != kout[r])
			tst_fail("k%d: %016llx, want %016llx", r, (unsigned long long)kout[r],
				 (unsigned long long)kin[r]);
	static const char *gname[] = { "rbx", "r12", "r13", "r14", "r15" };
	for (int r = 0; r < 5; r++)
		if (gin[r] != gout[r])
			tst_fail("%s: %016llx, want %016llx", gname[r], (unsigned long long)gout[r],
				 (unsigned long long)gin[r]);
	for (int r = 0; r < 8; r++)
		if (memcmp(stin + r * 16, stout + r * 16, 10)) {
			uint64_t m1, m2;
			uint16_t e1, e2;
			memcpy(&m1, stout + r * 16, 8);
			memcpy(&e1, stout + r * 16 + 8, 2);
			memcpy(&m2, stin + r * 16, 8);
			memcpy(&e2, stin + r * 16 + 8, 2);
			tst_fail("x87 register %d: %04x:%016llx, want %04x:%016llx", r, e1,
				 (unsigned long long)m1, e2, (unsigned long long)m2);
		}
	if (mxout != mxin)
		tst_fail("MXCSR: %08x, want %08x", mxout, mxin);
	if (cwout != cwin)
		tst_fail("x87 control word: %04x, want %04x", cwout, cwin);
	tst_pass();
}
#endif
