/* A fuzz input read as a program: each read takes the next bytes (0 once
 * they run out), so libFuzzer's mutations are decisions. */
#ifndef ESEM_FUZZ_INPUT_H
#define ESEM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t u8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t u32(struct in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | u8(in);
    return v;
}

static inline void bytes(struct in *in, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = u8(in);
}

#endif
