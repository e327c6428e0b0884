#pragma once
/// @file
/// Activations, forward and backward: ReLU, ReLU6, h-swish x·relu6(x+3)/6 and
/// h-sigmoid relu6(x+3)/6 (MobileNetV3). Elementwise: 1-4 FLOPs and 8-12
/// bytes per element, memory-bound; vectorised with xsimd, parallel in chunks.

#include <algorithm>
#include <cstddef>
#include <type_traits>  // is_arithmetic_v
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/space/activation.hpp"

namespace ofa::kernels {

/** @brief y = act(x). Reference, any T. */
template <class T>
void activation_forward_reference(activation act, std::size_t n, const T* x, T* y);
/** @brief dx = dy · act'(x) (overwrites dx). Reference, any T. */
template <class T>
void activation_backward_reference(activation act, std::size_t n, const T* x, const T* dy, T* dx);
/** @brief h-sigmoid forward/backward (SE gates). Reference, any T. */
template <class T>
void hsigmoid_forward_reference(std::size_t n, const T* x, T* y);
template <class T>
void hsigmoid_backward_reference(std::size_t n, const T* x, const T* dy, T* dx);

/** @brief Fast float versions. */
OFA_KERNEL_API void activation_forward(activation act, std::size_t n, const float* x, float* y);
OFA_KERNEL_API void activation_backward(activation act, std::size_t n, const float* x, const float* dy, float* dx);
OFA_KERNEL_API void hsigmoid_forward(std::size_t n, const float* x, float* y);
OFA_KERNEL_API void hsigmoid_backward(std::size_t n, const float* x, const float* dy, float* dx);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
// One formula per function, written once for scalars and SIMD batches alike.
template <class V>
V relu_f(V x) {
  using std::max;
  using xsimd::max;
  return max(x, V(0));
}
template <class V>
V relu_d(V x, V g) {
  return xsimd::select(x > V(0), g, V(0));
}
template <class V>
V relu6_f(V x) {
  using std::max;
  using std::min;
  using xsimd::max;
  using xsimd::min;
  return min(max(x, V(0)), V(6));
}
template <class V>
V relu6_d(V x, V g) {
  return xsimd::select((x > V(0)) && (x < V(6)), g, V(0));
}
template <class V>
V hsig_f(V x) {
  using std::max;
  using std::min;
  using xsimd::max;
  using xsimd::min;
  return min(max(x + V(3), V(0)), V(6)) * V(1.0 / 6.0);
}
template <class V>
V hsig_d(V x, V g) {
  return xsimd::select((x > V(-3)) && (x < V(3)), g * V(1.0 / 6.0), V(0));
}
template <class V>
V hswish_f(V x) {
  return x * hsig_f(x);
}
template <class V>
V hswish_d(V x, V g) {
  return xsimd::select(x <= V(-3), V(0), xsimd::select(x >= V(3), g, g * (V(2) * x + V(3)) * V(1.0 / 6.0)));
}
// Scalar overloads of the two selects (xsimd::select takes batches).
inline float relu_d(float x, float g) {
  return x > 0 ? g : 0.0f;
}
inline double relu_d(double x, double g) {
  return x > 0 ? g : 0.0;
}
template <class T>
T relu6_d_s(T x, T g) {
  return (x > T(0) && x < T(6)) ? g : T(0);
}
template <class T>
T hsig_d_s(T x, T g) {
  return (x > T(-3) && x < T(3)) ? g / T(6) : T(0);
}
template <class T>
T hswish_d_s(T x, T g) {
  return x <= T(-3) ? T(0) : (x >= T(3) ? g : g * (T(2) * x + T(3)) / T(6));
}

template <class T>
T hsig_s(T x) {
  return std::min(std::max(x + T(3), T(0)), T(6)) / T(6);
}

// The activations as compile-time functors (value and derivative, for scalars and SIMD batches
// alike), for code that fuses an activation into another pass (batch norm's kernels, the fused
// batch norm + depthwise op's reference path): one instantiation per activation, no branch in
// the loops. The derivative is taken at the activation's input z.
struct act_none {
  template <class V>
  static V value(V z) {
    return z;
  }
  template <class V>
  static V derivative(V, V g) {
    return g;
  }
};
struct act_relu {
  template <class V>
  static V value(V z) {
    return relu_f(z);
  }
  template <class V>
  static V derivative(V z, V g) {
    if constexpr (std::is_arithmetic_v<V>)
      return z > V(0) ? g : V(0);
    else
      return relu_d(z, g);
  }
};
struct act_relu6 {
  template <class V>
  static V value(V z) {
    return relu6_f(z);
  }
  template <class V>
  static V derivative(V z, V g) {
    if constexpr (std::is_arithmetic_v<V>)
      return relu6_d_s(z, g);
    else
      return relu6_d(z, g);
  }
};
struct act_hswish {
  template <class V>
  static V value(V z) {
    if constexpr (std::is_arithmetic_v<V>)
      return z * hsig_s(z);
    else
      return hswish_f(z);
  }
  template <class V>
  static V derivative(V z, V g) {
    if constexpr (std::is_arithmetic_v<V>)
      return hswish_d_s(z, g);
    else
      return hswish_d(z, g);
  }
};
/// Calls f(functor) for `act`: one instantiation per activation, no branch in the loops.
template <class F>
void with_activation(activation act, const F& f) {
  switch (act) {
    case activation::relu:
      return f(act_relu{});
    case activation::relu6:
      return f(act_relu6{});
    case activation::hswish:
      return f(act_hswish{});
    case activation::none:
      return f(act_none{});
  }
}

/// act(v) for one scalar or SIMD batch, where the activation is known only at run time
/// (fused epilogues that branch once per vector, not once per element).
template <class V>
V apply_activation(activation act, V v) {
  switch (act) {
    case activation::relu:
      return act_relu::value(v);
    case activation::relu6:
      return act_relu6::value(v);
    case activation::hswish:
      return act_hswish::value(v);
    case activation::none:
      break;
  }
  return v;
}

struct unary_kernel {
  template <class Arch, class F, class G>
  void operator()(Arch, std::size_t n, const float* x, float* y, F simd_f, G scalar_f) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    parallel::for_chunks(n, 1 << 14, [&](std::size_t b, std::size_t e) {
      std::size_t i = b;
      for (; i + w <= e; i += w) simd_f(batch::load_unaligned(x + i)).store_unaligned(y + i);
      for (; i < e; ++i) y[i] = scalar_f(x[i]);
    });
  }
};
struct binary_kernel {
  template <class Arch, class F, class G>
  void operator()(Arch, std::size_t n, const float* x, const float* g, float* out, F simd_f, G scalar_f) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    parallel::for_chunks(n, 1 << 14, [&](std::size_t b, std::size_t e) {
      std::size_t i = b;
      for (; i + w <= e; i += w)
        simd_f(batch::load_unaligned(x + i), batch::load_unaligned(g + i)).store_unaligned(out + i);
      for (; i < e; ++i) out[i] = scalar_f(x[i], g[i]);
    });
  }
};
}  // namespace detail

template <class T>
void activation_forward_reference(activation act, std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = detail::apply_activation(act, x[i]);
}
template <class T>
void activation_backward_reference(activation act, std::size_t n, const T* x, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i)
    dx[i] = act == activation::relu     ? (x[i] > T(0) ? dy[i] : T(0))
            : act == activation::relu6  ? detail::relu6_d_s(x[i], dy[i])
            : act == activation::hswish ? detail::hswish_d_s(x[i], dy[i])
                                        : dy[i];
}
template <class T>
void hsigmoid_forward_reference(std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = detail::hsig_s(x[i]);
}
template <class T>
void hsigmoid_backward_reference(std::size_t n, const T* x, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = detail::hsig_d_s(x[i], dy[i]);
}

// Arch-generic lambdas: the batch type is deduced, so one dispatch covers every arch.
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void activation_forward(activation act, std::size_t n, const float* x, float* y) {
  switch (act) {
    case activation::relu:
      return dispatch(
          detail::unary_kernel{}, n, x, y, [](auto v) { return detail::relu_f(v); },
          [](float v) { return std::max(v, 0.0f); });
    case activation::relu6:
      return dispatch(
          detail::unary_kernel{}, n, x, y, [](auto v) { return detail::relu6_f(v); },
          [](float v) { return detail::relu6_f(v); });
    case activation::hswish:
      return dispatch(
          detail::unary_kernel{}, n, x, y, [](auto v) { return detail::hswish_f(v); },
          [](float v) { return v * detail::hsig_s(v); });
    case activation::none:
      std::copy(x, x + n, y);
      return;
  }
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void activation_backward(activation act, std::size_t n, const float* x, const float* dy, float* dx) {
  switch (act) {
    case activation::relu:
      return dispatch(
          detail::binary_kernel{}, n, x, dy, dx, [](auto v, auto g) { return detail::relu_d(v, g); },
          [](float v, float g) { return v > 0 ? g : 0.0f; });
    case activation::relu6:
      return dispatch(
          detail::binary_kernel{}, n, x, dy, dx, [](auto v, auto g) { return detail::relu6_d(v, g); },
          [](float v, float g) { return detail::relu6_d_s(v, g); });
    case activation::hswish:
      return dispatch(
          detail::binary_kernel{}, n, x, dy, dx, [](auto v, auto g) { return detail::hswish_d(v, g); },
          [](float v, float g) { return detail::hswish_d_s(v, g); });
    case activation::none:
      std::copy(dy, dy + n, dx);
      return;
  }
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void hsigmoid_forward(std::size_t n, const float* x, float* y) {
  dispatch(
      detail::unary_kernel{}, n, x, y, [](auto v) { return detail::hsig_f(v); },
      [](float v) { return detail::hsig_s(v); });
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void hsigmoid_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  dispatch(
      detail::binary_kernel{}, n, x, dy, dx, [](auto v, auto g) { return detail::hsig_d(v, g); },
      [](float v, float g) { return detail::hsig_d_s(v, g); });
}
#endif

}  // namespace ofa::kernels
