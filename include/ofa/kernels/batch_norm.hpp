#pragma once
/// @file
/// Batch normalisation over the channels of an NHWC tensor viewed as M rows ×
/// C channels: training (batch statistics, running-statistics update with
/// momentum, as PyTorch: running = (1-m)·running + m·batch, unbiased variance),
/// inference, backward, and folding into the preceding convolution; optionally
/// with the following activation fused in (forward and backward).
/// FLOPs ≈ 5·M·C forward, 8·M·C backward; memory-bound: the forward reads x twice
/// and writes y once, the backward reads x and dy twice and writes dx once.

#include <algorithm>  // fill, max
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <numeric>  // lcm
#include <type_traits>
#include <utility>  // index_sequence
#include <vector>
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief The per-channel arrays of one BN layer (pointers may be slices of max-size arrays). */
template <class T>
struct batch_norm_params {
  const T* gamma;
  const T* beta;
  T* running_mean;
  T* running_var;
  T momentum = T(0.1);
  T eps = T(1e-5);
};

/** @brief Saved by the training forward for the backward pass: per-channel mean and 1/std. */
template <class T>
struct batch_norm_saved {
  pooled_vector<T> mean, inv_std;
};

/** @brief Training forward, y = act(BN(x)) with batch statistics; fills `saved` and updates the
 *  running statistics. The activation is fused (one pass, no intermediate tensor): the
 *  backward recomputes BN's output from x. Scalar reference, sequential, any T. */
template <class T>
void batch_norm_train_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                                batch_norm_saved<T>& saved, activation act = activation::none);

/** @brief The training forward without its output: the batch statistics into `saved` and the
 *  running statistics updated. For a consumer that normalises BN's input as it loads it (the
 *  depthwise input_transform), so that act(BN(x)) is never written. Scalar reference, any T. */
template <class T>
void batch_norm_statistics_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p,
                                     batch_norm_saved<T>& saved);

/** @brief BN in training as the affine map it is once the statistics are known:
 *  BN(x) = x·scale + shift per channel, scale = γ/std, shift = β − mean·scale. */
template <class T>
void batch_norm_scale_shift(std::size_t c, const T* gamma, const T* beta, const batch_norm_saved<T>& saved, T* scale,
                            T* shift);

/** @brief Backward of the training forward, for dy = d(loss)/d(act(BN(x))): dx (overwritten;
 *  may be null), dgamma and dbeta (accumulated; may be null). Scalar reference, any T. */
template <class T>
void batch_norm_backward_reference(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma, const T* beta,
                                   const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta,
                                   activation act = activation::none);

/** @brief The fast float versions: xsimd, parallel on oneTBB. Channel sums use fixed row chunks
 *  added in order (in double), so results do not depend on the thread count. */
OFA_KERNEL_API void batch_norm_train(std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p,
                                     float* y, batch_norm_saved<float>& saved, activation act = activation::none);
OFA_KERNEL_API void batch_norm_backward(std::size_t m, std::size_t c, const float* x, const float* dy,
                                        const float* gamma, const float* beta, const batch_norm_saved<float>& saved,
                                        float* dx, float* dgamma, float* dbeta, activation act = activation::none);
OFA_KERNEL_API void batch_norm_statistics(std::size_t m, std::size_t c, const float* x,
                                          const batch_norm_params<float>& p, batch_norm_saved<float>& saved);

/** @brief y = act(x·scale + shift) per channel: inference BN once its constants are known. Fast float version. */
OFA_KERNEL_API void batch_norm_normalise(std::size_t m, std::size_t c, const float* x, const float* scale,
                                         const float* shift, float* y, activation act);

/** @brief Inference: y = act((x - running_mean)/sqrt(running_var + eps)·gamma + beta). */
template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                      activation act = activation::none);

/** @brief Folds inference BN into the preceding conv: output channel o's `taps` weights, at
 *  weight[o·channel_stride + i·tap_stride], are scaled by gamma/std, and bias[o] = beta -
 *  mean·gamma/std. Rows [out][in]: (ld, 1); channels-last [k][k][C]: (1, C). */
template <class T>
void fold_batch_norm(std::size_t out_channels, std::size_t taps, T* weight, std::size_t channel_stride,
                     std::size_t tap_stride, const batch_norm_params<T>& p, T* bias);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// Turns Σ(x - x0), Σ(x - x0)² into the saved mean and 1/std and updates the running statistics.
template <class T>
void finish_statistics(std::size_t m, std::size_t c, const T* x0, const double* sums, const batch_norm_params<T>& p,
                       batch_norm_saved<T>& saved) {
  saved.mean.assign(c, T(0));
  saved.inv_std.assign(c, T(0));
  for (std::size_t j = 0; j < c; ++j) {
    const double shifted_mean = sums[j] / double(m);
    const double var_sum = std::max(0.0, sums[c + j] - double(m) * shifted_mean * shifted_mean);  // Σ(x - mean)²
    saved.mean[j] = static_cast<T>(double(x0[j]) + shifted_mean);
    const T biased = static_cast<T>(var_sum / double(m));
    saved.inv_std[j] = T(1) / std::sqrt(biased + p.eps);
    if (p.running_mean) {
      const T unbiased = m > 1 ? static_cast<T>(var_sum / double(m - 1)) : biased;
      p.running_mean[j] = (T(1) - p.momentum) * p.running_mean[j] + p.momentum * saved.mean[j];
      p.running_var[j] = (T(1) - p.momentum) * p.running_var[j] + p.momentum * unbiased;
    }
  }
}

/// Fixed row chunks for the channel sums: independent of the thread count.
inline std::size_t bn_chunk(std::size_t m) {
  return std::max<std::size_t>(64, (m + 31) / 32);
}
}  // namespace detail

template <class T>
void batch_norm_statistics_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p,
                                     batch_norm_saved<T>& saved) {
  // One pass: Σ(x - x0) and Σ(x - x0)² in double, shifted by the first row so that large
  // means do not cancel the variance away.
  std::vector<double> sums(2 * c, 0.0);
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < c; ++j) {
      const double d = double(x[r * c + j]) - double(x[j]);
      sums[j] += d;
      sums[c + j] += d * d;
    }
  detail::finish_statistics(m, c, x, sums.data(), p, saved);
}

template <class T>
void batch_norm_scale_shift(std::size_t c, const T* gamma, const T* beta, const batch_norm_saved<T>& saved, T* scale,
                            T* shift) {
  for (std::size_t j = 0; j < c; ++j) {
    scale[j] = saved.inv_std[j] * gamma[j];
    shift[j] = beta[j] - saved.mean[j] * scale[j];
  }
}

template <class T>
void batch_norm_train_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                                batch_norm_saved<T>& saved, activation act) {
  batch_norm_statistics_reference(m, c, x, p, saved);
  detail::with_activation(act, [&](auto f) {
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j)
        y[r * c + j] = f.value((x[r * c + j] - saved.mean[j]) * saved.inv_std[j] * p.gamma[j] + p.beta[j]);
  });
}

template <class T>
void batch_norm_backward_reference(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma, const T* beta,
                                   const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta, activation act) {
  const T* mean = saved.mean.data();
  const T* inv = saved.inv_std.data();
  detail::with_activation(act, [&](auto f) {
    auto xhat = [&](std::size_t r, std::size_t j) { return (x[r * c + j] - mean[j]) * inv[j]; };
    auto dz = [&](std::size_t r, std::size_t j) {
      return f.derivative(xhat(r, j) * gamma[j] + beta[j], dy[r * c + j]);
    };
    std::vector<T> sum_dz(c, T(0)), sum_dz_xhat(c, T(0));
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j) {
        sum_dz[j] += dz(r, j);
        sum_dz_xhat[j] += dz(r, j) * xhat(r, j);
      }
    for (std::size_t j = 0; j < c; ++j) {
      if (dgamma) dgamma[j] += sum_dz_xhat[j];
      if (dbeta) dbeta[j] += sum_dz[j];
    }
    if (!dx) return;
    const T inv_m = T(1) / T(m);
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j)
        dx[r * c + j] = gamma[j] * inv[j] * (dz(r, j) - inv_m * sum_dz[j] - xhat(r, j) * inv_m * sum_dz_xhat[j]);
  });
}

namespace detail {
/// A row-major M×C tensor read as one flat array in spans: a span is a whole number of rows
/// and of SIMD vectors (lcm(C, width) floats, repeated until it holds `min_floats`), so
/// per-channel constants replicated over one span line up with every span. Every channel
/// count then runs at full vector width (C = 72 on 16 lanes would otherwise leave 8 channels
/// per row to a scalar tail), and a span of several vectors gives the sums independent
/// accumulators (C = 16 would otherwise add each row into the same vector, a latency chain).
struct channel_span {
  std::size_t rows = 1, floats = 1;
  channel_span(std::size_t c, std::size_t width, std::size_t min_floats) {
    const std::size_t l = std::lcm(c, width);
    floats = l * std::max<std::size_t>(1, (min_floats + l - 1) / l);
    rows = floats / c;
  }
  /// `per_channel` [c] repeated over one span.
  template <class T>
  pooled_vector<T> replicate(std::size_t c, const T* per_channel) const {
    pooled_vector<T> out(floats);
    for (std::size_t t = 0; t < floats; ++t) out[t] = per_channel[t % c];
    return out;
  }
};

/// f(std::integral_constant<std::size_t, size>{}) for 1 <= size <= Max: one instantiation per size.
template <std::size_t Max, class F>
void with_group_size(std::size_t size, const F& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)((size == I + 1 ? (f(std::integral_constant<std::size_t, I + 1>{}), true) : false) || ...);
  }
  (std::make_index_sequence<Max>{});
}

/// Two per-channel sums over the rows, sums[0, c) and sums[c, 2c). add_vector(offset, t, s, q)
/// adds the contributions of the vector at flat index offset + t (slot t of the span that starts
/// at `offset`; slot t belongs to channel t mod c) into the accumulators s and q; add_row(r, f)
/// adds a single row r into the float slots f[0, c) and f[floats, floats + c), for the rows
/// after the last whole span.
///
/// The accumulators live in registers: a group of up to eight vectors of a span (four without
/// AVX-512's 32 registers) is summed down all spans of a block, then the next group. (Kept in
/// memory between spans, every addition waited on the store of the one before: 3x slower.) Each
/// block of 64 spans is flushed into double slots: float speed, double accuracy over long
/// columns, the same result on any thread count. `inputs`: the arrays add_vector reads, touched
/// in order first where several groups walk a block.
template <class Arch, class AddVector, class AddRow>
void span_channel_sums(std::size_t m, std::size_t c, const channel_span& span, double* sums,
                       std::initializer_list<const float*> inputs, const AddVector& add_vector, const AddRow& add_row) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t w = batch::size;
  const std::size_t n = span.floats, vectors = n / w;
  const std::size_t chunk = (bn_chunk(m) + span.rows - 1) / span.rows * span.rows;  // chunks start on a span
  const std::size_t block = span.rows * 64;
  // Groups as even as the register pairs allow (AVX-512's 32 registers: eight pairs; else four):
  // 9 vectors run as 3 + 3 + 3 on four, not 4 + 4 + 1. A span of one group is read in order.
  constexpr std::size_t max_group = w >= 16 ? 8 : 4;
  const std::size_t groups = (vectors + max_group - 1) / max_group;
  parallel::deterministic_sum<double>(m, chunk, 2 * c, sums, [&](std::size_t b, std::size_t e, double* acc) {
    pooled_vector<double> slots(2 * n, 0.0);
    auto flush = [&](std::size_t t, batch s, batch q) {
      alignas(64) float lanes[2 * w];
      s.store_aligned(lanes);
      q.store_aligned(lanes + w);
      for (std::size_t l = 0; l < w; ++l) {
        slots[t + l] += double(lanes[l]);
        slots[n + t + l] += double(lanes[w + l]);
      }
    };
    auto run_group = [&]<std::size_t G>(std::integral_constant<std::size_t, G>, std::size_t base, std::size_t spans,
                                        std::size_t t0) {
      batch s[G], q[G];
      for (std::size_t g = 0; g < G; ++g) s[g] = q[g] = batch(0.0f);
      for (std::size_t i = 0; i < spans; ++i)
        for (std::size_t g = 0; g < G; ++g) add_vector(base + i * n, t0 + g * w, s[g], q[g]);
      for (std::size_t g = 0; g < G; ++g) flush(t0 + g * w, s[g], q[g]);
    };
    for (std::size_t r0 = b; r0 < e; r0 += block) {
      const std::size_t r1 = std::min(e, r0 + block), spans = (r1 - r0) / span.rows;
      // Several groups walk the block's spans one group at a time, a stride of the span: the block
      // is brought in in order first (touch_in_order).
      if (groups > 1)
        for (const float* input : inputs) touch_in_order(input + r0 * c, static_cast<std::ptrdiff_t>((r1 - r0) * c));
      for (std::size_t g = 0, t0 = 0; g < groups; ++g) {
        const std::size_t size = (vectors - t0 / w) / (groups - g);  // the rest, spread evenly
        with_group_size<max_group>(size, [&](auto g) { run_group(g, r0 * c, spans, t0); });
        t0 += size * w;
      }
      if (r0 + spans * span.rows < r1) {
        pooled_vector<float> f(2 * n, 0.0f);
        for (std::size_t r = r0 + spans * span.rows; r < r1; ++r) add_row(r, f.data());
        for (std::size_t t = 0; t < n; ++t) {
          slots[t] += double(f[t]);
          slots[n + t] += double(f[n + t]);
        }
      }
    }
    for (std::size_t q = 0; q < n; q += c)
      for (std::size_t j = 0; j < c; ++j) {
        acc[j] += slots[q + j];
        acc[c + j] += slots[n + q + j];
      }
  });
}

/// In parallel, span(offset) for every whole span (offset = its first flat index), then
/// row(r) for the rows after the last one; tasks of about 8 K floats.
template <class Span, class Row>
void for_spans(std::size_t m, const channel_span& span, const Span& each_span, const Row& row) {
  const std::size_t spans = m / span.rows;
  parallel::for_chunks(spans, std::max<std::size_t>(1, 8192 / span.floats), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) each_span(i * span.floats);
  });
  for (std::size_t r = spans * span.rows; r < m; ++r) row(r);
}

/// The SIMD passes over channel spans. Each `*_span` loop is whole vectors; the per-channel
/// constants are spans too (channel_span::replicate), indexed like the data.
struct bn_kernels {
  static constexpr std::size_t min_span_vectors = 4;
  // The streaming passes: spans of at least 8 vectors, so that the per-span work outweighs the call.
  static constexpr std::size_t streaming_span_vectors = 8;

  /// dz = act'(z)·dy at flat index t of a span, z = x·scale + shift recomputed from x.
  template <class Act, class Batch>
  static Batch pre_activation_gradient(Batch xv, const float* dy, const float* scale, const float* shift,
                                       std::size_t t) {
    return Act::derivative(xsimd::fma(xv, Batch::load_unaligned(scale + t), Batch::load_unaligned(shift + t)),
                           Batch::load_unaligned(dy + t));
  }

  // Σ(x - x0), Σ(x - x0)² per channel (x0: the first row, so large means do not cancel the variance).
  template <class Arch>
  void statistics(Arch, std::size_t m, std::size_t c, const float* x, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, min_span_vectors * w);
    const auto x0 = span.replicate(c, x);
    const std::size_t n = span.floats;
    span_channel_sums<Arch>(
        m, c, span, sums, {x},
        [&, x0 = x0.data()](std::size_t offset, std::size_t t, batch& s, batch& q) {
          const batch d = batch::load_unaligned(x + offset + t) - batch::load_unaligned(x0 + t);
          s += d;
          q = xsimd::fma(d, d, q);
        },
        [&](std::size_t r, float* f) {
          for (std::size_t j = 0; j < c; ++j) {
            const float d = x[r * c + j] - x[j];
            f[j] += d;
            f[n + j] += d * d;
          }
        });
  }

  // y = act(x·scale + shift).
  template <class Arch, class Act>
  void normalise(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* scale, const float* shift,
                 float* y) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, streaming_span_vectors * w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift);
    // Pointers and sizes captured by value: through a reference, every store to `out` could
    // change them as far as the compiler knows, and they were reloaded per vector.
    for_spans(
        m, span,
        [x, y, sc = sc.data(), sh = sh.data(), n = span.floats](std::size_t offset) {
          const float* in = x + offset;
          float* out = y + offset;
          for (std::size_t t = 0; t < n; t += w)
            Act::value(
                xsimd::fma(batch::load_unaligned(in + t), batch::load_unaligned(sc + t), batch::load_unaligned(sh + t)))
                .store_unaligned(out + t);
        },
        [&](std::size_t r) {
          for (std::size_t j = 0; j < c; ++j) y[r * c + j] = Act::value(x[r * c + j] * scale[j] + shift[j]);
        });
  }

  // Σdz and Σdz·x̂, dz = act'(z)·dy, z = x·scale + shift, x̂ = x·inv + nmi (nmi = -mean·inv).
  template <class Arch, class Act>
  void gradient_sums(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                     const float* shift, const float* inv, const float* nmi, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, min_span_vectors * w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift), iv = span.replicate(c, inv),
               nm = span.replicate(c, nmi);
    const std::size_t n = span.floats;
    span_channel_sums<Arch>(
        m, c, span, sums, {x, dy},
        [&, sc = sc.data(), sh = sh.data(), iv = iv.data(), nm = nm.data()](std::size_t offset, std::size_t t, batch& s,
                                                                            batch& q) {
          const batch xv = batch::load_unaligned(x + offset + t);
          const batch dz = pre_activation_gradient<Act>(xv, dy + offset, sc, sh, t);
          const batch xhat = xsimd::fma(xv, batch::load_unaligned(iv + t), batch::load_unaligned(nm + t));
          s += dz;
          q = xsimd::fma(dz, xhat, q);
        },
        [&](std::size_t r, float* f) {
          for (std::size_t j = 0; j < c; ++j) {
            const float xv = x[r * c + j], dz = Act::derivative(xv * scale[j] + shift[j], dy[r * c + j]);
            f[j] += dz;
            f[n + j] += dz * (xv * inv[j] + nmi[j]);
          }
        });
  }

  // dx = k1·dz + x·kx + k0 (the BN backward formula with its per-channel constants folded).
  template <class Arch, class Act>
  void input_gradient(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                      const float* shift, const float* k1, const float* kx, const float* k0, float* dx) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, streaming_span_vectors * w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift), c1 = span.replicate(c, k1),
               cx = span.replicate(c, kx), c0 = span.replicate(c, k0);
    for_spans(
        m, span,
        [x, dy, dx, sc = sc.data(), sh = sh.data(), c1 = c1.data(), cx = cx.data(), c0 = c0.data(),
         n = span.floats](std::size_t offset) {  // by value, as in normalise
          const float* xs = x + offset;
          const float* gs = dy + offset;
          float* out = dx + offset;
          for (std::size_t t = 0; t < n; t += w) {
            const batch xv = batch::load_unaligned(xs + t);
            const batch dz = pre_activation_gradient<Act>(xv, gs, sc, sh, t);
            xsimd::fma(batch::load_unaligned(c1 + t), dz,
                       xsimd::fma(xv, batch::load_unaligned(cx + t), batch::load_unaligned(c0 + t)))
                .store_unaligned(out + t);
          }
        },
        [&](std::size_t r) {
          for (std::size_t j = 0; j < c; ++j) {
            const float xv = x[r * c + j], dz = Act::derivative(xv * scale[j] + shift[j], dy[r * c + j]);
            dx[r * c + j] = k1[j] * dz + xv * kx[j] + k0[j];
          }
        });
  }
};

struct bn_infer_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const float* scale, const float* shift,
                  float* y, activation act) const {
    with_activation(act, [&](auto f) { bn_kernels{}.normalise(arch, f, m, c, x, scale, shift, y); });
  }
};

struct bn_statistics_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p,
                  batch_norm_saved<float>& saved) const {
    pooled_vector<double> sums(2 * c, 0.0);
    bn_kernels{}.statistics(arch, m, c, x, sums.data());
    finish_statistics(m, c, x, sums.data(), p, saved);
  }
};

struct bn_train_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p, float* y,
                  batch_norm_saved<float>& saved, activation act) const {
    bn_statistics_kernel{}(arch, m, c, x, p, saved);
    pooled_vector<float> scale(c), shift(c);
    batch_norm_scale_shift(c, p.gamma, p.beta, saved, scale.data(), shift.data());
    with_activation(act, [&](auto f) { bn_kernels{}.normalise(arch, f, m, c, x, scale.data(), shift.data(), y); });
  }
};

/// γ's and β's gradients from BN's backward sums (sums[0, c): Σdz, sums[c, 2c): Σdz·x̂), added.
inline void add_affine_gradients(std::size_t c, const double* sums, float* dgamma, float* dbeta) {
  for (std::size_t j = 0; j < c; ++j) {
    if (dgamma) dgamma[j] += static_cast<float>(sums[c + j]);
    if (dbeta) dbeta[j] += static_cast<float>(sums[j]);
  }
}

/// BN's input gradient dx = γ·inv·(dz − Σdz/m − x̂·Σdz·x̂/m), x̂ = x·inv − mean·inv, as
/// dx = k1·dz + kx·x + k0 per channel: the constants from the sums (as above).
inline void input_gradient_constants(std::size_t m, std::size_t c, const float* gamma,
                                     const batch_norm_saved<float>& saved, const double* sums, float* k1, float* kx,
                                     float* k0) {
  const float* inv = saved.inv_std.data();
  for (std::size_t j = 0; j < c; ++j) {
    const double a = double(gamma[j]) * inv[j], mean_dz = sums[j] / double(m), mean_dzx = sums[c + j] / double(m);
    k1[j] = static_cast<float>(a);
    kx[j] = static_cast<float>(-a * mean_dzx * inv[j]);
    k0[j] = static_cast<float>(-a * mean_dz + a * mean_dzx * saved.mean[j] * inv[j]);
  }
}

struct bn_backward_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const float* dy, const float* gamma,
                  const float* beta, const batch_norm_saved<float>& saved, float* dx, float* dgamma, float* dbeta,
                  activation act) const {
    pooled_vector<float> scale(c), shift(c), nmi(c);
    const float* inv = saved.inv_std.data();
    batch_norm_scale_shift(c, gamma, beta, saved, scale.data(), shift.data());
    for (std::size_t j = 0; j < c; ++j) nmi[j] = -saved.mean[j] * inv[j];
    pooled_vector<double> sums(2 * c, 0.0);
    with_activation(act, [&](auto f) {
      bn_kernels{}.gradient_sums(arch, f, m, c, x, dy, scale.data(), shift.data(), inv, nmi.data(), sums.data());
    });
    add_affine_gradients(c, sums.data(), dgamma, dbeta);
    if (!dx) return;
    pooled_vector<float> k1(c), kx(c), k0(c);
    input_gradient_constants(m, c, gamma, saved, sums.data(), k1.data(), kx.data(), k0.data());
    with_activation(act, [&](auto f) {
      bn_kernels{}.input_gradient(arch, f, m, c, x, dy, scale.data(), shift.data(), k1.data(), kx.data(), k0.data(),
                                  dx);
    });
  }
};
}  // namespace detail

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void batch_norm_train(std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p,
                                     float* y, batch_norm_saved<float>& saved, activation act) {
  dispatch(detail::bn_train_kernel{}, m, c, x, p, y, saved, act);
}
#endif

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void batch_norm_statistics(std::size_t m, std::size_t c, const float* x,
                                          const batch_norm_params<float>& p, batch_norm_saved<float>& saved) {
  dispatch(detail::bn_statistics_kernel{}, m, c, x, p, saved);
}
#endif

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void batch_norm_backward(std::size_t m, std::size_t c, const float* x, const float* dy,
                                        const float* gamma, const float* beta, const batch_norm_saved<float>& saved,
                                        float* dx, float* dgamma, float* dbeta, activation act) {
  dispatch(detail::bn_backward_kernel{}, m, c, x, dy, gamma, beta, saved, dx, dgamma, dbeta, act);
}
#endif

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void batch_norm_normalise(std::size_t m, std::size_t c, const float* x, const float* scale,
                                         const float* shift, float* y, activation act) {
  dispatch(detail::bn_infer_kernel{}, m, c, x, scale, shift, y, act);
}
#endif

template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y, activation act) {
  pooled_vector<T> scale(c), shift(c);
  for (std::size_t j = 0; j < c; ++j) {
    scale[j] = p.gamma[j] / std::sqrt(p.running_var[j] + p.eps);
    shift[j] = p.beta[j] - p.running_mean[j] * scale[j];
  }
  if constexpr (std::is_same_v<T, float>) {  // the training forward's normalising pass
    batch_norm_normalise(m, c, x, scale.data(), shift.data(), y, act);
  } else {
    detail::with_activation(act, [&](auto f) {
      for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < c; ++j) y[r * c + j] = f.value(x[r * c + j] * scale[j] + shift[j]);
    });
  }
}

template <class T>
void fold_batch_norm(std::size_t out_channels, std::size_t taps, T* weight, std::size_t channel_stride,
                     std::size_t tap_stride, const batch_norm_params<T>& p, T* bias) {
  for (std::size_t o = 0; o < out_channels; ++o) {
    const T scale = p.gamma[o] / std::sqrt(p.running_var[o] + p.eps);
    for (std::size_t i = 0; i < taps; ++i) weight[o * channel_stride + i * tap_stride] *= scale;
    bias[o] = p.beta[o] - p.running_mean[o] * scale;
  }
}

}  // namespace ofa::kernels
