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

#include <xsimd/xsimd.hpp>

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

inline std::string active_arch_name() {
  return dispatch(detail::arch_namer{});
}

/** @brief True when the CPU runs every arch this translation unit was compiled for
 *  (tests built with -mavx512f skip on machines without it). */
inline bool cpu_runs_compiled_best() {
  using best = xsimd::default_arch;
  return best::version() <= xsimd::available_architectures().best;
}

}  // namespace ofa::kernels
