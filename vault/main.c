/*
 * esem-vault: the paper's File Vault (see vault.h and docs/VAULT.md).
 *
 *   esem-vault serve --dir DIR --port PORT [--workers W] [--slots N]
 *   esem-vault useradd --dir DIR USER            (the password: stdin's first line)
 *   esem-vault put|get|ls|rm|mkdir --port PORT --user U (--pin HEX | --dir DIR)
 *              [--password-file F] ARGS...
 *   esem-vault bench --port PORT --user U (--pin HEX | --dir DIR)
 *              [--clients C] [--seconds S]
 *   esem-vault fsck --dir DIR
 *   esem-vault demo
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vault.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: esem-vault COMMAND ...\n"
            "  serve --dir DIR --port PORT [--workers W] [--slots N]\n"
            "        a TLS file server on 127.0.0.1:PORT: W worker processes, at most N of\n"
            "        them inside the protected part (the file tree) at once\n"
            "  useradd --dir DIR USER        add a user; the password is stdin's first line\n"
            "  put LOCAL REMOTE | get REMOTE LOCAL | ls [REMOTE] | rm REMOTE | mkdir REMOTE\n"
            "        --port PORT --user U (--pin SHA256 | --dir DIR) [--password-file F]\n"
            "        (the password: F's first line, or $VAULT_PASSWORD; LOCAL may be -)\n"
            "  bench --port PORT --user U (--pin | --dir) [--clients C] [--seconds S]\n"
            "        C clients doing put/get/ls of small files; prints ops/s\n"
            "  fsck --dir DIR                check the tree against the files\n"
            "  demo                          a user puts a file and gets it back\n"
            "Legacy vault: run it as is (glibc's semaphores).  Hardened: esem run -- esem-vault\n"
            "serve ... with esemd --policy=strict.  See esem-vault(1), docs/VAULT.md.\n");
}

static int useradd(int argc, char **argv)
{
    const char *dir = NULL, *user = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else
            user = argv[i];
    }
    char pw[256];
    if (!dir || !user || !fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "usage: esem-vault useradd --dir DIR USER < password\n");
        return 2;
    }
    pw[strcspn(pw, "\r\n")] = 0;
    if (strlen(pw) < 8) {
        fprintf(stderr, "esem-vault useradd: a password of at least 8 characters\n");
        return 2;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        perror("esem-vault useradd");
        return 1;
    }
    int r = users_add(dir, user, pw);
    sodium_memzero(pw, sizeof pw);
    if (r) {
        fprintf(stderr, "esem-vault useradd %s: %s\n", user,
                r == -EEXIST ? "exists" : r == -EINVAL ? "bad name (letters, digits, _ -)" : strerror(-r));
        return 1;
    }
    printf("user %s added to %s\n", user, dir);
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int run_self(char *const *args)
{
    pid_t p = fork();
    if (p == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int demo(void)
{
    char dir[] = "/tmp/esem-vault-demo-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("esem-vault demo");
        return 1;
    }
    char vdir[VAULT_PATH], pwf[VAULT_PATH], in[VAULT_PATH], out[VAULT_PATH], ps[16];
    snprintf(vdir, sizeof vdir, "%s/vault", dir);
    snprintf(pwf, sizeof pwf, "%s/password", dir);
    snprintf(in, sizeof in, "%s/hello.txt", dir);
    snprintf(out, sizeof out, "%s/hello.back", dir);
    FILE *f = fopen(pwf, "w");
    fprintf(f, "correct horse battery\n");
    fclose(f);
    f = fopen(in, "w");
    fprintf(f, "a file only alice can read, kept encrypted at rest\n");
    fclose(f);
    int port = free_port();
    snprintf(ps, sizeof ps, "%d", port);
    printf("1. esem-vault useradd --dir %s alice\n", vdir);
    fflush(stdout);
    pid_t ua = fork();
    if (ua == 0) {
        if (!freopen(pwf, "r", stdin))
            _exit(127);
        execl("/proc/self/exe", "esem-vault", "useradd", "--dir", vdir, "alice", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(ua, &st, 0);
    printf("2. esem-vault serve --dir %s --port %d --workers 2 --slots 1\n", vdir, port);
    fflush(stdout);
    pid_t srv = fork();
    if (srv == 0) {
        execl("/proc/self/exe", "esem-vault", "serve", "--dir", vdir, "--port", ps, "--workers",
              "2", "--slots", "1", (char *)NULL);
        _exit(127);
    }
    char fp[65];
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        usleep(50000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        up = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && cert_fingerprint(vdir, fp) == 0;
        close(fd);
    }
    int rc = 1;
    if (up) {
        char *common[] = {"--port", ps, "--user", "alice", "--dir", vdir, "--password-file", pwf};
        char *put[] = {"esem-vault", "put", common[0], common[1], common[2], common[3], common[4],
                       common[5], common[6], common[7], in, "/hello.txt", NULL};
        char *get[] = {"esem-vault", "get", common[0], common[1], common[2], common[3], common[4],
                       common[5], common[6], common[7], "/hello.txt", out, NULL};
        char *ls[] = {"esem-vault", "ls", common[0], common[1], common[2], common[3], common[4],
                      common[5], common[6], common[7], NULL};
        printf("3. alice puts %s as /hello.txt (TLS, pinned certificate %.16s...)\n", in, fp);
        fflush(stdout);
        rc = run_self(put);
        printf("4. alice lists her files:\n");
        fflush(stdout);
        rc |= run_self(ls);
        printf("5. alice gets /hello.txt back into %s\n", out);
        fflush(stdout);
        rc |= run_self(get);
        char cmd[3 * VAULT_PATH];
        snprintf(cmd, sizeof cmd, "cmp -s %s %s", in, out);
        int same = rc == 0 && system(cmd) == 0;
        printf("   %s\n", same ? "the same bytes came back" : "FAILED: the file differs");
        rc |= !same;
    } else {
        fprintf(stderr, "esem-vault demo: the server did not start\n");
    }
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    printf("6. esem-vault fsck --dir %s\n", vdir);
    fflush(stdout);
    char *fsck[] = {"esem-vault", "fsck", "--dir", vdir, NULL};
    rc |= run_self(fsck);
    char cmd[VAULT_PATH + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "esem-vault demo: could not remove %s\n", dir);
    printf("demo %s\n", rc ? "FAILED" : "done");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "esem-vault: libsodium did not initialise\n");
        return 1;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        puts("esem-vault " ESEM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return vault_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "useradd") == 0)
        return useradd(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return vault_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "fsck") == 0)
        return vault_fsck(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return demo();
    if (!strcmp(cmd, "put") || !strcmp(cmd, "get") || !strcmp(cmd, "ls") || !strcmp(cmd, "rm") ||
        !strcmp(cmd, "mkdir"))
        return vault_client(cmd, argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
