/* esem-bench's System V ping-pong (sysv_pingpong.c). */
#ifndef ESEM_BENCH_SYSV_PINGPONG_H
#define ESEM_BENCH_SYSV_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

/* rounds of the ping-pong on esem (esem = 1) or the kernel; ns[i] = round
 * i's time / 2, in ns (one hand-off).  0 or -errno. */
int sysv_pingpong(int esem, size_t rounds, uint64_t *ns);

#endif
