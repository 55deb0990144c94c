// ledger: checkpoints of a run, an HDF5 file of named binary blobs beside the run file, written
// whole to a temporary name, fsync'd and renamed over the previous one (a kill at any instant
// leaves the old checkpoint or the new one, never a torn one); reading them back with every
// blob's checksum verified, and the checks `--resume FILE` makes before anything is modified.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "ledger_internal.h"

#define CKPT_CREATOR "gpuhours-checkpoint"

struct ledger_ckpt_writer {
    char *path, *tmp;
    hid_t file, blobs;
    int64_t nblobs;
    int failed;                 // a put failed: commit refuses and removes the temporary file
};

struct ledger_ckpt_reader {
    char *path;
    hid_t file, blobs;
    int64_t step, nblobs;
    int64_t run_rows[TAB_COUNT];   // the run's rows when written; -1: not recorded
    char *method, *config_text, *run_id, *run_file, *written_at;
};


static char *cat(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

int ledger_ckpt_path(const char *run_path, char *out, size_t len) {
    if (!run_path || !*run_path) return gh_fail(GH_EINVAL, "ledger_ckpt_path: no run path");
    if ((size_t)snprintf(out, len, "%s%s", run_path, LEDGER_CKPT_SUFFIX) >= len)
        return gh_fail(GH_EINVAL, "%s: checkpoint path longer than %zu bytes", run_path, len);
    return GH_OK;
}

int ledger_run_id(const ledger *l, char *out, size_t len) {
    // What the run file already records that tells runs apart: its creation time (seconds),
    // the host and pid of the process that created it (the first session), and the seed.
    const ledger_table *s = &l->tab[TAB_SESSIONS];
    const char *start = ledger_attr(l, "start_time"), *host = ledger_attr(l, "host");
    const char *seed = ledger_attr(l, "seed");
    if (!start || !host || !seed || s->n < 1)
        return gh_fail(GH_EFORMAT, "%s: cannot identify the run: %s is missing", l->path,
                       !start ? "root attribute 'start_time'" : !host ? "root attribute 'host'"
                       : !seed ? "root attribute 'seed'" : "the first row of table 'sessions'");
    const ledger_session_row *r0 = ledger_table_row((ledger_table *)s, 0);
    if ((size_t)snprintf(out, len, "%s host=%s pid=%lld seed=%s", start, host,
                         (long long)r0->pid, seed) >= len)
        return gh_fail(GH_EINVAL, "%s: run id longer than %zu bytes", l->path, len);
    return GH_OK;
}

// Blob names: 1..LEDGER_NAME_CAP-1 bytes of [A-Za-z0-9_.-] in '/'-separated components, none
// empty, "." or ".." (they become HDF5 paths under /blobs).
static int check_name(const char *fn, const char *path, const char *name) {
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n < LEDGER_NAME_CAP;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-' || c == '/';
    }
    for (const char *p = name; ok && p && *p;) {
        size_t k = strcspn(p, "/");
        ok = k > 0 && !(k == 1 && p[0] == '.') && !(k == 2 && p[0] == '.' && p[1] == '.');
        p += k;
        if (*p == '/' && !*++p) ok = 0;   // a trailing '/'
    }
    if (!ok)
        return gh_fail(GH_EINVAL, "%s: %s: blob name '%s': expected 1..%d bytes of "
                       "[A-Za-z0-9_.-] in '/'-separated components", fn, path,
                       name ? name : "(null)", LEDGER_NAME_CAP - 1);
    return GH_OK;
}

// A scalar integer attribute: file_type on disk, *v in mem_type.
static int put_scalar(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                      const void *v, const char *l_path) {
    int st = GH_OK;
    hid_t sp = -1, a = -1;
    H5_CHECK(sp = H5Screate(H5S_SCALAR));
    H5_CHECK(a = H5Acreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5_CHECK(H5Awrite(a, mem_type, v));
fail:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return st;
}

static int put_i64(hid_t loc, const char *name, int64_t v, const char *l_path) {
    return put_scalar(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, l_path);
}

static int put_u32(hid_t loc, const char *name, uint32_t v, const char *l_path) {
    return put_scalar(loc, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &v, l_path);
}

// "run_rows": the run's committed rows per table (ledger_table_id order) when the checkpoint was
// written, so that a resume drops the rows recorded after it.
static int put_rows(hid_t loc, const ledger *run, const char *l_path) {
    int st = GH_OK;
    hid_t sp = -1, a = -1;
    hsize_t n = TAB_COUNT;
    int64_t rows[TAB_COUNT];
    for (int i = 0; i < TAB_COUNT; i++) rows[i] = run->tab[i].n;
    H5_CHECK(sp = H5Screate_simple(1, &n, NULL));
    H5_CHECK(a = H5Acreate2(loc, "run_rows", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5_CHECK(H5Awrite(a, H5T_NATIVE_INT64, rows));
fail:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return st;
}

// ---- writing ----------------------------------------------------------------------------------

static void writer_free(ledger_ckpt_writer *w) {
    if (!w) return;
    if (w->blobs >= 0) H5Gclose(w->blobs);
    if (w->file >= 0) H5Fclose(w->file);
    free(w->path);
    free(w->tmp);
    free(w);
}

void ledger_ckpt_abort(ledger_ckpt_writer *w) {
    if (!w) return;
    quiet q = quiet_on();
    char *tmp = w->tmp;
    w->tmp = NULL;
    writer_free(w);
    if (tmp) unlink(tmp);
    free(tmp);
    quiet_off(q);
}

int ledger_ckpt_begin(ledger_ckpt_writer **out, const ledger *run, const char *method,
                      const char *config_text, int64_t step) {
    *out = NULL;
    if (!run || !method || !*method)
        return gh_fail(GH_EINVAL, "ledger_ckpt_begin: an open run and a method are required");
    char id[512], now[32];
    int st = ledger_run_id(run, id, sizeof id);
    if (st) return st;
    ledger_ckpt_writer *w = calloc(1, sizeof *w);
    if (!w) return gh_fail(GH_ENOMEM, "ledger_ckpt_begin");
    w->file = w->blobs = -1;
    w->path = cat(run->path, LEDGER_CKPT_SUFFIX);
    w->tmp = w->path ? cat(w->path, ".partial") : NULL;
    if (!w->tmp) {
        writer_free(w);
        return gh_fail(GH_ENOMEM, "ledger_ckpt_begin: %s", run->path);
    }
    const char *l_path = w->tmp;
    const char *base = strrchr(run->path, '/');
    base = base ? base + 1 : run->path;
    quiet q = quiet_on();
    hid_t fapl = -1;
    // A temporary file left by a writer killed mid-checkpoint is only ever replaced.
    if (unlink(w->tmp) < 0 && errno != ENOENT) {
        st = gh_fail(GH_EIO, "%s: cannot remove the stale temporary checkpoint: %s", w->tmp,
                     strerror(errno));
        goto fail;
    }
    H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS));
    H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
    H5_CHECK(w->file = H5Fcreate(w->tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl));
#define PUT(name, value)                                                         \
    do {                                                                         \
        if ((st = ledger_attr_put(w->file, name, value, 0, w->tmp))) goto fail; \
    } while (0)
    PUT("creator", CKPT_CREATOR);
    if ((st = put_i64(w->file, "format_version", LEDGER_CKPT_FORMAT_VERSION, l_path))) goto fail;
    PUT("run_id", id);
    PUT("run_file", base);
    PUT("method", method);
    PUT("config_text", config_text ? config_text : "");
    gh_utc_iso8601(now);
    PUT("written_at", now);
#undef PUT
    if ((st = put_i64(w->file, "step", step, l_path))) goto fail;
    if ((st = put_rows(w->file, run, l_path))) goto fail;
    H5_CHECK(w->blobs = H5Gcreate2(w->file, "blobs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
fail:
    if (fapl >= 0) H5Pclose(fapl);
    quiet_off(q);
    if (st) {
        ledger_ckpt_abort(w);
        return st;
    }
    *out = w;
    return GH_OK;
}

int ledger_ckpt_put(ledger_ckpt_writer *w, const char *name, const void *data, size_t bytes) {
    if (!w) return gh_fail(GH_EINVAL, "ledger_ckpt_put: no checkpoint writer");
    if (w->failed)
        return gh_fail(GH_EINVAL, "%s: an earlier blob failed; this checkpoint is abandoned",
                       w->tmp);
    int st = check_name("ledger_ckpt_put", w->path, name);
    if (!st && bytes && !data)
        st = gh_fail(GH_EINVAL, "ledger_ckpt_put: %s: blob '%s' of %zu bytes has no data",
                     w->path, name, bytes);
    if (st) {
        w->failed = 1;
        return st;
    }
    const char *l_path = w->tmp;
    quiet q = quiet_on();
    hid_t sp = -1, lcpl = -1, d = -1;
    hsize_t n = (hsize_t)bytes;
    if (H5Lexists(w->blobs, name, H5P_DEFAULT) > 0) {
        st = gh_fail(GH_EINVAL, "%s: blob '%s' written twice in one checkpoint", w->path, name);
        goto fail;
    }
    H5_CHECK(lcpl = H5Pcreate(H5P_LINK_CREATE));
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    H5_CHECK(sp = H5Screate_simple(1, &n, NULL));
    H5_CHECK(d = H5Dcreate2(w->blobs, name, H5T_STD_U8LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT));
    if (bytes) H5_CHECK(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    if ((st = put_u32(d, "lookup3", ledger_lookup3(data, bytes, 0), l_path))) goto fail;
    w->nblobs++;
fail:
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    if (lcpl >= 0) H5Pclose(lcpl);
    quiet_off(q);
    if (st) w->failed = 1;
    return st;
}

int ledger_ckpt_put_cb(void *w, const char *name, const void *data, size_t bytes) {
    return ledger_ckpt_put(w, name, data, bytes);
}

// fsync of a file or directory by path (a directory: so that the rename in it is durable).
static int sync_path(const char *path, int dir) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return gh_fail(GH_EIO, "%s: cannot open to fsync: %s", path, strerror(errno));
    int r = fsync(fd), e = errno;
    close(fd);
    // Some file systems cannot fsync a directory (EINVAL); the rename is then as durable as
    // they make it.
    if (r < 0 && !(dir && (e == EINVAL || e == EROFS)))
        return gh_fail(GH_EIO, "%s: fsync failed: %s", path, strerror(e));
    return GH_OK;
}

int ledger_ckpt_commit(ledger_ckpt_writer *w) {
    if (!w) return gh_fail(GH_EINVAL, "ledger_ckpt_commit: no checkpoint writer");
    if (w->failed) {
        int st = gh_fail(GH_EINVAL, "%s: not committed: a blob failed to be written; the "
                         "previous checkpoint is kept", w->path);
        ledger_ckpt_abort(w);
        return st;
    }
    const char *l_path = w->tmp;
    int st = GH_OK;
    quiet q = quiet_on();
    // The count is written last: a reader that finds fewer blobs refuses the file.
    if ((st = put_i64(w->file, "blob_count", w->nblobs, l_path))) goto fail;
    H5_CHECK(H5Gclose(w->blobs));
    w->blobs = -1;
    H5_CHECK(H5Fclose(w->file));
    w->file = -1;
    if ((st = sync_path(w->tmp, 0))) goto fail;
    if (rename(w->tmp, w->path) < 0) {
        st = gh_fail(GH_EIO, "%s: cannot rename the new checkpoint over %s: %s", w->tmp,
                     w->path, strerror(errno));
        goto fail;
    }
    {
        char *dir = strdup(w->path);
        if (!dir) {
            st = gh_fail(GH_ENOMEM, "ledger_ckpt_commit");
            goto fail;
        }
        char *slash = strrchr(dir, '/');
        if (slash) slash[slash == dir ? 1 : 0] = 0;
        st = sync_path(slash ? dir : ".", 1);
        free(dir);
    }
fail:
    quiet_off(q);
    ledger_ckpt_abort(w);   // frees; the temporary name no longer exists after the rename
    return st;
}

// ---- reading ----------------------------------------------------------------------------------

void ledger_ckpt_close(ledger_ckpt_reader *r) {
    if (!r) return;
    quiet q = quiet_on();
    if (r->blobs >= 0) H5Gclose(r->blobs);
    if (r->file >= 0) H5Fclose(r->file);
    quiet_off(q);
    free(r->path);
    free(r->method);
    free(r->config_text);
    free(r->run_id);
    free(r->run_file);
    free(r->written_at);
    free(r);
}

// A string attribute of the root (variable or fixed length); GH_EFORMAT naming it if absent.
static int get_str(ledger_ckpt_reader *r, const char *name, char **out) {
    int st = GH_OK;
    hid_t a = -1, t = -1, mt = -1;
    if (H5Aexists(r->file, name) <= 0)
        return gh_fail(GH_EFORMAT, "%s: root attribute '%s' is missing", r->path, name);
    if ((a = H5Aopen(r->file, name, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 ||
        H5Tget_class(t) != H5T_STRING) {
        st = gh_fail(GH_EFORMAT, "%s: root attribute '%s' is not a string", r->path, name);
    } else if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mt, H5Tget_cset(t)) < 0 || H5Aread(a, mt, &s) < 0 || !s)
            st = gh_fail(GH_EFORMAT, "%s: root attribute '%s' cannot be read", r->path, name);
        else if (!(*out = strdup(s)))
            st = gh_fail(GH_ENOMEM, "%s: attribute '%s'", r->path, name);
        if (s) H5free_memory(s);
    } else {
        size_t n = H5Tget_size(t);
        if (!(*out = calloc(1, n + 1))) st = gh_fail(GH_ENOMEM, "%s: %s", r->path, name);
        else if (H5Aread(a, t, *out) < 0)
            st = gh_fail(GH_EFORMAT, "%s: root attribute '%s' cannot be read", r->path, name);
    }
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return st;
}

static int get_i64(hid_t loc, const char *name, int64_t *v, const char *path) {
    hid_t a = -1, t = -1;
    int ok = H5Aexists(loc, name) > 0 && (a = H5Aopen(loc, name, H5P_DEFAULT)) >= 0 &&
             (t = H5Aget_type(a)) >= 0 && H5Tget_class(t) == H5T_INTEGER &&
             H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return ok ? GH_OK : gh_fail(GH_EFORMAT, "%s: integer attribute '%s' is missing or "
                                "unreadable", path, name);
}

// 1 when name (relative to g) is a dataset. H5Oopen + H5Iget_type rather than H5Oget_info,
// whose signature changed between HDF5 1.10 and 1.12.
static int is_dataset(hid_t g, const char *name) {
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return 0;
    int yes = H5Iget_type(o) == H5I_DATASET;
    H5Oclose(o);
    return yes;
}

// Counts the datasets under /blobs (any depth).
static herr_t count_blob(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    if (is_dataset(g, name)) ++*(int64_t *)data;
    return 0;
}

static int reader_open(ledger_ckpt_reader *r) {
    struct stat sb;
    if (stat(r->path, &sb) < 0)
        return gh_fail(GH_EIO, "%s: cannot open the checkpoint: %s", r->path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return gh_fail(GH_EFORMAT, "%s: the checkpoint is not a regular file", r->path);
    if (H5Fis_hdf5(r->path) <= 0)
        return gh_fail(GH_EFORMAT, "%s: the checkpoint is not an HDF5 file (%lld bytes, no "
                       "HDF5 signature)", r->path, (long long)sb.st_size);
    if ((r->file = H5Fopen(r->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        char msg[256];
        ledger_h5_message(msg, sizeof msg);
        return gh_fail(GH_EFORMAT, "%s: the checkpoint cannot be opened (truncated or damaged, "
                       "%lld bytes): %s", r->path, (long long)sb.st_size, msg);
    }
    char *creator = NULL;
    int st = get_str(r, "creator", &creator);
    if (!st && strcmp(creator, CKPT_CREATOR))
        st = gh_fail(GH_EFORMAT, "%s: not a gpuhours checkpoint (root attribute 'creator' is "
                     "'%s', expected '%s')", r->path, creator, CKPT_CREATOR);
    free(creator);
    if (st) return st;
    int64_t ver = 0;
    if ((st = get_i64(r->file, "format_version", &ver, r->path))) return st;
    if (ver < 1 || ver > LEDGER_CKPT_FORMAT_VERSION)
        return gh_fail(GH_EFORMAT, "%s: checkpoint format version %lld; this gpuhours reads 1..%d",
                       r->path, (long long)ver, LEDGER_CKPT_FORMAT_VERSION);
    if ((st = get_str(r, "run_id", &r->run_id)) || (st = get_str(r, "run_file", &r->run_file)) ||
        (st = get_str(r, "method", &r->method)) ||
        (st = get_str(r, "config_text", &r->config_text)) ||
        (st = get_str(r, "written_at", &r->written_at)) ||
        (st = get_i64(r->file, "step", &r->step, r->path)) ||
        (st = get_i64(r->file, "blob_count", &r->nblobs, r->path)))
        return st;
    for (int i = 0; i < TAB_COUNT; i++) r->run_rows[i] = -1;
    if (H5Aexists(r->file, "run_rows") > 0) {
        hid_t a = H5Aopen(r->file, "run_rows", H5P_DEFAULT), sp = a >= 0 ? H5Aget_space(a) : -1;
        hsize_t n = 0;
        int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
                 H5Sget_simple_extent_dims(sp, &n, NULL) == 1 && n == TAB_COUNT &&
                 H5Aread(a, H5T_NATIVE_INT64, r->run_rows) >= 0;
        if (sp >= 0) H5Sclose(sp);
        if (a >= 0) H5Aclose(a);
        for (int i = 0; ok && i < TAB_COUNT; i++) ok = r->run_rows[i] >= 0;
        if (!ok)
            return gh_fail(GH_EFORMAT, "%s: attribute 'run_rows' is not %d non-negative "
                           "integers", r->path, TAB_COUNT);
    }
    if (H5Lexists(r->file, "blobs", H5P_DEFAULT) <= 0 ||
        (r->blobs = H5Gopen2(r->file, "blobs", H5P_DEFAULT)) < 0)
        return gh_fail(GH_EFORMAT, "%s: group '/blobs' is missing", r->path);
    int64_t n = 0;
    if (H5Lvisit(r->blobs, H5_INDEX_NAME, H5_ITER_NATIVE, count_blob, &n) < 0)
        return ledger_h5_fail(GH_EFORMAT, "H5Lvisit(/blobs)", __FILE__, __LINE__, r->path);
    if (n != r->nblobs)
        return gh_fail(GH_EFORMAT, "%s: '/blobs' holds %lld blobs but attribute 'blob_count' "
                       "says %lld: an incomplete checkpoint", r->path, (long long)n,
                       (long long)r->nblobs);
    return GH_OK;
}

int ledger_ckpt_open(ledger_ckpt_reader **out, const char *ckpt_path) {
    *out = NULL;
    if (!ckpt_path || !*ckpt_path) return gh_fail(GH_EINVAL, "ledger_ckpt_open: no path");
    ledger_ckpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(ckpt_path))) {
        free(r);
        return gh_fail(GH_ENOMEM, "ledger_ckpt_open: %s", ckpt_path);
    }
    r->file = r->blobs = -1;
    quiet q = quiet_on();
    int st = reader_open(r);
    quiet_off(q);
    if (st) {
        ledger_ckpt_close(r);
        return st;
    }
    *out = r;
    return GH_OK;
}

const char *ledger_ckpt_method(const ledger_ckpt_reader *r) { return r->method; }
const char *ledger_ckpt_config_text(const ledger_ckpt_reader *r) { return r->config_text; }
const char *ledger_ckpt_run_id(const ledger_ckpt_reader *r) { return r->run_id; }
int64_t ledger_ckpt_step(const ledger_ckpt_reader *r) { return r->step; }

// 1 when every component of name exists under /blobs and the last is a dataset.
static int blob_exists(const ledger_ckpt_reader *r, const char *name) {
    char buf[LEDGER_NAME_CAP];
    ledger_strlcpy(buf, name, sizeof buf);
    for (char *p = buf;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = 0;
        int have = H5Lexists(r->blobs, buf, H5P_DEFAULT) > 0;
        *p = c;
        if (!have) return 0;
        if (!c) break;
    }
    return is_dataset(r->blobs, name);
}

int ledger_ckpt_has(ledger_ckpt_reader *r, const char *name) {
    if (!r || check_name("ledger_ckpt_has", r ? r->path : "?", name)) return 0;
    quiet q = quiet_on();
    int have = blob_exists(r, name);
    quiet_off(q);
    return have;
}

// Opens blob `name`; its size in *bytes.
static int blob_open(ledger_ckpt_reader *r, const char *fn, const char *name, hid_t *d,
                     size_t *bytes) {
    *d = -1;
    int st = check_name(fn, r->path, name);
    if (st) return st;
    if (!blob_exists(r, name))
        return gh_fail(GH_EFORMAT, "%s: no blob '%s' in this checkpoint (step %lld, method "
                       "'%s')", r->path, name, (long long)r->step, r->method);
    hid_t sp = -1, t = -1;
    hsize_t n = 0;
    int ok = (*d = H5Dopen2(r->blobs, name, H5P_DEFAULT)) >= 0 && (t = H5Dget_type(*d)) >= 0 &&
             H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 &&
             (sp = H5Dget_space(*d)) >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
             H5Sget_simple_extent_dims(sp, &n, NULL) == 1;
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (!ok) {
        if (*d >= 0) H5Dclose(*d);
        *d = -1;
        return gh_fail(GH_EFORMAT, "%s: blob '%s' is not a 1-D byte array", r->path, name);
    }
    *bytes = (size_t)n;
    return GH_OK;
}

// Reads an open blob of `bytes` bytes into data and checks it against its stored checksum.
static int blob_read(ledger_ckpt_reader *r, const char *name, hid_t d, void *data,
                     size_t bytes) {
    if (bytes && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        char msg[256];
        ledger_h5_message(msg, sizeof msg);
        return gh_fail(GH_EFORMAT, "%s: blob '%s' cannot be read (truncated or damaged): %s",
                       r->path, name, msg);
    }
    hid_t a = -1;
    uint32_t want = 0;
    int ok = H5Aexists(d, "lookup3") > 0 && (a = H5Aopen(d, "lookup3", H5P_DEFAULT)) >= 0 &&
             H5Aread(a, H5T_NATIVE_UINT32, &want) >= 0;
    if (a >= 0) H5Aclose(a);
    if (!ok) return gh_fail(GH_EFORMAT, "%s: blob '%s' has no 'lookup3' checksum", r->path, name);
    uint32_t got = ledger_lookup3(data, bytes, 0);
    if (got != want)
        return gh_fail(GH_EFORMAT, "%s: blob '%s' is corrupt: checksum %08x, stored %08x",
                       r->path, name, got, want);
    return GH_OK;
}

int ledger_ckpt_size(ledger_ckpt_reader *r, const char *name, size_t *bytes) {
    *bytes = 0;
    hid_t d;
    quiet q = quiet_on();
    int st = blob_open(r, "ledger_ckpt_size", name, &d, bytes);
    if (d >= 0) H5Dclose(d);
    quiet_off(q);
    return st;
}

int ledger_ckpt_get(ledger_ckpt_reader *r, const char *name, void *data, size_t bytes) {
    hid_t d;
    size_t have = 0;
    quiet q = quiet_on();
    int st = blob_open(r, "ledger_ckpt_get", name, &d, &have);
    if (!st && have != bytes)
        st = gh_fail(GH_EFORMAT, "%s: blob '%s' holds %zu bytes, %zu expected (saved by another "
                     "build or configuration?)", r->path, name, have, bytes);
    if (!st) st = blob_read(r, name, d, data, bytes);
    if (d >= 0) H5Dclose(d);
    quiet_off(q);
    return st;
}

int ledger_ckpt_get_cb(void *r, const char *name, void *data, size_t bytes) {
    return ledger_ckpt_get(r, name, data, bytes);
}

typedef struct {
    ledger_ckpt_reader *r;
    int st;
} verify_ctx;

static herr_t verify_blob(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    verify_ctx *v = data;
    if (!is_dataset(g, name)) return 0;
    hid_t d;
    size_t bytes = 0;
    v->st = blob_open(v->r, "ledger_ckpt_verify", name, &d, &bytes);
    void *buf = v->st ? NULL : malloc(bytes ? bytes : 1);
    if (!v->st && !buf) v->st = gh_fail(GH_ENOMEM, "%s: blob '%s' of %zu bytes", v->r->path,
                                        name, bytes);
    if (!v->st) v->st = blob_read(v->r, name, d, buf, bytes);
    free(buf);
    if (d >= 0) H5Dclose(d);
    return v->st ? 1 : 0;
}

int ledger_ckpt_verify(ledger_ckpt_reader *r) {
    verify_ctx v = {r, GH_OK};
    quiet q = quiet_on();
    herr_t h = H5Lvisit(r->blobs, H5_INDEX_NAME, H5_ITER_NATIVE, verify_blob, &v);
    if (h < 0 && !v.st)
        v.st = ledger_h5_fail(GH_EFORMAT, "H5Lvisit(/blobs)", __FILE__, __LINE__, r->path);
    quiet_off(q);
    return v.st;
}

// ---- --resume ---------------------------------------------------------------------------------

int ledger_resume_check(const char *run_path, const char *method, ledger_ckpt_reader **out) {
    if (out) *out = NULL;
    if (!run_path || !*run_path || !method || !*method)
        return gh_fail(GH_EINVAL, "--resume: a run file and a method are required");
    ledger *l = NULL;
    ledger_ckpt_reader *r = NULL;
    char id[512], ck[4096];
    int st = ledger_open_read(&l, run_path);
    if (st) return st;
    const char *run_method = ledger_attr(l, "method");
    if (!run_method || strcmp(run_method, method)) {
        st = gh_fail(GH_EINVAL, "%s: a run of method '%s' (root attribute 'method'), not '%s': "
                     "resume it with that method, or start a new run", run_path,
                     run_method ? run_method : "(missing)", method);
        goto done;
    }
    if (ledger_writer_alive(run_path)) {
        st = gh_fail(GH_EIO, "%s: another gpuhours process is writing this run", run_path);
        goto done;
    }
    if ((st = ledger_run_id(l, id, sizeof id)) || (st = ledger_ckpt_path(run_path, ck, sizeof ck)))
        goto done;
    if (access(ck, F_OK) < 0 && errno == ENOENT) {
        st = gh_fail(GH_EIO, "%s: no checkpoint yet (%s does not exist): the run stopped before "
                     "its first checkpoint; start it again", run_path, ck);
        goto done;
    }
    if ((st = ledger_ckpt_open(&r, ck))) goto done;
    if (strcmp(r->run_id, id)) {
        st = gh_fail(GH_EFORMAT, "%s: belongs to another run (root attribute 'run_id' is '%s'; "
                     "%s is '%s')", ck, r->run_id, run_path, id);
        goto done;
    }
    if (strcmp(r->method, method)) {
        st = gh_fail(GH_EFORMAT, "%s: a checkpoint of method '%s' (root attribute 'method') "
                     "beside a run of method '%s'", ck, r->method, method);
        goto done;
    }
    st = ledger_ckpt_verify(r);
done:
    ledger_close(l, NULL);
    if (st || !out) ledger_ckpt_close(r);
    else *out = r;
    return st;
}

// Cuts the run's tables (except sessions, the history of who wrote it) back to keep[] rows: the
// rows recorded after the checkpoint, by work a resume does again. Opened for writing through
// the ledger's file driver, as ledger_resume does before it switches to SWMR writing.
static int cut_tables(const char *path, const int64_t keep[TAB_COUNT]) {
    const char *l_path = path;
    int st = GH_OK;
    hid_t vfd = -1, fapl = -1, file = -1;
    quiet q = quiet_on();
    H5_CHECK(vfd = ledger_vfd_register());
    H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS));
    H5_CHECK(H5Pset_driver(fapl, vfd, NULL));
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));
    H5_CHECK(file = H5Fopen(path, H5F_ACC_RDWR, fapl));
    for (int i = 0; i < TAB_COUNT; i++) {
        if (i == TAB_SESSIONS) continue;
        hid_t d = -1;
        hsize_t n = (hsize_t)keep[i];
        H5_CHECK(d = H5Dopen2(file, ledger_table_specs[i].name, H5P_DEFAULT));
        herr_t h = H5Dset_extent(d, &n);
        H5Dclose(d);
        H5_CHECK(h);
    }
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
fail:
    if (file >= 0 && H5Fclose(file) < 0 && !st)
        st = ledger_h5_fail(GH_EIO, "H5Fclose", __FILE__, __LINE__, path);
    if (fapl >= 0) H5Pclose(fapl);
    if (vfd >= 0) H5FDunregister(vfd);
    quiet_off(q);
    return st;
}

int ledger_resume_from(ledger **out, const char *run_path, const ledger_ckpt_reader *r) {
    *out = NULL;
    if (!r) return gh_fail(GH_EINVAL, "ledger_resume_from: no checkpoint");
    if (r->run_rows[0] < 0)
        return gh_fail(GH_EFORMAT, "%s: records no 'run_rows' (written by an older gpuhours): "
                       "the rows recorded after it cannot be told apart", r->path);
    ledger *l = NULL;
    int st = ledger_open_read(&l, run_path);
    if (st) return st;
    int64_t keep[TAB_COUNT];
    int cut = 0;
    for (int i = 0; i < TAB_COUNT && !st; i++) {
        hid_t sp = H5Dget_space(l->tab[i].dset);
        hsize_t ext = 0;
        if (sp >= 0) {
            H5Sget_simple_extent_dims(sp, &ext, NULL);
            H5Sclose(sp);
        }
        keep[i] = i == TAB_SESSIONS ? (int64_t)ext : r->run_rows[i];
        if (keep[i] > l->tab[i].n)
            st = gh_fail(GH_EFORMAT, "%s: the checkpoint %s records %lld rows of table '%s' but "
                         "the run holds %lld: they do not belong together", run_path, r->path,
                         (long long)keep[i], ledger_table_specs[i].name,
                         (long long)l->tab[i].n);
        cut |= (int64_t)ext != keep[i];
    }
    ledger_close(l, NULL);
    if (!st && cut) st = cut_tables(run_path, keep);
    return st ? st : ledger_resume(out, run_path);
}
