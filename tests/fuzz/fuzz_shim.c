/*
 * libFuzzer target: the shim's decoding of a sem_t it did not write.
 *
 * A sem_t may sit in memory other processes write (PostgreSQL's shared
 * segment), so the shim must take any 32 bytes there and either find in
 * them a semaphore this process tree really holds (magic, handle and the
 * handle's keyed tag, all three) or refuse with EINVAL — never crash, never
 * reach a semaphore through a forged or spliced handle, never lose or make
 * a permit.  This program is linked against libesem-preload.so (so sem_*
 * are the shim's) and starts its own esemd (common/launch.c) once.  It
 * holds four real semaphores (two sem_init'ed in memory, two sem_open'ed)
 * and a model of their values; each input is a program of steps, each an
 * operation (post, trywait, getvalue, timedwait with a deadline passed,
 * wait, destroy, close) on bytes that are: a real semaphore's sem_t, a
 * copy of one with bytes changed, raw input bytes, or a splice of one's
 * handle with another's tag.  What the copy decodes to is predicted from
 * the real images (the bytes that matter are the same), and the outcome
 * must match: the real semaphore's operation, or -1/EINVAL.  After every
 * input each real semaphore's value must equal the model (abort()
 * otherwise).  Without libFuzzer, replay.c drives it over the checked-in
 * corpus (tests/fuzz/corpus/shim) and a fixed set of generated inputs.
 */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "launch.h"

#ifndef ESEMD_PATH
#define ESEMD_PATH "esemd"
#endif

#define NREAL 4
#define VALUE_CAP 64 /* posts beyond this are taken back, to stay small */

static sem_t mem[2];          /* sem_init'ed, pshared 1 */
static sem_t *real[NREAL];    /* mem[0], mem[1], two sem_open'ed */
static uint8_t image[NREAL][sizeof(sem_t)];
static int model[NREAL];
static char names[2][48];
static struct esem_launched launched;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_shim: %s (errno %d)\n", what, errno);
    abort();
}

/* at exit: stop the daemon and leave nothing under /tmp (libFuzzer runs
 * this target once a job, so its directories would pile up) */
static void stop_daemon(void)
{
    if (launched.pid <= 0)
        return;
    kill(launched.pid, SIGTERM);
    waitpid(launched.pid, NULL, 0);
    esem_launch_remove(launched.dir);
}

static int sock_ready(const struct esem_launched *d, void *arg)
{
    (void)arg;
    return access(d->sock, F_OK) == 0;
}

static void setup(void)
{
    const char *bin = getenv("ESEMD");
    struct esem_launch how = {.esemd = bin && *bin ? bin : ESEMD_PATH,
                              .dir_prefix = "/tmp/esem-fuzz-shim"};
    int st;
    if (esem_launch(&how, &launched) < 0 || esem_launch_wait(&launched, sock_ready, NULL, 10000, &st) < 0)
        die("could not start esemd (ESEMD= names the binary)");
    atexit(stop_daemon);
    setenv("ESEM_SOCKET", launched.sock, 1);
    for (int i = 0; i < 2; i++) {
        if (sem_init(&mem[i], 1, 0) < 0)
            die("sem_init");
        real[i] = &mem[i];
        snprintf(names[i], sizeof names[i], "/fuzz-shim-%d-%d", (int)getpid(), i);
        real[2 + i] = sem_open(names[i], O_CREAT | O_EXCL, 0600, 0);
        if (real[2 + i] == SEM_FAILED)
            die("sem_open");
        sem_unlink(names[i]);
    }
    for (int i = 0; i < NREAL; i++)
        memcpy(image[i], real[i], sizeof image[i]);
    /* the shim wrote these (its "SEM1" and libesem's "MESe" magic), not
     * glibc: else this target would test nothing */
    uint32_t m0, m2;
    memcpy(&m0, image[0], 4);
    memcpy(&m2, image[2], 4);
    if (m0 != 0x53454d31u || m2 != 0x6553454du)
        die("sem_t not written by libesem-preload.so");
}

/* The fields the shim reads (preload/shim.c, struct shim_sem): magic at 0,
 * handle at 8, tag at 16.  Which real semaphore do these bytes name, or
 * -1?  Predicted from the real images alone: a magic one of them has, and
 * the handle and tag of one of them. */
static int decodes_to(const uint8_t *b)
{
    /* either magic goes with any handle: sem_init's, and esem_open's */
    if (memcmp(b, image[0], 4) != 0 && memcmp(b, image[2], 4) != 0)
        return -1;
    for (int i = 0; i < NREAL; i++)
        if (memcmp(b + 8, image[i] + 8, 16) == 0)
            return i;
    return -1;
}

static void expect_einval(int r, const char *what)
{
    if (r != -1 || errno != EINVAL) {
        fprintf(stderr, "fuzz_shim: %s on bytes that name no semaphore: %d, errno %d\n", what, r,
                errno);
        abort();
    }
}

static void check_values(void)
{
    for (int i = 0; i < NREAL; i++) {
        int v = -1;
        if (sem_getvalue(real[i], &v) < 0 || v != model[i]) {
            fprintf(stderr, "fuzz_shim: semaphore %d has value %d, the model says %d\n", i, v,
                    model[i]);
            abort();
        }
    }
}

static void step(struct in *in)
{
    static uint8_t buf[sizeof(sem_t)] __attribute__((aligned(16)));
    uint8_t kind = u8(in) % 4, j = u8(in) % NREAL;
    sem_t *s = (sem_t *)buf;
    switch (kind) {
    case 0: /* the real one */
        s = real[j];
        break;
    case 1: { /* a copy with some bytes changed */
        memcpy(buf, image[j], sizeof buf);
        for (int n = u8(in) % 4; n > 0; n--) {
            uint8_t at = u8(in) % sizeof buf;
            buf[at] = u8(in);
        }
        break;
    }
    case 2: /* bytes from the input */
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = u8(in);
        break;
    default: { /* one's magic and handle, another's tag */
        uint8_t k = u8(in) % NREAL;
        memcpy(buf, image[j], sizeof buf);
        memcpy(buf + 16, image[k] + 16, 8);
        break;
    }
    }
    int who = s == (sem_t *)buf ? decodes_to(buf) : j;
    uint8_t op = u8(in) % 7;
    int r, v = 0;
    struct timespec past = {1, 0};
    if (who < 0) {
        switch (op) {
        case 0: expect_einval(sem_post(s), "sem_post"); break;
        case 1: expect_einval(sem_trywait(s), "sem_trywait"); break;
        case 2: expect_einval(sem_getvalue(s, &v), "sem_getvalue"); break;
        case 3: expect_einval(sem_timedwait(s, &past), "sem_timedwait"); break;
        case 4: expect_einval(sem_wait(s), "sem_wait"); break;
        case 5: expect_einval(sem_destroy(s), "sem_destroy"); break;
        default: expect_einval(sem_close(s), "sem_close"); break;
        }
        return;
    }
    /* bytes that name real semaphore `who`: its operations, as on it */
    switch (op) {
    case 0:
        if (sem_post(s) < 0)
            die("sem_post of a real semaphore");
        if (++model[who] > VALUE_CAP) {
            if (sem_trywait(real[who]) < 0)
                die("sem_trywait back");
            model[who]--;
        }
        break;
    case 1:
    case 4: /* a wait only where it cannot block */
        r = op == 4 && model[who] ? sem_wait(s) : sem_trywait(s);
        if (model[who]) {
            if (r < 0)
                die("a wait on a semaphore with a permit failed");
            model[who]--;
        } else if (r != -1 || errno != EAGAIN) {
            die("sem_trywait of an empty semaphore did not say EAGAIN");
        }
        break;
    case 2:
        if (sem_getvalue(s, &v) < 0 || v != model[who])
            die("sem_getvalue of a real semaphore");
        break;
    case 3:
        r = sem_timedwait(s, &past);
        if (model[who]) {
            if (r < 0)
                die("sem_timedwait with a permit failed");
            model[who]--;
        } else if (r != -1 || errno != ETIMEDOUT) {
            die("sem_timedwait of an empty semaphore past its deadline did not say ETIMEDOUT");
        }
        break;
    default: /* destroy and close are not done to the real ones */
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a wait on bytes that name no semaphore must fail at once: one that
     * blocks is a finding too (SIGALRM's default action ends the run) */
    alarm(10);
    struct in in = {data, size};
    for (int n = 0; in.n && n < 256; n++)
        step(&in);
    check_values();
    alarm(0);
    return 0;
}
