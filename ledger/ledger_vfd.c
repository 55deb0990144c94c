// ledger: the file driver the ledger writes through. It is POSIX I/O like HDF5's sec2 driver,
// plus two rules that keep the file on disk openable by ANY HDF5 reader (h5py, h5dump) at every
// instant of an SWMR write, so that a kill -9 leaves a file that opens without h5clear:
//  1. the superblock never carries the "open for write / SWMR write" status flags on disk
//     (HDF5 >= 1.10 refuses a non-SWMR open of a v3 superblock with those flags set), and
//  2. the end-of-allocation address recorded in the on-disk superblock always covers every
//     address the file can reference, and the file is at least that long (an SWMR writer lets
//     the stored EOA lag; non-SWMR readers then fail with "addr overflow"/"truncated file").
// A writer also holds an OFD lock on one byte far past the data so that two gpuhours writers
// never share a file; readers use flock (HDF5's own) and are not blocked by it.
#include "ledger_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

#define VFD_MAXADDR ((haddr_t)(((uint64_t)1 << 62) - 1))
// The byte a writer locks (OFD lock): past any address the file can hold.
#define VFD_WRITER_LOCK_BYTE ((off_t)1 << 62)
#define SB_MAX 64

typedef struct {
    H5FD_t pub; // filled by the library; must be first
    int fd;
    int writer;
    haddr_t eoa, eof;
    dev_t dev;
    ino_t ino;
    unsigned char sb[SB_MAX]; // the last superblock image the library wrote (flags cleared)
    size_t sb_len;            // 0 until the library has written one
    // A write failed (disk full, file-size limit): every later write is dropped, so that the
    // file stays as a kill at that moment would leave it (the crash-safe state readers know)
    // and the library can still close and release its objects. The caller saw the failure.
    int failed;
} vfd_file;

// Bob Jenkins' lookup3 hashlittle() (public domain), the checksum of HDF5 metadata
// (H5_checksum_lookup3 with initval 0); written here from the published algorithm.
#define ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
#define MIX(a, b, c)                \
    do {                            \
        a -= c; a ^= ROT(c, 4); c += b; \
        b -= a; b ^= ROT(a, 6); a += c; \
        c -= b; c ^= ROT(b, 8); b += a; \
        a -= c; a ^= ROT(c, 16); c += b; \
        b -= a; b ^= ROT(a, 19); a += c; \
        c -= b; c ^= ROT(b, 4); b += a; \
    } while (0)
#define FINAL(a, b, c)          \
    do {                        \
        c ^= b; c -= ROT(b, 14); \
        a ^= c; a -= ROT(c, 11); \
        b ^= a; b -= ROT(a, 25); \
        c ^= b; c -= ROT(b, 16); \
        a ^= c; a -= ROT(c, 4);  \
        b ^= a; b -= ROT(a, 14); \
        c ^= b; c -= ROT(b, 24); \
    } while (0)

uint32_t ledger_lookup3(const void *key, size_t length, uint32_t initval) {
    const uint8_t *k = key;
    uint32_t a, b, c;
    a = b = c = 0xdeadbeef + (uint32_t)length + initval;
    while (length > 12) {
        a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
        b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
        c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
        MIX(a, b, c);
        length -= 12;
        k += 12;
    }
    switch (length) { // the tail, byte by byte (fallthrough is the algorithm)
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8;   /* fall through */
    case 9: c += k[8];                   /* fall through */
    case 8: b += (uint32_t)k[7] << 24;   /* fall through */
    case 7: b += (uint32_t)k[6] << 16;   /* fall through */
    case 6: b += (uint32_t)k[5] << 8;    /* fall through */
    case 5: b += k[4];                   /* fall through */
    case 4: a += (uint32_t)k[3] << 24;   /* fall through */
    case 3: a += (uint32_t)k[2] << 16;   /* fall through */
    case 2: a += (uint32_t)k[1] << 8;    /* fall through */
    case 1: a += k[0]; break;
    case 0: return c;
    }
    FINAL(a, b, c);
    return c;
}

// Superblock v2/v3 layout (HDF5 file format spec, "Superblock version 2"): signature(8),
// version(1), size of offsets O(1), size of lengths(1), status flags(1), base address(O),
// extension address(O), end-of-file address(O), root object header address(O), checksum(4).
static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static size_t sb_size(const unsigned char *p, size_t n) {
    if (n < 12 || memcmp(p, hdf5_sig, 8) || p[8] < 2) return 0;
    unsigned o = p[9];
    if (o != 4 && o != 8) return 0;
    size_t len = 12 + 4 * (size_t)o + 4;
    return n >= len ? len : 0;
}

static void sb_put_addr(unsigned char *p, unsigned o, uint64_t v) {
    for (unsigned i = 0; i < o; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void sb_seal(unsigned char *p, size_t len) {
    uint32_t sum = ledger_lookup3(p, len - 4, 0);
    for (int i = 0; i < 4; i++) p[len - 4 + i] = (unsigned char)(sum >> (8 * i));
}

static herr_t fail_io(const char *what) {
    H5Epush2(H5E_DEFAULT, __FILE__, what, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_WRITEERROR, "%s: %s",
             what, strerror(errno));
    return -1;
}

static herr_t pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

// Rule 2: once the library has written a superblock, every growth of the allocated space is
// first made real (file extended) and recorded in the on-disk superblock, before any object
// at the new addresses can be written and linked.
static herr_t write_failed(vfd_file *f, const char *what) {
    f->failed = 1;
    return fail_io(what);
}

static herr_t vfd_publish_eoa(vfd_file *f) {
    if (f->failed) return 0;
    if ((haddr_t)f->eof < f->eoa) {
        if (ftruncate(f->fd, (off_t)f->eoa) < 0) return write_failed(f, "ledger vfd ftruncate");
        f->eof = f->eoa;
    }
    if (!f->sb_len) return 0;
    unsigned o = f->sb[9];
    sb_put_addr(f->sb + 12 + 2 * o, o, (uint64_t)f->eoa - (uint64_t)f->pub.base_addr);
    sb_seal(f->sb, f->sb_len);
    if (pwrite_all(f->fd, f->sb, f->sb_len, 0) < 0)
        return write_failed(f, "ledger vfd superblock");
    return 0;
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)fapl;
    (void)maxaddr;
    int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    int fd = open(name, o | O_CLOEXEC, 0666);
    if (fd < 0) {
        fail_io("ledger vfd open");
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fail_io("ledger vfd fstat");
        close(fd);
        return NULL;
    }
    vfd_file *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->writer = (flags & H5F_ACC_RDWR) != 0;
    f->eof = (haddr_t)st.st_size;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (f->writer) {
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                           .l_start = VFD_WRITER_LOCK_BYTE, .l_len = 1};
        if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
            H5Epush2(H5E_DEFAULT, __FILE__, "vfd_open", __LINE__, H5E_ERR_CLS, H5E_VFL,
                     H5E_CANTOPENFILE, "another gpuhours process is writing %s", name);
            close(fd);
            free(f);
            return NULL;
        }
    }
    return &f->pub;
}

static herr_t vfd_close(H5FD_t *file) {
    vfd_file *f = (vfd_file *)file;
    int rc = close(f->fd); // also drops the OFD writer lock
    free(f);
    return rc < 0 ? fail_io("ledger vfd close") : 0;
}

static int vfd_cmp(const H5FD_t *a, const H5FD_t *b) {
    const vfd_file *x = (const vfd_file *)a, *y = (const vfd_file *)b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    // As sec2, less the metadata accumulator: every metadata entry reaches us as its own write,
    // so that the superblock arrives whole and alone at address 0.
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE |
             H5FD_FEAT_SUPPORTS_SWMR_IO | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const vfd_file *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    vfd_file *f = (vfd_file *)file;
    int grew = addr > f->eoa;
    f->eoa = addr;
    return (grew && f->writer) ? vfd_publish_eoa(f) : 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const vfd_file *)file)->eof;
}

static herr_t vfd_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    *handle = &((vfd_file *)file)->fd;
    return 0;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                       void *buf) {
    (void)type;
    (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    char *p = buf;
    off_t off = (off_t)addr;
    while (size) {
        ssize_t r = pread(f->fd, p, size, off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return fail_io("ledger vfd read");
        }
        if (r == 0) { // past the end of the file: zeros, as sec2 does
            memset(p, 0, size);
            break;
        }
        p += r;
        size -= (size_t)r;
        off += r;
    }
    return 0;
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        const void *buf) {
    (void)type;
    (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    if (f->failed) return 0;
    size_t sbl = addr == 0 ? sb_size(buf, size) : 0;
    if (sbl && sbl <= SB_MAX && size == sbl && ((const unsigned char *)buf)[8] >= 3) {
        // Rule 1: the library's superblock with the status flags cleared, resealed.
        memcpy(f->sb, buf, sbl);
        f->sb[11] = 0;
        f->sb_len = sbl;
        unsigned o = f->sb[9];
        uint64_t eoa = 0;
        for (unsigned i = 0; i < o; i++) eoa |= (uint64_t)f->sb[12 + 2 * o + i] << (8 * i);
        // The library may serialise an EOA older than the one already published.
        if ((haddr_t)eoa + f->pub.base_addr < f->eoa)
            sb_put_addr(f->sb + 12 + 2 * o, o, (uint64_t)f->eoa - (uint64_t)f->pub.base_addr);
        sb_seal(f->sb, sbl);
        buf = f->sb;
    }
    if (pwrite_all(f->fd, buf, size, (off_t)addr) < 0) return write_failed(f, "ledger vfd write");
    if (addr + size > f->eof) f->eof = addr + size;
    return 0;
}

static herr_t vfd_flush(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)file;
    (void)dxpl;
    (void)closing;
    return 0; // data is in the page cache once written; a kill -9 does not lose it
}

// Never shrinks the file: a shorter file than the EOA of a superblock image still on disk
// would read as truncated. The few unused bytes at the end cost nothing to readers.
static herr_t vfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    (void)closing;
    vfd_file *f = (vfd_file *)file;
    if (f->writer && !f->failed && f->eof < f->eoa) {
        if (ftruncate(f->fd, (off_t)f->eoa) < 0) return write_failed(f, "ledger vfd truncate");
        f->eof = f->eoa;
    }
    return 0;
}

static herr_t vfd_lock(H5FD_t *file, hbool_t rw) {
    (void)file;
    (void)rw;
    return 0; // exclusivity between writers is the OFD lock taken at open
}

static herr_t vfd_unlock(H5FD_t *file) {
    (void)file;
    return 0;
}

static const H5FD_class_t vfd_class = {
    .name = "gpuhours_ledger",
    .maxaddr = VFD_MAXADDR,
    .fc_degree = H5F_CLOSE_WEAK,
    .open = vfd_open,
    .close = vfd_close,
    .cmp = vfd_cmp,
    .query = vfd_query,
    .get_eoa = vfd_get_eoa,
    .set_eoa = vfd_set_eoa,
    .get_eof = vfd_get_eof,
    .get_handle = vfd_get_handle,
    .read = vfd_read,
    .write = vfd_write,
    .flush = vfd_flush,
    .truncate = vfd_truncate,
    .lock = vfd_lock,
    .unlock = vfd_unlock,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t ledger_vfd_register(void) { return H5FDregister(&vfd_class); }

int ledger_writer_alive(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = VFD_WRITER_LOCK_BYTE, .l_len = 1};
    int alive = fcntl(fd, F_OFD_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
    close(fd);
    return alive;
}
