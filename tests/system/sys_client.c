/*
 * One client operation through the public API (lib/esem.h), for the
 * system-wide daemon's test: test-system.sh runs it as root and, through
 * setpriv, as other uids.  Prints one word: "ok", the value, the socket
 * path, or the errno's name (EACCES, ...); exits 0 when it could say it.
 *
 *   sys_client create NAME MODE VALUE   O_CREAT|O_EXCL, umask 0 (MODE as is)
 *   sys_client open|post|trywait|value|unlink NAME
 *   sys_client connect PATH             a bare connect(2) to PATH
 *   sys_client sockpath                 the socket a client would use now
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "esem.h"
#include "util.h"

static int say_err(int e)
{
    const char *n = strerrorname_np(e);
    printf("%s\n", n ? n : "E?");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "sockpath") == 0) {
        char p[108];
        int r = esem_util_client_socket(p, sizeof p);
        if (r < 0)
            return say_err(-r);
        printf("%s\n", p);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "connect") == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(argv[2]) >= sizeof sa.sun_path)
            return say_err(ENAMETOOLONG);
        strcpy(sa.sun_path, argv[2]);
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
            return say_err(errno);
        close(s);
        puts("ok");
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "create") == 0) {
        umask(0);
        esem_t *s = esem_open(argv[2], O_CREAT | O_EXCL, (mode_t)strtoul(argv[3], NULL, 8),
                              (unsigned)strtoul(argv[4], NULL, 10));
        if (!s)
            return say_err(errno);
        esem_close(s);
        puts("ok");
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: see the head of sys_client.c\n");
        return 2;
    }
    const char *op = argv[1], *name = argv[2];
    if (strcmp(op, "unlink") == 0) {
        if (esem_unlink(name) < 0)
            return say_err(errno);
        puts("ok");
        return 0;
    }
    esem_t *s = esem_open(name, 0, 0, 0);
    if (!s)
        return say_err(errno);
    int r = 0, v = 0;
    if (strcmp(op, "post") == 0)
        r = esem_post(s);
    else if (strcmp(op, "trywait") == 0)
        r = esem_trywait(s);
    else if (strcmp(op, "value") == 0)
        r = esem_getvalue(s, &v);
    else if (strcmp(op, "open") != 0) {
        fprintf(stderr, "unknown operation %s\n", op);
        return 2;
    }
    int e = errno;
    esem_close(s);
    if (r < 0)
        return say_err(e);
    if (strcmp(op, "value") == 0)
        printf("%d\n", v);
    else
        puts("ok");
    return 0;
}
