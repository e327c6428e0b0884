#pragma once
/// @file
/// The host's single-precision FMA peak, measured: a calibrated loop of independent
/// fused multiply-adds in the widest vectors the CPU runs (AVX-512, AVX2+FMA, SSE2),
/// whatever instruction set the calling binary was compiled for, so that "% of peak"
/// means the machine's peak on every machine. The result is cached per CPU model.

#include <algorithm>
#include <chrono>
#include <cstdlib>  // getenv
#include <filesystem>
#include <fstream>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define OFA_FMA_PEAK_X86 1
#endif

namespace ofa::kernels {

/** @brief A core's FP32 FMA peak and the instructions that reached it. */
struct fma_peak {
  double gflops_per_core = 0;
  std::string instructions;  ///< "avx512f", "avx2+fma", "sse2" or "scalar"
};

/** @brief Measures one core's peak now (best of several runs of about 20 ms each). */
fma_peak measure_fma_peak();
/** @brief The peak of this CPU: the best cached for its model name ($XDG_CACHE_HOME/ofa or
 *  ~/.cache/ofa), else measured once and cached. */
fma_peak host_fma_peak();
/** @brief Measures now, adds the figure to the cache, and returns the best known for this CPU. */
fma_peak measure_and_cache_fma_peak();
/** @brief The best cached figure for this CPU (zero GFLOP/s when none). */
fma_peak cached_fma_peak();

// ---------------------------------------------------------------------------
// implementation

namespace detail {
// Twelve independent accumulators, named (an array may live in memory, and then the loop
// measures store forwarding): enough for an FMA latency of 4 to 6 cycles on two pipes.
#define OFA_FMA_PEAK_LOOP(V, SET1, STEP, ADD, STORE, LANES)                                                         \
  V c0 = SET1(0.0f), c1 = SET1(1e-3f), c2 = SET1(2e-3f), c3 = SET1(3e-3f), c4 = SET1(4e-3f), c5 = SET1(5e-3f),      \
    c6 = SET1(6e-3f), c7 = SET1(7e-3f), c8 = SET1(8e-3f), c9 = SET1(9e-3f), c10 = SET1(1e-2f), c11 = SET1(1.1e-2f); \
  const V a = SET1(0.999999f), b = SET1(1e-7f);                                                                     \
  for (long n = 0; n < iterations; ++n) {                                                                           \
    c0 = STEP(c0, a, b), c1 = STEP(c1, a, b), c2 = STEP(c2, a, b), c3 = STEP(c3, a, b);                             \
    c4 = STEP(c4, a, b), c5 = STEP(c5, a, b), c6 = STEP(c6, a, b), c7 = STEP(c7, a, b);                             \
    c8 = STEP(c8, a, b), c9 = STEP(c9, a, b), c10 = STEP(c10, a, b), c11 = STEP(c11, a, b);                         \
  }                                                                                                                 \
  V s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));                                          \
  s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));                                                                      \
  alignas(64) float lanes[LANES];                                                                                   \
  STORE(lanes, s);                                                                                                  \
  return lanes[0] + lanes[LANES - 1]

#if OFA_FMA_PEAK_X86
__attribute__((target("avx512f"))) inline float fma_loop_avx512(long iterations) {
  OFA_FMA_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_store_ps, 16);
}
__attribute__((target("avx2,fma"))) inline float fma_loop_avx2(long iterations) {
  OFA_FMA_PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_store_ps, 8);
}
inline __m128 sse2_step(__m128 c, __m128 a, __m128 b) {
  return _mm_add_ps(_mm_mul_ps(c, a), b);
}  // no FMA: 2 flops
inline float fma_loop_sse2(long iterations) {
  OFA_FMA_PEAK_LOOP(__m128, _mm_set1_ps, sse2_step, _mm_add_ps, _mm_store_ps, 4);
}
#endif
inline float scalar_set1(float v) {
  return v;
}
inline float scalar_step(float c, float a, float b) {
  return c * a + b;
}
inline float scalar_add(float x, float y) {
  return x + y;
}
inline void scalar_store(float* p, float v) {
  p[0] = v;
}
inline float fma_loop_scalar(long iterations) {
  OFA_FMA_PEAK_LOOP(float, scalar_set1, scalar_step, scalar_add, scalar_store, 1);
}
#undef OFA_FMA_PEAK_LOOP

/// GFLOP/s of `loop` (12 accumulators of `lanes` floats, 2 flops each per iteration).
template <class Loop>
double time_fma_loop(Loop loop, int lanes) {
  volatile float sink = 0;
  long iterations = 1 << 16;
  for (;;) {  // calibrate to about 20 ms
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + loop(iterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0.02 || iterations > (1L << 40)) break;
    iterations *= 2;
  }
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + loop(iterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * 12.0 * lanes * double(iterations) / s / 1e9);
  }
  return best;
}

inline std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown CPU";
}
}  // namespace detail

inline fma_peak measure_fma_peak() {
#if OFA_FMA_PEAK_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {detail::time_fma_loop(detail::fma_loop_avx512, 16), "avx512f"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {detail::time_fma_loop(detail::fma_loop_avx2, 8), "avx2+fma"};
  return {detail::time_fma_loop(detail::fma_loop_sse2, 4), "sse2"};
#else
  return {detail::time_fma_loop(detail::fma_loop_scalar, 1), "scalar"};
#endif
}

namespace detail {
inline std::filesystem::path fma_peak_cache() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return std::filesystem::path(xdg) / "ofa" / "fma_peak.txt";
  if (home && *home) return std::filesystem::path(home) / ".cache" / "ofa" / "fma_peak.txt";
  return {};
}
}  // namespace detail

inline fma_peak cached_fma_peak() {
  // "model<TAB>instructions<TAB>gflops" lines; the best for this model counts (a measurement
  // taken while the machine was busy reads low, never high).
  fma_peak best;
  const auto file = detail::fma_peak_cache();
  if (file.empty()) return best;
  const std::string model = detail::cpu_model_name();
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find('\t'), b = line.rfind('\t');
    if (a == std::string::npos || a == b || line.substr(0, a) != model) continue;
    try {
      const double g = std::stod(line.substr(b + 1));
      if (g > best.gflops_per_core) best = {g, line.substr(a + 1, b - a - 1)};
    } catch (...) {  // a damaged line: ignored
    }
  }
  return best;
}

inline fma_peak measure_and_cache_fma_peak() {
  const fma_peak measured = measure_fma_peak();
  const auto file = detail::fma_peak_cache();
  if (!file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    std::ofstream out(file, std::ios::app);
    if (out)
      out << detail::cpu_model_name() << '\t' << measured.instructions << '\t' << measured.gflops_per_core << '\n';
  }
  const fma_peak best = cached_fma_peak();
  return best.gflops_per_core > measured.gflops_per_core ? best : measured;
}

inline fma_peak host_fma_peak() {
  const fma_peak cached = cached_fma_peak();
  return cached.gflops_per_core > 0 ? cached : measure_and_cache_fma_peak();
}

}  // namespace ofa::kernels
