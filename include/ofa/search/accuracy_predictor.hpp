#pragma once
/// @file
/// The reference accuracy predictor: an MLP over the one-hot architecture
/// encoding (ofa::encode_arch), hidden layers of 400 with ReLU, and one linear
/// output added to a base accuracy (the mean of the training set), trained with
/// ofa's autograd and Adam on mean squared error. Prediction is const and takes
/// a batch, so the search can score a generation in one pass, from any thread.
///
/// Inference does not go through the tape: prepare() packs the weights once for the
/// GEMM micro-kernel (bias and ReLU fused into its stores), and the first layer,
/// whose input is one-hot, is a sum of the rows of the active features.
///
/// The network works in percentage points (the output is (top-1 - base) × 100):
/// targets of a few hundredths would make the initial output's scale (~1) a
/// hundred times too large. predict() returns a fraction, as the data set stores.
///
/// A predictor may be an ensemble (predictor_fit_options::ensemble): the first MLP fitted on every
/// pair, each other on a bootstrap resample from its own initialisation. It predicts their mean,
/// and their spread says how far to trust a prediction: members agree where the data pinned the
/// function down and part where a candidate lies away from every subnet they learned from, which
/// is where an evolutionary search climbs to when it trusts a single MLP.

#include <algorithm>  // min
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>  // iota
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/autograd/ops.hpp"
#include "ofa/autograd/tape.hpp"
#include "ofa/errors.hpp"
#include "ofa/io/checkpoint.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/nn/parameters.hpp"
#include "ofa/random.hpp"
#include "ofa/search/statistics.hpp"  // rmse, kendall_tau
#include "ofa/space/arch_encoding.hpp"
#include "ofa/train/optimizer.hpp"

namespace ofa::search {

/** @brief How the predictor is trained (the reference tutorial's values where it has them). */
struct predictor_fit_options {
  int epochs = 300;
  int batch_size = 256;
  double lr = 1e-3;
  double weight_decay = 3e-2;  ///< Adam's (L2) weight decay: the data sets are small (a few hundred subnets)
  std::uint64_t seed = 0;
  int ensemble = 1;  ///< MLPs: the first on every pair, each other on a bootstrap resample (seed + member)
};

/** @brief Predictions of an ensemble: each config's mean top-1 and the standard deviation of its
 *  members' (0 for a single MLP), both fractions. */
struct predictions {
  std::vector<double> top1, spread;
};

/** @brief What a predictor was fitted on, to judge its predictions by: the range of its training
 *  labels and its error on held-out subnets. Unknown (samples 0, NaN errors) for an imported one. */
struct predictor_domain {
  double lowest = std::numeric_limits<double>::quiet_NaN();         ///< least training top-1 (a fraction)
  double highest = std::numeric_limits<double>::quiet_NaN();        ///< greatest training top-1
  double held_out_rmse = std::numeric_limits<double>::quiet_NaN();  ///< on the held-out split at fit time
  std::size_t samples = 0;

  bool known() const noexcept { return samples > 0; }
  /** @brief Whether `top1` lies outside the labels it learned from: a prediction there is an
   *  extrapolation, and the search picks exactly where the predictor errs upwards. */
  bool extrapolates(double top1) const noexcept { return known() && (top1 > highest || top1 < lowest); }
  /** @brief The fitness a search gives a prediction: as it is within the labels, and below the
   *  best label by as much as it claims above it, so that evolution does not climb into the
   *  region where the predictor is least right. */
  double penalised(double top1) const noexcept { return known() && top1 > highest ? 2 * highest - top1 : top1; }
};

/// The most MLPs an ensemble averages (a bound for files read from outside, too).
inline constexpr int max_ensemble = 64;

template <class Space>
class accuracy_predictor {
 public:
  /** @brief A fresh predictor: `layers` hidden layers of `hidden` units, PyTorch's default
   *  (Kaiming-uniform) initialisation from `seed`. */
  explicit accuracy_predictor(int hidden = 400, int layers = 3, std::uint64_t seed = 0);

  /** @brief Predicted top-1 (a fraction) of each config, the members' mean; const and thread-safe. */
  std::vector<double> predict(std::span<const subnet_config<Space>> configs) const {
    return predict_with_spread(configs).top1;
  }
  double predict(const subnet_config<Space>& config) const { return predict(std::span(&config, 1))[0]; }
  /** @brief The members' mean and standard deviation for each config. */
  predictions predict_with_spread(std::span<const subnet_config<Space>> configs) const;
  /** @brief MLPs it averages: 1, or options.ensemble of its last fit. */
  int ensemble_size() const noexcept { return 1 + static_cast<int>(others_.size()); }

  /** @brief Trains on (config, top-1) pairs (options.ensemble MLPs); returns the final training
   *  RMSE of its mean prediction (a fraction). */
  double fit(std::span<const subnet_config<Space>> configs, std::span<const double> top1,
             const predictor_fit_options& options = {});

  double base_accuracy() const noexcept { return base_; }
  /** @brief The labels fit() learned from, and the held-out error set_held_out_rmse() recorded. */
  const predictor_domain& domain() const noexcept { return domain_; }
  void set_held_out_rmse(double rmse) { domain_.held_out_rmse = rmse; }
  int hidden() const noexcept { return hidden_; }
  /** @brief Whether every weight is a finite number (a diverged fit leaves NaNs). */
  bool all_finite() const;
  int layers() const noexcept { return static_cast<int>(weights_.size()) - 1; }

  /** @brief A `predictor` checkpoint with the space's signature. */
  void save(const std::string& path) const;
  /** @brief Loads a predictor saved for `Space`; another space's throws io_error naming both. */
  static accuracy_predictor load(const std::string& path);
  /** @brief A predictor of `layers` hidden layers of `hidden` units from its weights, by name
   *  ("layers.<l>.weight" [out][in], "layers.<l>.bias"; the output layer has no bias: its output,
   *  in percentage points, is added to `base`). Throws io_error naming `source` and what is wrong. */
  static accuracy_predictor from_weights(int hidden, int layers, double base,
                                         const std::map<std::string, tensor<float>>& weights,
                                         const std::string& source);

 private:
  autograd::variable<float> forward(const tensor<float>& encoded) const;
  /// This MLP's predictions alone (without the other members).
  std::vector<double> predict_own(std::span<const subnet_config<Space>> configs) const;
  tensor<float> encode(std::span<const subnet_config<Space>> configs) const;
  nn::state_list<float> state() const;
  /// The inference copies of the weights (after construction, fit and load).
  void prepare();

  int hidden_ = 0;
  double base_ = 0;
  predictor_domain domain_;
  std::vector<autograd::variable<float>> weights_, biases_;  // the output layer has no bias
  std::vector<float> first_rows_;                            // [encoding][hidden]: layer 0 transposed
  std::vector<kernels::packed_weights> packed_;              // layers 1 .. L-1
  std::vector<float> output_;                                // [hidden]
  std::vector<accuracy_predictor> others_;                   // an ensemble's other members
};

// ---------------------------------------------------------------------------
// implementation

template <class Space>
accuracy_predictor<Space>::accuracy_predictor(int hidden, int layers, std::uint64_t seed) : hidden_(hidden) {
  if (hidden < 1 || layers < 1)
    throw config_error("ofa::search::accuracy_predictor: " + std::to_string(layers) + " hidden layers of " +
                       std::to_string(hidden) + " units; both must be at least 1 (the reference: 3 of 400)");
  rng engine(seed);
  int in = static_cast<int>(arch_encoding_size<Space>());
  for (int l = 0; l <= layers; ++l) {
    const int out = l == layers ? 1 : hidden;
    // PyTorch's nn.Linear: weight and bias uniform in ±1/sqrt(fan_in).
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    auto w = nn::make_parameter<float>(shape_type{std::size_t(out), std::size_t(in)});
    for (auto& v : w.value()) v = engine.uniform(-bound, bound);
    weights_.push_back(w);
    if (l < layers) {
      auto b = nn::make_parameter<float>(shape_type{std::size_t(out)});
      for (auto& v : b.value()) v = engine.uniform(-bound, bound);
      biases_.push_back(b);
    }
    in = out;
  }
  prepare();
}

template <class Space>
void accuracy_predictor<Space>::prepare() {
  const std::size_t in = arch_encoding_size<Space>(), h = static_cast<std::size_t>(hidden_);
  first_rows_.assign(in * h, 0.0f);
  const float* w0 = weights_[0].value().data();
  for (std::size_t o = 0; o < h; ++o)
    for (std::size_t j = 0; j < in; ++j) first_rows_[j * h + o] = w0[o * in + j];
  packed_.clear();
  for (std::size_t l = 1; l + 1 < weights_.size(); ++l)
    packed_.push_back(kernels::pack_weights(weights_[l].value().data(), hidden_, hidden_, hidden_));
  output_.assign(weights_.back().value().data(), weights_.back().value().data() + h);
}

template <class Space>
tensor<float> accuracy_predictor<Space>::encode(std::span<const subnet_config<Space>> configs) const {
  const std::size_t n = arch_encoding_size<Space>();
  tensor<float> x(shape_type{configs.size(), n});
  for (std::size_t i = 0; i < configs.size(); ++i) encode_arch(configs[i], x.data() + i * n);
  return x;
}

template <class Space>
autograd::variable<float> accuracy_predictor<Space>::forward(const tensor<float>& encoded) const {
  autograd::variable<float> a(encoded);
  int in = static_cast<int>(encoded.shape()[1]);
  for (std::size_t l = 0; l < biases_.size(); ++l) {
    a = autograd::activate(autograd::linear(a, weights_[l], biases_[l], hidden_, in), activation::relu);
    in = hidden_;
  }
  return autograd::pointwise(a, weights_.back(), 1, in);
}

template <class Space>
predictions accuracy_predictor<Space>::predict_with_spread(std::span<const subnet_config<Space>> configs) const {
  predictions out{predict_own(configs), std::vector<double>(configs.size(), 0.0)};
  if (others_.empty()) return out;
  // Mean and variance over the members, accumulated one member at a time (Welford).
  std::vector<double> squares(configs.size(), 0.0);
  double members = 1;
  for (const auto& other : others_) {
    const auto own = other.predict_own(configs);
    ++members;
    for (std::size_t i = 0; i < own.size(); ++i) {
      const double delta = own[i] - out.top1[i];
      out.top1[i] += delta / members;
      squares[i] += delta * (own[i] - out.top1[i]);
    }
  }
  for (std::size_t i = 0; i < configs.size(); ++i) out.spread[i] = std::sqrt(squares[i] / (members - 1));
  return out;
}

template <class Space>
std::vector<double> accuracy_predictor<Space>::predict_own(std::span<const subnet_config<Space>> configs) const {
  if (configs.empty()) return {};
  const std::size_t m = configs.size(), h = static_cast<std::size_t>(hidden_), in = arch_encoding_size<Space>();
  pooled_vector<float> a(m * h), b(m * h);
  std::vector<float> code(in);
  const float* b0 = biases_[0].value().data();
  for (std::size_t i = 0; i < m; ++i) {
    encode_arch(configs[i], code.data());
    float* row = a.data() + i * h;
    std::copy_n(b0, h, row);
    for (std::size_t j = 0; j < in; ++j)
      if (code[j] != 0.0f) {
        const float* w = first_rows_.data() + j * h;
        for (std::size_t o = 0; o < h; ++o) row[o] += code[j] * w[o];
      }
    for (std::size_t o = 0; o < h; ++o) row[o] = std::max(row[o], 0.0f);
  }
  for (std::size_t l = 0; l < packed_.size(); ++l) {
    kernels::gemm_packed(static_cast<int>(m), a.data(), hidden_, packed_[l], 0.0f, b.data(), hidden_,
                         biases_[l + 1].value().data(), activation::relu);
    std::swap(a, b);
  }
  std::vector<double> out(m);
  for (std::size_t i = 0; i < m; ++i) {
    float y = 0;
    for (std::size_t o = 0; o < h; ++o) y += a[i * h + o] * output_[o];
    out[i] = base_ + double(y) / 100.0;
  }
  return out;
}

template <class Space>
nn::state_list<float> accuracy_predictor<Space>::state() const {
  nn::state_list<float> s;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    s.add("layers." + std::to_string(l) + ".weight", weights_[l]);
    if (l < biases_.size()) s.add("layers." + std::to_string(l) + ".bias", biases_[l], true);
  }
  return s;
}

template <class Space>
double accuracy_predictor<Space>::fit(std::span<const subnet_config<Space>> configs, std::span<const double> top1,
                                      const predictor_fit_options& o) {
  if (configs.size() != top1.size() || configs.size() < 2)
    throw config_error("ofa::search::accuracy_predictor::fit: " + std::to_string(configs.size()) + " configs and " +
                       std::to_string(top1.size()) + " accuracies; give at least two (config, top-1) pairs");
  if (o.epochs < 1 || o.batch_size < 1 || o.ensemble < 1 || o.ensemble > max_ensemble)
    throw config_error(
        "ofa::search::accuracy_predictor::fit: epochs, batch_size and ensemble must be at least 1 "
        "(ensemble at most " +
        std::to_string(max_ensemble) + ")");
  for (double t : top1)
    if (!(t >= 0 && t <= 1))
      throw config_error("ofa::search::accuracy_predictor::fit: top-1 " + std::to_string(t) +
                         " is not a fraction in [0, 1]; the data set stores fractions (0.91, not 91)");
  base_ = std::accumulate(top1.begin(), top1.end(), 0.0) / double(top1.size());
  domain_ = {*std::min_element(top1.begin(), top1.end()), *std::max_element(top1.begin(), top1.end()),
             std::numeric_limits<double>::quiet_NaN(), top1.size()};
  const tensor<float> x = encode(configs);
  const std::size_t n = configs.size(), width = x.shape()[1];

  auto params = state();
  train::adam_options ao;
  ao.weight_decay = o.weight_decay;
  train::adam opt(params, ao);
  train::local_reduction reduction;
  rng engine(o.seed);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto batch = static_cast<std::size_t>(o.batch_size);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    ofa::shuffle(order.begin(), order.end(), engine);
    for (std::size_t start = 0; start < n; start += batch) {
      const std::size_t m = std::min(batch, n - start);
      tensor<float> xb(shape_type{m, width}), yb(shape_type{m, std::size_t{1}});
      for (std::size_t i = 0; i < m; ++i) {
        const std::size_t row = order[start + i];
        std::copy_n(x.data() + row * width, width, xb.data() + i * width);
        yb.data()[i] = static_cast<float>((top1[row] - base_) * 100.0);
      }
      opt.zero_grad();
      auto loss = autograd::mse(forward(xb), yb);
      autograd::backward(loss);
      opt.reduce_gradients(reduction);
      opt.apply(o.lr);
    }
  }
  if (!all_finite())
    throw numeric_error("ofa::search::accuracy_predictor::fit: the fit diverged (its weights became non-finite); "
                        "lower the learning rate (--lr)");
  prepare();
  // The other members: each from its own initialisation, on a resample of the pairs with
  // replacement (the same number, about 63% of them distinct).
  others_.clear();
  for (int m = 1; m < o.ensemble; ++m) {
    const std::uint64_t seed = o.seed + 7919 * std::uint64_t(m);
    rng draw(seed);
    std::vector<subnet_config<Space>> resampled_configs;
    std::vector<double> resampled_top1;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t pick = draw.uniform_index(n);
      resampled_configs.push_back(configs[pick]);
      resampled_top1.push_back(top1[pick]);
    }
    accuracy_predictor member(hidden_, layers(), seed);
    predictor_fit_options own = o;
    own.ensemble = 1;
    own.seed = seed;
    member.fit(resampled_configs, resampled_top1, own);
    others_.push_back(std::move(member));
  }
  const auto fitted = predict(configs);
  return rmse(fitted, top1);
}

template <class Space>
bool accuracy_predictor<Space>::all_finite() const {
  for (const auto& p : state().parameters) {
    const auto& t = p.value.value();
    if (!std::all_of(t.data(), t.data() + t.size(), [](float v) { return std::isfinite(v); })) return false;
  }
  return std::isfinite(base_) &&
         std::all_of(others_.begin(), others_.end(), [](const accuracy_predictor& m) { return m.all_finite(); });
}

template <class Space>
void accuracy_predictor<Space>::save(const std::string& path) const {
  nlohmann::json meta{{"hidden", hidden_},
                      {"layers", layers()},
                      {"base_accuracy", base_},
                      {"encoding_size", arch_encoding_size<Space>()}};
  if (domain_.known()) {
    meta["fitted_on"] = {
        {"samples", domain_.samples}, {"lowest_top1", domain_.lowest}, {"highest_top1", domain_.highest}};
    if (std::isfinite(domain_.held_out_rmse)) meta["fitted_on"]["held_out_rmse"] = domain_.held_out_rmse;
  }
  std::vector<std::pair<std::string, const tensor<float>*>> tensors;
  for (const auto& p : state().parameters) tensors.emplace_back(p.name, &p.value.value());
  // An ensemble's other members: their own bases, their tensors under "ensemble.<m>.".
  const auto member_states = [&] {
    std::vector<nn::state_list<float>> states;
    for (const auto& m : others_) states.push_back(m.state());
    return states;
  }();
  if (!others_.empty()) {
    meta["ensemble"] = ensemble_size();
    meta["ensemble_bases"] = nlohmann::json::array();
    for (std::size_t m = 0; m < others_.size(); ++m) {
      meta["ensemble_bases"].push_back(others_[m].base_);
      for (const auto& p : member_states[m].parameters)
        tensors.emplace_back("ensemble." + std::to_string(m + 1) + "." + p.name, &p.value.value());
    }
  }
  io::save_checkpoint(path, io::checkpoint_kind::predictor, Space::signature(), meta.dump(), tensors);
}

template <class Space>
accuracy_predictor<Space> accuracy_predictor<Space>::load(const std::string& path) {
  const auto ckpt = io::load_checkpoint(path, io::checkpoint_kind::predictor, Space::signature());
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(ckpt.metadata);
  } catch (const nlohmann::json::exception& e) {
    throw io_error("ofa::search::accuracy_predictor::load: " + path + ": its metadata is not JSON (" + e.what() +
                   "); the file is damaged, fit the predictor again (ofa fit-predictor)");
  }
  // The sizes are checked against the tensors the file holds before anything is allocated.
  const auto bad = [&](const std::string& what) {
    throw io_error("ofa::search::accuracy_predictor::load: " + path + ": " + what +
                   "; the file is damaged or edited, fit the predictor again (ofa fit-predictor)");
  };
  const auto whole = [&](const char* key) {
    if (!meta.is_object() || !meta.contains(key) || !meta[key].is_number_integer()) bad(std::string("no whole '") + key + "'");
    return meta[key].get<std::int64_t>();
  };
  const std::int64_t hidden = whole("hidden"), layers = whole("layers");
  const std::int64_t members = meta.is_object() && meta.contains("ensemble") ? whole("ensemble") : 1;
  if (members < 1 || members > max_ensemble)
    bad("its ensemble of " + std::to_string(members) + " is not 1 to " + std::to_string(max_ensemble));
  const auto first = ckpt.tensors.find("layers.0.weight");
  if (first == ckpt.tensors.end() || first->second.dimension() != 2) bad("no 2-d layers.0.weight");
  if (hidden < 1 || layers < 1 || layers > 64 || hidden != std::int64_t(first->second.shape()[0]) ||
      ckpt.tensors.size() != std::size_t(members * (2 * layers + 1)))
    bad("its metadata (" + std::to_string(members) + " x " + std::to_string(layers) + " hidden layers of " +
        std::to_string(hidden) + " units) does not match its " + std::to_string(ckpt.tensors.size()) + " tensors");
  if (!meta.contains("base_accuracy") || !meta["base_accuracy"].is_number() ||
      !std::isfinite(meta["base_accuracy"].get<double>()) || std::fabs(meta["base_accuracy"].get<double>()) > 1)
    bad("its base_accuracy is not a top-1 fraction");
  auto p = from_weights(static_cast<int>(hidden), static_cast<int>(layers), meta["base_accuracy"].get<double>(),
                        ckpt.tensors, path);
  if (members > 1) {
    const auto& bases = meta.contains("ensemble_bases") ? meta["ensemble_bases"] : nlohmann::json();
    if (!bases.is_array() || bases.size() != std::size_t(members - 1)) bad("its ensemble_bases are not one a member");
    for (std::int64_t m = 1; m < members; ++m) {
      const auto& base = bases[std::size_t(m - 1)];
      if (!base.is_number() || !std::isfinite(base.get<double>()) || std::fabs(base.get<double>()) > 1)
        bad("its ensemble_bases are not top-1 fractions");
      const std::string prefix = "ensemble." + std::to_string(m) + ".";
      std::map<std::string, tensor<float>> own;
      for (const auto& [name, t] : ckpt.tensors)
        if (name.rfind(prefix, 0) == 0) own.emplace(name.substr(prefix.size()), t);
      p.others_.push_back(
          from_weights(static_cast<int>(hidden), static_cast<int>(layers), base.get<double>(), own, path));
    }
  }
  if (meta.contains("fitted_on")) {  // predictors fitted before it was recorded have none
    const auto& f = meta["fitted_on"];
    const auto fraction = [&](const char* key) {
      if (!f.is_object() || !f.contains(key) || !f[key].is_number() || !(std::fabs(f[key].get<double>()) <= 1))
        bad(std::string("its fitted_on.") + key + " is not a top-1 fraction");
      return f[key].get<double>();
    };
    if (!f.is_object() || !f.contains("samples") || !f["samples"].is_number_unsigned())
      bad("no whole fitted_on.samples");
    p.domain_.samples = f["samples"].get<std::size_t>();
    p.domain_.lowest = fraction("lowest_top1");
    p.domain_.highest = fraction("highest_top1");
    if (f.contains("held_out_rmse")) p.domain_.held_out_rmse = fraction("held_out_rmse");
    if (p.domain_.lowest > p.domain_.highest) bad("its fitted_on range is reversed");
  }
  return p;
}

template <class Space>
accuracy_predictor<Space> accuracy_predictor<Space>::from_weights(int hidden, int layers, double base,
                                                                  const std::map<std::string, tensor<float>>& weights,
                                                                  const std::string& source) {
  accuracy_predictor p(hidden, layers);
  p.base_ = base;
  for (auto& named : p.state().parameters) {
    const auto it = weights.find(named.name);
    if (it == weights.end() || it->second.shape() != named.value.value().shape())
      throw io_error("ofa::search::accuracy_predictor: " + source + " lacks " + named.name + " of shape " +
                     shape_string(named.value.value().shape()) + " (" + std::to_string(layers) +
                     " hidden layers of " + std::to_string(hidden) + " over this space's encoding of " +
                     std::to_string(arch_encoding_size<Space>()) + "); fit the predictor again");
    named.value.value() = it->second;
  }
  if (!p.all_finite())
    throw io_error("ofa::search::accuracy_predictor: " + source + ": some weights are NaN or infinite");
  p.prepare();
  return p;
}

}  // namespace ofa::search
