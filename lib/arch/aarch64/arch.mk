# aarch64: the blobs must not touch FP/SIMD/SVE state (it belongs to the task).
# (no outline atomics: they are libgcc calls, and the blobs link nothing)
BLOB_ARCH_CFLAGS := -mgeneral-regs-only -mno-outline-atomics
TEST_ARCH_CFLAGS :=
