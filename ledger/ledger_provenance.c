// ledger: what produced a run, written as run attributes at creation: host, build commit of the
// source tree (read at run time with git; "unknown" without git), devices, library versions.
// A version that cannot be read is recorded as "unknown" (or "none" when the library is absent
// from the build), never guessed.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "ledger_internal.h"

#ifndef GH_SOURCE_DIR
#error "GH_SOURCE_DIR (the source tree, for the build commit) must be defined by CMake"
#endif
#ifndef GH_LEDGER_VERSION
#error "GH_LEDGER_VERSION (the gpuhours version) must be defined by CMake"
#endif

int ledger_attr_put(hid_t loc, const char *name, const char *value, size_t cap,
                    const char *path) {
    const char *l_path = path;
    int st = GH_OK;
    hid_t t = -1, sp = -1, a = -1;
    char *fixed = NULL;
    if (!value) value = "";
    H5_CHECK(t = H5Tcopy(H5T_C_S1));
    H5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
    if (cap == 0) {
        H5_CHECK(H5Tset_size(t, H5T_VARIABLE));
    } else {
        H5_CHECK(H5Tset_size(t, cap));
        H5_CHECK(H5Tset_strpad(t, H5T_STR_NULLTERM));
        fixed = calloc(1, cap);
        if (!fixed) return gh_fail(GH_ENOMEM, "ledger: attribute %s", name);
        ledger_strlcpy(fixed, value, cap);
    }
    H5_CHECK(sp = H5Screate(H5S_SCALAR));
    if (H5Aexists(loc, name) > 0) {
        H5_CHECK(a = H5Aopen(loc, name, H5P_DEFAULT));
    } else {
        H5_CHECK(a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
    }
    if (cap == 0) {
        H5_CHECK(H5Awrite(a, t, &value));
    } else {
        H5_CHECK(H5Awrite(a, t, fixed));
    }
fail:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    free(fixed);
    return st;
}

// First line of a shell command's output, trailing newline removed; "" when it fails.
static int run_line(const char *cmd, char *out, size_t len) {
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int any = fgets(out, (int)len, p) != NULL;
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    int rc = pclose(p);
    out[strcspn(out, "\r\n")] = 0;
    return (rc == 0 && any) ? 0 : -1;
}

// The source tree's commit and whether tracked files differ from it. Read at run time so that
// a rebuilt binary never carries a stale configure-time commit.
static void build_commit(char *commit, size_t len, char *dirty, size_t dlen) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", GH_SOURCE_DIR);
    if (run_line(cmd, commit, len) < 0 || !commit[0]) {
        snprintf(commit, len, "unknown");
        snprintf(dirty, dlen, "unknown");
        return;
    }
    char line[256];
    snprintf(cmd, sizeof cmd,
             "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -n 1",
             GH_SOURCE_DIR);
    int rc = run_line(cmd, line, sizeof line);
    snprintf(dirty, dlen, "%s", rc == 0 && line[0] ? "true" : "false");
}

// CUDA driver/runtime: major*1000 + minor*10 (13000 = 13.0).
static void version_cuda(int v, char *out, size_t len) {
    if (v <= 0)
        snprintf(out, len, "none");
    else
        snprintf(out, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

// cuDNN 8: major*1000 + minor*100 + patch (8907 = 8.9.7); cuDNN 9: major*10000 + minor*100 +
// patch (90100 = 9.1.0).
static void version_cudnn(int v, char *out, size_t len) {
    if (v <= 0)
        snprintf(out, len, "none");
    else if (v >= 10000)
        snprintf(out, len, "%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
    else
        snprintf(out, len, "%d.%d.%d", v / 1000, (v / 100) % 10, v % 100);
}

// NCCL is loaded only to ask its version: ncclGetVersion(int *), code major*10000+minor*100+patch
// for 2.9 and later. Absent library: "unknown".
void ledger_nccl_version(char *out, size_t len) {
    snprintf(out, len, "unknown");
    void *h = dlopen("libnccl.so.2", RTLD_LAZY | RTLD_LOCAL);
    if (!h) return;
    typedef int (*get_version_fn)(int *);
    get_version_fn fn;
    *(void **)&fn = dlsym(h, "ncclGetVersion");
    int v = 0;
    if (fn && fn(&v) == 0 && v > 0) {
        if (v >= 10000)
            snprintf(out, len, "%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
        else
            snprintf(out, len, "%d.%d.%d", v / 1000, (v / 100) % 10, v % 100);
    }
    dlclose(h);
}

int ledger_write_provenance(hid_t root, const char *path) {
    char host[256] = "unknown", commit[64], dirty[16], buf[64], buf2[64];
    gethostname(host, sizeof host - 1);
    build_commit(commit, sizeof commit, dirty, sizeof dirty);
    int st = GH_OK;
#define PUT(name, value)                                                 \
    do {                                                                 \
        if ((st = ledger_attr_put(root, name, value, 0, path))) return st; \
    } while (0)
    PUT("host", host);
    PUT("build_commit", commit);
    PUT("build_dirty", dirty);
    PUT("gpuhours_version", GH_LEDGER_VERSION);

    int ndev = gh_cuda_device_count();
    snprintf(buf, sizeof buf, "%d", ndev);
    PUT("device_count", buf);
    char names[2048] = "";
    size_t used = 0;
    for (int i = 0; i < ndev && used + 8 < sizeof names; i++) {
        char nm[256];
        if (gh_cuda_device_name(i, nm, sizeof nm)) snprintf(nm, sizeof nm, "unknown");
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "; " : "", nm);
    }
    PUT("device_names", ndev ? names : "none (no CUDA device)");
    int drv = 0, rt = 0;
    if (gh_cuda_versions(&drv, &rt) == 0) {
        version_cuda(drv, buf, sizeof buf);
        version_cuda(rt, buf2, sizeof buf2);
    } else {
        snprintf(buf, sizeof buf, "%s", gh_cuda_built() ? "unknown" : "none");
        snprintf(buf2, sizeof buf2, "%s", gh_cuda_built() ? "unknown" : "none");
    }
    PUT("cuda_driver_version", buf);
    PUT("cuda_runtime_version", buf2);
    version_cudnn(gh_cudnn_version(), buf, sizeof buf);
    PUT("cudnn_version", buf);
    ledger_nccl_version(buf, sizeof buf);
    PUT("nccl_version", buf);
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    PUT("hdf5_version", buf);
    // how OpenMP's threads waited (cli/main.c may have chosen PASSIVE): CPU timings move with it
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    PUT("omp_wait_policy", wait ? wait : "default");
    PUT("omp_spincount", spin ? spin : "default");
#undef PUT
    return GH_OK;
}
