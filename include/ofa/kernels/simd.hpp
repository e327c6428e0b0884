#pragma once
/// @file
/// Which instruction sets the kernels are built for, and the one-time choice
/// among them. A kernel is a functor templated on an xsimd arch; dispatch()
/// calls the best one that was compiled in (compiler flags) and that the CPU
/// runs (checked once, at first use). Build with -march=native (the `bench`
/// preset, OFA_NATIVE) to get AVX-512 on a machine that has it.

#include <cstddef>
#include <string>
#include <type_traits>
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>  // masked loads and stores (xsimd 8 has none)
#endif

namespace ofa::kernels {

namespace detail {
template <class Out, class In>
struct filter_supported;
template <class... Out>
struct filter_supported<xsimd::arch_list<Out...>, xsimd::arch_list<>> {
  using type = xsimd::arch_list<Out...>;
};
template <class... Out, class A, class... Rest>
struct filter_supported<xsimd::arch_list<Out...>, xsimd::arch_list<A, Rest...>> {
  using type = typename filter_supported<
      std::conditional_t<A::supported(), xsimd::arch_list<Out..., A>, xsimd::arch_list<Out...>>,
      xsimd::arch_list<Rest...>>::type;
};
}  // namespace detail

/** @brief The instruction sets ofa's kernels target, best first: AVX-512, AVX2+FMA, SSE2. */
using candidate_archs = xsimd::arch_list<xsimd::avx512f, xsimd::fma3<xsimd::avx2>, xsimd::sse2>;
/** @brief Those among them that this translation unit was compiled for. */
using compiled_archs = typename detail::filter_supported<xsimd::arch_list<>, candidate_archs>::type;

/** @brief Calls kernel(Arch{}, args...) with the best compiled arch the CPU supports. */
template <class Kernel, class... Args>
decltype(auto) dispatch(const Kernel& kernel, Args&&... args) {
  // Kernels are stateless functors: the static copy made at first use is the choice, once.
  static auto dispatcher = xsimd::dispatch<compiled_archs>(Kernel{kernel});
  return dispatcher(std::forward<Args>(args)...);
}

/** @brief Name of the arch dispatch() uses on this CPU ("avx512f", "fma3<avx2>", "sse2"). */
namespace detail {
struct arch_namer {
  template <class Arch>
  std::string operator()(Arch) const {
    return Arch::name();
  }
};
}  // namespace detail

OFA_KERNEL_API std::string active_arch_name();

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API std::string active_arch_name() {
  return dispatch(detail::arch_namer{});
}
#endif

/** @brief The first `count` lanes of a vector, 0 < count <= width (the rest read as zero, and
 *  stay untouched in memory): a tile's last columns of a row without a scalar loop. Masked
 *  instructions with AVX-512 and AVX2, lanes through a buffer otherwise. */
template <class Arch>
xsimd::batch<float, Arch> load_first(const float* p, int count) {
  using batch = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
  if constexpr (batch::size == 16) return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1u), p);
#endif
#if defined(__AVX2__)
  if constexpr (batch::size == 8)
    return _mm256_maskload_ps(p,
                              _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
#endif
  alignas(64) float lanes[batch::size] = {};
  for (int l = 0; l < count; ++l) lanes[l] = p[l];
  return batch::load_aligned(lanes);
}
template <class Arch>
void store_first(xsimd::batch<float, Arch> v, float* p, int count) {
  using batch = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
  if constexpr (batch::size == 16) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1u), v);
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (batch::size == 8) {
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), v);
    return;
  }
#endif
  alignas(64) float lanes[batch::size];
  v.store_aligned(lanes);
  for (int l = 0; l < count; ++l) p[l] = lanes[l];
}

/** @brief Reads one float of every cache line of [p, p + floats), in order, and discards them;
 *  then `p` is in cache. Kernels that walk a row of NHWC pixels a channel vector at a time read
 *  it C floats apart, a stride of several lines, and the hardware prefetcher follows such a walk
 *  at well under half the rate of a sequential one (a 12 KiB row of 64 pixels × 48 channels: 27
 *  against 67 GB/s on two Zen 4 cores, bench/RESULTS.md). Touching the row in order first costs
 *  one load per line. */
inline void touch_in_order(const float* p, std::ptrdiff_t floats) {
  constexpr std::ptrdiff_t line = 64 / sizeof(float);
  float a = 0.0f, b = 0.0f;  // two chains: the loads, not the adds, set the pace
  std::ptrdiff_t i = 0;
  for (; i + line < floats; i += 2 * line) {
    a += p[i];
    b += p[i + line];
  }
  if (i < floats) a += p[i];
  [[maybe_unused]] volatile float keep = a + b;  // the loads happen
}

/** @brief Announces writes to every cache line of [p, p + floats), in order (a row a kernel is
 *  about to fill a channel vector at a time; see touch_in_order). */
inline void prepare_to_write(float* p, std::ptrdiff_t floats) {
  for (std::ptrdiff_t i = 0; i < floats; i += 64 / sizeof(float)) __builtin_prefetch(p + i, 1, 3);
}

/** @brief True when the CPU runs every arch this translation unit was compiled for
 *  (tests built with -mavx512f skip on machines without it). */
inline bool cpu_runs_compiled_best() {
  using best = xsimd::default_arch;
  return best::version() <= xsimd::available_architectures().best;
}

}  // namespace ofa::kernels
