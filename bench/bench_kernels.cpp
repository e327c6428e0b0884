// Depthwise convolution forward/backward (k = 3, 5, 7; stride 1, 2) and one
// MBConv block forward + backward, at MobileNetV3 shapes. Counters: GFLOPS
// (analytic FLOPs / s) and GBps (compulsory bytes moved / s), so each figure can
// be set against the machine's FMA peak and memory bandwidth.
#include <benchmark/benchmark.h>

#include <vector>

#include <xsimd/xsimd.hpp>

#include <ofa/autograd/ops.hpp>
#include <ofa/kernels/depthwise.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/space/make_divisible.hpp>
#include <ofa/tensor/pool.hpp>

namespace ag = ofa::autograd;
using ofa::kernels::conv_shape;

namespace {
void set_counters(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GBps"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// {batch, size, channels}: mbv3 at resolution 128, batch 16: the first unit's expand (48 mid at
// 64x64, the smallest subnet), unit 1 (72 mid at 32x32), unit 2 (240 at 16x16), unit 4 (672 at 8x8)
conv_shape shape_of(const benchmark::State& state) {
  const int k = static_cast<int>(state.range(0)), stride = static_cast<int>(state.range(1)),
            hw = static_cast<int>(state.range(2)), c = static_cast<int>(state.range(3));
  return {16, hw, hw, c, k, stride};
}

void depthwise_args(benchmark::internal::Benchmark* b) {
  for (int k : {3, 5, 7})
    for (int stride : {1, 2})
      for (auto [hw, c] : {std::pair{64, 48}, std::pair{32, 72}, std::pair{16, 240}, std::pair{8, 672}})
        b->Args({k, stride, hw, c, 2});
  b->ArgNames({"k", "stride", "hw", "c", "threads"})->UseRealTime();
}
}  // namespace

static void bm_depthwise_forward(benchmark::State& state) {
  ofa::parallel::arena arena(static_cast<int>(state.range(4)));
  const auto s = shape_of(state);
  const std::size_t in_n = std::size_t(s.batch) * s.height * s.width * s.channels;
  const std::size_t out_n = std::size_t(s.batch) * s.out_height() * s.out_width() * s.channels;
  std::vector<float> in(in_n, 0.5f), out(out_n), w(49 * s.channels, 0.1f);
  const auto view = ofa::kernel_view<const float>::centre(w.data(), 7, s.channels, s.kernel, s.channels);
  for (auto _ : state) {
    ofa::kernels::depthwise_forward(s, in.data(), view, out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, 2.0 * out_n * s.kernel * s.kernel, 4.0 * (in_n + out_n));
}
BENCHMARK(bm_depthwise_forward)->Apply(depthwise_args);

static void bm_depthwise_backward(benchmark::State& state) {  // input and weight gradients
  ofa::parallel::arena arena(static_cast<int>(state.range(4)));
  const auto s = shape_of(state);
  const std::size_t in_n = std::size_t(s.batch) * s.height * s.width * s.channels;
  const std::size_t out_n = std::size_t(s.batch) * s.out_height() * s.out_width() * s.channels;
  std::vector<float> in(in_n, 0.5f), d_out(out_n, 0.25f), d_in(in_n), w(49 * s.channels, 0.1f),
      d_w(s.kernel * s.kernel * s.channels);
  const auto view = ofa::kernel_view<const float>::centre(w.data(), 7, s.channels, s.kernel, s.channels);
  for (auto _ : state) {
    ofa::kernels::depthwise_backward_input(s, d_out.data(), view, d_in.data());
    ofa::kernels::depthwise_backward_weight(s, in.data(), d_out.data(), d_w.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, 4.0 * out_n * s.kernel * s.kernel, 4.0 * (2 * in_n + 2 * out_n));
}
BENCHMARK(bm_depthwise_backward)->Apply(depthwise_args);

// Reading 1024 rows of 64 pixels × 48 channels (12.6 MB; four such tensors in turn, so that each
// comes from memory) as the depthwise kernels walk them: in order (walk 0), a channel vector at a
// time, 48 floats apart (walk 1), and touched in order first, then a channel vector at a time
// (walk 2, kernels::touch_in_order).
static void bm_row_walk(benchmark::State& state) {
  ofa::parallel::arena arena(2);
  constexpr std::size_t rows = 1024, pixels = 64, channels = 48, row = pixels * channels;
  std::vector<ofa::pooled_vector<float>> tensors;
  for (int i = 0; i < 4; ++i) tensors.emplace_back(rows * row, 1.0f);
  const int walk = static_cast<int>(state.range(0));
  std::size_t turn = 0;
  for (auto _ : state) {
    const float* t = tensors[turn++ % tensors.size()].data();
    ofa::parallel::for_chunks(rows, 16, [&](std::size_t begin, std::size_t end) {
      using batch = xsimd::batch<float>;
      constexpr std::size_t w = batch::size;
      batch sum[4] = {batch(0.0f), batch(0.0f), batch(0.0f), batch(0.0f)};  // four chains: loads set the pace
      for (std::size_t r = begin; r < end; ++r) {
        const float* p = t + r * row;
        if (walk == 0) {
          for (std::size_t i = 0; i < row; i += 4 * w)
            for (std::size_t j = 0; j < 4; ++j) sum[j] += batch::load_unaligned(p + i + j * w);
          continue;
        }
        if (walk == 2) ofa::kernels::touch_in_order(p, static_cast<std::ptrdiff_t>(row));
        for (std::size_t c0 = 0; c0 < channels; c0 += w)
          for (std::size_t x = 0; x < pixels; x += 4)
            for (std::size_t j = 0; j < 4; ++j) sum[j] += batch::load_unaligned(p + (x + j) * channels + c0);
      }
      benchmark::DoNotOptimize(sum);
    });
  }
  set_counters(state, 1.0 * rows * row, 4.0 * rows * row);
}
BENCHMARK(bm_row_walk)->Arg(0)->Arg(1)->Arg(2)->ArgName("walk")->UseRealTime();

// One elastic MBConv block of mbv3 (expand 1x1 + BN + act, depthwise + BN + act, [SE],
// project 1x1 + BN, residual), forward + backward on the tape.
static void bm_mbconv_block(benchmark::State& state) {
  ofa::parallel::arena arena(static_cast<int>(state.range(5)));
  const int hw = static_cast<int>(state.range(0)), in = static_cast<int>(state.range(1)),
            e = static_cast<int>(state.range(2)), k = static_cast<int>(state.range(3));
  const bool se = state.range(4) != 0;
  const int mid = in * e, se_mid = ofa::squeeze_excite_width(mid), batch = 16;
  auto param = [](ofa::shape_type shape, float v) {
    return ag::variable<float>(ofa::make_tensor<float>(shape, v), true);
  };
  auto x = ag::variable<float>(
      ofa::make_tensor<float>({std::size_t(batch), std::size_t(hw), std::size_t(hw), std::size_t(in)}, 0.3f));
  auto w1 = param({std::size_t(mid), std::size_t(in)}, 0.05f), w2 = param({7, 7, std::size_t(mid)}, 0.02f),
       w3 = param({std::size_t(in), std::size_t(mid)}, 0.05f);
  auto g1 = param({std::size_t(mid)}, 1.0f), b1 = param({std::size_t(mid)}, 0.0f), g2 = param({std::size_t(mid)}, 1.0f),
       b2 = param({std::size_t(mid)}, 0.0f), g3 = param({std::size_t(in)}, 1.0f), b3 = param({std::size_t(in)}, 0.0f);
  auto s1 = param({std::size_t(se_mid), std::size_t(mid)}, 0.05f), sb1 = param({std::size_t(se_mid)}, 0.0f),
       s2 = param({std::size_t(mid), std::size_t(se_mid)}, 0.05f), sb2 = param({std::size_t(mid)}, 0.0f);
  ofa::tensor<float> rm1 = ofa::make_tensor<float>({std::size_t(mid)}),
                     rv1 = ofa::make_tensor<float>({std::size_t(mid)}, 1.0f), rm2 = rm1, rv2 = rv1,
                     rm3 = ofa::make_tensor<float>({std::size_t(in)}),
                     rv3 = ofa::make_tensor<float>({std::size_t(in)}, 1.0f);
  const auto target = ofa::make_tensor<float>({std::size_t(batch * hw * hw * in)}, 0.1f);
  for (auto _ : state) {
    auto h =
        ag::activate(ag::batch_norm(ag::pointwise(x, w1, mid, in), g1, b1, rm1, rv1, true), ofa::activation::hswish);
    h = ag::activate(ag::batch_norm(ag::depthwise(h, w2, k, 1), g2, b2, rm2, rv2, true), ofa::activation::hswish);
    if (se) {
      auto s = ag::activate(ag::linear(ag::global_avg_pool(h), s1, sb1, se_mid, mid), ofa::activation::relu);
      h = ag::channel_scale(h, ag::hsigmoid(ag::linear(s, s2, sb2, mid, se_mid)));
    }
    auto y = ag::add(ag::batch_norm(ag::pointwise(h, w3, in, mid), g3, b3, rm3, rv3, true), x);
    auto loss = ag::dot(y, target);
    ag::backward(loss);
  }
  const double pixels = double(batch) * hw * hw;
  const double macs = pixels * (2.0 * in * mid + mid * k * k) + (se ? 2.0 * mid * se_mid * batch : 0.0);
  set_counters(state, 3 * 2 * macs, 0);  // forward + ~2x for backward
}
BENCHMARK(bm_mbconv_block)
    ->Args({32, 24, 6, 5, 0, 1})
    ->Args({32, 24, 6, 5, 0, 2})
    ->Args({16, 40, 6, 7, 1, 1})
    ->Args({16, 40, 6, 7, 1, 2})
    ->Args({8, 112, 6, 3, 1, 2})
    ->Args({4, 160, 4, 5, 1, 2})
    ->ArgNames({"hw", "in", "e", "k", "se", "threads"})
    ->UseRealTime();

BENCHMARK_MAIN();
