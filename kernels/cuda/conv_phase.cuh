// kernels/cuda: the stride phases of a convolution's backward data, for the implicit GEMMs of
// conv.cu (FP32, conv_ig.cuh) and conv_tc.cu (tensor cores, conv_tc.cuh), host and device code.
//
// dx[ih] gets w[kr] * dy[oh] only where the stride divides ih + pad - kr*dil. Grouping the
// input positions by rho = (ih + pad) mod stride makes the valid taps a function of rho alone:
// kr*dil = rho (mod stride), one residue class modulo stride / gcd(stride, dil), or none. So a
// backward-data GEMM runs once per phase (rho_h, rho_w), over that phase's pixels and only its
// valid taps; a phase with no valid tap is not visited (its dx gets nothing, as from the
// reference's zero sum). At stride 2 a 3x3 filter visits 2.25 of 9 taps per input pixel on
// average where the unphased GEMM visited 9, a 1x1 (FactorizedReduce) a quarter of the pixels;
// at stride 1 there is one phase with every tap. The output position of phase position i under
// the phase's tap j is o0 + i - j*dstep: additions only, no divisibility test per gather.
#pragma once

namespace {

__host__ __device__ inline int phase_gcd(int a, int b) {
    while (b) {
        const int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// One axis of one stride phase: input positions i0 + i*stride (i < np) are those with
// (pos + pad) mod stride = rho; taps k0 + j*kstep (j < nk) are the valid ones for them; the
// output position of (i, j) is o0 + i - j*dstep.
struct phase_axis {
    int i0, np, k0, nk, kstep, o0, dstep;
};

__host__ __device__ inline phase_axis phase_axis_at(int rho, int len, int stride, int pad, int dil,
                                                    int taps) {
    phase_axis a;
    a.i0 = ((rho - pad) % stride + stride) % stride;
    a.np = a.i0 < len ? (len - a.i0 + stride - 1) / stride : 0;
    a.kstep = stride / phase_gcd(stride, dil);
    int k = 0;
    while (k < a.kstep && ((k * dil - rho) % stride + stride) % stride != 0) k++;
    a.k0 = k;
    a.nk = k < a.kstep && k < taps ? (taps - k + a.kstep - 1) / a.kstep : 0;
    a.o0 = a.nk ? (a.i0 + pad - k * dil) / stride : 0;  // exact: stride divides it
    a.dstep = a.kstep * dil / stride;                    // lcm(stride, dil) / stride
    return a;
}

// The largest phase's positions along an axis: ceil(len / stride).
__host__ __device__ inline int phase_max(int len, int stride) { return (len + stride - 1) / stride; }

}  // namespace
