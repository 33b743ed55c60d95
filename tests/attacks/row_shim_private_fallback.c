/*
 * Row shim-private-fallback (security review finding 8, TM-host): with
 * ESEM_PRIVATE=glibc a writer of a shared segment turns an esem sem_t into
 * a glibc one.  Only addresses the process sem_init'ed itself with
 * pshared=0 may go to glibc.
 */
#include "lab.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "core_auth.h"
#include "esem.h"
#include "esem_core.h"
#include "proto.h"

/* segv BACKEND PATH: a victim under the shim with ESEM_PRIVATE=glibc
 * (esem) or on glibc: a process-shared sem_t at offset 0 of the file PATH,
 * mapped shared; on "try", five trywaits. */
int role_privfb_victim(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0)
        return 1;
    sem_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED || sem_init(s, 1, 0) != 0) {
        say("ERR sem_init: %s", errname(errno));
        return 1;
    }
    say("ready");
    char line[32];
    if (hear(line, sizeof line, 30000) == 0) {
        int ok = 0, last = 0;
        for (int i = 0; i < 5; i++) {
            if (sem_trywait(s) == 0)
                ok++;
            else
                last = errno;
        }
        say("took %d last %s", ok, ok == 5 ? "-" : errname(last));
    }
    return 0;
}

static void privfb_run(struct side *s, int esem)
{
    char seg[300], name[128], line[LAB_LINE];
    lab_name(name, sizeof name, esem ? "privfb-esem" : "privfb-glibc");
    snprintf(seg, sizeof seg, "/dev/shm%s", name);
    unlink(seg);
    if (esem)
        setenv("ESEM_PRIVATE", "glibc", 1);
    struct proc v;
    int r = proc_start(&v, WHO_LAB, esem, "privfb-victim", esem ? "esem" : "glibc", seg, NULL);
    unsetenv("ESEM_PRIVATE");
    if (r < 0 || proc_expect(&v, "ready", line, sizeof line, 10000) < 0) {
        s_error(s, "victim did not start");
        proc_end(&v);
        return;
    }
    /* the writer of the segment: a glibc sem_t with value 5 over the victim's */
    int fd = open(seg, O_RDWR | O_CLOEXEC);
    void *m = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (m != MAP_FAILED) {
        sem_t fake;
        memset(&fake, 0, sizeof fake);
        sem_init(&fake, 1, 5);
        memcpy(m, &fake, sizeof fake);
        munmap(m, 4096);
    }
    if (fd >= 0)
        close(fd);
    proc_cmd(&v, "try");
    int got = proc_expect(&v, "took", line, sizeof line, 5000) == 0;
    if (esem)
        s_summary(s, "ESEM_PRIVATE=glibc: a glibc sem_t of value 5 written over the victim's "
                     "process-shared esem sem_t: %s (only addresses the process sem_init'ed "
                     "itself with pshared=0 go to glibc)",
                  got ? line : "no answer");
    else
        s_summary(s, "the writer of the segment set the victim's sem_t to 5: %s",
                  got ? line : "no answer");
    if (esem)
        s_check(s, got && strncmp(line, "took 0 ", 7) == 0,
                "ESEM_PRIVATE=glibc: the writer put a glibc sem_t of value 5 over the victim's "
                "process-shared esem sem_t; the victim's 5 trywaits: %s",
                got ? line : "no answer");
    else
        s_check(s, got && strncmp(line, "took 5", 6) == 0,
                "the writer of the segment set the victim's sem_t to value 5: the victim's 5 "
                "trywaits: %s",
                got ? line : "no answer");
    proc_end(&v);
    unlink(seg);
}

void privfb_glibc(struct side *s)
{
    privfb_run(s, 0);
}

void privfb_esem(struct side *s)
{
    privfb_run(s, 1);
}
