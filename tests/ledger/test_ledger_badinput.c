// tests/ledger: bad input files: not HDF5, empty, truncated, a newer schema version, another
// tool's HDF5 file, a directory, a missing file. Each gives GH_EFORMAT (GH_EIO when missing)
// with a message naming the file and the problem, from both ledger_open_read and
// ledger_resume, and leaves the file byte-for-byte unchanged with nothing created beside it.
#include <dirent.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "check.h"
#include "ledger_fixture.h"

static char *slurp(const char *path, long *n) {
    struct stat sb;
    if (stat(path, &sb) || !S_ISREG(sb.st_mode)) return NULL; // a directory: nothing to read
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

// Both entry points must refuse `path` with `status` and a message containing every `needle`,
// and leave the file and its directory as they were.
static void expect_refused(const char *dir, const char *path, int status, const char *needle) {
    long n0 = -1, n1 = -1;
    char *before = slurp(path, &n0);
    int entries = count_entries(dir);
    for (int resume = 0; resume < 2; resume++) {
        ledger *l = NULL;
        int st = resume ? ledger_resume(&l, path) : ledger_open_read(&l, path);
        CHECK_MSG(st == status && l == NULL, "%s(%s) returned %d (want %d): %s",
                  resume ? "ledger_resume" : "ledger_open_read", path, st, status, gh_error_get());
        CHECK_MSG(strstr(gh_error_get(), path) && strstr(gh_error_get(), needle),
                  "message lacks '%s' or the path: %s", needle, gh_error_get());
        printf("  %-14s %s\n", resume ? "resume:" : "open_read:", gh_error_get());
        if (l) ledger_close(l, NULL);
    }
    char *after = slurp(path, &n1);
    CHECK_MSG(n0 == n1 && (!before || !memcmp(before, after, (size_t)n0)),
              "%s changed (%ld -> %ld bytes)", path, n0, n1);
    CHECK_MSG(count_entries(dir) == entries, "files were created next to %s", path);
    free(before);
    free(after);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) exit(1);
    fclose(f);
}

static void make_ledger(const char *path, int trials) {
    ledger *l = NULL;
    ledger_run_info info = fixture_info("darts-first", "fashion-mnist", 1);
    if (ledger_create(&l, path, &info)) {
        fprintf(stderr, "%s\n", gh_error_get());
        exit(1);
    }
    char arch[4096];
    for (int i = 0; i < trials; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        ledger_append_trial(l, &t);
    }
    ledger_close(l, "finished");
}

int main(void) {
    char dir[64], p[256];
    fixture_tmpdir(dir, sizeof dir, "badinput");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    printf("not HDF5:\n");
    snprintf(p, sizeof p, "%s/notes.h5", dir);
    write_file(p, "method,dataset\ndarts,cifar10\n", 29);
    expect_refused(dir, p, GH_EFORMAT, "not an HDF5 file");

    printf("empty:\n");
    snprintf(p, sizeof p, "%s/empty.h5", dir);
    write_file(p, "", 0);
    expect_refused(dir, p, GH_EFORMAT, "not an HDF5 file");

    printf("truncated:\n");
    snprintf(p, sizeof p, "%s/truncated.h5", dir);
    make_ledger(p, 300);
    long n = 0;
    char *whole = slurp(p, &n);
    write_file(p, whole, (size_t)n / 2);
    free(whole);
    expect_refused(dir, p, GH_EFORMAT, "cannot be opened");

    printf("newer schema:\n");
    snprintf(p, sizeof p, "%s/newer.h5", dir);
    make_ledger(p, 3);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int v = LEDGER_SCHEMA_VERSION + 1;
    CHECK(f >= 0 && a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0);
    H5Aclose(a);
    H5Fclose(f);
    expect_refused(dir, p, GH_EFORMAT, "newer");

    printf("another tool's HDF5:\n");
    snprintf(p, sizeof p, "%s/other.h5", dir);
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims = 4;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5Dcreate2(f, "trials", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    double x[4] = {1, 2, 3, 4};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_refused(dir, p, GH_EFORMAT, "another tool");

    printf("gpuhours file without a table:\n");
    snprintf(p, sizeof p, "%s/notables.h5", dir);
    make_ledger(p, 1);
    f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(H5Ldelete(f, "epochs", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_refused(dir, p, GH_EFORMAT, "'/epochs' is missing");

    printf("directory:\n");
    snprintf(p, sizeof p, "%s/adir.h5", dir);
    mkdir(p, 0777);
    expect_refused(dir, p, GH_EFORMAT, "not a regular file");

    printf("missing:\n");
    snprintf(p, sizeof p, "%s/missing.h5", dir);
    expect_refused(dir, p, GH_EIO, "cannot open");

    // creating over any existing file is refused and changes nothing
    snprintf(p, sizeof p, "%s/notes.h5", dir);
    ledger *l = NULL;
    ledger_run_info info = fixture_info("x", "y", 0);
    long n0 = 0, n1 = 0;
    char *b0 = slurp(p, &n0);
    CHECK(ledger_create(&l, p, &info) == GH_EIO && !l);
    char *b1 = slurp(p, &n1);
    CHECK(n0 == n1 && !memcmp(b0, b1, (size_t)n0));
    free(b0);
    free(b1);
    return check_done("test_ledger_badinput");
}
