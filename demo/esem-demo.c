/*
 * esem-demo: two processes hand items through a one-slot buffer guarded by
 * two named esem semaphores ("slots" free and "items" ready), the classic
 * producer/consumer of the paper's Fig. 1 — here the semaphores live in
 * esemd, where no other process can write them.
 *
 * usage: esem-demo [ITEMS] [ESEMCTL]   (ESEMCTL: run "ESEMCTL ls" mid-way)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esem.h"

struct buffer {
    int seq;
    char text[64];
};

static void die(const char *what)
{
    fprintf(stderr, "esem-demo: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("esem-demo " ESEM_VERSION);
        return 0;
    }
    int items = argc > 1 ? atoi(argv[1]) : 5;
    const char *ctl = argc > 2 ? argv[2] : NULL;
    char slots_name[64], items_name[64];
    snprintf(slots_name, sizeof slots_name, "/esem-demo-slots-%d", (int)getpid());
    snprintf(items_name, sizeof items_name, "/esem-demo-items-%d", (int)getpid());

    esem_t *slots = esem_open(slots_name, O_CREAT | O_EXCL, 0600, 1);
    if (!slots)
        die("esem_open slots");
    esem_t *ready = esem_open(items_name, O_CREAT | O_EXCL, 0600, 0);
    if (!ready)
        die("esem_open items");
    struct buffer *buf =
        mmap(NULL, sizeof *buf, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        die("mmap");

    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        /* consumer: inherits both semaphores across fork() */
        for (int i = 0; i < items; i++) {
            if (esem_wait(ready) < 0)
                die("consumer esem_wait");
            printf("  consumer pid %d got  #%d: %s\n", (int)getpid(), buf->seq, buf->text);
            fflush(stdout);
            if (esem_post(slots) < 0)
                die("consumer esem_post");
        }
        _exit(0);
    }
    printf("producer pid %d, consumer pid %d, semaphores %s and %s\n", (int)getpid(), (int)child,
           slots_name, items_name);
    for (int i = 1; i <= items; i++) {
        if (esem_wait(slots) < 0)
            die("producer esem_wait");
        buf->seq = i;
        snprintf(buf->text, sizeof buf->text, "item %d from the producer", i);
        printf("producer pid %d put  #%d\n", (int)getpid(), i);
        fflush(stdout);
        if (esem_post(ready) < 0)
            die("producer esem_post");
        if (ctl && i == items / 2 + 1) {
            /* the consumer may be asleep in esem_wait right now */
            usleep(100000);
            char cmd[512];
            snprintf(cmd, sizeof cmd, "%s ls", ctl);
            printf("--- %s while both run:\n", cmd);
            fflush(stdout);
            if (system(cmd) != 0)
                fprintf(stderr, "esem-demo: %s failed\n", cmd);
            printf("---\n");
            fflush(stdout);
        }
    }
    int st;
    if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "esem-demo: consumer failed\n");
        return 1;
    }
    if (esem_close(slots) < 0 || esem_close(ready) < 0 || esem_unlink(slots_name) < 0 ||
        esem_unlink(items_name) < 0)
        die("cleanup");
    printf("done: %d items handed over in order through esem\n", items);
    return 0;
}
