# aarch64: the blobs must not touch FP/SIMD/SVE state (it belongs to the task).
BLOB_ARCH_CFLAGS := -mgeneral-regs-only
TEST_ARCH_CFLAGS :=
