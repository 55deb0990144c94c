// data: the IDX reader (LeCun's MNIST format, also Fashion-MNIST and KMNIST): big-endian
// header, unsigned-byte payload, gzip-compressed or not (zlib's gzread reads both, deciding
// by the magic bytes). Every field is validated and errors name the file and the offset.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data.h"

// The MNIST family has ten classes; a label outside 0..9 means a wrong or corrupt file.
#define IDX_CLASSES 10
// Bounds that no real IDX image file exceeds; they stop a corrupt header from asking for
// terabytes before the truncation check could notice.
#define IDX_MAX_ITEMS 100000000
#define IDX_MAX_SIDE 4096

typedef struct {
    gzFile f;
    const char *path;
    size_t off;  // uncompressed offset, for messages
} idx_file;

static int idx_open(idx_file *r, const char *path) {
    r->path = path;
    r->off = 0;
    r->f = gzopen(path, "rb");
    if (!r->f)
        return gh_fail(GH_EIO, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib");
    gzbuffer(r->f, 1 << 17);
    return GH_OK;
}

// Reads exactly n bytes; a short read is a truncated file (or a corrupt gzip stream).
static int idx_read(idx_file *r, void *buf, size_t n, const char *what) {
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int k = gzread(r->f, p + got, chunk);
        if (k < 0) {
            int errnum;
            const char *msg = gzerror(r->f, &errnum);
            return gh_fail(GH_EFORMAT, "%s: offset %zu: reading %s: %s", r->path, r->off + got,
                           what, msg);
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    if (got < n)
        return gh_fail(GH_EFORMAT, "%s: truncated: %zu bytes of %s expected from offset %zu, "
                       "only %zu present", r->path, n, what, r->off, got);
    r->off += n;
    return GH_OK;
}

// Reads exactly n bytes into a buffer that grows with what the file holds, so that a header
// announcing gigabytes in a 21-byte file fails as truncated instead of allocating first (the
// size of a gzip stream's content is not known before it is read).
static int idx_read_alloc(idx_file *r, size_t n, const char *what, unsigned char **out) {
    const size_t chunk = (size_t)16 << 20;
    unsigned char *buf = NULL;
    size_t got = 0;
    int st = GH_OK;
    *out = NULL;
    while (got < n && !st) {
        size_t k = n - got < chunk ? n - got : chunk;
        unsigned char *nb = realloc(buf, got + k);
        if (!nb) {
            st = gh_fail(GH_ENOMEM, "%s: %zu bytes of %s", r->path, got + k, what);
            break;
        }
        buf = nb;
        size_t off = r->off;
        st = idx_read(r, buf + got, k, what);
        if (st && off == r->off)   // say how much of the whole was there, not of this chunk
            st = gh_fail(GH_EFORMAT, "%s: truncated: %zu bytes of %s expected from offset %zu, "
                         "fewer than %zu present", r->path, n, what, r->off - got, got + k);
        got += k;
    }
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    return GH_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

// Header: 0x00 0x00, type 0x08 (unsigned byte), number of dimensions, then one big-endian
// uint32 per dimension.
static int idx_header(idx_file *r, int want_dims, uint32_t *dims) {
    unsigned char h[4];
    int st = idx_read(r, h, 4, "the magic number");
    if (st) return st;
    uint32_t magic = be32(h);
    uint32_t want = 0x00000800u | (uint32_t)want_dims;
    if (magic != want)
        return gh_fail(GH_EFORMAT, "%s: offset 0: magic number 0x%08x, expected 0x%08x (IDX "
                       "unsigned-byte %s)", r->path, magic, want,
                       want_dims == 1 ? "labels" : "images");
    unsigned char d[4 * 3];
    st = idx_read(r, d, 4 * (size_t)want_dims, "the dimensions");
    if (st) return st;
    for (int i = 0; i < want_dims; i++) {
        dims[i] = be32(d + 4 * i);
        uint32_t lim = i == 0 ? IDX_MAX_ITEMS : IDX_MAX_SIDE;
        if (dims[i] == 0 || dims[i] > lim)
            return gh_fail(GH_EFORMAT, "%s: offset %d: dimension %d is %u (expected 1..%u)",
                           r->path, 4 + 4 * i, i, dims[i], lim);
    }
    return GH_OK;
}

// Nothing may follow the payload: trailing bytes mean the header undercounts.
static int idx_expect_end(idx_file *r) {
    unsigned char b;
    int k = gzread(r->f, &b, 1);
    if (k > 0)
        return gh_fail(GH_EFORMAT, "%s: offset %zu: unexpected data after the %zu bytes the "
                       "header announces", r->path, r->off, r->off);
    return GH_OK;
}

static int read_images(gh_images *out, const char *path) {
    idx_file r;
    int st = idx_open(&r, path);
    if (st) return st;
    uint32_t d[3];
    unsigned char *raw = NULL;
    st = idx_header(&r, 3, d);
    size_t per = 0, total = 0;
    if (!st) {
        per = (size_t)d[1] * d[2];
        total = (size_t)d[0] * per;
        st = idx_read_alloc(&r, total, "the pixels", &raw);
    }
    if (!st) st = idx_expect_end(&r);
    if (!st && !(out->x = malloc(total * sizeof(float))))
        st = gh_fail(GH_ENOMEM, "%s: %zu images of %ux%u", path, (size_t)d[0], d[1], d[2]);
    if (!st) {
        for (size_t i = 0; i < total; i++) out->x[i] = (float)raw[i] * (1.0f / 255.0f);
        out->n = (int)d[0];
        out->c = 1;
        out->h = (int)d[1];
        out->w = (int)d[2];
    }
    free(raw);
    gzclose(r.f);
    return st;
}

static int read_labels(gh_images *out, const char *path) {
    idx_file r;
    int st = idx_open(&r, path);
    if (st) return st;
    uint32_t n;
    unsigned char *raw = NULL;
    st = idx_header(&r, 1, &n);
    if (!st && (int)n != out->n)
        st = gh_fail(GH_EFORMAT, "%s: offset 4: %u labels, but the images file has %d images",
                     path, n, out->n);
    if (!st) {
        raw = malloc(n);
        out->y = malloc((size_t)n * sizeof(int));
        if (!raw || !out->y) st = gh_fail(GH_ENOMEM, "%s: %u labels", path, n);
    }
    if (!st) st = idx_read(&r, raw, n, "the labels");
    if (!st) st = idx_expect_end(&r);
    for (uint32_t i = 0; !st && i < n; i++) {
        if (raw[i] >= IDX_CLASSES)
            st = gh_fail(GH_EFORMAT, "%s: offset %u: label %u of item %u is out of range 0..%d",
                         path, 8 + i, raw[i], i, IDX_CLASSES - 1);
        else
            out->y[i] = raw[i];
    }
    if (!st) out->classes = IDX_CLASSES;
    free(raw);
    gzclose(r.f);
    return st;
}

int images_read_idx(gh_images *out, const char *images_path, const char *labels_path) {
    memset(out, 0, sizeof *out);
    int st = read_images(out, images_path);
    if (!st) st = read_labels(out, labels_path);
    if (st) images_free(out);
    return st;
}

static int exists(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

// dir/<stem>, preferring the .gz file when both are present.
static int find_file(char *out, size_t len, const char *dir, const char *stem) {
    snprintf(out, len, "%s/%s.gz", dir, stem);
    if (exists(out)) return GH_OK;
    snprintf(out, len, "%s/%s", dir, stem);
    if (exists(out)) return GH_OK;
    return gh_fail(GH_EIO, "%s: neither %s nor %s.gz exists (point --data at a directory with "
                   "the MNIST-format files)", dir, stem, stem);
}

int images_read_mnist_dir(gh_images *out, const char *dir, const char *split) {
    memset(out, 0, sizeof *out);
    const char *prefix;
    if (split && !strcmp(split, "train")) prefix = "train";
    else if (split && !strcmp(split, "test")) prefix = "t10k";
    else return gh_fail(GH_EINVAL, "mnist: split '%s' (expected train or test)",
                        split ? split : "(null)");
    char img[4096], lab[4096], stem[64];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
    int st = find_file(img, sizeof img, dir, stem);
    if (st) return st;
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
    st = find_file(lab, sizeof lab, dir, stem);
    if (st) return st;
    return images_read_idx(out, img, lab);
}

void images_free(gh_images *im) {
    if (!im) return;
    free(im->x);
    free(im->y);
    memset(im, 0, sizeof *im);
}
