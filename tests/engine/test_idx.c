// tests/engine: the IDX reader. Tiny files written plain and gzip-compressed read back to the
// same values; a wrong magic number, a truncated file, a label out of range, a count mismatch
// and trailing bytes are GH_EFORMAT naming the file; a missing directory is GH_EIO. The real
// Fashion-MNIST test split is read when the dataset is installed.
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/data.h"

static char dir[256];

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

// Writes bytes to dir/name, gzip-compressed when gz; returns the path (static storage rotates
// over four slots).
static const char *write_file(const char *name, const unsigned char *b, size_t n, int gz) {
    static char paths[4][512];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, 512, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        CHECK(f != NULL);
        CHECK(gzwrite(f, b, (unsigned)n) == (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        CHECK(fwrite(b, 1, n, f) == n);
        fclose(f);
    }
    return path;
}

// 3 images of 2x4 with pixel value 10*i + j, labels 7, 0, 9
static size_t images_bytes(unsigned char *b, uint32_t magic, uint32_t n) {
    put32(b, magic);
    put32(b + 4, n);
    put32(b + 8, 2);
    put32(b + 12, 4);
    for (uint32_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++) b[16 + i * 8 + j] = (unsigned char)(10 * i + j);
    return 16 + 8 * (size_t)n;
}

static size_t labels_bytes(unsigned char *b, uint32_t magic, const unsigned char *labels,
                           uint32_t n) {
    put32(b, magic);
    put32(b + 4, n);
    memcpy(b + 8, labels, n);
    return 8 + (size_t)n;
}

static void expect_format_error(const char *what, const char *img, const char *lab,
                                const char *bad_file, const char *needle) {
    gh_images im;
    int st = images_read_idx(&im, img, lab);
    CHECK_MSG(st == GH_EFORMAT, "%s: status %d (%s), expected GH_EFORMAT", what, st,
              gh_error_get());
    CHECK_MSG(strstr(gh_error_get(), bad_file) != NULL, "%s: message '%s' lacks the file name",
              what, gh_error_get());
    CHECK_MSG(strstr(gh_error_get(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
              gh_error_get(), needle);
    CHECK(im.x == NULL && im.y == NULL);
    printf("  %-22s -> %s\n", what, gh_error_get());
}

static void test_small(void) {
    unsigned char ib[16 + 3 * 8], lb[8 + 3];
    const unsigned char labels[3] = {7, 0, 9};
    size_t ni = images_bytes(ib, 0x803, 3), nl = labels_bytes(lb, 0x801, labels, 3);
    for (int gz = 0; gz < 2; gz++) {
        const char *img = write_file(gz ? "i.gz" : "i", ib, ni, gz);
        const char *lab = write_file(gz ? "l.gz" : "l", lb, nl, !gz);  // mixed on purpose
        gh_images im;
        CHECK_OK(images_read_idx(&im, img, lab));
        CHECK(im.n == 3 && im.c == 1 && im.h == 2 && im.w == 4 && im.classes == 10);
        int bad = 0;
        for (int i = 0; i < 3; i++) {
            bad += im.y[i] != labels[i];
            for (int j = 0; j < 8; j++)
                bad += fabsf(im.x[i * 8 + j] - (float)(10 * i + j) / 255.0f) > 1e-6f;
        }
        CHECK_MSG(bad == 0, "%d values differ (gz=%d)", bad, gz);
        images_free(&im);
        CHECK(im.x == NULL);
    }

    const char *lab = write_file("good-labels", lb, nl, 0);
    unsigned char tmp[64];
    // wrong magic: a labels file given as images
    const char *p = write_file("magic-images", lb, nl, 1);
    expect_format_error("wrong magic", p, lab, "magic-images", "magic");
    // truncated pixels (plain and gzip)
    p = write_file("short-images", ib, ni - 5, 0);
    expect_format_error("truncated", p, lab, "short-images", "truncated");
    p = write_file("short-images.gz", ib, ni - 5, 1);
    expect_format_error("truncated gzip", p, lab, "short-images.gz", "truncated");
    // trailing bytes
    memcpy(tmp, ib, ni);
    tmp[ni] = 1;
    p = write_file("long-images", tmp, ni + 1, 0);
    expect_format_error("trailing bytes", p, lab, "long-images", "unexpected data");
    // label out of range
    const char *img = write_file("good-images", ib, ni, 0);
    size_t n = labels_bytes(tmp, 0x801, (const unsigned char[]){3, 10, 1}, 3);
    p = write_file("range-labels", tmp, n, 1);
    expect_format_error("label out of range", img, p, "range-labels", "label 10");
    // count mismatch
    n = labels_bytes(tmp, 0x801, labels, 2);
    p = write_file("count-labels", tmp, n, 0);
    expect_format_error("count mismatch", img, p, "count-labels", "2 labels");
    // zero dimension
    memcpy(tmp, ib, 16);
    put32(tmp + 8, 0);
    p = write_file("zero-images", tmp, 16, 0);
    expect_format_error("zero rows", p, lab, "zero-images", "dimension 1");

    // a 21-byte file whose header announces 50000 images of 256x256 (3.3 GB): truncated, found
    // without allocating what the header asks for (under a 1 GiB address-space limit where no
    // sanitizer reserves shadow memory)
    memcpy(tmp, ib, 16);
    put32(tmp + 4, 50000);
    put32(tmp + 8, 256);
    put32(tmp + 12, 256);
    p = write_file("huge-images", tmp, 21, 0);
    struct rlimit old_lim = {0, 0};
    int limited = 0;
#ifndef __SANITIZE_ADDRESS__
    if (getrlimit(RLIMIT_AS, &old_lim) == 0) {
        struct rlimit lim = old_lim;
        lim.rlim_cur = (rlim_t)1 << 30;
        limited = setrlimit(RLIMIT_AS, &lim) == 0;
    }
#endif
    expect_format_error("header bigger than the file", p, lab, "huge-images", "truncated");
    if (limited) CHECK(setrlimit(RLIMIT_AS, &old_lim) == 0);

    gh_images im;
    CHECK(images_read_idx(&im, "/nonexistent/x", lab) == GH_EIO);
    CHECK(strstr(gh_error_get(), "/nonexistent/x") != NULL);
    CHECK(images_read_mnist_dir(&im, dir, "train") == GH_EIO);
    CHECK(strstr(gh_error_get(), "train-images-idx3-ubyte") != NULL);
    CHECK(images_read_mnist_dir(&im, dir, "valid") == GH_EINVAL);
}

static void test_fashion(void) {
    const char *d = GH_FASHION_MNIST_DIR;
    char probe[512];
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", d);
    if (access(probe, R_OK) != 0) {
        snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte", d);
        if (access(probe, R_OK) != 0) {
            printf("  Fashion-MNIST not installed under %s: real-data part skipped\n", d);
            return;
        }
    }
    gh_images im;
    double t0 = gh_wall_seconds();
    CHECK_OK(images_read_mnist_dir(&im, d, "test"));
    printf("  Fashion-MNIST test split: %d x %d x %d x %d in %.2f s\n", im.n, im.c, im.h, im.w,
           gh_wall_seconds() - t0);
    CHECK(im.n == 10000 && im.c == 1 && im.h == 28 && im.w == 28 && im.classes == 10);
    int count[10] = {0}, bad = 0;
    double mean = 0;
    for (int i = 0; i < im.n; i++) {
        if (im.y[i] < 0 || im.y[i] > 9) bad++;
        else count[im.y[i]]++;
    }
    for (size_t i = 0; i < (size_t)im.n * 784; i++) mean += im.x[i];
    mean /= (double)im.n * 784;
    CHECK(bad == 0);
    for (int k = 0; k < 10; k++) CHECK_MSG(count[k] == 1000, "class %d: %d", k, count[k]);
    // Fashion-MNIST's pixel mean is 0.286 (commonly quoted normalisation constant)
    CHECK_MSG(fabs(mean - 0.286) < 0.01, "pixel mean %.4f", mean);
    images_free(&im);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/gh_test_idx.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_small();
    test_fashion();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_idx");
}
