/*
 * state-takeover (TM-host): a process asks esemd for its whole state, as a
 * restarting esemd does (a TAKEOVER hello; esemd --takeover, esemctl
 * restart).  Whoever gets the core's arena can forge every permit, so this
 * is the daemon-memory attack through the front door.
 *
 * glibc: the state is the sem_t in /dev/shm, open to every process of the
 * uid: the thief maps it and gives a blocked waiter a permit nobody posted.
 *
 * esem: the lab's esemd runs without --allow-takeover (the default): the
 * takeover hello of a process of the daemon's uid, of another uid and of
 * root is refused with EPERM and audited, and nothing is handed over: the
 * waiter is still waiting and takes the one post.  (With --allow-takeover
 * the daemon's own uid and root may take it, which is what the option
 * gives up; the system daemon hands it to root only: esemd(8).)
 */
#include "lab.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "proto.h"

/* takeover-thief glibc NAME | esem SOCKET */
int role_takeover_thief(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    if (strcmp(argv[1], "glibc") == 0) {
        char path[512];
        snprintf(path, sizeof path, "/dev/shm/sem.%s", argv[2] + 1);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        uint32_t *w = fd < 0 ? MAP_FAILED
                             : mmap(NULL, 32, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (w == MAP_FAILED) {
            say("FAIL the thief (uid %u) could not map %s: %s", (unsigned)getuid(), path,
                errname(errno));
        } else {
            /* the value word: one permit, and the wake a sem_post makes */
            __atomic_store_n(&w[0], 1u, __ATOMIC_SEQ_CST);
            syscall(SYS_futex, &w[0], FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
            say("OK the thief (uid %u, unrelated) mapped %s read-write and wrote a permit into "
                "it, with no sem_post",
                (unsigned)getuid(), path);
            munmap(w, 32);
        }
        if (fd >= 0)
            close(fd);
        say("DONE");
        return 0;
    }
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[2]);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        say("ERR connect %s: %s", argv[2], errname(errno));
        say("DONE");
        return 0;
    }
    struct esem_hello h = {.magic = ESEM_PROTO_MAGIC, .version = ESEM_PROTO_VERSION,
                           .kind = ESEM_HELLO_TAKEOVER};
    struct esem_hello_reply rep;
    memset(&rep, 0, sizeof rep);
    ssize_t n = -1;
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) == (ssize_t)sizeof h)
        n = recv(s, &rep, sizeof rep, 0);
    if (n != (ssize_t)sizeof rep) {
        say("ERR no answer to the takeover hello (%zd)", n);
    } else if (rep.err == EPERM) {
        say("OK takeover hello as uid %u refused: EPERM", (unsigned)getuid());
        say("AUDIT %d connection", (int)getpid());
    } else if (rep.err) {
        say("FAIL takeover hello as uid %u refused with %s, not EPERM", (unsigned)getuid(),
            errname(rep.err));
    } else {
        /* the daemon would now send its arena: that is the attack working */
        char buf[256];
        struct timeval tv = {2, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        n = recv(s, buf, sizeof buf, 0);
        say("FAIL esemd agreed to hand its state to uid %u (%s)", (unsigned)getuid(),
            n > 0 ? "and sent it" : "nothing came yet");
    }
    close(s);
    say("DONE");
    return 0;
}

/* A waiter on a fresh semaphore of be, the thieves, then (if it is still
 * waiting) one post: its answer is what the thieves achieved. */
static void run(struct side *s, const char *be)
{
    char name[128], line[LAB_LINE];
    lab_name(name, sizeof name, "takeover");
    struct proc w;
    if (kill_part_waiter(s, be, name, &w) < 0)
        return;
    int esem = strcmp(be, "esem") == 0;
    enum who thieves[3] = {WHO_LAB, WHO_OTHER, WHO_ROOT};
    int nthieves = esem ? (lab_can_other_uid() ? 3 : 1) : 1;
    if (esem)
        audit_window();
    for (int i = 0; i < nthieves; i++) {
        struct proc t;
        size_t mark = log_mark();
        if (proc_start(&t, thieves[i], 0, "takeover-thief", be, esem ? lab.sock : name, NULL) <
            0) {
            s_error(s, "cannot start the thief");
            continue;
        }
        relay(&t, s, mark, 20000);
        proc_end(&t);
    }
    int early = proc_line(&w, line, sizeof line, 500) == 0;
    if (esem) {
        s_check(s, !early, "the waiter is still waiting: nothing was handed over (%s)",
                early ? line : "no answer before the post");
        kill_part(be, "post", name, "1", "posted", NULL, 0);
        int r = early ? 0 : proc_expect(&w, "got", line, sizeof line, 10000);
        s_check(s, r == 0 && strcmp(line, "got 0") == 0, "the waiter took the one post (%s)",
                r == 0 ? line : "no answer");
    } else {
        s_check(s, early && strcmp(line, "got 0") == 0,
                "the waiter returned from sem_wait with no sem_post by anyone (%s)",
                early ? line : "still waiting");
        if (!early)
            kill_part(be, "post", name, "1", "posted", NULL, 0);
    }
    proc_end(&w);
    kill_part(be, "unlink", name, NULL, "done", NULL, 0);
}

void takeover_glibc(struct side *s)
{
    s_summary(s, "the state is the sem_t in /dev/shm: an unrelated process of the uid writes a "
                 "permit into it and a blocked waiter returns with no sem_post");
    run(s, "glibc");
}

void takeover_esem(struct side *s)
{
    s_summary(s, "esemd without --allow-takeover: the takeover hello of the daemon's uid, "
                 "another uid and root is refused (EPERM, audited); nothing is handed over, "
                 "the waiter takes the one post");
    run(s, "esem");
}
