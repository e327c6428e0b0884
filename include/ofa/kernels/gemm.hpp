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
#include <cstddef>
#include <string>
#include <vector>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <xsimd/xsimd.hpp>

#include "ofa/errors.hpp"
#include "ofa/kernels/simd.hpp"

#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief Whether an operand is used as stored or transposed. */
enum class trans : bool { no = false, yes = true };

/** @brief The scalar reference: the definition the SIMD kernel is tested against. Any T. */
template <class T>
void gemm_reference(trans ta, trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                    T beta, T* c, int ldc);

/** @brief The fast float GEMM (parallel on oneTBB, instruction set chosen once). */
void gemm(trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
          float beta, float* c, int ldc);

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
void gemm_reference(trans ta, trans tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                    T beta, T* c, int ldc) {
  detail::check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T sum = T(0);
      for (int p = 0; p < k; ++p) {
        const T av = ta == trans::no ? a[static_cast<std::ptrdiff_t>(i) * lda + p] : a[static_cast<std::ptrdiff_t>(p) * lda + i];
        const T bv = tb == trans::no ? b[static_cast<std::ptrdiff_t>(p) * ldb + j] : b[static_cast<std::ptrdiff_t>(j) * ldb + p];
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
    } else {  // read each row of the stored B (a column of op(B)) contiguously
      for (int c = 0; c < cols; ++c) {
        const float* src = b + static_cast<std::ptrdiff_t>(j0 + jp + c) * ldb + p0;
        for (int p = 0; p < kc; ++p) panel[p * NR + c] = src[p];
      }
      for (int c = cols; c < NR; ++c)
        for (int p = 0; p < kc; ++p) panel[p * NR + c] = 0.0f;
    }
  }
}

template <class Arch>
struct gemm_tile {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int width = static_cast<int>(batch::size);
  static constexpr int nv = 2;                           // vectors per tile row
  static constexpr int nr = nv * width;                  // tile columns
  static constexpr int mr = width >= 16 ? 8 : 6;         // tile rows: 16 or 12 accumulators

  /// acc = Apanel(mr×kc) · Bpanel(kc×nr); then C[rows×cols] = alpha·acc + beta·C.
  static void run(int kc, const float* ap, const float* bp, float alpha, float beta, float* c, int ldc, int rows,
                  int cols) {
    batch acc[mr][nv];
    for (int r = 0; r < mr; ++r)
      for (int v = 0; v < nv; ++v) acc[r][v] = batch(0.0f);
    for (int p = 0; p < kc; ++p) {
      batch b[nv];
      for (int v = 0; v < nv; ++v) b[v] = batch::load_aligned(bp + v * width);
      for (int r = 0; r < mr; ++r) {
        const batch a(ap[r]);
        for (int v = 0; v < nv; ++v) acc[r][v] = xsimd::fma(a, b[v], acc[r][v]);
      }
      ap += mr;
      bp += nr;
    }
    const batch va(alpha);
    if (rows == mr && cols == nr) {
      for (int r = 0; r < mr; ++r) {
        float* row = c + static_cast<std::ptrdiff_t>(r) * ldc;
        for (int v = 0; v < nv; ++v) {
          batch out = va * acc[r][v];
          if (beta != 0.0f) out = xsimd::fma(batch(beta), batch::load_unaligned(row + v * width), out);
          out.store_unaligned(row + v * width);
        }
      }
      return;
    }
    alignas(64) float tile[mr * nr];
    for (int r = 0; r < mr; ++r)
      for (int v = 0; v < nv; ++v) (va * acc[r][v]).store_aligned(tile + r * nr + v * width);
    for (int r = 0; r < rows; ++r) {
      float* row = c + static_cast<std::ptrdiff_t>(r) * ldc;
      for (int j = 0; j < cols; ++j) row[j] = (beta == 0.0f ? 0.0f : beta * row[j]) + tile[r * nr + j];
    }
  }
};

struct gemm_kernel {
  template <class Arch>
  void operator()(Arch, trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                  int ldb, float beta, float* c, int ldc) const {
    using tile = gemm_tile<Arch>;
    const int mr = tile::mr, nr = tile::nr, kc_max = gemm_blocking::kc, mc_max = gemm_blocking::mc / tile::mr * tile::mr;
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
    pooled_vector<float> packed_b(static_cast<std::size_t>(n_padded) * kc_max);
    const int m_blocks = (m + mc_max - 1) / mc_max;
    const int n_panels = n_padded / nr;
    // Enough tasks for every thread even when M is small (classifier, batch 16): split N too.
    // Each chunk re-packs its A block, so split N only as far as the threads need.
    const int wanted_tasks = 3 * tbb::this_task_arena::max_concurrency();
    const int n_chunks = std::max(1, std::min(n_panels, (wanted_tasks + m_blocks - 1) / m_blocks));
    const int panels_per_chunk = (n_panels + n_chunks - 1) / n_chunks;

    for (int p0 = 0; p0 < k; p0 += kc_max) {
      const int kc = std::min(kc_max, k - p0);
      const float beta_now = p0 == 0 ? beta : 1.0f;
      tbb::parallel_for(0, n_panels, [&](int jp) {
        pack_b<tile::nr>(tb, b, ldb, p0, kc, jp * nr, std::min(nr, n - jp * nr), packed_b.data() + static_cast<std::ptrdiff_t>(jp) * nr * kc);
      });
      tbb::parallel_for(0, m_blocks * n_chunks, [&](int task) {
        const int ib = task / n_chunks, chunk = task % n_chunks;
        const int i0 = ib * mc_max, mc = std::min(mc_max, m - i0);
        const int jp_begin = chunk * panels_per_chunk, jp_end = std::min(n_panels, jp_begin + panels_per_chunk);
        if (jp_begin >= jp_end) return;
        alignas(64) float packed_a[gemm_blocking::mc * gemm_blocking::kc];
        pack_a<tile::mr>(ta, a, lda, i0, mc, p0, kc, packed_a);
        for (int jp = jp_begin; jp < jp_end; ++jp) {
          const int j0 = jp * nr, cols = std::min(nr, n - j0);
          const float* bp = packed_b.data() + static_cast<std::ptrdiff_t>(jp) * nr * kc;
          for (int ip = 0; ip < mc; ip += mr) {
            const int rows = std::min(mr, mc - ip);
            tile::run(kc, packed_a + static_cast<std::ptrdiff_t>(ip) * kc, bp, alpha, beta_now,
                      c + static_cast<std::ptrdiff_t>(i0 + ip) * ldc + j0, ldc, rows, cols);
          }
        }
      });
    }
  }
};
}  // namespace detail

inline void gemm(trans ta, trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
  detail::check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
  dispatch(detail::gemm_kernel{}, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace ofa::kernels
