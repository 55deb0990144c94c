// replay_main: runs a harness's LLVMFuzzerTestOneInput once on every file of the directories
// (and files) given, without libFuzzer, so the normal build's ctest replays the seed corpora
// and the regression inputs on gcc too. A crash or trap fails the test; so does finding no
// input at all (a mistyped corpus directory must not pass silently).
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    // an exact-size copy, so that AddressSanitizer sees reads past the input as libFuzzer does
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Every regular file in dir, in name order. Returns the count, -1 on an error.
static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            char **nn = realloc(names, sizeof(char *) * (cap = cap ? 2 * cap : 64));
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(char *), cmp_name);
    int count = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!names[i] || stat(path, &sb) || !S_ISREG(sb.st_mode)) continue;
        if (run_file(path)) bad = 1;
        else count++;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return bad ? -1 : count;
}

int main(int argc, char **argv) {
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb)) {   // a harness without regression inputs yet has no folder
            printf("%s: absent\n", argv[i]);
            continue;
        }
        int k = S_ISDIR(sb.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) ? -1 : 1;
        if (k < 0) return 1;
        printf("%s: %d input%s replayed\n", argv[i], k, k == 1 ? "" : "s");
        total += k;
    }
    if (!total) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    return 0;
}
