// ledger: opening, creating, resuming and closing a run file, and appending rows to its tables.
// Crash safety: the writer creates every object first, then switches to HDF5 SWMR writing
// (flush ordering: a row becomes visible only after the data it needs), writes through the
// ledger file driver (ledger_vfd.c: the on-disk file opens in any reader at every instant) and
// flushes after each row. Each row carries committed=1; a row in flight reads as committed=0.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "ledger_internal.h"

// ---- HDF5 errors ----------------------------------------------------------------------------
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data) {
    char **out = data;
    if (n == 0 && e->desc) snprintf(out[0], (size_t)(uintptr_t)out[1], "%s", e->desc);
    return 0;
}

void ledger_h5_message(char *buf, size_t len) {
    buf[0] = 0;
    char *ctx[2] = {buf, (char *)(uintptr_t)len};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, ctx);
}

int ledger_h5_fail(int status, const char *stmt, const char *file, int line, const char *path) {
    char msg[256];
    ledger_h5_message(msg, sizeof msg);
    return gh_fail(status, "%s: HDF5 call failed: %s (%s) at %s:%d", path ? path : "?", stmt,
                   msg[0] ? msg : "no HDF5 message", file, line);
}


// ---- small helpers ------------------------------------------------------------------------------
static double run_clock(const ledger *l) { return l->run_time0 + (gh_wall_seconds() - l->wall0); }

static ledger_cost_row cost_row(const cost_totals *c) {
    return (ledger_cost_row){c->wall_s, c->cpu_s, c->device_s, c->busy_gpu_s, c->energy_j,
                             c->peak_mem_bytes};
}

static cost_totals cost_from_row(const ledger_cost_row *r) {
    return (cost_totals){r->wall_s, r->cpu_s, r->device_s, r->busy_gpu_s, r->energy_j,
                         r->peak_mem_bytes};
}

static char *owned_copy(ledger *l, const char *s, size_t n) {
    char **no = realloc(l->owned, (size_t)(l->nowned + 1) * sizeof *no);
    if (!no) return NULL;
    l->owned = no;
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    l->owned[l->nowned++] = c;
    return c;
}

static int mkdir_parents(const char *path) {
    char *d = strdup(path);
    if (!d) return gh_fail(GH_ENOMEM, "ledger: path %s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(d, 0777) < 0 && errno != EEXIST) {
            int e = errno;
            free(d);
            return gh_fail(GH_EIO, "%s: cannot create directory: %s", path, strerror(e));
        }
        *p = '/';
    }
    free(d);
    return GH_OK;
}

// argv as one shell-quoted line.
static char *join_argv(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += 4 * strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    *p = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *c = a; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
                        *c))
                plain = 0;
        if (i) *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
        } else {
            *p++ = '\'';
            for (const char *c = a; *c; c++) {
                if (*c == '\'') {
                    memcpy(p, "'\\''", 4);
                    p += 4;
                } else {
                    *p++ = *c;
                }
            }
            *p++ = '\'';
        }
        *p = 0;
    }
    return s;
}

// ---- tables -----------------------------------------------------------------------------------
static int table_create(ledger *l, ledger_table_id id) {
    const char *l_path = l->path;
    const ledger_table_spec *sp = &ledger_table_specs[id];
    ledger_table *t = &l->tab[id];
    int st = GH_OK;
    hid_t space = -1, dcpl = -1;
    hsize_t zero = 0, unlim = H5S_UNLIMITED, chunk = sp->chunk_rows;
    void *fill = calloc(1, sp->row_size);
    if (!fill) return gh_fail(GH_ENOMEM, "ledger: fill row");
    t->row_size = sp->row_size;
    H5_CHECK(t->mtype = ledger_table_type(id));
    H5_CHECK(space = H5Screate_simple(1, &zero, &unlim));
    H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    H5_CHECK(H5Pset_chunk(dcpl, 1, &chunk));
    // committed = 0 in the fill value: an extended but unwritten row is recognisably in flight
    H5_CHECK(H5Pset_fill_value(dcpl, t->mtype, fill));
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
    H5_CHECK(t->dset = H5Dcreate2(l->file, sp->name, t->mtype, space, H5P_DEFAULT, dcpl,
                                  H5P_DEFAULT));
    if ((st = ledger_attr_put(t->dset, "units", sp->units, 0, l->path))) goto fail;
fail:
    free(fill);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return st;
}

// 1 when `name` is one of the table's optional fields.
static int optional_field(const ledger_table_spec *sp, const char *name) {
    size_t n = strlen(name);
    for (const char *p = sp->optional; p && *p; p += strcspn(p, " "), p += *p == ' ')
        if (strcspn(p, " ") == n && !strncmp(p, name, n)) return 1;
    return 0;
}

// Zeroes the optional fields the file lacks in one memory row.
static void clear_absent(const ledger_table *t, void *row) {
    for (int k = 0; k < t->n_absent; k++) memset((char *)row + t->absent_off[k], 0, t->absent_len[k]);
}

// Opens a table of an existing file and checks that every field this version reads is there
// (an optional field may be missing: the table then reads and writes without it).
static int table_open(ledger *l, ledger_table_id id) {
    const char *l_path = l->path;
    const ledger_table_spec *sp = &ledger_table_specs[id];
    ledger_table *t = &l->tab[id];
    int st = GH_OK;
    hid_t ft = -1;
    t->row_size = sp->row_size;
    if (H5Lexists(l->file, sp->name, H5P_DEFAULT) <= 0)
        return gh_fail(GH_EFORMAT, "%s: not a gpuhours ledger: dataset '/%s' is missing", l->path,
                       sp->name);
    H5_CHECK(t->mtype = ledger_table_type(id));
    H5_CHECK(t->dset = H5Dopen2(l->file, sp->name, H5P_DEFAULT));
    H5_CHECK(ft = H5Dget_type(t->dset));
    if (H5Tget_class(t->mtype) == H5T_COMPOUND) {
        int nm = H5Tget_nmembers(t->mtype);
        if (H5Tget_class(ft) != H5T_COMPOUND) {
            st = gh_fail(GH_EFORMAT, "%s: dataset '/%s' is not a table of records", l->path,
                         sp->name);
            goto fail;
        }
        t->n_absent = 0;
        for (int i = 0; i < nm; i++) {
            char *name = H5Tget_member_name(t->mtype, (unsigned)i);
            int have = H5Tget_member_index(ft, name) >= 0;
            if (!have && optional_field(sp, name) &&
                t->n_absent < (int)(sizeof t->absent_off / sizeof t->absent_off[0])) {
                hid_t mt = H5Tget_member_type(t->mtype, (unsigned)i);
                t->absent_off[t->n_absent] = H5Tget_member_offset(t->mtype, (unsigned)i);
                t->absent_len[t->n_absent++] = mt >= 0 ? H5Tget_size(mt) : 0;
                if (mt >= 0) H5Tclose(mt);
                H5free_memory(name);
                continue;
            }
            if (!have)
                st = gh_fail(GH_EFORMAT, "%s: table '/%s' lacks field '%s'", l->path, sp->name,
                             name);
            H5free_memory(name);
            if (!have) goto fail;
        }
        if (t->n_absent) {   // an older file: read and write the fields it has
            hid_t r;
            H5_CHECK(r = H5Tcreate(H5T_COMPOUND, t->row_size));
            for (int i = 0; i < nm && st == GH_OK; i++) {
                char *name = H5Tget_member_name(t->mtype, (unsigned)i);
                hid_t mt = H5Tget_member_type(t->mtype, (unsigned)i);
                if (!name || mt < 0)
                    st = ledger_h5_fail(GH_EIO, "H5Tget_member_type", __FILE__, __LINE__, l_path);
                else if (H5Tget_member_index(ft, name) >= 0 &&
                         H5Tinsert(r, name, H5Tget_member_offset(t->mtype, (unsigned)i), mt) < 0)
                    st = ledger_h5_fail(GH_EIO, "H5Tinsert", __FILE__, __LINE__, l_path);
                if (mt >= 0) H5Tclose(mt);
                if (name) H5free_memory(name);
            }
            H5Tclose(t->mtype);
            t->mtype = r;
            if (st) goto fail;
        }
    } else if (H5Tget_class(ft) != H5Tget_class(t->mtype)) {
        st = gh_fail(GH_EFORMAT, "%s: dataset '/%s' has the wrong element type", l->path,
                     sp->name);
        goto fail;
    }
fail:
    if (ft >= 0) H5Tclose(ft);
    return st;
}

static int64_t table_extent(ledger_table *t) {
    hid_t s = H5Dget_space(t->dset);
    hsize_t n = 0;
    if (s >= 0) {
        H5Sget_simple_extent_dims(s, &n, NULL);
        H5Sclose(s);
    }
    return (int64_t)n;
}

// Reads rows [off, off+n) into buf.
static int table_read(ledger *l, ledger_table *t, int64_t off, int64_t n, void *buf) {
    const char *l_path = l->path;
    int st = GH_OK;
    hid_t fs = -1, ms = -1;
    hsize_t o = (hsize_t)off, c = (hsize_t)n;
    if (n == 0) return GH_OK;
    H5_CHECK(fs = H5Dget_space(t->dset));
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &o, NULL, &c, NULL));
    H5_CHECK(ms = H5Screate_simple(1, &c, NULL));
    H5_CHECK(H5Dread(t->dset, t->mtype, ms, fs, H5P_DEFAULT, buf));
fail:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return st;
}

// Loads the committed prefix of a record table into memory; *extent gets the rows on disk.
static int table_load(ledger *l, ledger_table_id id, int64_t *extent) {
    ledger_table *t = &l->tab[id];
    int64_t n = table_extent(t);
    *extent = n;
    t->n = 0;
    if (id == TAB_TEXT || id == TAB_DATA) { // blobs: read on demand, appended after the end
        t->n = n;
        return GH_OK;
    }
    if (n == 0) return GH_OK;
    char *buf = malloc((size_t)n * t->row_size);
    if (!buf) return gh_fail(GH_ENOMEM, "%s: %lld rows", l->path, (long long)n);
    int st = table_read(l, t, 0, n, buf);
    // The committed byte is the last member of every record row.
    for (int64_t i = 0; st == GH_OK && i < n; i++) {
        const char *row = buf + (size_t)i * t->row_size;
        size_t off = 0;
        switch (id) {
        case TAB_TRIALS: off = offsetof(ledger_trial_row, committed); break;
        case TAB_EPOCHS: off = offsetof(ledger_epoch_row, committed); break;
        case TAB_PHASES: off = offsetof(ledger_phase_row, committed); break;
        case TAB_ARTIFACTS: off = offsetof(ledger_artifact_row, committed); break;
        case TAB_SESSIONS: off = offsetof(ledger_session_row, committed); break;
        default: break;
        }
        if (row[off] != 1) break; // the row in flight at a kill, and anything after it
        clear_absent(t, buf + (size_t)i * t->row_size);
        st = ledger_table_keep(t, row);
    }
    free(buf);
    return st;
}

// Appends n rows (one H5Dwrite) and flushes the dataset: with SWMR ordering the new extent
// reaches the file only after the rows.
static int table_append(ledger *l, ledger_table_id id, const void *rows, int64_t n) {
    const char *l_path = l->path;
    ledger_table *t = &l->tab[id];
    int st = GH_OK, written = 0;
    hid_t fs = -1, ms = -1;
    hsize_t o = (hsize_t)t->n, c = (hsize_t)n, ext = (hsize_t)(t->n + n);
    H5_CHECK(H5Dset_extent(t->dset, &ext));
    H5_CHECK(fs = H5Dget_space(t->dset));
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &o, NULL, &c, NULL));
    H5_CHECK(ms = H5Screate_simple(1, &c, NULL));
    H5_CHECK(H5Dwrite(t->dset, t->mtype, ms, fs, H5P_DEFAULT, rows));
    H5_CHECK(H5Dflush(t->dset));
    written = 1;
    if (id == TAB_TEXT || id == TAB_DATA) {
        t->n += n;
    } else {
        st = ledger_table_keep(t, rows);
        if (!st) clear_absent(t, ledger_table_row(t, t->n - 1));   // as a reader will see it
    }
fail:
    if (st && !written) l->io_failed = 1;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return st;
}

// Rewrites row i in place (the session row at close).
static int table_rewrite(ledger *l, ledger_table_id id, int64_t i, const void *row) {
    const char *l_path = l->path;
    ledger_table *t = &l->tab[id];
    int st = GH_OK, written = 0;
    hid_t fs = -1, ms = -1;
    hsize_t o = (hsize_t)i, c = 1;
    H5_CHECK(fs = H5Dget_space(t->dset));
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &o, NULL, &c, NULL));
    H5_CHECK(ms = H5Screate_simple(1, &c, NULL));
    H5_CHECK(H5Dwrite(t->dset, t->mtype, ms, fs, H5P_DEFAULT, row));
    H5_CHECK(H5Dflush(t->dset));
    written = 1;
    memcpy(ledger_table_row(t, i), row, t->row_size);
fail:
    if (st && !written) l->io_failed = 1;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return st;
}

static int load_attrs(ledger *l);

// ---- handle lifetime -----------------------------------------------------------------------------
static void ledger_free(ledger *l) {
    if (!l) return;
    for (int i = 0; i < TAB_COUNT; i++) {
        ledger_table *t = &l->tab[i];
        if (t->dset > 0) H5Dclose(t->dset);
        if (t->mtype > 0) H5Tclose(t->mtype);
        for (int64_t b = 0; b < t->nblocks; b++) free(t->blocks[b]);
        free(t->blocks);
    }
    if (l->file > 0) H5Fclose(l->file);
    if (l->vfd > 0) H5FDunregister(l->vfd);
    for (int64_t i = 0; i < l->nowned; i++) free(l->owned[i]);
    free(l->owned);
    free(l->attrs_text);
    free(l->path);
    free(l);
}

static ledger *ledger_alloc(const char *path) {
    ledger *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->path = strdup(path);
    l->file = l->vfd = -1;
    for (int i = 0; i < TAB_COUNT; i++) l->tab[i].dset = l->tab[i].mtype = -1;
    if (!l->path) {
        free(l);
        return NULL;
    }
    return l;
}

// File access for a writer: the ledger driver and the 1.10 format (SWMR needs it; h5py with
// HDF5 >= 1.10 reads it).
static hid_t writer_fapl(ledger *l) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if ((l->vfd = ledger_vfd_register()) < 0 || H5Pset_driver(fapl, l->vfd, NULL) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static int session_begin(ledger *l, int argc, char **argv, const char *status) {
    ledger_session_row s = {0};
    char host[256] = "unknown", now[32];
    gethostname(host, sizeof host - 1);
    gh_utc_iso8601(now);
    s.session = (int32_t)l->tab[TAB_SESSIONS].n;
    ledger_strlcpy(s.start_time, now, sizeof s.start_time);
    ledger_strlcpy(s.status, status, sizeof s.status);
    ledger_strlcpy(s.host, host, sizeof s.host);
    s.pid = (int64_t)getpid();
    char *cmd = join_argv(argc, argv);
    if (cmd && ledger_strlcpy(s.command_line, cmd, sizeof s.command_line))
        memcpy(s.command_line + sizeof s.command_line - 5, "...", 4);
    free(cmd);
    s.committed = 1;
    l->session = s.session;
    return table_append(l, TAB_SESSIONS, &s, 1);
}

int ledger_create(ledger **out, const char *path, const ledger_run_info *info) {
    *out = NULL;
    if (!path || !*path || !info || !info->method || !info->dataset)
        return gh_fail(GH_EINVAL, "ledger_create: path, info, method and dataset are required");
    if (access(path, F_OK) == 0)
        return gh_fail(GH_EIO, "%s: exists; choose another name or continue it with --resume",
                       path);
    int st = mkdir_parents(path);
    if (st) return st;
    ledger *l = ledger_alloc(path);
    if (!l) return gh_fail(GH_ENOMEM, "ledger_create: %s", path);
    const char *l_path = path;
    quiet q = quiet_on();
    hid_t fapl = -1, fcpl = -1, a = -1, sp = -1;
    char tmp[4096], now[32], buf[64];
    snprintf(tmp, sizeof tmp, "%s.partial.%ld", path, (long)getpid());
    unlink(tmp);
    H5_CHECK(fapl = writer_fapl(l));
    // Paged file-space aggregation: metadata blocks never straddle a 4 KiB page, so a kill
    // cannot tear one in the middle of its rewrite.
    H5_CHECK(fcpl = H5Pcreate(H5P_FILE_CREATE));
    H5_CHECK(H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1));
    H5_CHECK(H5Pset_file_space_page_size(fcpl, 4096));
    H5_CHECK(l->file = H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, fapl));
    l->writer = 1;

    // run attributes
#define PUT(name, value, cap)                                                   \
    do {                                                                        \
        if ((st = ledger_attr_put(l->file, name, value, cap, path))) goto fail; \
    } while (0)
    PUT("creator", "gpuhours", 0);
    H5_CHECK(sp = H5Screate(H5S_SCALAR));
    H5_CHECK(a = H5Acreate2(l->file, "schema_version", H5T_STD_I32LE, sp, H5P_DEFAULT,
                            H5P_DEFAULT));
    int ver = LEDGER_SCHEMA_VERSION;
    H5_CHECK(H5Awrite(a, H5T_NATIVE_INT, &ver));
    H5Aclose(a); // SWMR writing refuses to start while an attribute is open
    a = -1;
    PUT("method", info->method, 0);
    PUT("dataset", info->dataset, 0);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)info->seed);
    PUT("seed", buf, 0);
    PUT("config_text", info->config_text ? info->config_text : "", 0);
    char *cmd = join_argv(info->argc, info->argv);
    if (!cmd) {
        st = gh_fail(GH_ENOMEM, "ledger_create: command line");
        goto fail;
    }
    st = ledger_attr_put(l->file, "command_line", cmd, 0, path);
    free(cmd);
    if (st) goto fail;
    snprintf(buf, sizeof buf, "%d", info->gpus);
    PUT("gpus_held", buf, 0);
    snprintf(buf, sizeof buf, "%d", info->workers > 0 ? info->workers : 1);
    PUT("workers", buf, 0);
    snprintf(buf, sizeof buf, "%.17g", info->budget_s > 0 ? info->budget_s : 0.0);
    PUT("budget_s", buf, 0);
    PUT("precision", info->precision && *info->precision ? info->precision : "fp32", 0);
    if ((st = ledger_write_provenance(l->file, path))) goto fail;
    gh_utc_iso8601(now);
    PUT("start_time", now, 0);
    PUT("end_time", "", LEDGER_TIME_CAP);        // fixed size: rewritten in place at close
    PUT("status", "running", LEDGER_STATUS_CAP); // (SWMR: no new objects after the switch)
#undef PUT
    for (int i = 0; i < TAB_COUNT; i++)
        if ((st = table_create(l, (ledger_table_id)i))) goto fail;
    H5_CHECK(H5Fflush(l->file, H5F_SCOPE_GLOBAL));
    H5_CHECK(H5Fstart_swmr_write(l->file));
    if ((st = load_attrs(l))) goto fail;
    l->wall0 = gh_wall_seconds();
    l->run_time0 = 0;
    if ((st = session_begin(l, info->argc, info->argv, "running"))) goto fail;
    // Publish under the final name only now, and never over an existing file.
    if (link(tmp, path) < 0) {
        st = gh_fail(GH_EIO, "%s: cannot publish the new run file: %s", path, strerror(errno));
        goto fail;
    }
    unlink(tmp);
fail:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    if (st) {
        ledger_free(l);
        unlink(tmp);
    } else {
        *out = l;
    }
    quiet_off(q);
    return st;
}

// ---- reading attributes --------------------------------------------------------------------------
static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data) {
    (void)ainfo;
    ledger *l = data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a);
    char *val = NULL;
    char num[64];
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                val = strdup(s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            val = calloc(1, n + 1);
            if (val && H5Aread(a, t, val) < 0) val[0] = 0;
        }
    } else if (H5Tget_class(t) == H5T_INTEGER) {
        long long v = 0;
        if (H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0) {
            snprintf(num, sizeof num, "%lld", v);
            val = strdup(num);
        }
    } else if (H5Tget_class(t) == H5T_FLOAT) {
        double v = 0;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) {
            snprintf(num, sizeof num, "%.17g", v);
            val = strdup(num);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    if (!val) return 0;
    size_t ln = strlen(name) + 1, lv = strlen(val) + 1;
    char *nt = realloc(l->attrs_text, l->attrs_len + ln + lv);
    if (!nt) {
        free(val);
        return -1;
    }
    l->attrs_text = nt;
    memcpy(nt + l->attrs_len, name, ln);
    memcpy(nt + l->attrs_len + ln, val, lv);
    l->attrs_len += ln + lv;
    free(val);
    return 0;
}

static int load_attrs(ledger *l) {
    free(l->attrs_text);
    l->attrs_text = NULL;
    l->attrs_len = 0;
    hsize_t idx = 0;
    if (H5Aiterate2(l->file, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attr, l) < 0)
        return ledger_h5_fail(GH_EFORMAT, "H5Aiterate2(run attributes)", __FILE__, __LINE__,
                              l->path);
    return GH_OK;
}

const char *ledger_attr(const ledger *l, const char *name) {
    for (size_t off = 0; off < l->attrs_len;) {
        const char *n = l->attrs_text + off, *v = n + strlen(n) + 1;
        if (!strcmp(n, name)) return v;
        off = (size_t)(v + strlen(v) + 1 - l->attrs_text);
    }
    return NULL;
}

// Opens read-only and checks that this is a gpuhours ledger this version can read. Writes
// nothing, whatever the file holds.
static int open_checked(ledger *l) {
    struct stat sb;
    if (stat(l->path, &sb) < 0)
        return gh_fail(GH_EIO, "%s: cannot open: %s", l->path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return gh_fail(GH_EFORMAT, "%s: not a regular file", l->path);
    htri_t is = H5Fis_hdf5(l->path);
    if (is <= 0)
        return gh_fail(GH_EFORMAT, "%s: not an HDF5 file (no HDF5 signature in its first %lld "
                       "bytes)", l->path, (long long)sb.st_size);
    l->file = H5Fopen(l->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (l->file < 0) {
        char msg[256];
        ledger_h5_message(msg, sizeof msg);
        if (strstr(msg, "already open for write")) {
            // A plain HDF5 writer still holds it (or died holding it): read as SWMR.
            hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
            H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
            l->file = H5Fopen(l->path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
            H5Pclose(fapl);
            if (l->file < 0) ledger_h5_message(msg, sizeof msg);
        }
        if (l->file < 0)
            return gh_fail(GH_EFORMAT, "%s: HDF5 file cannot be opened (truncated or damaged, "
                           "%lld bytes): %s", l->path, (long long)sb.st_size, msg);
    }
    int st = load_attrs(l);
    if (st) return st;
    const char *creator = ledger_attr(l, "creator");
    if (!creator || strcmp(creator, "gpuhours"))
        return gh_fail(GH_EFORMAT, "%s: an HDF5 file from another tool, not a gpuhours ledger "
                       "(root attribute 'creator' is %s%s%s, expected 'gpuhours')", l->path,
                       creator ? "'" : "missing", creator ? creator : "",
                       creator ? "'" : "");
    const char *ver = ledger_attr(l, "schema_version");
    char *end = NULL;
    long v = ver ? strtol(ver, &end, 10) : -1;
    if (!ver || *end || v < 1)
        return gh_fail(GH_EFORMAT, "%s: root attribute 'schema_version' is %s, expected an "
                       "integer >= 1", l->path, ver ? ver : "missing");
    if (v > LEDGER_SCHEMA_VERSION)
        return gh_fail(GH_EFORMAT, "%s: schema version %ld is newer than this gpuhours reads "
                       "(up to %d); use a newer gpuhours", l->path, v, LEDGER_SCHEMA_VERSION);
    for (int i = 0; i < TAB_COUNT; i++)
        if ((st = table_open(l, (ledger_table_id)i))) return st;
    return GH_OK;
}

static int load_tables(ledger *l, int64_t extent[TAB_COUNT]) {
    for (int i = 0; i < TAB_COUNT; i++) {
        int st = table_load(l, (ledger_table_id)i, &extent[i]);
        if (st) return st;
    }
    return GH_OK;
}

int ledger_open_read(ledger **out, const char *path) {
    *out = NULL;
    ledger *l = ledger_alloc(path ? path : "");
    if (!l) return gh_fail(GH_ENOMEM, "ledger_open_read");
    quiet q = quiet_on();
    int64_t ext[TAB_COUNT];
    int st = open_checked(l);
    if (!st) st = load_tables(l, ext);
    quiet_off(q);
    if (st) {
        ledger_free(l);
        return st;
    }
    *out = l;
    return GH_OK;
}

int ledger_resume(ledger **out, const char *path) {
    *out = NULL;
    // Everything is checked on a read-only open first: a bad file is never opened for writing.
    ledger *l = NULL;
    int st = ledger_open_read(&l, path);
    if (st) return st;
    quiet q = quiet_on();
    if (ledger_writer_alive(path)) {
        st = gh_fail(GH_EIO, "%s: another gpuhours process is writing this run", path);
        goto done;
    }
    // Run time before this session: the latest row of any table.
    double rt = 0;
    for (int i = 0; i < TAB_COUNT; i++) {
        ledger_table *t = &l->tab[i];
        for (int64_t r = 0; r < t->n && i != TAB_TEXT && i != TAB_DATA && i != TAB_SESSIONS;
             r++) {
            const char *row = ledger_table_row(t, r);
            double v = 0;
            switch (i) {
            case TAB_TRIALS: v = ((const ledger_trial_row *)row)->run_time_s; break;
            case TAB_EPOCHS: v = ((const ledger_epoch_row *)row)->run_time_s; break;
            case TAB_PHASES: v = ((const ledger_phase_row *)row)->run_time_s; break;
            case TAB_ARTIFACTS: v = ((const ledger_artifact_row *)row)->run_time_s; break;
            default: break;
            }
            if (v > rt) rt = v;
        }
    }
    for (int i = 0; i < TAB_COUNT; i++) {
        H5Dclose(l->tab[i].dset);
        l->tab[i].dset = -1;
    }
    H5Fclose(l->file);
    l->file = -1;

    const char *l_path = path;
    hid_t fapl = -1;
    H5_CHECK(fapl = writer_fapl(l));
    H5_CHECK(l->file = H5Fopen(path, H5F_ACC_RDWR, fapl));
    l->writer = 1;
    for (int i = 0; i < TAB_COUNT; i++) {
        ledger_table *t = &l->tab[i];
        H5_CHECK(t->dset = H5Dopen2(l->file, ledger_table_specs[i].name, H5P_DEFAULT));
        // Drop the rows that were in flight when the last session died.
        hsize_t keep = (hsize_t)t->n;
        if (table_extent(t) != t->n) H5_CHECK(H5Dset_extent(t->dset, &keep));
    }
    if ((st = ledger_attr_put(l->file, "status", "running", LEDGER_STATUS_CAP, path))) goto fail;
    if ((st = ledger_attr_put(l->file, "end_time", "", LEDGER_TIME_CAP, path))) goto fail;
    H5_CHECK(H5Fflush(l->file, H5F_SCOPE_GLOBAL));
    H5_CHECK(H5Fstart_swmr_write(l->file));
    if ((st = load_attrs(l))) goto fail;
    l->wall0 = gh_wall_seconds();
    l->run_time0 = rt;
    {
        char *argv1[] = {"(resume)"};
        st = session_begin(l, 1, argv1, "running");
    }
fail:
    if (fapl >= 0) H5Pclose(fapl);
done:
    quiet_off(q);
    if (st) {
        ledger_free(l);
        return st;
    }
    *out = l;
    return GH_OK;
}

// ---- appending ----------------------------------------------------------------------------------
static int need_writer(const ledger *l, const char *fn) {
    if (!l) return gh_fail(GH_EINVAL, "%s: no ledger", fn);
    if (!l->writer) return gh_fail(GH_EINVAL, "%s: %s was opened read-only", fn, l->path);
    if (l->io_failed)
        return gh_fail(GH_EIO, "%s: %s: an earlier write failed (disk full?); nothing more is "
                       "written to it, and it keeps the records made before", fn, l->path);
    return GH_OK;
}

int ledger_put_text(ledger *l, const char *name, const char *text) {
    int st = need_writer(l, "ledger_put_text");
    if (st) return st;
    if (!name || !*name || strlen(name) >= LEDGER_NAME_CAP)
        return gh_fail(GH_EINVAL, "ledger_put_text: name must be 1..%d bytes",
                       LEDGER_NAME_CAP - 1);
    if (!text) text = "";
    quiet q = quiet_on();
    ledger_artifact_row r = {0};
    ledger_strlcpy(r.name, name, sizeof r.name);
    ledger_strlcpy(r.kind, "text", sizeof r.kind);
    r.rows = 1;
    r.cols = 1;
    r.offset = l->tab[TAB_TEXT].n;
    r.length = (int64_t)strlen(text);
    r.run_time_s = run_clock(l);
    r.committed = 1;
    // The bytes first, then the row that points at them.
    if (r.length) st = table_append(l, TAB_TEXT, text, r.length);
    if (!st) st = table_append(l, TAB_ARTIFACTS, &r, 1);
    quiet_off(q);
    return st;
}

int ledger_put_matrix(ledger *l, const char *name, int rows, int cols, const float *data) {
    int st = need_writer(l, "ledger_put_matrix");
    if (st) return st;
    if (!name || !*name || strlen(name) >= LEDGER_NAME_CAP || rows < 0 || cols < 0 ||
        (rows * (int64_t)cols > 0 && !data))
        return gh_fail(GH_EINVAL, "ledger_put_matrix: name 1..%d bytes, rows, cols >= 0 and data "
                       "are required (got rows=%d cols=%d)", LEDGER_NAME_CAP - 1, rows, cols);
    quiet q = quiet_on();
    ledger_artifact_row r = {0};
    ledger_strlcpy(r.name, name, sizeof r.name);
    ledger_strlcpy(r.kind, "matrix", sizeof r.kind);
    r.rows = rows;
    r.cols = cols;
    r.offset = l->tab[TAB_DATA].n;
    r.length = (int64_t)rows * cols;
    r.run_time_s = run_clock(l);
    r.committed = 1;
    if (r.length) st = table_append(l, TAB_DATA, data, r.length);
    if (!st) st = table_append(l, TAB_ARTIFACTS, &r, 1);
    quiet_off(q);
    return st;
}

int ledger_append_trial(ledger *l, const ledger_trial *t) {
    int st = need_writer(l, "ledger_append_trial");
    if (st) return st;
    if (!t) return gh_fail(GH_EINVAL, "ledger_append_trial: no trial");
    ledger_trial_row r;
    memset(&r, 0, sizeof r);
    r.id = t->id;
    const char *arch = t->arch ? t->arch : "";
    size_t n = strlen(arch);
    if (n > LEDGER_ARCH_INLINE_MAX) {
        // Too long for the table's fixed field: whole text as an artifact, a pointer + prefix
        // in the table (pandas users still see the start of it).
        char name[64];
        snprintf(name, sizeof name, "arch/%lld", (long long)t->id);
        if ((st = ledger_put_text(l, name, arch))) return st;
        int k = snprintf(r.arch, sizeof r.arch, "@artifact:%s ", name);
        size_t room = sizeof r.arch - 1 - (size_t)k;
        while (room > 0 && (arch[room] & 0xC0) == 0x80) room--; // whole UTF-8 characters
        memcpy(r.arch + k, arch, room);
    } else {
        ledger_strlcpy(r.arch, arch, sizeof r.arch);
    }
    ledger_strlcpy(r.learner, t->learner, sizeof r.learner);
    r.fidelity = t->fidelity;
    r.train_acc = t->train_acc;
    r.val_acc = t->val_acc;
    r.test_acc = t->test_acc;
    r.train_loss = t->train_loss;
    r.val_loss = t->val_loss;
    r.test_loss = t->test_loss;
    r.madds = t->madds;
    r.params = t->params;
    r.cost = cost_row(&t->cost);
    r.run_time_s = run_clock(l);
    ledger_strlcpy(r.status, t->status ? t->status : "ok", sizeof r.status);
    r.worker = t->worker;
    r.committed = 1;
    quiet q = quiet_on();
    st = table_append(l, TAB_TRIALS, &r, 1);
    quiet_off(q);
    return st;
}

int ledger_append_epoch(ledger *l, const ledger_epoch *ep) {
    return ledger_append_epoch_comm(l, ep, 0.0);
}

int ledger_append_epoch_comm(ledger *l, const ledger_epoch *ep, double comm_s) {
    int st = need_writer(l, "ledger_append_epoch");
    if (st) return st;
    if (!ep || !ep->phase) return gh_fail(GH_EINVAL, "ledger_append_epoch: no epoch or phase");
    ledger_epoch_row r;
    memset(&r, 0, sizeof r);
    ledger_strlcpy(r.phase, ep->phase, sizeof r.phase);
    r.trial_id = ep->trial_id;
    r.epoch = ep->epoch;
    r.train_loss = ep->train_loss;
    r.train_acc = ep->train_acc;
    r.val_loss = ep->val_loss;
    r.val_acc = ep->val_acc;
    r.lr = ep->lr;
    r.cost = cost_row(&ep->cost);
    r.run_time_s = run_clock(l);
    r.comm_s = comm_s;
    r.committed = 1;
    quiet q = quiet_on();
    st = table_append(l, TAB_EPOCHS, &r, 1);
    quiet_off(q);
    return st;
}

int ledger_add_phase_cost(ledger *l, const char *phase, const cost_totals *c) {
    return ledger_add_phase_cost_comm(l, phase, c, 0.0);
}

int ledger_add_phase_cost_comm(ledger *l, const char *phase, const cost_totals *c,
                               double comm_s) {
    int st = need_writer(l, "ledger_add_phase_cost");
    if (st) return st;
    if (!phase || !*phase || !c)
        return gh_fail(GH_EINVAL, "ledger_add_phase_cost: phase and cost are required");
    ledger_phase_row r;
    memset(&r, 0, sizeof r);
    ledger_strlcpy(r.phase, phase, sizeof r.phase);
    r.cost = cost_row(c);
    r.run_time_s = run_clock(l);
    r.comm_s = comm_s;
    r.committed = 1;
    quiet q = quiet_on();
    st = table_append(l, TAB_PHASES, &r, 1);
    quiet_off(q);
    return st;
}

int ledger_set_session_command(ledger *l, int argc, char **argv) {
    int st = need_writer(l, "ledger_set_session_command");
    if (st) return st;
    ledger_table *s = &l->tab[TAB_SESSIONS];
    if (l->session >= s->n) return gh_fail(GH_EINVAL, "%s: no session row", l->path);
    ledger_session_row r;
    memcpy(&r, ledger_table_row(s, l->session), sizeof r);
    char *cmd = join_argv(argc, argv);
    if (!cmd) return gh_fail(GH_ENOMEM, "ledger_set_session_command");
    if (ledger_strlcpy(r.command_line, cmd, sizeof r.command_line))
        memcpy(r.command_line + sizeof r.command_line - 5, "...", 4);
    free(cmd);
    quiet q = quiet_on();
    st = table_rewrite(l, TAB_SESSIONS, l->session, &r);
    quiet_off(q);
    return st;
}

int ledger_close(ledger *l, const char *status) {
    if (!l) return GH_OK;
    if (!l->writer) {
        ledger_free(l);
        return GH_OK;
    }
    int st = GH_OK, bad = 0;
    if (!status || (strcmp(status, "finished") && strcmp(status, "failed") &&
                    strcmp(status, "interrupted"))) {
        bad = 1;
        status = "failed";
    }
    quiet q = quiet_on();
    char now[32];
    gh_utc_iso8601(now);
    ledger_table *s = &l->tab[TAB_SESSIONS];
    if (l->session < s->n) {
        ledger_session_row r;
        memcpy(&r, ledger_table_row(s, l->session), sizeof r);
        ledger_strlcpy(r.end_time, now, sizeof r.end_time);
        ledger_strlcpy(r.status, status, sizeof r.status);
        st = table_rewrite(l, TAB_SESSIONS, l->session, &r);
    }
    if (!st) st = ledger_attr_put(l->file, "end_time", now, LEDGER_TIME_CAP, l->path);
    if (!st) st = ledger_attr_put(l->file, "status", status, LEDGER_STATUS_CAP, l->path);
    for (int i = 0; i < TAB_COUNT; i++) {
        if (l->tab[i].dset > 0) H5Dclose(l->tab[i].dset);
        l->tab[i].dset = -1;
    }
    if (H5Fclose(l->file) < 0 && !st)
        st = ledger_h5_fail(GH_EIO, "H5Fclose(run file)", __FILE__, __LINE__, l->path);
    l->file = -1;
    quiet_off(q);
    // after a failed write the file driver drops every write, so that the library could close
    // and release everything above; the status was not recorded
    if (l->io_failed && !st)
        st = gh_fail(GH_EIO, "%s: closed without recording status '%s': an earlier write failed "
                     "(it reads as interrupted, with the records made before)", l->path, status);
    ledger_free(l);
    if (!st && bad)
        st = gh_fail(GH_EINVAL, "ledger_close: status must be finished, failed or interrupted; "
                     "recorded as failed");
    return st;
}

// ---- reading back ---------------------------------------------------------------------------------
int64_t ledger_num_trials(const ledger *l) { return l->tab[TAB_TRIALS].n; }
int64_t ledger_num_epochs(const ledger *l) { return l->tab[TAB_EPOCHS].n; }
int64_t ledger_num_artifacts(const ledger *l) { return l->tab[TAB_ARTIFACTS].n; }
const char *ledger_path(const ledger *l) { return l->path; }

const char *ledger_artifact_name(const ledger *l, int64_t i) {
    if (i < 0 || i >= l->tab[TAB_ARTIFACTS].n) return NULL;
    ledger_table *t = (ledger_table *)&l->tab[TAB_ARTIFACTS];
    return ((const ledger_artifact_row *)ledger_table_row(t, i))->name;
}

static const ledger_artifact_row *find_artifact(ledger *l, const char *name, const char *kind) {
    ledger_table *t = &l->tab[TAB_ARTIFACTS];
    for (int64_t i = t->n - 1; i >= 0; i--) {
        const ledger_artifact_row *r = ledger_table_row(t, i);
        if (!strcmp(r->name, name) && !strcmp(r->kind, kind)) return r;
    }
    return NULL;
}

int ledger_get_text(ledger *l, const char *name, const char **text) {
    *text = NULL;
    const ledger_artifact_row *r = find_artifact(l, name, "text");
    if (!r) return gh_fail(GH_EINVAL, "%s: no text artifact named '%s'", l->path, name);
    char *buf = malloc((size_t)r->length + 1);
    if (!buf) return gh_fail(GH_ENOMEM, "%s: artifact '%s'", l->path, name);
    quiet q = quiet_on();
    int st = table_read(l, &l->tab[TAB_TEXT], r->offset, r->length, buf);
    quiet_off(q);
    if (!st) {
        *text = owned_copy(l, buf, (size_t)r->length);
        if (!*text) st = gh_fail(GH_ENOMEM, "%s: artifact '%s'", l->path, name);
    }
    free(buf);
    return st;
}

int ledger_get_matrix(ledger *l, const char *name, int *rows, int *cols, const float **data) {
    *data = NULL;
    const ledger_artifact_row *r = find_artifact(l, name, "matrix");
    if (!r) return gh_fail(GH_EINVAL, "%s: no matrix artifact named '%s'", l->path, name);
    size_t bytes = (size_t)r->length * sizeof(float);
    char *buf = malloc(bytes + 1);
    if (!buf) return gh_fail(GH_ENOMEM, "%s: artifact '%s'", l->path, name);
    quiet q = quiet_on();
    int st = table_read(l, &l->tab[TAB_DATA], r->offset, r->length, buf);
    quiet_off(q);
    if (!st) {
        char *c = owned_copy(l, buf, bytes);
        if (!c) st = gh_fail(GH_ENOMEM, "%s: artifact '%s'", l->path, name);
        *data = (const float *)c;
        *rows = r->rows;
        *cols = r->cols;
    }
    free(buf);
    return st;
}

int ledger_read_trial(ledger *l, int64_t i, ledger_trial *t) {
    if (i < 0 || i >= l->tab[TAB_TRIALS].n)
        return gh_fail(GH_EINVAL, "%s: trial %lld out of range (0..%lld)", l->path,
                       (long long)i, (long long)l->tab[TAB_TRIALS].n - 1);
    const ledger_trial_row *r = ledger_table_row(&l->tab[TAB_TRIALS], i);
    t->id = r->id;
    t->arch = r->arch;
    if (!strncmp(r->arch, "@artifact:", 10)) { // spilled: the whole text from the artifact
        char name[LEDGER_NAME_CAP];
        size_t k = strcspn(r->arch + 10, " ");
        if (k < sizeof name) {
            memcpy(name, r->arch + 10, k);
            name[k] = 0;
            const char *full;
            if (ledger_get_text(l, name, &full) == GH_OK) t->arch = full;
        }
    }
    t->learner = r->learner;
    t->fidelity = r->fidelity;
    t->train_acc = r->train_acc;
    t->val_acc = r->val_acc;
    t->test_acc = r->test_acc;
    t->train_loss = r->train_loss;
    t->val_loss = r->val_loss;
    t->test_loss = r->test_loss;
    t->madds = r->madds;
    t->params = r->params;
    t->cost = cost_from_row(&r->cost);
    t->status = r->status;
    t->worker = r->worker;
    return GH_OK;
}

double ledger_trial_run_time(const ledger *l, int64_t i) {
    if (i < 0 || i >= l->tab[TAB_TRIALS].n) return NAN;
    ledger_table *t = (ledger_table *)&l->tab[TAB_TRIALS];
    return ((const ledger_trial_row *)ledger_table_row(t, i))->run_time_s;
}

int ledger_read_epoch(ledger *l, int64_t i, ledger_epoch *ep) {
    if (i < 0 || i >= l->tab[TAB_EPOCHS].n)
        return gh_fail(GH_EINVAL, "%s: epoch row %lld out of range", l->path, (long long)i);
    const ledger_epoch_row *r = ledger_table_row(&l->tab[TAB_EPOCHS], i);
    ep->phase = r->phase;
    ep->trial_id = r->trial_id;
    ep->epoch = r->epoch;
    ep->train_loss = r->train_loss;
    ep->train_acc = r->train_acc;
    ep->val_loss = r->val_loss;
    ep->val_acc = r->val_acc;
    ep->lr = r->lr;
    ep->cost = cost_from_row(&r->cost);
    return GH_OK;
}

int ledger_phase_cost(const ledger *l, const char *phase, cost_totals *out) {
    *out = (cost_totals){0, 0, 0, NAN, NAN, 0};
    int count = 0;
    ledger_table *t = (ledger_table *)&l->tab[TAB_PHASES];
    for (int64_t i = 0; i < t->n; i++) {
        const ledger_phase_row *r = ledger_table_row(t, i);
        if (phase && strcmp(r->phase, phase)) continue;
        cost_totals c = cost_from_row(&r->cost);
        *out = count ? cost_add(*out, c) : c;
        count++;
    }
    return count;
}

double ledger_epoch_comm_s(const ledger *l, int64_t i) {
    ledger_table *t = (ledger_table *)&l->tab[TAB_EPOCHS];
    if (i < 0 || i >= t->n) return NAN;
    return ((const ledger_epoch_row *)ledger_table_row(t, i))->comm_s;
}

double ledger_phase_comm_s(const ledger *l, const char *phase) {
    double sum = 0;
    ledger_table *t = (ledger_table *)&l->tab[TAB_PHASES];
    for (int64_t i = 0; i < t->n; i++) {
        const ledger_phase_row *r = ledger_table_row(t, i);
        if (!phase || !strcmp(r->phase, phase)) sum += r->comm_s;
    }
    return sum;
}

const char *ledger_run_status(ledger *l) {
    const char *s = ledger_attr(l, "status");
    if (!s) return "unknown";
    if (!strcmp(s, "running") && !l->writer && !ledger_writer_alive(l->path))
        return "interrupted";
    return s;
}
