#pragma once
/// @file
/// GEMM: C = alpha·op(A)·op(B) + beta·C, row-major, with leading dimensions so
/// that operands may be active slices of max-size weights. Pointwise (1×1)
/// convolutions and linear layers are this GEMM with M = N·H·W rows.
///
/// FLOPs 2·M·N·K; traffic ≈ 4·(M·K + K·N + 2·M·N) bytes. A packed, cache-blocked
/// GEMM with an xsimd register-tile micro-kernel (Goto/BLIS structure): B is
/// packed into KC×NR panels shared by all threads, each task packs an MC×KC
/// block of A into MR-row panels, and the micro-kernel keeps an MR×NR tile of C
/// in registers across the KC loop.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>  // memcpy
#include <string>
#include <type_traits>
#include <vector>
#include "ofa/config.hpp"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <oneapi/tbb/task_arena.h>
#include <xsimd/xsimd.hpp>

#include "ofa/errors.hpp"
#include "ofa/kernels/activation.hpp"  // the fused epilogue
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/loops.hpp"

#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief Whether an operand is used as stored or transposed. */
enum class trans : bool { no = false, yes = true };

/** @brief The scalar reference: the definition the SIMD kernel is tested against. Any T. */
template <class T>
void gemm_reference(trans ta, trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                    T* c, int ldc);

/** @brief The fast float GEMM (parallel on oneTBB, instruction set chosen once). */
OFA_KERNEL_API void gemm(trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                         int ldb, float beta, float* c, int ldc);

/** @brief A weight matrix W [n][k] packed once for C = A·Wᵀ (inference: static_net layers). */
struct packed_weights {
  int n = 0, k = 0, nr = 0;
  pooled_vector<float> data;
};

/** @brief Packs W [n][k] (row stride ldw) in the layout the dispatched micro-kernel reads. */
OFA_KERNEL_API packed_weights pack_weights(const float* w, int ldw, int n, int k);

/** @brief C [m][n] = act(A [m][k] · Wᵀ + beta·C + bias) with W pre-packed; bias may be null.
 *  Bias and activation are applied as each output tile is stored (no extra pass). */
OFA_KERNEL_API void gemm_packed(int m, const float* a, int lda, const packed_weights& w, float beta, float* c, int ldc,
                                const float* bias = nullptr, activation act = activation::none);

/** @brief gemm for float, gemm_reference for any other T (double in gradchecks). */
template <class T>
void gemm_any(trans ta, trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
              int ldc) {
  if constexpr (std::is_same_v<T, float>)
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    gemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline void check_gemm(trans ta, trans tb, int m, int n, int k, int lda, int ldb, int ldc) {
  const int a_cols = ta == trans::no ? k : m;
  const int b_cols = tb == trans::no ? n : k;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_cols) || ldb < std::max(1, b_cols) || ldc < std::max(1, n))
    throw shape_error("ofa::kernels::gemm: bad sizes m=" + std::to_string(m) + " n=" + std::to_string(n) +
                      " k=" + std::to_string(k) + " lda=" + std::to_string(lda) + " ldb=" + std::to_string(ldb) +
                      " ldc=" + std::to_string(ldc) + " (a leading dimension must be at least its row length)");
}
}  // namespace detail

template <class T>
void gemm_reference(trans ta, trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                    T* c, int ldc) {
  detail::check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T sum = T(0);
      for (int p = 0; p < k; ++p) {
        const T av =
            ta == trans::no ? a[static_cast<std::ptrdiff_t>(i) * lda + p] : a[static_cast<std::ptrdiff_t>(p) * lda + i];
        const T bv =
            tb == trans::no ? b[static_cast<std::ptrdiff_t>(p) * ldb + j] : b[static_cast<std::ptrdiff_t>(j) * ldb + p];
        sum += av * bv;
      }
      T& out = c[static_cast<std::ptrdiff_t>(i) * ldc + j];
      out = (beta == T(0) ? T(0) : beta * out) + alpha * sum;
    }
}

namespace detail {

struct gemm_blocking {
  static constexpr int kc = 256;  // K block: an MR×KC A panel + a KC×NR B panel stay in L1
  static constexpr int mc = 96;   // M block per task: MC×KC of A stays in L2
  // A read in place, not packed, for up to this many column panels per task, or up to this K
  static constexpr int direct_a_max_panels = 4, direct_a_max_k = 64;
  // Products below this many multiply-adds (a few microseconds on one core: the kernel
  // transforms, squeeze-excite layers at small batches) run on the calling thread: waking the
  // workers and joining them costs as much as they would save.
  static constexpr double parallel_min_macs = 1 << 17;
  static bool worth_parallel(int m, int n, int k) { return double(m) * n * k >= parallel_min_macs; }
  /// A product of one or two rows of A is memory-bound (its weights stream from L3 or memory),
  /// so it is worth splitting at sizes where a compute-bound GEMM is not: from 64 K weights.
  static bool worth_parallel_gemv(int n, int k) { return double(n) * k >= 1 << 16; }
  // An operand is read in place down a leading dimension that is not a multiple of 4 KiB: at
  // such a stride every row of a tile or panel would map to the same cache sets.
  static bool readable_in_place(int ld) { return ld % 1024 != 0; }
};

/// Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) into MR-row panels, zero-padded.
template <int MR>
void pack_a(trans ta, const float* a, int lda, int i0, int mc, int p0, int kc, float* out) {
  for (int ip = 0; ip < mc; ip += MR, out += static_cast<std::ptrdiff_t>(MR) * kc) {
    const int rows = std::min(MR, mc - ip);
    if (ta == trans::no) {  // read each row of A contiguously
      for (int r = 0; r < rows; ++r) {
        const float* src = a + static_cast<std::ptrdiff_t>(i0 + ip + r) * lda + p0;
        for (int p = 0; p < kc; ++p) out[p * MR + r] = src[p];
      }
    } else {
      for (int p = 0; p < kc; ++p) {
        const float* src = a + static_cast<std::ptrdiff_t>(p0 + p) * lda + i0 + ip;
        for (int r = 0; r < rows; ++r) out[p * MR + r] = src[r];
      }
    }
    for (int r = rows; r < MR; ++r)
      for (int p = 0; p < kc; ++p) out[p * MR + r] = 0.0f;
  }
}

/// Where panel `panel` of the K block starting at p0 (kc deep) lies in a packed B: the K blocks one
/// after another, each `width` columns of NR-wide panels (the layout of pack_weights, which
/// gemm_blocked and the matrix-vector path read).
inline std::ptrdiff_t packed_panel_offset(std::ptrdiff_t width, int p0, int kc, int panel, int nr) {
  return static_cast<std::ptrdiff_t>(p0) * width + static_cast<std::ptrdiff_t>(panel) * nr * kc;
}

/// Packs rows [p0, p0+kc) × cols [j0, j0+nc) of op(B) into NR-column panels, zero-padded.
template <int NR>
void pack_b(trans tb, const float* b, int ldb, int p0, int kc, int j0, int nc, float* out) {
  for (int jp = 0; jp < nc; jp += NR) {
    const int cols = std::min(NR, nc - jp);
    float* panel = out + static_cast<std::ptrdiff_t>(jp) * kc;
    if (tb == trans::no) {
      for (int p = 0; p < kc; ++p) {
        float* dst = panel + static_cast<std::ptrdiff_t>(p) * NR;
        const float* src = b + static_cast<std::ptrdiff_t>(p0 + p) * ldb + j0 + jp;
        for (int c = 0; c < cols; ++c) dst[c] = src[c];
        for (int c = cols; c < NR; ++c) dst[c] = 0.0f;
      }
    } else {  // transpose in 16-deep slabs: the 16 destination rows stay in L1 across columns
      for (int pb = 0; pb < kc; pb += 16) {
        const int pe = std::min(kc, pb + 16);
        for (int c = 0; c < cols; ++c) {
          const float* src = b + static_cast<std::ptrdiff_t>(j0 + jp + c) * ldb + p0;
          for (int p = pb; p < pe; ++p) panel[p * NR + c] = src[p];
        }
      }
      for (int c = cols; c < NR; ++c)
        for (int p = 0; p < kc; ++p) panel[p * NR + c] = 0.0f;
    }
  }
}

/// The 256-bit half of an AVX-512 vector, for the 24-column tile; void where there is none.
template <class Arch>
struct half_vector {
  using type = void;
};
#if defined(__AVX512F__)
template <>
struct half_vector<xsimd::avx512f> {
  using type = xsimd::batch<float, xsimd::fma3<xsimd::avx2>>;
};
#endif

/// The register tile: MR rows × NV vectors of C, plus a half vector when `Half`. The wide tile
/// (NV = 2: 8×32 on AVX-512) serves most products; the narrow one (NV = 1: 16×16) serves an N
/// that would leave half of a wide tile's last panel empty (N = 16, 48, 80, 112, ...); the
/// 24-column one (AVX-512 only: 12 × (16 + 8)) N = 24 and 72 (with_tile_for) where it pays: its
/// 256-bit FMAs cost half a 512-bit one where the FMA units are 256 bits wide (AMD Zen 4). Where
/// they are not (Intel), the half vector costs a whole one and its 12-row tiles lose to the
/// narrow tile: 24-30% on the small-K products of batch-1 inference (3136×24×72, 784×24×72).
template <class Arch, int NV = 2, bool Half = false>
struct gemm_tile {
  using batch = xsimd::batch<float, Arch>;
  using half_batch = typename half_vector<Arch>::type;
  static_assert(!Half || !std::is_void_v<half_batch>, "the 24-column tile needs AVX-512");
  static constexpr int width = static_cast<int>(batch::size);
  static constexpr int nv = NV;                                   // whole vectors per tile row
  static constexpr int nr = nv * width + (Half ? width / 2 : 0);  // tile columns
  static constexpr int vectors = (nr + width - 1) / width;        // whole or partial, as stored
  // tile rows: 16, 12 or 24 accumulators (of 32 or 16 vector registers)
  static constexpr int mr = Half ? 12 : NV == 2 ? (width >= 16 ? 8 : 6) : (width >= 16 ? 16 : 12);

  template <class V>
  static V epilogue(V x, activation act) {
    return detail::apply_activation(act, x);
  }

  /// acc = Apanel(mr×kc) · Bpanel(kc×nr); then C[rows×cols] = alpha·acc + beta·C, and on the
  /// last K block (bias != null or act != none) C = act(C + bias), fused into the store.
  /// A is read down its rows (Direct = true: ap[r·lda + p], a row-major A that needs no
  /// transposition, read in place) or across its columns (Direct = false: ap[p·lda + r], with
  /// lda = MR for a packed panel, or the leading dimension of a transposed A read in place).
  /// B's rows are `b_stride` apart: NR in a packed panel, ldb when B is read in place. One loop
  /// per instantiation keeps the 16 accumulators in registers.
  template <bool Direct>
  static void run(int kc, const float* ap, std::ptrdiff_t lda, const float* bp, std::ptrdiff_t b_stride, float alpha,
                  float beta, float* c, int ldc, int rows, int cols, const float* bias = nullptr,
                  activation act = activation::none) {
    batch acc[mr][nv];
    for (int r = 0; r < mr; ++r)
      for (int v = 0; v < nv; ++v) acc[r][v] = batch(0.0f);
    // The half vector's accumulators (a dummy of one when there is none).
    using half_acc = std::conditional_t<Half, half_batch, batch>;
    half_acc acch[Half ? mr : 1];
    if constexpr (Half)
      for (int r = 0; r < mr; ++r) acch[r] = half_acc(0.0f);
    // acc[r] += a·b, and the half vector's from a's lower half (a broadcast: the same value).
    [[maybe_unused]] half_acc bh;
    auto add_row = [&](int r, const batch& a, const batch* b) {
      for (int v = 0; v < nv; ++v) acc[r][v] = xsimd::fma(a, b[v], acc[r][v]);
      if constexpr (Half) acch[r] = xsimd::fma(half_acc(_mm512_castps512_ps256(a)), bh, acch[r]);
    };
    if constexpr (Direct && mr % 4 == 0) {
      // A's rows in groups of four: one running pointer per group and three row offsets
      // address every row as base + index. (With one offset per row, 16 offsets do not fit
      // in the integer registers: 5 were reloaded from vector registers per K step, 25%.)
      constexpr int groups = mr / 4;
      const float* group[groups];
      for (int g = 0; g < groups; ++g) group[g] = ap + 4 * g * lda;
      const std::ptrdiff_t row1 = lda, row2 = 2 * lda, row3 = 3 * lda;
      for (int p = 0; p < kc; ++p) {
        batch b[nv];
        for (int v = 0; v < nv; ++v) b[v] = batch::load_unaligned(bp + v * width);
        if constexpr (Half) bh = half_acc::load_unaligned(bp + nv * width);
        for (int g = 0; g < groups; ++g) {
          const batch a0(group[g][0]), a1(group[g][row1]), a2(group[g][row2]), a3(group[g][row3]);
          add_row(4 * g, a0, b);
          add_row(4 * g + 1, a1, b);
          add_row(4 * g + 2, a2, b);
          add_row(4 * g + 3, a3, b);
          ++group[g];
        }
        bp += b_stride;
      }
    } else {
      for (int p = 0; p < kc; ++p) {
        batch b[nv];
        for (int v = 0; v < nv; ++v) b[v] = batch::load_unaligned(bp + v * width);
        if constexpr (Half) bh = half_acc::load_unaligned(bp + nv * width);
        for (int r = 0; r < mr; ++r) add_row(r, batch(Direct ? ap[r * lda + p] : ap[p * lda + r]), b);
        bp += b_stride;
      }
    }
    if (rows == mr && cols == nr && beta == 0.0f && !bias && act == activation::none) {  // the common case, inline
      if (alpha == 1.0f) {  // two loops on purpose: one with a select per store spills (12% at K = 16)
        for (int r = 0; r < mr; ++r) {
          for (int v = 0; v < nv; ++v) acc[r][v].store_unaligned(c + static_cast<std::ptrdiff_t>(r) * ldc + v * width);
          if constexpr (Half) acch[r].store_unaligned(c + static_cast<std::ptrdiff_t>(r) * ldc + nv * width);
        }
      } else {
        const batch va(alpha);
        for (int r = 0; r < mr; ++r) {
          for (int v = 0; v < nv; ++v)
            (va * acc[r][v]).store_unaligned(c + static_cast<std::ptrdiff_t>(r) * ldc + v * width);
          if constexpr (Half)
            (half_acc(alpha) * acch[r]).store_unaligned(c + static_cast<std::ptrdiff_t>(r) * ldc + nv * width);
        }
      }
      return;
    }
    // Whole tiles at alpha = 1, inline: inference's layers (bias and activation in the stores),
    // and every K block after the first (beta = 1: C += the block's product), which is most
    // of a product with K past one block (3x3 convolutions as im2col, 1x1s over 512+ channels).
    if (rows == mr && cols == nr && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
        (bias || act == activation::none)) {
      auto store_all = [&](auto accumulate, auto with_bias, auto activate) {
        for (int r = 0; r < mr; ++r) {
          float* row = c + static_cast<std::ptrdiff_t>(r) * ldc;
          for (int v = 0; v < nv; ++v) {
            batch x = acc[r][v];
            if constexpr (decltype(accumulate)::value) x += batch::load_unaligned(row + v * width);
            if constexpr (decltype(with_bias)::value) x += batch::load_unaligned(bias + v * width);
            activate(x).store_unaligned(row + v * width);
          }
          if constexpr (Half) {
            half_acc x = acch[r];
            if constexpr (decltype(accumulate)::value) x += half_acc::load_unaligned(row + nv * width);
            if constexpr (decltype(with_bias)::value) x += half_acc::load_unaligned(bias + nv * width);
            activate(x).store_unaligned(row + nv * width);
          }
        }
      };
      using yes = std::true_type;
      using no = std::false_type;
      if (!bias) return store_all(yes{}, no{}, [](auto x) { return x; });  // beta = 1 here: the common case took 0
      auto with_bias = [&](auto accumulate) {
        switch (act) {
          case activation::relu:
            return store_all(accumulate, yes{}, [](auto x) { return act_relu::value(x); });
          case activation::relu6:
            return store_all(accumulate, yes{}, [](auto x) { return act_relu6::value(x); });
          case activation::hswish:
            return store_all(accumulate, yes{}, [](auto x) { return act_hswish::value(x); });
          case activation::none:
            return store_all(accumulate, yes{}, [](auto x) { return x; });
        }
      };
      return beta == 0.0f ? with_bias(no{}) : with_bias(yes{});
    }
    // The general store works from a copy, so that the accumulators' address never escapes
    // and they stay in registers through the K loop (as an argument by reference they were
    // kept on the stack: a load and a store per accumulator per tile, 15% at K = 16).
    alignas(64) float tile[mr * nr + width];  // + a vector: the half vector is read as a whole one
    for (int r = 0; r < mr; ++r) {
      for (int v = 0; v < nv; ++v) acc[r][v].store_unaligned(tile + r * nr + v * width);
      if constexpr (Half) acch[r].store_unaligned(tile + r * nr + nv * width);
    }
    store(tile, alpha, beta, c, ldc, rows, cols, bias, act);
  }

  [[gnu::noinline]] static void store(const float* acc_tile, float alpha, float beta, float* c, int ldc, int rows,
                                      int cols, const float* bias, activation act) {
    const batch va(alpha);
    // Whole vectors as vectors; the columns past the last one (a partial tile: the last columns
    // of C; or the half vector) through masked loads and stores (a scalar loop there made
    // N = 24 slower than N = 32).
    for (int r = 0; r < rows; ++r) {
      float* row = c + static_cast<std::ptrdiff_t>(r) * ldc;
      for (int v = 0; v < vectors; ++v) {
        const int first = v * width, count = std::min({width, cols - first, nr - first});
        if (count <= 0) break;
        batch out = va * batch::load_unaligned(acc_tile + r * nr + first);
        if (count == width) {
          if (beta != 0.0f) out = xsimd::fma(batch(beta), batch::load_unaligned(row + first), out);
          if (bias) out += batch::load_unaligned(bias + first);
          epilogue(out, act).store_unaligned(row + first);
          continue;
        }
        if (beta != 0.0f) out = xsimd::fma(batch(beta), load_first<Arch>(row + first, count), out);
        if (bias) out += load_first<Arch>(bias + first, count);
        store_first<Arch>(epilogue(out, act), row + first, count);
      }
    }
  }
};

/// Runs f(0..count-1) on oneTBB, or in order on the calling thread.
template <class F>
void for_tasks(bool parallel, int count, const F& f) {
  if (parallel && count > 1)
    parallel::for_index(0, count, f);
  else
    for (int i = 0; i < count; ++i) f(i);
}

/// The blocked GEMM: K blocks in order, (row block × column chunk) tasks on oneTBB when
/// `parallel`, else all on the calling thread (one slice of a split-K product).
/// `prepacked`: B already packed by pack_weights (all K blocks, one after another), or null.
template <class Arch, class tile>
void gemm_blocked(bool parallel, trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                  const float* b, int ldb, float beta, float* c, int ldc, const float* prepacked, const float* bias,
                  activation act) {
  const int threads = parallel ? tbb::this_task_arena::max_concurrency() : 1;
  // Row blocks of up to MC rows; for a small M, smaller blocks so that every thread gets
  // about four equal ones without splitting N (which would re-pack A per task).
  // (Below 4·threads tiles of rows, N is split instead: one row block, several column chunks.)
  const int balanced_rows = m >= 4 * threads * tile::mr
                                ? ((m + 4 * threads - 1) / (4 * threads) + tile::mr - 1) / tile::mr * tile::mr
                                : gemm_blocking::mc;
  const int mr = tile::mr, nr = tile::nr, kc_max = gemm_blocking::kc,
            mc_max = std::max(tile::mr, std::min(gemm_blocking::mc / tile::mr * tile::mr, balanced_rows));
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta·C
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float& out = c[static_cast<std::ptrdiff_t>(i) * ldc + j];
        out = beta == 0.0f ? 0.0f : beta * out;
      }
    return;
  }
  const int n_padded = (n + nr - 1) / nr * nr;
  const int m_blocks = (m + mc_max - 1) / mc_max;
  const int n_panels = n_padded / nr;
  const int k_blocks = (k + kc_max - 1) / kc_max;
  // B without transposition is read in place, row by row, for its whole column panels: packing
  // would read and write it once more (for the weight gradient dW = dYᵀ·X, B is the layer's
  // input X, an activation). Only a last, partial panel is packed, so that no vector load runs
  // past a row.
  const int whole_panels = !prepacked && tb == trans::no && gemm_blocking::readable_in_place(ldb) ? n / nr : 0;
  const int packed_panels = n_panels - whole_panels;
  const std::ptrdiff_t packed_width = static_cast<std::ptrdiff_t>(packed_panels) * nr;
  // The packed panels of every K block (as pack_weights lays them out) in one parallel pass, then
  // one parallel pass of tasks that each run all K blocks of their C block: two fork/joins per
  // product rather than two per K block.
  pooled_vector<float> packed_b(prepacked ? 0 : static_cast<std::size_t>(packed_width) * k);
  if (!prepacked && packed_panels > 0)
    for_tasks(parallel, k_blocks * packed_panels, [&](int job) {
      const int p0 = job / packed_panels * kc_max, kc = std::min(kc_max, k - p0),
                jp = whole_panels + job % packed_panels;
      pack_b<tile::nr>(tb, b, ldb, p0, kc, jp * nr, std::min(nr, n - jp * nr),
                       packed_b.data() + packed_panel_offset(packed_width, p0, kc, jp - whole_panels, nr));
    });
  const float* b_all = prepacked ? prepacked : packed_b.data();
  // Enough tasks for every thread even when M is small (classifier, batch 16): split N too.
  // Each chunk re-packs its A block, so split N only as far as the threads need.
  const int wanted_tasks = parallel ? 3 * threads : 1;
  const int n_chunks = std::max(1, std::min(n_panels, (wanted_tasks + m_blocks - 1) / m_blocks));
  const int panels_per_chunk = (n_panels + n_chunks - 1) / n_chunks;

  for_tasks(parallel, m_blocks * n_chunks, [&](int task) {
    const int ib = task / n_chunks, chunk = task % n_chunks;
    const int i0 = ib * mc_max, mc = std::min(mc_max, m - i0);
    const int jp_begin = chunk * panels_per_chunk, jp_end = std::min(n_panels, jp_begin + panels_per_chunk);
    if (jp_begin >= jp_end) return;
    // A is read in place for its full row tiles where packing costs more than it saves; only a
    // last, partial row tile is packed.
    // * Without transposition (down its rows): with few column panels to reuse a packed A, or a
    //   K so short that a row tile of A is a few cache lines that stay in L1 across all panels
    //   (measured: 1.3x on one or two panels; 1.1x on three or four, and on K = 16 and 40 with
    //   up to 8).
    // * Transposed (across its columns, lda apart: the weight gradient's dYᵀ): a packed panel
    //   would hold the same MR floats per column, only closer together.
    const bool direct =
        ta == trans::no ? jp_end - jp_begin <= gemm_blocking::direct_a_max_panels || k <= gemm_blocking::direct_a_max_k
                        : gemm_blocking::readable_in_place(lda);
    const int full_rows = direct ? mc / mr * mr : 0;
    alignas(64) float packed_a[gemm_blocking::mc * gemm_blocking::kc];
    for (int p0 = 0; p0 < k; p0 += kc_max) {
      const int kc = std::min(kc_max, k - p0);
      const float beta_now = p0 == 0 ? beta : 1.0f;
      const bool last_block = p0 + kc == k;
      if (full_rows < mc) pack_a<tile::mr>(ta, a, lda, i0 + full_rows, mc - full_rows, p0, kc, packed_a);
      for (int jp = jp_begin; jp < jp_end; ++jp) {
        const int j0 = jp * nr, cols = std::min(nr, n - j0);
        const bool b_direct = jp < whole_panels;
        const float* bp = b_direct ? b + static_cast<std::ptrdiff_t>(p0) * ldb + j0
                                   : b_all + packed_panel_offset(packed_width, p0, kc, jp - whole_panels, nr);
        const std::ptrdiff_t b_stride = b_direct ? ldb : nr;
        for (int ip = 0; ip < mc; ip += mr) {
          const int rows = std::min(mr, mc - ip);
          float* c_tile = c + static_cast<std::ptrdiff_t>(i0 + ip) * ldc + j0;
          const float* tile_bias = last_block && bias ? bias + j0 : nullptr;
          const activation tile_act = last_block ? act : activation::none;
          if (ip >= full_rows)
            tile::template run<false>(kc, packed_a + static_cast<std::ptrdiff_t>(ip - full_rows) * kc, mr, bp, b_stride,
                                      alpha, beta_now, c_tile, ldc, rows, cols, tile_bias, tile_act);
          else if (ta == trans::no)
            tile::template run<true>(kc, a + static_cast<std::ptrdiff_t>(i0 + ip) * lda + p0, lda, bp, b_stride, alpha,
                                     beta_now, c_tile, ldc, rows, cols, tile_bias, tile_act);
          else
            tile::template run<false>(kc, a + static_cast<std::ptrdiff_t>(p0) * lda + i0 + ip, lda, bp, b_stride, alpha,
                                      beta_now, c_tile, ldc, rows, cols, tile_bias, tile_act);
        }
      }
    }
  });
}

/// Whether this CPU's AVX-512 FMAs run as two 256-bit halves, so that a half vector costs half
/// (AMD's Zen 4: its vendor, since AVX-512 is there; Intel's units are 512 bits wide).
inline bool avx512_runs_as_two_halves() {
  static const bool halves = [] {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    return std::string(vendor) == "AuthenticAMD";
#else
    return false;
#endif
  }();
  return halves;
}

/// -1: the tile by the CPU (above); 0 or 1: the 24-column tile off or on, for tests that must run
/// it on every AVX-512 machine. Set it only where no product is running.
inline std::atomic<int>& half_tile_override() {
  static std::atomic<int> forced{-1};
  return forced;
}
inline bool use_half_tiles() {
  const int forced = half_tile_override().load(std::memory_order_relaxed);
  return forced >= 0 ? forced == 1 : avx512_runs_as_two_halves();
}

/// The tile for N, by the padded FMA work of one row: ⌈N/16⌉ vectors with the narrow tile,
/// 2·⌈N/32⌉ with the wide one, 1.5·⌈N/24⌉ with the 24-column one (where there is one, and its
/// half vectors cost half: AMD). The 24-column tile must save 10% (N = 24: 25%, 72: 10%; at
/// N = 120 it saved 4-8% in the products and lost 15% in a weight gradient, whose 40 rows its
/// 12-row tiles pad); ties keep the wide tile (its 8 rows waste less when M is small), then the
/// narrow; a wide N (256 or more) keeps the wide tile. The choice depends on N and the CPU alone,
/// so weights packed once agree with it. Calls f(tile{}).
template <class Arch, class F>
decltype(auto) with_tile_for(int n, const F& f) {
  using wide = gemm_tile<Arch, 2>;
  using narrow = gemm_tile<Arch, 1>;
  constexpr int width = wide::width;
  const int wide_cost = 4 * ((n + 2 * width - 1) / (2 * width)), narrow_cost = 2 * ((n + width - 1) / width);
  if constexpr (!std::is_void_v<typename half_vector<Arch>::type>) {
    using half = gemm_tile<Arch, 1, true>;
    const int half_cost = 3 * ((n + half::nr - 1) / half::nr);
    if (n < 256 && use_half_tiles() && 10 * half_cost <= 9 * std::min(wide_cost, narrow_cost)) return f(half{});
  }
  if (n < 256 && narrow_cost < wide_cost) return f(narrow{});
  return f(wide{});
}

/// gemm_blocked with the tile that fits N.
template <class Arch>
void gemm_blocked_tiled(bool parallel, trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc, const float* prepacked,
                        const float* bias, activation act) {
  with_tile_for<Arch>(n, [&](auto tile) {
    gemm_blocked<Arch, decltype(tile)>(parallel, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, prepacked, bias,
                                       act);
  });
}

/// A product with a small C and a long K — the weight gradient dW = dYᵀ·X reduces over all
/// batch·H·W rows — has too few (row block × column panel) tasks for the threads, and its
/// sequential K blocks each pay a parallel loop. It is split along K instead: each slice is a
/// serial GEMM into its own partial C, and the partials are added in slice order. The split
/// depends on the shape only, so results do not change with the thread count. (A plan of one
/// slice computed transposed, run by all threads, serves the few-rows case in gemm_kernel.)
struct split_k_plan {
  int slices = 1, slice_k = 0;
  bool transposed = false;  // compute Cᵀ = op(B)ᵀ·op(A)ᵀ: the narrower side goes down the rows
};

template <class Arch>
split_k_plan plan_split_k(int m, int n, int k) {
  using tile = gemm_tile<Arch>;
  split_k_plan plan;
  const int m_blocks = (m + gemm_blocking::mc - 1) / gemm_blocking::mc, n_panels = (n + tile::nr - 1) / tile::nr;
  constexpr int min_slice = 1024, max_slices = 16;
  if (m_blocks * n_panels >= 16 || k < 2 * min_slice) return plan;
  const int per_slice = std::max(min_slice, (k + max_slices - 1) / max_slices);
  plan.slice_k = (per_slice + gemm_blocking::kc - 1) / gemm_blocking::kc * gemm_blocking::kc;
  plan.slices = (k + plan.slice_k - 1) / plan.slice_k;
  // Padded tile area either way round: an N of 16 fills half of a 32-column tile.
  auto area = [](int rows, int cols) {
    return std::int64_t((rows + tile::mr - 1) / tile::mr * tile::mr) * ((cols + tile::nr - 1) / tile::nr * tile::nr);
  };
  plan.transposed = area(n, m) < area(m, n);
  return plan;
}

template <class Arch>
void gemm_split_k(const split_k_plan& plan, trans ta, trans tb, int m, int n, int k, float alpha, const float* a,
                  int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const std::size_t area = static_cast<std::size_t>(m) * n;
  pooled_vector<float> partial(area * plan.slices);
  // One slice: the threads share it instead (unless it is too small to share).
  const bool parallel_slice = plan.slices == 1 && gemm_blocking::worth_parallel(m, n, k);
  parallel::for_index(0, plan.slices, [&](int s) {
    const int k0 = s * plan.slice_k, kn = std::min(plan.slice_k, k - k0);
    // Column k0 of op(A) and row k0 of op(B).
    const float* a_s = a + (ta == trans::no ? k0 : static_cast<std::ptrdiff_t>(k0) * lda);
    const float* b_s = b + (tb == trans::no ? static_cast<std::ptrdiff_t>(k0) * ldb : k0);
    float* out = partial.data() + area * s;
    if (plan.transposed)  // Cᵀ [n][m] = op(B)ᵀ·op(A)ᵀ
      gemm_blocked_tiled<Arch>(parallel_slice, tb == trans::no ? trans::yes : trans::no,
                               ta == trans::no ? trans::yes : trans::no, n, m, kn, 1.0f, b_s, ldb, a_s, lda, 0.0f, out,
                               m, nullptr, nullptr, activation::none);
    else
      gemm_blocked_tiled<Arch>(parallel_slice, ta, tb, m, n, kn, 1.0f, a_s, lda, b_s, ldb, 0.0f, out, n, nullptr,
                               nullptr, activation::none);
  });
  // The slices added in order into C[i][j]; the partials are read in their own order (Cᵀ's rows
  // down C's columns when transposed: a few rows of C).
  auto store = [&](int i, int j) {
    const std::size_t at = plan.transposed ? static_cast<std::size_t>(j) * m + i : static_cast<std::size_t>(i) * n + j;
    float sum = 0.0f;
    for (int s = 0; s < plan.slices; ++s) sum += partial[area * s + at];
    float& out = c[static_cast<std::ptrdiff_t>(i) * ldc + j];
    out = (beta == 0.0f ? 0.0f : beta * out) + alpha * sum;
  };
  if (plan.transposed)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) store(i, j);
  else
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) store(i, j);
}

struct gemm_kernel {
  /// `prepacked`: B already packed by pack_weights (all K blocks, one after another), or null.
  template <class Arch>
  void operator()(Arch, trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                  int ldb, float beta, float* c, int ldc, const float* prepacked = nullptr, const float* bias = nullptr,
                  activation act = activation::none) const {
    if (!prepacked && !bias && act == activation::none && m > 0 && n > 0) {
      auto plan = plan_split_k<Arch>(m, n, k);
      // A few rows of C against a transposed B at least 4× wider (the classifier at batch 16:
      // 16 × 1280 × 960; squeeze-excite, 16 × 336 × 88) is bound by reading B, which packing would
      // read twice and write once. As one slice computed transposed, Cᵀ = op(B)ᵀ·op(A)ᵀ, the few
      // rows become one narrow column panel and B, now the left operand without transposition, is
      // read in place.
      if (plan.slices == 1 && tb == trans::yes && m <= gemm_tile<Arch, 1>::width && n >= 4 * m && k > 0)
        plan = split_k_plan{1, k, true};
      if (plan.slices > 1 || plan.transposed)
        return gemm_split_k<Arch>(plan, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    gemm_blocked_tiled<Arch>(gemm_blocking::worth_parallel(m, n, k), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                             ldc, prepacked, bias, act);
  }
};
}  // namespace detail

namespace detail {
struct pack_weights_kernel {
  template <class Arch>
  int operator()(Arch, const float* w, int ldw, int n, int k, pooled_vector<float>& out) const {
    return with_tile_for<Arch>(n, [&](auto tile) { return pack<decltype(tile)>(w, ldw, n, k, out); });
  }
  /// The layout gemm_blocked reads for this N: the tile is chosen by N alone, so it matches.
  template <class tile>
  static int pack(const float* w, int ldw, int n, int k, pooled_vector<float>& out) {
    const int nr = tile::nr, n_padded = (n + nr - 1) / nr * nr;
    out.assign(static_cast<std::size_t>(n_padded) * k, 0.0f);
    for (int p0 = 0; p0 < k; p0 += gemm_blocking::kc) {
      const int kc = std::min(gemm_blocking::kc, k - p0);
      for (int jp = 0; jp < n_padded / nr; ++jp)
        pack_b<tile::nr>(trans::yes, w, ldw, p0, kc, jp * nr, std::min(nr, n - jp * nr),
                         out.data() + packed_panel_offset(n_padded, p0, kc, jp, nr));
    }
    return nr;
  }
};

/// C = act(A·Wᵀ + beta·C + bias) for a few rows of A (batch-1 inference: squeeze-excite, the head)
/// straight from the packed panels: each weight is read once and feeds one FMA per vector of
/// outputs. The blocked GEMM computes whole MR-row tiles, so one row of A did 8 or 16 rows of
/// work (a 1×672→168 layer took 35 µs).
struct gemv_packed_kernel {
  template <class Arch>
  void operator()(Arch, int m, const float* a, int lda, const float* packed, int n, int k, int nr, float beta, float* c,
                  int ldc, const float* bias, activation act) const {
    with_tile_for<Arch>(n, [&](auto tile) {
      if (nr != decltype(tile)::nr)
        throw shape_error("ofa::kernels::gemm_packed: weights packed " + std::to_string(nr) +
                          " columns wide, but this CPU's kernels read " + std::to_string(decltype(tile)::nr) +
                          " (packed on another machine?); pack them again");
      run<decltype(tile)>(m, a, lda, packed, n, k, beta, c, ldc, bias, act);
    });
  }

  template <class tile>
  static void run(int m, const float* a, int lda, const float* packed, int n, int k, float beta, float* c, int ldc,
                  const float* bias, activation act) {
    using batch = typename tile::batch;
    constexpr int nr = tile::nr, nv = tile::vectors, width = tile::width;
    // The last vector of a 24-column panel is half: read masked (a whole one would read the
    // next panel row, or past the end).
    auto panel_vector = [&](const float* at, int v) {
      if constexpr (nr % width != 0)
        if (v == nv - 1) return load_first<typename batch::arch_type>(at + v * width, nr - v * width);
      return batch::load_unaligned(at + v * width);
    };
    const int n_padded = (n + nr - 1) / nr * nr, panels = n_padded / nr;
    const int per_task = std::max(1, (1 << 15) / (std::max(1, k) * nr));  // about 32 K weights a task
    const int tasks = (panels + per_task - 1) / per_task;
    for_tasks(gemm_blocking::worth_parallel_gemv(n, k), tasks, [&](int task) {
      for (int jp = task * per_task; jp < std::min(panels, (task + 1) * per_task); ++jp)
        for (int row = 0; row < m; ++row) {
          const float* x = a + static_cast<std::ptrdiff_t>(row) * lda;
          batch even[nv], odd[nv];  // two chains per vector: an FMA's latency is hidden
          for (int v = 0; v < nv; ++v) even[v] = odd[v] = batch(0.0f);
          for (int p0 = 0; p0 < k; p0 += gemm_blocking::kc) {
            const int kc = std::min(gemm_blocking::kc, k - p0);
            const float* panel = packed + packed_panel_offset(n_padded, p0, kc, jp, nr);
            int p = 0;
            for (; p + 1 < kc; p += 2) {
              const batch x0(x[p0 + p]), x1(x[p0 + p + 1]);
              for (int v = 0; v < nv; ++v) {
                even[v] = xsimd::fma(x0, panel_vector(panel + p * nr, v), even[v]);
                odd[v] = xsimd::fma(x1, panel_vector(panel + (p + 1) * nr, v), odd[v]);
              }
            }
            if (p < kc)
              for (int v = 0; v < nv; ++v)
                even[v] = xsimd::fma(batch(x[p0 + p]), panel_vector(panel + p * nr, v), even[v]);
          }
          alignas(64) float out[nv * width];
          for (int v = 0; v < nv; ++v) (even[v] + odd[v]).store_aligned(out + v * width);
          float* dst = c + static_cast<std::ptrdiff_t>(row) * ldc + jp * nr;
          for (int j = 0; j < std::min(nr, n - jp * nr); ++j) {
            float value = out[j] + (beta != 0.0f ? beta * dst[j] : 0.0f) + (bias ? bias[jp * nr + j] : 0.0f);
            dst[j] = tile::epilogue(value, act);
          }
        }
    });
  }
};
}  // namespace detail

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API packed_weights pack_weights(const float* w, int ldw, int n, int k) {
  detail::check_gemm(trans::no, trans::yes, 1, n, k, std::max(1, k), ldw, std::max(1, n));
  packed_weights p;
  p.n = n;
  p.k = k;
  p.nr = dispatch(detail::pack_weights_kernel{}, w, ldw, n, k, p.data);
  return p;
}
#endif

/** @brief Up to this many rows of A, gemm_packed runs as matrix-vector products (gemv_packed_kernel). */
inline constexpr int gemv_max_rows = 2;

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void gemm_packed(int m, const float* a, int lda, const packed_weights& w, float beta, float* c, int ldc,
                                const float* bias, activation act) {
  detail::check_gemm(trans::no, trans::yes, m, w.n, w.k, lda, std::max(1, w.k), ldc);
  if (m <= gemv_max_rows && m > 0 && w.n > 0) {
    dispatch(detail::gemv_packed_kernel{}, m, a, lda, static_cast<const float*>(w.data.data()), w.n, w.k, w.nr, beta, c,
             ldc, bias, act);
    return;
  }
  dispatch(detail::gemm_kernel{}, trans::no, trans::yes, m, w.n, w.k, 1.0f, a, lda, nullptr, w.k, beta, c, ldc,
           static_cast<const float*>(w.data.data()), bias, act);
}
#endif

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void gemm(trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                         int ldb, float beta, float* c, int ldc) {
  detail::check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
  dispatch(detail::gemm_kernel{}, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif

}  // namespace ofa::kernels
