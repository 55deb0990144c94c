// cli: `gpuhours info`: the GPUs this process can see and the version of every library the
// build uses (CUDA driver and runtime, cuDNN, cuBLAS, NCCL, HDF5, OpenBLAS, OpenMP, zlib,
// XGBoost, liblinear), so that a result can be traced to the stack that produced it.
#include <getopt.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "kernels/kernels.h"

#ifdef GH_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#include "ledger/ledger.h"
#if defined(__has_include)
#if __has_include(<xgboost/version_config.h>)
#include <xgboost/version_config.h>
#endif
#if __has_include(<linear.h>)
#include <linear.h>
#endif
#endif

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours info [-h]\n\n"
               "Prints the GPUs found (count, names, memory) or \"no GPU\", whether CUDA is\n"
               "built in, and the versions of the libraries this build uses.\n\n"
               "options:\n"
               "  -h, --help   this help\n");
}

// cuDNN >= 9 and cuBLAS encode versions as major*10000 + minor*100 + patch; cuDNN 8 used
// major*1000 + minor*100 + patch.
static void print_encoded(const char *name, int v, int cudnn8) {
    if (v <= 0) {
        printf("  %-10s not linked\n", name);
        return;
    }
    int major = cudnn8 ? v / 1000 : v / 10000;
    int minor = cudnn8 ? (v % 1000) / 100 : (v % 10000) / 100;
    printf("  %-10s %d.%d.%d\n", name, major, minor, v % 100);
}

static void print_devices(void) {
    int n = gh_cuda_device_count();
    printf("CUDA built in: %s\n", gh_cuda_built() ? "yes" : "no");
    if (n == 0) {
        printf("devices: no GPU\n");
        return;
    }
    printf("devices: %d GPU%s\n", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        char name[256] = "?";
        gh_cuda_device_name(i, name, sizeof name);
        printf("  cuda:%d  %s", i, name);
#ifdef GH_HAVE_CUDA
        struct cudaDeviceProp prop;
        size_t free_b = 0, total_b = 0;
        if (cudaGetDeviceProperties(&prop, i) == cudaSuccess)
            printf("  sm_%d%d, %d SMs", prop.major, prop.minor, prop.multiProcessorCount);
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
            printf(", memory %.1f GiB (%.1f GiB free)", (double)total_b / (1 << 30),
                   (double)free_b / (1 << 30));
#endif
        printf("\n");
    }
}

static void print_versions(void) {
    printf("libraries:\n");
    int driver = 0, runtime = 0;
    if (gh_cuda_versions(&driver, &runtime) == 0)
        printf("  %-10s driver %d.%d, runtime %d.%d\n", "CUDA", driver / 1000,
               (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
    else
        printf("  %-10s %s\n", "CUDA", gh_cuda_built() ? "no driver" : "not built in");
    int cudnn = gh_cudnn_version();
    print_encoded("cuDNN", cudnn, cudnn > 0 && cudnn < 9000);
    print_encoded("cuBLAS", gh_cublas_version(), 0);
    char nccl[32];
    ledger_nccl_version(nccl, sizeof nccl);
    printf("  %-10s %s\n", "NCCL", strcmp(nccl, "unknown") ? nccl : "not found (libnccl.so.2)");
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) >= 0)
        printf("  %-10s %u.%u.%u\n", "HDF5", maj, min, rel);
    else
        printf("  %-10s %s (compile time)\n", "HDF5", H5_VERS_INFO);
    printf("  %-10s %s\n", "BLAS", gh_blas_info());
#ifdef _OPENMP
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("  %-10s spec %d, %d threads, waits: %s%s%s\n", "OpenMP", _OPENMP, gh_cpu_threads(),
           wait ? wait : "libgomp default (spin, then sleep)", spin ? ", GOMP_SPINCOUNT=" : "",
           spin ? spin : "");
#else
    printf("  %-10s not enabled, %d thread(s)\n", "OpenMP", gh_cpu_threads());
#endif
    printf("  %-10s %s\n", "zlib", zlibVersion());
#ifdef XGBOOST_VER_MAJOR
    printf("  %-10s %d.%d.%d (headers found at compile time)\n", "XGBoost", XGBOOST_VER_MAJOR,
           XGBOOST_VER_MINOR, XGBOOST_VER_PATCH);
#else
    printf("  %-10s not found at compile time\n", "XGBoost");
#endif
#ifdef LIBLINEAR_VERSION
    printf("  %-10s %d.%02d (headers found at compile time)\n", "liblinear",
           LIBLINEAR_VERSION / 100, LIBLINEAR_VERSION % 100);
#else
    printf("  %-10s not found at compile time\n", "liblinear");
#endif
}

int cmd_info(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpuhours info: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    printf("gpuhours %s\n", GH_VERSION);
    print_devices();
    print_versions();
    return 0;
}
