// tests/cuda: the FP32 weight and bias gradients' index math on the CPU (no GPU needed). Every
// block of conv_wgrad_kernel, dw_wgrad_kernel and conv_db_kernel is replayed on the host with the
// kernels' own code (kernels/cuda/conv_wg.cuh: the split-K plan, each thread's rows, columns
// and pixels, the slots of the NaN-initialised shared-memory tiles, the partials' offsets), the
// products and sums in the kernels' float (double for db) order, then split_reduce_kernel's
// order; dw and db must equal conv2d_bwd_ref's, exactly on small integers. Shared-memory bank
// conflicts of every store and read pattern are counted; a swapped dilation and a split that
// stops one pixel (or image) short must fail.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "check.h"
#include "emu_check.h"
#include "kernels/cuda/conv_wg.cuh"

static const kctx REF = {0};

// Deliberate bugs of a replay (none in the kernels): the column decode with dh and dw swapped,
// each split (dense: of pixels; depthwise: of images) ending one short of its boundary.
enum wg_bug { BUG_NONE, BUG_SWAP_DIL, BUG_SPLIT_EDGE };

struct wg_stats {
    size_t blocks, nan_reads, part_max;  // part_max: one past the largest partial written
    size_t part_bad;                     // partials written twice or outside the partials
};

// split_reduce_kernel: dw[i] += sum_{s < S} part[s*size + i], in split order, from 0.
static void split_reduce(size_t size, int S, const std::vector<float> &part, float *dw) {
    for (size_t i = 0; i < size; i++) {
        float acc = 0.0f;
        for (int s = 0; s < S; s++) acc += part[(size_t)s * size + i];
        dw[i] += acc;
    }
}

// ---- dense: conv_wgrad_kernel + split_reduce_kernel ---------------------------------------
static wg_stats emulate_wgrad(const conv_geom &g, const wgrad_plan &pl, const float *x,
                              const float *dy, float *dw, int bug) {
    wg_stats st = {0, 0, 0, 0};
    conv_geom gc = g;  // the geometry the column decode sees
    if (bug == BUG_SWAP_DIL) std::swap(gc.dh, gc.dw);
    const int Kg = g.cg * g.r * g.s, S = pl.splits;
    const size_t size = (size_t)g.k * Kg;
    std::vector<float> part(S > 1 ? (size_t)S * size : 0, NAN);
    const size_t buf = (size_t)WG_BK * (WG_BM + WG_PAD);
    std::vector<float> As(2 * buf), Bs(2 * buf);
    std::vector<float> acc((size_t)WG_THREADS * 16);
    for (unsigned z = 0; z < pl.gz; z++)
        for (unsigned by = 0; by < pl.gy; by++)
            for (unsigned bx = 0; bx < pl.gx; bx++) {
                st.blocks++;
                const int grp = (int)z / S, split = (int)z % S;
                const int m0 = (int)by * WG_BM, nn0 = (int)bx * WG_BN;
                wg_range pr = wg_range_at(g, split, pl.chunk);
                if (bug == BUG_SPLIT_EDGE && pr.pend > pr.pbeg) {
                    pr.pend--;
                    pr.nk = (pr.pend - pr.pbeg + WG_BK - 1) / WG_BK;
                }
                wg_row rows[WG_THREADS][4];
                wg_col cols[WG_THREADS][4];
                for (int t = 0; t < WG_THREADS; t++)
                    for (int l = 0; l < 4; l++) {
                        rows[t][l] = wg_row_at(g, grp, m0 + wg_ld_row(t, l));
                        cols[t][l] = wg_col_at(gc, grp, nn0 + wg_ld_row(t, l));
                    }
                std::fill(acc.begin(), acc.end(), 0.0f);
                // each slice: every thread fetches and stashes into buffer kt&1 (NaN first, so a
                // slot the stash misses reads as NaN), then every thread runs its 16 x 16 FMAs
                for (int kt = 0; kt < pr.nk; kt++) {
                    float *A = &As[(size_t)(kt & 1) * buf], *B = &Bs[(size_t)(kt & 1) * buf];
                    std::fill(A, A + buf, NAN);
                    std::fill(B, B + buf, NAN);
                    for (int t = 0; t < WG_THREADS; t++) {
                        const int pix = pr.pbeg + kt * WG_BK + wg_ld_pix(t);
                        float ra[4] = {0, 0, 0, 0}, rb[4] = {0, 0, 0, 0};
                        if (pix < pr.pend) {
                            const wg_pix px = wg_pix_at(g, pix);
                            for (int l = 0; l < 4; l++) {
                                ra[l] = rows[t][l].valid ? dy[px.dyb + rows[t][l].dyoff] : 0.0f;
                                rb[l] = wg_x_in(g, px, cols[t][l])
                                            ? *wg_x_ptr(x, g, px, cols[t][l])
                                            : 0.0f;
                            }
                        }
                        for (int l = 0; l < 4; l++) {
                            A[wg_slot(wg_ld_pix(t), wg_ld_row(t, l))] = ra[l];
                            B[wg_slot(wg_ld_pix(t), wg_ld_row(t, l))] = rb[l];
                        }
                    }
                    for (int t = 0; t < WG_THREADS; t++) {
                        const int ty = t / 16, tx = t % 16;
                        float *a16 = &acc[(size_t)t * 16];
                        for (int k2 = 0; k2 < WG_BK; k2++) {
                            const float *av = A + wg_slot(k2, ty * 4), *bv = B + wg_slot(k2, tx * 4);
                            for (int i = 0; i < 4; i++) {
                                st.nan_reads += isnan(av[i]) + isnan(bv[i]);
                                for (int j = 0; j < 4; j++)
                                    a16[i * 4 + j] = fmaf(av[i], bv[j], a16[i * 4 + j]);
                            }
                        }
                    }
                }
                for (int t = 0; t < WG_THREADS; t++) {
                    const int ty = t / 16, tx = t % 16;
                    for (int i = 0; i < 4; i++) {
                        const int m = m0 + ty * 4 + i;
                        if (m >= g.kg) continue;
                        for (int j = 0; j < 4; j++) {
                            const int nn = nn0 + tx * 4 + j;
                            if (nn >= Kg) continue;
                            const float v = acc[(size_t)t * 16 + i * 4 + j];
                            if (S == 1) {
                                dw[wg_dw_off(g, grp, m, nn)] += v;
                            } else {
                                const size_t o = wg_part_off(g, split, wg_dw_off(g, grp, m, nn));
                                st.part_bad += !(o < part.size() && isnan(part[o]));
                                if (o < part.size()) part[o] = v;
                                st.part_max = std::max(st.part_max, o + 1);
                            }
                        }
                    }
                }
            }
    if (S > 1) {
        size_t unwritten = 0;
        for (float v : part) unwritten += isnan(v);
        CHECK_MSG(unwritten == 0, "%zu of %zu partials never written", unwritten, part.size());
        split_reduce(size, S, part, dw);
    }
    return st;
}

// ---- depthwise: dw_wgrad_kernel<K> + split_reduce_kernel ----------------------------------
static wg_stats emulate_dw_wgrad(const conv_geom &g, int relu, const float *x, const float *dy,
                                 float *dw, int bug) {
    wg_stats st = {0, 0, 0, 0};
    const int S = dw_wgrad_splits(g), K = g.r, KK = K * K, pq = g.p * g.q;
    const size_t size = (size_t)g.c * KK;
    std::vector<float> part(S > 1 ? (size_t)S * size : 0, NAN);
    std::vector<float> acc((size_t)DW_WG_THREADS * KK), sh((size_t)(DW_WG_THREADS / 32) * KK);
    for (int ch = 0; ch < g.c; ch++)
        for (int split = 0; split < S; split++) {
            st.blocks++;
            int b0, b1;
            dw_wg_images(g.n, S, split, &b0, &b1);
            if (bug == BUG_SPLIT_EDGE && b1 > b0) b1--;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int t = 0; t < DW_WG_THREADS; t++)
                for (int b = b0; b < b1; b++)
                    for (int rem = t; rem < pq; rem += DW_WG_THREADS) {
                        const dw_wg_pix px = dw_wg_pix_at(g, b, ch, rem);
                        const float d = dy[px.dy];
                        for (int kr = 0; kr < K; kr++) {
                            const int ih = dw_wg_ih(g, px, kr);
                            if ((unsigned)ih >= (unsigned)g.h) continue;
                            for (int ks = 0; ks < K; ks++) {
                                const int iw = dw_wg_iw(g, px, ks);
                                if ((unsigned)iw >= (unsigned)g.w) continue;
                                const float xv = x[px.xplane + ih * g.w + iw];
                                float &a = acc[(size_t)t * KK + kr * K + ks];
                                a = fmaf(d, relu ? (xv > 0.0f ? xv : 0.0f) : xv, a);
                            }
                        }
                    }
            // gh_warp_sum: v += shfl_xor(v, o) for o = 16, 8, 4, 2, 1; lane 0 stores sh[warp]
            std::fill(sh.begin(), sh.end(), NAN);
            for (int w = 0; w < DW_WG_THREADS / 32; w++)
                for (int tap = 0; tap < KK; tap++) {
                    float v[32], nv[32];
                    for (int l = 0; l < 32; l++) v[l] = acc[(size_t)(32 * w + l) * KK + tap];
                    for (int o = 16; o > 0; o >>= 1) {
                        for (int l = 0; l < 32; l++) nv[l] = v[l] + v[l ^ o];
                        memcpy(v, nv, sizeof v);
                    }
                    sh[(size_t)w * KK + tap] = v[0];
                }
            for (int tap = 0; tap < KK; tap++) {
                float s = 0.0f;
                for (int wi = 0; wi < DW_WG_THREADS / 32; wi++) s += sh[(size_t)wi * KK + tap];
                st.nan_reads += isnan(s);
                if (S == 1) {
                    dw[dw_wg_dst_off(g, 1, 0, ch, KK, tap)] += s;
                } else {
                    const size_t o = dw_wg_dst_off(g, S, split, ch, KK, tap);
                    st.part_bad += !(o < part.size() && isnan(part[o]));
                    if (o < part.size()) part[o] = s;
                    st.part_max = std::max(st.part_max, o + 1);
                }
            }
        }
    if (S > 1) {
        size_t unwritten = 0;
        for (float v : part) unwritten += isnan(v);
        CHECK_MSG(unwritten == 0, "%zu of %zu depthwise partials never written", unwritten,
                  part.size());
        split_reduce(size, S, part, dw);
    }
    return st;
}

// ---- bias: conv_db_kernel (per-thread double sums by the carry walk, then gh_block_sum's tree)
static void emulate_db(const conv_geom &g, const float *dy, float *db) {
    const int pq = g.p * g.q;
    const size_t cnt = (size_t)g.n * pq;
    std::vector<double> sh(DB_THREADS);
    for (int co = 0; co < g.k; co++) {
        for (int t = 0; t < DB_THREADS; t++) {
            double acc = 0.0;
            gh_rc_walk at = gh_rc_walk_at(t, DB_THREADS, pq);
            for (size_t i = t; i < cnt; i += DB_THREADS, gh_rc_next(&at))
                acc += (double)dy[conv_db_off(g.k, pq, co, at)];
            sh[t] = acc;
        }
        for (int s = DB_THREADS / 2; s > 0; s >>= 1)
            for (int t = 0; t < s; t++) sh[t] += sh[t + s];
        db[co] += (float)sh[0];
    }
}

// Whether got differs from want beyond the integer/float tolerance (no check counted: for the
// deliberate bugs, which must differ).
static int differs(const std::vector<float> &got, const std::vector<float> &want) {
    for (size_t i = 0; i < got.size(); i++)
        if (!(fabs((double)got[i] - want[i]) <= 1e-3 * (1 + fabs((double)want[i])))) return 1;
    return 0;
}

#define SHAPE EMU_SHAPE

struct totals {
    int runs, multi_split, caught, bugs;
};

static void run(const char *name, conv2d_shape sh, int depthwise, int relu, int ints,
                gh_rng *rng, totals *tt) {
    conv_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    CHECK_OK(conv_check("emu", &sh, &g));
    const emu_conv_data d = emu_conv_rnd(sh, rng, ints);
    const std::vector<float> &x = d.x, &w = d.w, &dy = d.dy, &dw0 = d.dw0, &db0 = d.db0;
    std::vector<float> rdw = dw0, rdb = db0;
    if (relu)
        CHECK_OK(conv2d_relu_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), NULL, rdw.data(),
                                     rdb.data()));
    else
        CHECK_OK(conv2d_bwd_ref(&REF, &sh, x.data(), w.data(), dy.data(), NULL, rdw.data(),
                                rdb.data()));
    const size_t ws = conv2d_ws_floats_cuda(&sh);
    std::vector<float> dw = dw0, db = db0;
    wg_stats st;
    int S, chunk = 0;
    if (depthwise) {
        S = dw_wgrad_splits(g);
        st = emulate_dw_wgrad(g, relu, x.data(), dy.data(), dw.data(), BUG_NONE);
    } else {
        const wgrad_plan pl = plan_wgrad(g);
        S = pl.splits;
        chunk = pl.chunk;
        const size_t NP = (size_t)g.n * g.p * g.q;
        // the plan: chunks of whole slices, every split non-empty, all pixels covered, the grid
        // within CUDA's limits
        CHECK_MSG(chunk % WG_BK == 0 && (size_t)(S - 1) * chunk < NP && (size_t)S * chunk >= NP,
                  "%s: %d splits of %d pixels for %zu", name, S, chunk, NP);
        CHECK_MSG(pl.gz <= 65535u && pl.gy <= 65535u, "%s: grid %u x %u x %u", name, pl.gx, pl.gy,
                  pl.gz);
        CHECK_MSG(S == 1 || NP / S >= WG_MIN_PIX / 2, "%s: %d splits of %zu pixels", name, S, NP);
        st = emulate_wgrad(g, pl, x.data(), dy.data(), dw.data(), BUG_NONE);
    }
    emulate_db(g, dy.data(), db.data());
    // every partial written inside the workspace the caller is told to allocate
    CHECK_MSG(S == 1 ? ws == 0 && st.part_max == 0 : st.part_max <= ws && st.part_max > 0,
              "%s: partials up to %zu, workspace %zu (%d splits)", name, st.part_max, ws, S);
    CHECK_MSG(st.nan_reads == 0, "%s: %zu reads of a shared-memory slot no thread staged", name,
              st.nan_reads);
    CHECK_MSG(st.part_bad == 0, "%s: %zu partials written twice or outside the partials", name,
              st.part_bad);
    char what[200];
    const char *kind = ints ? "integers" : "random";
    snprintf(what, sizeof what, "%s %s dw +=", name, kind);
    emu_compare(what, dw, rdw, ints);
    snprintf(what, sizeof what, "%s %s db +=", name, kind);
    emu_compare(what, db, rdb, ints);
    if (depthwise)
        printf("  %-30s %-8s dw_wgrad: %d split(s), %zu blocks, workspace %zu floats\n", name,
               kind, S, st.blocks, ws);
    else
        printf("  %-30s %-8s wgrad: %d split(s) of %d pixels, %zu blocks, workspace %zu floats\n",
               name, kind, S, chunk, st.blocks, ws);
    tt->runs++;
    tt->multi_split += S > 1;

    // the deliberate bugs must fail: a swapped dilation where dh != dw, a short split where
    // there are several
    const int bugs[2] = {depthwise || g.dh == g.dw ? BUG_NONE : BUG_SWAP_DIL,
                         S > 1 ? BUG_SPLIT_EDGE : BUG_NONE};
    for (int bug : bugs) {
        if (bug == BUG_NONE) continue;
        std::vector<float> bad = dw0;
        if (depthwise)
            emulate_dw_wgrad(g, relu, x.data(), dy.data(), bad.data(), bug);
        else
            emulate_wgrad(g, plan_wgrad(g), x.data(), dy.data(), bad.data(), bug);
        const int c = differs(bad, rdw);
        CHECK_MSG(c, "%s: the %s still matched the reference", name,
                  bug == BUG_SWAP_DIL ? "swapped dilation" : "split one short");
        tt->bugs++;
        tt->caught += c;
    }
}

// Shared-memory wavefronts of conv_wgrad_kernel's accesses, per warp, summed over the block:
// the stash's 4-byte stores (As and Bs alike) with the kernel's slot and with unpadded rows,
// and the compute loop's float4 reads of As (row ty*4) and Bs (column tx*4).
struct wg_banks {
    int stores, stores_min, unpadded, reads_a, reads_b, reads_min;
    int misaligned;  // float4 reads off a 16-byte boundary
};
static wg_banks wgrad_banks(void) {
    wg_banks r = {0, 0, 0, 0, 0, 0, 0};
    for (int w = 0; w < WG_THREADS / 32; w++) {
        for (int l = 0; l < 4; l++) {
            std::vector<int> pad, flat;
            for (int lane = 0; lane < 32; lane++) {
                const int t = 32 * w + lane, kk = wg_ld_pix(t), col = wg_ld_row(t, l);
                pad.push_back(4 * wg_slot(kk, col));
                flat.push_back(4 * (kk * WG_BM + col));
            }
            r.stores += emu_wavefronts(pad, 4);
            r.unpadded += emu_wavefronts(flat, 4);
            r.stores_min += emu_wavefronts_min(32, 4);
        }
        for (int k2 = 0; k2 < WG_BK; k2++) {
            std::vector<int> a, b;
            for (int lane = 0; lane < 32; lane++) {
                const int t = 32 * w + lane;
                a.push_back(4 * wg_slot(k2, t / 16 * 4));
                b.push_back(4 * wg_slot(k2, t % 16 * 4));
                r.misaligned += wg_slot(k2, t / 16 * 4) % 4 != 0 || wg_slot(k2, t % 16 * 4) % 4 != 0;
            }
            r.reads_a += emu_wavefronts(a, 16);
            r.reads_b += emu_wavefronts(b, 16);
            r.reads_min += emu_wavefronts_min(32, 16);
        }
    }
    return r;
}

// The split plans of shapes too big to replay (DARTS search at batch 64 and 256, CIFAR sizes):
// dense chunks of whole slices that cover n*p*q with every split non-empty, about
// WG_TARGET_BLOCKS blocks or WG_MIN_PIX pixels a split, the grid within CUDA's limits and the
// partials within conv2d_ws_floats_cuda; depthwise splits owning at least one image each.
static void plan_only(const char *name, conv2d_shape sh, int depthwise) {
    conv_geom g;
    CHECK_OK(conv2d_shape_init(&sh));
    CHECK_OK(conv_check("emu", &sh, &g));
    const size_t ws = conv2d_ws_floats_cuda(&sh), NP = (size_t)g.n * g.p * g.q;
    if (depthwise) {
        const int S = dw_wgrad_splits(g);
        int covered = 0, empty = 0;
        for (int s = 0; s < S; s++) {
            int b0, b1;
            dw_wg_images(g.n, S, s, &b0, &b1);
            CHECK_MSG(b0 == covered, "%s: split %d starts at image %d, not %d", name, s, b0,
                      covered);
            empty += b1 <= b0;
            covered = b1;
        }
        CHECK_MSG(covered == g.n && empty == 0, "%s: %d splits cover %d of %d images, %d empty",
                  name, S, covered, g.n, empty);
        CHECK_MSG(S == 1 ? ws == 0 : ws == (size_t)S * g.c * g.r * g.s, "%s: workspace %zu", name,
                  ws);
        printf("  plan %-30s dw_wgrad: %d splits of %d images, %u blocks\n", name, S,
               (g.n + S - 1) / S, (unsigned)S * g.c);
        return;
    }
    const wgrad_plan pl = plan_wgrad(g);
    const size_t tiles = (size_t)pl.gx * pl.gy * g.groups;
    CHECK_MSG(pl.chunk % WG_BK == 0 && (size_t)(pl.splits - 1) * pl.chunk < NP &&
                  (size_t)pl.splits * pl.chunk >= NP,
              "%s: %d splits of %d pixels for %zu", name, pl.splits, pl.chunk, NP);
    CHECK_MSG(pl.splits == 1 || (pl.chunk >= WG_MIN_PIX - WG_BK &&
                                 tiles * (pl.splits - 1) < WG_TARGET_BLOCKS),
              "%s: %d splits of %d pixels over %zu tiles", name, pl.splits, pl.chunk, tiles);
    CHECK_MSG(pl.gz <= 65535u && pl.ws_floats <= ws && pl.ws_floats <= WG_WS_CAP &&
                  (pl.splits == 1 || pl.ws_floats == (size_t)pl.splits * g.k * g.cg * g.r * g.s),
              "%s: grid z %u, partials %zu of workspace %zu", name, pl.gz, pl.ws_floats, ws);
    printf("  plan %-30s wgrad: %d splits of %d pixels, %u blocks\n", name, pl.splits, pl.chunk,
           pl.gx * pl.gy * pl.gz);
}

int main(void) {
    gh_rng rng;
    gh_rng_seed(&rng, 20261202, GH_STREAM_INIT);
    struct {
        const char *name;
        conv2d_shape sh;
        int depthwise, relu;
    } cases[] = {
        //                                     n  c   h   w   k  r  s sh sw ph pw dh dw  g
        {"1x1 s1", SHAPE(2, 6, 5, 7, 10, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0, 0},
        {"1x1 s2 c70 k66", SHAPE(2, 70, 7, 9, 66, 1, 1, 2, 2, 0, 0, 1, 1, 1), 0, 0},
        {"3x3 s1 odd", SHAPE(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0, 0},
        {"3x3 s2 k70 Kg72", SHAPE(2, 8, 11, 13, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1), 0, 0},
        {"3x3 s1 3 splits", SHAPE(3, 8, 23, 25, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0, 0},
        {"3x3 s1 4 splits k70", SHAPE(4, 4, 24, 24, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0, 0},
        {"3x3 dil 2", SHAPE(2, 6, 10, 11, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1), 0, 0},
        {"3x3 dil 1x2 2 splits", SHAPE(2, 5, 24, 27, 7, 3, 3, 1, 1, 1, 2, 1, 2, 1), 0, 0},
        {"3x3 groups 2", SHAPE(2, 4, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2), 0, 0},
        {"5x5 s2 dil 2", SHAPE(2, 4, 13, 12, 6, 5, 5, 2, 2, 4, 4, 2, 2, 1), 0, 0},
        {"5x5 s3 g3 dil 2x1", SHAPE(2, 6, 17, 19, 9, 5, 5, 3, 3, 4, 2, 2, 1, 3), 0, 0},
        {"1x7 s1x2 pad 0x3", SHAPE(2, 8, 9, 12, 12, 1, 7, 1, 2, 0, 3, 1, 1, 1), 0, 0},
        {"dw 3x3 s1", SHAPE(2, 5, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5), 1, 0},
        {"dw 3x3 s2 relu", SHAPE(2, 4, 10, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1, 4), 1, 1},
        {"dw 3x3 dil 2 3 splits", SHAPE(5, 3, 20, 20, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3), 1, 0},
        {"dw 5x5 s1 2 splits relu", SHAPE(4, 6, 16, 16, 6, 5, 5, 1, 1, 2, 2, 1, 1, 6), 1, 1},
        {"dw 5x5 s2 dil 2 odd", SHAPE(3, 7, 13, 15, 7, 5, 5, 2, 2, 4, 4, 2, 2, 7), 1, 0},
    };
    //                                              n   c   h   w   k  r  s sh sw ph pw dh dw  g
    plan_only("1x1 c16 32x32 b64", SHAPE(64, 16, 32, 32, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1), 0);
    plan_only("1x1 s2 c64 16x16 b256", SHAPE(256, 64, 16, 16, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1), 0);
    plan_only("3x3 c48 32x32 b64", SHAPE(64, 48, 32, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0);
    plan_only("3x3 c256 8x8 b64", SHAPE(64, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1), 0);
    plan_only("dw 3x3 c16 32x32 b64", SHAPE(64, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16), 1);
    plan_only("dw 5x5 dil 2 c64 8x8 b256", SHAPE(256, 64, 8, 8, 64, 5, 5, 1, 1, 4, 4, 2, 2, 64), 1);
    plan_only("dw 3x3 s2 c32 16x16 b7", SHAPE(7, 32, 16, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 32), 1);
    totals tt = {0, 0, 0, 0};
    for (const auto &cc : cases)
        for (int ints = 0; ints <= 1; ints++)
            run(cc.name, cc.sh, cc.depthwise, cc.relu, ints, &rng, &tt);

    const wg_banks b = wgrad_banks();
    printf("  wgrad stash (8 warps x 4 stores a slice): %d wavefronts for %d (minimum %d; rows unpadded: %d)\n",
           b.stores, WG_THREADS / 32 * 4, b.stores_min, b.unpadded);
    printf("  wgrad float4 reads (8 warps x 16 a slice): As %d, Bs %d wavefronts (minimum %d)\n", b.reads_a,
           b.reads_b, b.reads_min);
    // the design: float4 reads conflict-free; the pad of 4 (the least that keeps them aligned)
    // leaves the stash 2-way (rows kk and kk+8 share a bank) where unpadded rows are 16-way
    CHECK_MSG(b.misaligned == 0, "%d float4 reads of As/Bs off a 16-byte boundary", b.misaligned);
    CHECK_MSG(b.reads_a == b.reads_min && b.reads_b == b.reads_min,
              "wgrad float4 reads: %d and %d wavefronts, minimum %d", b.reads_a, b.reads_b,
              b.reads_min);
    CHECK_MSG(b.stores <= 2 * b.stores_min, "wgrad stash: %d wavefronts, more than 2-way (%d)",
              b.stores, 2 * b.stores_min);
    CHECK_MSG(b.unpadded >= 8 * b.stores_min, "unpadded stash only %d wavefronts: the check is blind",
              b.unpadded);
    // dw_wgrad_kernel's shared memory: lane 0 of each warp stores sh[warp][tap] (one lane), and
    // threads t < K*K read sh[wi][t] (consecutive words)
    for (int KK = 9; KK <= 25; KK += 16) {
        std::vector<int> rd;
        for (int t = 0; t < KK; t++) rd.push_back(4 * t);
        const int wf = emu_wavefronts(rd, 4);
        printf("  dw_wgrad %dx%d: block reduction reads %d wavefront(s) a warp\n", KK == 9 ? 3 : 5,
               KK == 9 ? 3 : 5, wf);
        CHECK_MSG(wf == 1, "dw_wgrad reduction reads %d-way", wf);
    }
    // conv_db_kernel's gh_block_sum over doubles: every warp's store sh[t] and, per tree level s,
    // its reads sh[t] and sh[t + s] (threads t < s) are consecutive 8-byte words
    int db_wf = 0, db_min = 0;
    for (int w = 0; w < DB_THREADS / 32; w++) {
        std::vector<int> st;
        for (int lane = 0; lane < 32; lane++) st.push_back(8 * (32 * w + lane));
        db_wf += emu_wavefronts(st, 8);
        db_min += emu_wavefronts_min(32, 8);
        for (int sl = DB_THREADS / 2; sl > 0; sl >>= 1) {
            std::vector<int> lo, hi;
            for (int lane = 0; lane < 32; lane++) {
                const int t = 32 * w + lane;
                if (t >= sl) continue;
                lo.push_back(8 * t);
                hi.push_back(8 * (t + sl));
            }
            if (lo.empty()) continue;
            db_wf += emu_wavefronts(lo, 8) + emu_wavefronts(hi, 8);
            db_min += 2 * emu_wavefronts_min(lo.size(), 8);
        }
    }
    printf("  conv_db block sum: %d wavefronts (minimum %d)\n", db_wf, db_min);
    CHECK_MSG(db_wf == db_min, "conv_db block sum: %d wavefronts, minimum %d", db_wf, db_min);
    CHECK_MSG(tt.multi_split >= 8 && tt.bugs >= 8 && tt.caught == tt.bugs,
              "%d runs with several splits, %d of %d deliberate bugs caught", tt.multi_split,
              tt.caught, tt.bugs);
    printf("  %d runs, %d with several splits, %d of %d deliberate bugs caught\n", tt.runs,
           tt.multi_split, tt.caught, tt.bugs);
    return check_done("test_conv_wgrad_emu");
}
