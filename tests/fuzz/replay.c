/*
 * Without libFuzzer: run a fuzz target over files and directories of
 * inputs (the checked-in corpus), then over N inputs made from a fixed
 * seed, so CI replays what fuzzing found and a little more every run.
 *   replay [--generate N SEED] PATH...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional, as for libFuzzer: called once before the first input */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long runs;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    runs++;
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        run_file(p);
    }
    if (d)
        closedir(d);
}

int main(int argc, char **argv)
{
    unsigned long gen = 0;
    uint64_t seed = 1;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int i = 1;
    if (argc > 3 && strcmp(argv[1], "--generate") == 0) {
        gen = strtoul(argv[2], NULL, 10);
        seed = strtoull(argv[3], NULL, 10) | 1;
        i = 4;
    }
    for (; i < argc; i++)
        run_path(argv[i]);
    unsigned long corpus = runs;
    static uint8_t buf[4096];
    for (unsigned long k = 0; k < gen; k++) {
        size_t n = 16 + (size_t)(seed % (sizeof buf - 16));
        for (size_t j = 0; j < n; j++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            buf[j] = (uint8_t)seed;
        }
        LLVMFuzzerTestOneInput(buf, n);
        runs++;
    }
    printf("replay: %lu corpus inputs and %lu generated, no crash\n", corpus, runs - corpus);
    return 0;
}
