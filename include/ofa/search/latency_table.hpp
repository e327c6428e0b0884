#pragma once
/// @file
/// A latency look-up table of this CPU: every distinct layer of the space
/// (layer_table.hpp) timed as a static_net stage, inside random subnets, at a
/// given batch size and thread count, with its sample count, mean, spread and median, plus the fixed
/// overhead of a whole forward pass; a subnet's predicted latency is the sum of
/// its layers' medians plus that overhead, or, where it predicts better, a
/// scale-and-offset fit of that sum to the same networks timed whole. Saved as
/// JSON with the CPU, the instruction set and the thread count it was measured
/// with, so that a table of another machine is noticed.
///
/// Why medians: on a shared machine noise is one-sided (a layer is never
/// faster than it can be, often slower), and a median ignores the outliers a
/// mean would add to every subnet's sum.

#include <algorithm>  // sort, nth_element
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/detail/json_number.hpp"
#include "ofa/errors.hpp"
#include "ofa/io/write_atomically.hpp"
#include "ofa/kernels/fma_peak.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/nn/static_net.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/random.hpp"
#include "ofa/search/layer_table.hpp"
#include "ofa/search/statistics.hpp"  // kendall_tau
#include "ofa/space/sampling.hpp"

namespace ofa::search {

struct latency_options {
  int batch = 1;
  int threads = 1;      ///< 0: all cores
  int networks = 400;   ///< random subnets timed stage by stage (then one for each layer they missed)
  int repeats = 30;     ///< timed runs of every measured network
  int warmup = 5;       ///< untimed runs first
  std::uint64_t seed = 0;
  /// Measure at these input resolutions only (empty: every resolution of the space). A table for
  /// the one resolution a deployment runs at costs a 25th of the whole space's at 128-224.
  std::vector<int> resolutions;
};

/** @brief The samples of one layer, in milliseconds. */
struct latency_entry {
  std::size_t count = 0;
  double mean = 0, stddev = 0, median = 0;
};

template <class Space>
struct latency_table {
  layer_table<Space> table;            ///< scale × medians (ms) and the offset: what predictions sum
  std::vector<latency_entry> entries;  ///< per layer, as measured
  /// A layer's time depends on the network around it (a wide network evicts its weights from
  /// cache, a narrow one keeps them), so the sum of medians pooled over many networks can run
  /// high for small networks and low for large ones. The table's own networks, timed whole too,
  /// give whole ≈ scale · (sum of medians) + offset; the offset is table.overhead. The scale is
  /// 1 unless the fitted one predicted held-out networks better (detail::whole_network_model).
  double scale = 1;
  /// One scale and offset for each resolution, where fitting them apart predicted held-out networks
  /// better still (at batch 8 on one thread a single fit pooled over 24-32 left r = 24 11% low
  /// and r = 32 3% low). A layer's value is then scale · its resolution's scale · its median, and
  /// its resolution's offset (times scale) rides on the head, which every network has once.
  struct resolution_fit {
    int resolution = 0;
    double scale = 1, offset = 0;
  };
  std::vector<resolution_fit> resolution_fits;  ///< empty: one model for every resolution
  double fit_error = 0;  ///< root-mean-square relative miss of that model over the table's networks
  /// An adapted table's milliseconds per MAC (of its batch), added to each layer (adapt_latency_table).
  double per_mac_ms = 0;
  /// Median relative miss on held-out networks of the three models: the sum + overhead, the fit,
  /// and a fit per resolution (0 where the table was written before it, or has one resolution).
  double held_out_sum = 0, held_out_fit = 0, held_out_per_resolution = 0;
  /// The model its predictions use, in words.
  std::string model_name() const {
    return !resolution_fits.empty()      ? "scale-and-offset fit per resolution"
           : held_out_fit < held_out_sum ? "scale-and-offset fit"
                                         : "sum plus overhead";
  }
  std::string cpu, isa;
  int threads = 1, batch = 1;
  /// Where an adapted table came from (adapt_latency_table): the measured table's CPU, threads and
  /// batch, and the rms relative miss of the adaptation on its networks. Empty cpu: measured here.
  struct origin {
    std::string cpu;
    int threads = 0, batch = 0, networks = 0;
    double fit_error = 0;
  } adapted_from;
  /// The input resolutions it was measured at: every one of the space, or those asked for.
  std::vector<int> resolutions = all_resolutions();

  /** @brief Predicted milliseconds; a config at a resolution the table does not cover throws
   *  ofa::config_error (a table measured at 224 knows nothing of 160). */
  double operator()(const subnet_config<Space>& config) const {
    if (!covers(config.resolution))
      throw config_error("ofa::search::latency_table: the table was measured at resolution " + resolution_list() +
                         " only, not at " + std::to_string(config.resolution) +
                         "; search at those resolutions (ofa search does so with this table), or measure the "
                         "table with --resolutions including " +
                         std::to_string(config.resolution));
    return table(config);
  }
  bool covers(int resolution) const {
    return std::find(resolutions.begin(), resolutions.end(), resolution) != resolutions.end();
  }
  /// Whether it covers every resolution of the space (then searches need not be restricted).
  bool covers_space() const { return resolutions.size() == Space::resolution_set.size; }
  std::string resolution_list() const {
    std::string s;
    for (int r : resolutions) s += (s.empty() ? "" : ", ") + std::to_string(r);
    return s;
  }
  /// The fit of `resolution` (scale 1, offset 0 where there are none or it has none).
  const resolution_fit& fit_at(int resolution) const {
    static const resolution_fit none;
    for (const auto& f : resolution_fits)
      if (f.resolution == resolution) return f;
    return none;
  }
  static std::vector<int> all_resolutions() { return {Space::resolution_set.begin(), Space::resolution_set.end()}; }
  /** @brief table.values from the entries' medians, the scale and the resolutions' fits. */
  void apply_scale() {
    for (std::size_t l = 0; l < entries.size(); ++l) {
      table.values[l] = scale * entries[l].median;
      if (resolution_fits.empty()) continue;
      const auto& fit = fit_at(table.layers.key(l).resolution);
      table.values[l] *= fit.scale;
      if (table.layers.choice(l).what == layer_choice::part::head) table.values[l] += scale * fit.offset;
    }
    if (per_mac_ms == 0) return;
    const auto macs = macs_table<Space>();
    for (std::size_t l = 0; l < entries.size(); ++l) table.values[l] += per_mac_ms * macs.values[l] * batch;
  }

  nlohmann::json to_json() const;
  /** @brief Reads a table; `source` names it in messages. Another space's table throws. */
  static latency_table from_json(const nlohmann::json& j, const std::string& source);
  void save(const std::string& path) const;
  static latency_table load(const std::string& path);

  /** @brief Empty when the table fits this process (same CPU model, threads and batch), else
   *  a sentence saying what differs: the caller warns (a table of another machine still ranks
   *  subnets, but its milliseconds are not this machine's). */
  std::string mismatch(int threads_now, int batch_now) const;
};

/** @brief Times every distinct layer (progress(done, total) after each network). */
template <class Space>
latency_table<Space> measure_latency_table(const latency_options& options = {},
                                           const std::function<void(int, int)>& progress = {});

/** @brief How a table measured elsewhere is carried to this machine, threads and batch. */
struct latency_adapt_options {
  int networks = 10;  ///< random subnets timed whole here
  int repeats = 20;   ///< timed runs of each (the median is taken)
  int warmup = 5;
  int batch = 1;
  int threads = 1;  ///< 0: all cores
  std::uint64_t seed = 2;
};

/** @brief `other` (a table of another CPU, thread count or batch) carried here from a few
 *  whole-network timings. A layer's time has a part that follows the machine's speed and a part
 *  that follows its arithmetic (which grows with the batch, while per-layer overheads do not), so
 *  this machine's whole networks ≈ a · other's prediction + b · MACs · batch + c, fitted in
 *  relative least squares on `networks` random subnets at other's resolutions; the adapted layer
 *  values are a · other's + b · the layer's MACs · batch. Where the MACs term does not help on
 *  held-out networks it is left out (a · other + c). Its check (check_latency_table) says how well
 *  it holds. */
template <class Space>
latency_table<Space> adapt_latency_table(const latency_table<Space>& other, const latency_adapt_options& options = {},
                                         const std::function<void(int, int)>& progress = {});

/** @brief Median end-to-end forward latency (ms) of `net` on random images, at `batch`. */
template <class Space>
double measure_latency(const nn::static_net<Space>& net, int batch, int repeats, int warmup = 3,
                       std::uint64_t seed = 0);

/** @brief How a latency table is checked against end-to-end measurements. */
struct latency_check_options {
  int subnets = 100;  ///< random subnets
  int rounds = 6;     ///< passes over all of them; each subnet's samples come from every pass
  int repeats = 5;    ///< timed runs of a subnet in each pass
  int warmup = 5;     ///< untimed runs first, as many as the table had: the net was just rebuilt, and with
                      ///< several threads the first runs after that are slow (workers asleep, caches cold)
  int batch = 1;
  std::uint64_t seed = 1;
};

/** @brief Predicted against measured, per subnet, and what that says. */
template <class Space>
struct latency_check {
  std::vector<subnet_config<Space>> configs;
  std::vector<double> predicted, measured;      ///< ms; measured: the median of every timed run
  std::vector<double> first_half, second_half;  ///< ms: medians of the even and of the odd passes
  int within = 0;                               ///< subnets whose prediction is within ±10% of the measurement
  int repeatable = 0;  ///< subnets whose two halves agree within ±10%: the most this machine allows
  double median_error = 0, worst_error = 0;  ///< |predicted − measured| / measured
  /// Kendall's tau of the table's order against the measured one, and of one half of the passes
  /// against the other: how well the machine itself repeats an order, the most the table can reach.
  double tau = 0, halves_tau = 0;
};

/** @brief Measures random subnets end to end and compares them with `table` (progress(done, total)
 *  after each pass).
 *
 *  On a machine whose speed moves (a shared VM, turbo, other work), a subnet timed in one short
 *  burst measures the speed of that moment, not the speed the table averaged over its whole
 *  measurement. So every subnet is timed in each of several passes over all of them (its weights
 *  rebuilt from the same seed for each visit, so that a hundred networks need not stay in memory),
 *  and the two halves of the passes give a second, independent measurement: how often they agree
 *  is the repeatability of latency on this machine, the ceiling of any table's agreement. */
template <class Space>
latency_check<Space> check_latency_table(const latency_table<Space>& table, const latency_check_options& options = {},
                                         const std::function<void(int, int)>& progress = {});

/** @brief A static_net of `config` with random weights (latency does not depend on values;
 *  zeros could hit special cases, random values do not). */
template <class Space>
nn::static_net<Space> random_static_net(const subnet_config<Space>& config, std::uint64_t seed);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

inline latency_entry summarize(std::vector<double> samples) {
  latency_entry e;
  e.count = samples.size();
  if (samples.empty()) return e;
  double sum = 0;
  for (double s : samples) sum += s;
  e.mean = sum / double(samples.size());
  double var = 0;
  for (double s : samples) var += (s - e.mean) * (s - e.mean);
  e.stddev = samples.size() > 1 ? std::sqrt(var / double(samples.size() - 1)) : 0.0;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  e.median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  return e;
}

inline double median_of(std::vector<double> v) { return summarize(std::move(v)).median; }

struct linear_fit {
  double scale = 1, offset = 0, error = 0;
};

/// whole ≈ scale · sum + offset, least squares in relative terms (a 10% miss weighs the same on a
/// small network as on a large one), then again without the networks more than three robust
/// sigmas off (a burst of other work on the machine during one network's timing).
inline linear_fit fit_whole_to_sum(const std::vector<double>& sum, const std::vector<double>& whole) {
  linear_fit f;
  if (sum.empty()) return f;
  if (sum.size() == 1) {
    f.offset = whole[0] - sum[0];
    return f;
  }
  std::vector<bool> use(sum.size(), true);
  auto solve = [&] {
    // Minimise Σ ((s·x + b − y) / y)²: weighted least squares with weights 1/y².
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < sum.size(); ++i) {
      if (!use[i]) continue;
      const double w = 1 / (whole[i] * whole[i]), x = sum[i], y = whole[i];
      sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
    }
    const double det = sw * sxx - sx * sx;
    if (std::abs(det) <= 1e-12 * sw * sxx) {  // every network the same size: a shift only
      f.scale = 1;
      f.offset = (sy - sx) / sw;
    } else {
      f.scale = (sw * sxy - sx * sy) / det;
      f.offset = (sy - f.scale * sx) / sw;
    }
  };
  auto relative = [&](std::size_t i) { return (f.scale * sum[i] + f.offset - whole[i]) / whole[i]; };
  solve();
  std::vector<double> miss;
  for (std::size_t i = 0; i < sum.size(); ++i) miss.push_back(std::abs(relative(i)));
  const double sigma = 1.4826 * median_of(miss);
  for (std::size_t i = 0; i < sum.size(); ++i) use[i] = std::abs(relative(i)) <= 3 * sigma || sigma == 0;
  solve();
  double squares = 0;
  for (std::size_t i = 0; i < sum.size(); ++i) squares += relative(i) * relative(i);
  f.error = std::sqrt(squares / double(sum.size()));
  return f;
}

/// The adaptation's model: measured ≈ scale · predicted + per_mac · macs + offset.
struct macs_fit {
  double scale = 1, per_mac = 0, offset = 0, error = 0;
};

/// Relative least squares of measured on (predicted, macs, 1), robust as fit_whole_to_sum; with
/// the MACs term only where it helps on held-out networks (leave-one-out) and keeps every
/// coefficient positive, else scale and offset alone.
inline macs_fit fit_with_macs(const std::vector<double>& predicted, const std::vector<double>& macs,
                              const std::vector<double>& measured) {
  const std::size_t n = predicted.size();
  auto solve = [&](const std::vector<bool>& use) {  // 3x3 normal equations, weights 1/y²
    double a[3][4] = {};
    for (std::size_t i = 0; i < n; ++i) {
      if (!use[i]) continue;
      const double w = 1 / (measured[i] * measured[i]), x[3] = {predicted[i], macs[i], 1.0};
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) a[r][c] += w * x[r] * x[c];
        a[r][3] += w * x[r] * measured[i];
      }
    }
    for (int col = 0; col < 3; ++col) {  // Gaussian elimination with partial pivoting
      int pivot = col;
      for (int r = col + 1; r < 3; ++r)
        if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
      for (int c = 0; c < 4; ++c) std::swap(a[col][c], a[pivot][c]);
      if (std::abs(a[col][col]) < 1e-300) return macs_fit{0, 0, 0, 0};
      for (int r = 0; r < 3; ++r) {
        if (r == col) continue;
        const double f = a[r][col] / a[col][col];
        for (int c = col; c < 4; ++c) a[r][c] -= f * a[col][c];
      }
    }
    return macs_fit{a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2], 0};
  };
  auto miss = [&](const macs_fit& f, std::size_t i) {
    return std::abs(f.scale * predicted[i] + f.per_mac * macs[i] + f.offset - measured[i]) / measured[i];
  };
  const auto plain = [&](const std::vector<bool>& use) {
    std::vector<double> p, m;
    for (std::size_t i = 0; i < n; ++i)
      if (use[i]) p.push_back(predicted[i]), m.push_back(measured[i]);
    const auto f = fit_whole_to_sum(p, m);
    return macs_fit{f.scale, 0, f.offset, 0};
  };
  // Leave-one-out misses of both models.
  double with = 0, without = 0;
  for (std::size_t i = 0; i < n && n >= 5; ++i) {
    std::vector<bool> use(n, true);
    use[i] = false;
    const auto f = solve(use);
    with += (f.scale > 0 && f.per_mac >= 0) ? miss(f, i) : std::numeric_limits<double>::infinity();
    without += miss(plain(use), i);
  }
  const std::vector<bool> all(n, true);
  auto chosen = n >= 5 && with < without ? solve(all) : plain(all);
  double squares = 0;
  for (std::size_t i = 0; i < n; ++i) squares += miss(chosen, i) * miss(chosen, i);
  chosen.error = std::sqrt(squares / double(n));
  return chosen;
}

/// The model a table predicts whole networks with, chosen on networks it was not fitted to.
struct whole_model {
  double scale = 1, offset = 0;
  /// (resolution, fit) where a fit per resolution was chosen; empty otherwise.
  std::vector<std::pair<int, linear_fit>> by_resolution;
  double error = 0;  ///< rms relative miss over all networks
  /// Median relative miss of each model, held out (per resolution: 0 where there is one resolution).
  double held_out_sum = 0, held_out_fit = 0, held_out_per_resolution = 0;
};

/// Below this many networks at a resolution, its fit is the pooled one (two parameters from two or
/// three noisy networks would follow the noise).
inline constexpr std::size_t networks_per_resolution_fit = 6;

/// Either the sum of the layers plus the median overhead, or the scale-and-offset fit. On a quiet
/// machine the fit corrects what pooling leaves (small networks high, large ones low); on one whose
/// speed drifts while the table is measured it fits the drift and extrapolates badly (seen: a 1.4×
/// scale with a −0.67 ms offset that predicted 0.2 ms for the smallest subnet). So each model is
/// fitted on the even networks and judged on the odd ones and the other way round, and the fit is
/// kept only when it misses the held-out networks by less. Where the networks span several
/// resolutions (`resolution[i]`: network i's), a fit per resolution is the third candidate, judged
/// the same way.
inline whole_model whole_network_model(const std::vector<double>& sum, const std::vector<double>& whole,
                                       const std::vector<int>& resolution = {}) {
  auto shift_of = [&](const std::vector<std::size_t>& on) {
    std::vector<double> d;
    for (auto i : on) d.push_back(whole[i] - sum[i]);
    return linear_fit{1, d.empty() ? 0.0 : median_of(d), 0};
  };
  auto fit_of = [&](const std::vector<std::size_t>& on) {
    std::vector<double> s, w;
    for (auto i : on) s.push_back(sum[i]), w.push_back(whole[i]);
    return fit_whole_to_sum(s, w);
  };
  auto misses = [&](const linear_fit& f, const std::vector<std::size_t>& on, std::vector<double>& into) {
    for (auto i : on) into.push_back(std::abs(f.scale * sum[i] + f.offset - whole[i]) / whole[i]);
  };
  // A fit for each resolution among `on`, the pooled one where a resolution has too few networks.
  using per_resolution = std::vector<std::pair<int, linear_fit>>;
  auto fits_of = [&](const std::vector<std::size_t>& on) {
    std::map<int, std::vector<std::size_t>> groups;
    for (auto i : on) groups[resolution[i]].push_back(i);
    const auto pooled = fit_of(on);
    per_resolution fits;
    for (const auto& [r, members] : groups)
      fits.emplace_back(r, members.size() >= networks_per_resolution_fit ? fit_of(members) : pooled);
    return std::pair{fits, pooled};
  };
  auto misses_per_resolution = [&](const std::pair<per_resolution, linear_fit>& fits,
                                   const std::vector<std::size_t>& on, std::vector<double>& into) {
    for (auto i : on) {
      linear_fit f = fits.second;  // a resolution the fold did not see: the pooled fit
      for (const auto& [r, fit] : fits.first)
        if (r == resolution[i]) f = fit;
      misses(f, {i}, into);
    }
  };
  const bool several_resolutions =
      resolution.size() == sum.size() &&
      std::any_of(resolution.begin(), resolution.end(), [&](int r) { return r != resolution.front(); });
  std::vector<std::size_t> all, fold[2];
  for (std::size_t i = 0; i < sum.size(); ++i) all.push_back(i), fold[i % 2].push_back(i);
  whole_model m;
  linear_fit chosen = shift_of(all);
  if (fold[1].size() >= 2) {
    std::vector<double> sum_misses, fit_misses, resolution_misses;
    for (int k = 0; k < 2; ++k) {
      misses(shift_of(fold[k]), fold[1 - k], sum_misses);
      misses(fit_of(fold[k]), fold[1 - k], fit_misses);
      if (several_resolutions) misses_per_resolution(fits_of(fold[k]), fold[1 - k], resolution_misses);
    }
    m.held_out_sum = median_of(sum_misses);
    m.held_out_fit = median_of(fit_misses);
    if (m.held_out_fit < m.held_out_sum) chosen = fit_of(all);
    if (several_resolutions) {
      m.held_out_per_resolution = median_of(resolution_misses);
      // More parameters must earn their place: a tenth less held-out miss, and 0.1 points at least.
      const double best_single = std::min(m.held_out_sum, m.held_out_fit);
      if (m.held_out_per_resolution < 0.9 * best_single && m.held_out_per_resolution < best_single - 1e-3) {
        const auto fits = fits_of(all);
        m.by_resolution = fits.first;
        std::vector<double> miss;
        misses_per_resolution(fits, all, miss);
        double squares = 0;
        for (double x : miss) squares += x * x;
        m.error = std::sqrt(squares / double(miss.size()));
        return m;  // scale 1 and offset 0: each resolution carries its own
      }
    }
  }
  m.scale = chosen.scale;
  m.offset = chosen.offset;
  if (!all.empty()) {
    std::vector<double> miss;
    misses(chosen, all, miss);
    double squares = 0;
    for (double x : miss) squares += x * x;
    m.error = std::sqrt(squares / double(miss.size()));
  }
  return m;
}

inline tensor<float> random_images(int batch, int resolution, std::uint64_t seed) {
  tensor<float> images(shape_type{std::size_t(batch), std::size_t(resolution), std::size_t(resolution), 3});
  rng engine(seed);
  for (auto& v : images) v = engine.uniform(-1.0f, 1.0f);
  return images;
}
}  // namespace detail

template <class Space>
nn::static_net<Space> random_static_net(const subnet_config<Space>& config, std::uint64_t seed) {
  nn::static_net<Space> net(config);
  rng engine(seed);
  for (auto& [name, t] : net.tensors())
    for (auto& v : *t) v = engine.uniform(-0.1f, 0.1f);
  net.prepare();
  return net;
}

template <class Space>
double measure_latency(const nn::static_net<Space>& net, int batch, int repeats, int warmup, std::uint64_t seed) {
  const auto images = detail::random_images(batch, net.config().resolution, seed);
  for (int i = 0; i < warmup; ++i) (void)net.forward(images);
  std::vector<double> samples;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    (void)net.forward(images);
    samples.push_back(detail::milliseconds_since(start));
  }
  return detail::median_of(std::move(samples));
}

template <class Space>
latency_table<Space> measure_latency_table(const latency_options& o, const std::function<void(int, int)>& progress) {
  if (o.batch < 1 || o.repeats < 1 || o.warmup < 0 || o.threads < 0 || o.networks < 0)
    throw config_error("ofa::search::measure_latency_table: batch and repeats must be at least 1, warmup and "
                       "threads and networks at least 0");
  parallel::arena threads(o.threads);
  latency_table<Space> out;
  for (int r : o.resolutions)
    if (!Space::resolution_set.contains(r))
      throw config_error("ofa::search::measure_latency_table: resolution " + std::to_string(r) +
                         " is not one of the space's (" + Space::resolution_set.to_string() + ")");
  if (!o.resolutions.empty()) {
    out.resolutions.clear();
    for (int r : Space::resolution_set)  // the space's order, each once
      if (std::find(o.resolutions.begin(), o.resolutions.end(), r) != o.resolutions.end()) out.resolutions.push_back(r);
  }
  out.threads = parallel::arena::threads();
  out.batch = o.batch;
  out.cpu = kernels::detail::cpu_model_name();
  out.isa = kernels::active_arch_name();
  std::vector<std::vector<double>> samples(out.table.layers.size());
  std::vector<std::vector<std::size_t>> network_layers;  // per timed network: its layers
  std::vector<double> network_whole;                     // and its whole forward's median (ms)
  std::vector<int> network_resolution;                   // and its input resolution

  // Layers are timed inside random subnets, not inside networks of one repeated block: a layer's
  // time depends on whether its weights are still in cache, so on the layers around it, and a
  // network of wide blocks only (several MB of weights) would time every wide layer from memory.
  auto time_network = [&](const subnet_config<Space>& config, std::uint64_t seed) {
    const auto net = random_static_net(config, seed);
    std::vector<std::size_t> stage_layer;
    out.table.layers.for_each_layer(config, [&](std::size_t l) { stage_layer.push_back(l); });
    // Each stage's input, from one pass.
    const auto images = detail::random_images(o.batch, config.resolution, seed);
    std::vector<nn::feature_map> inputs(net.stage_count() + 1);
    inputs[0] = nn::feature_map::view(images);
    for (std::size_t s = 0; s < net.stage_count(); ++s) net.run_stage(s, inputs[s], inputs[s + 1]);
    nn::feature_map scratch;
    std::vector<std::vector<double>> stage_samples(net.stage_count());
    std::vector<double> whole;
    for (int rep = -o.warmup; rep < o.repeats; ++rep) {
      // Stages and the whole pass interleaved, so slow spells of the machine hit both alike.
      for (std::size_t s = 0; s < net.stage_count(); ++s) {
        const auto start = std::chrono::steady_clock::now();
        net.run_stage(s, inputs[s], scratch);
        if (rep >= 0) stage_samples[s].push_back(detail::milliseconds_since(start));
      }
      const auto start = std::chrono::steady_clock::now();
      (void)net.forward(images);
      if (rep >= 0) whole.push_back(detail::milliseconds_since(start));
    }
    for (std::size_t s = 0; s < net.stage_count(); ++s) {
      auto& into = samples[stage_layer[s]];
      into.insert(into.end(), stage_samples[s].begin(), stage_samples[s].end());
    }
    network_layers.push_back(std::move(stage_layer));
    network_whole.push_back(detail::median_of(whole));
    network_resolution.push_back(config.resolution);
  };

  rng engine(o.seed);
  std::vector<subnet_config<Space>> configs;
  const auto at_covered = sampling_constraint::at_resolutions(out.resolutions);
  for (int i = 0; i < o.networks; ++i) configs.push_back(sample_config<Space>(engine, at_covered));
  // Then, for every layer those missed, a random subnet made to contain it.
  std::vector<bool> covered(out.table.layers.size(), false);
  for (const auto& c : configs) out.table.layers.for_each_layer(c, [&](std::size_t l) { covered[l] = true; });
  for (std::size_t l = 0; l < out.table.layers.size(); ++l) {
    const auto& choice = out.table.layers.choice(l);
    if (covered[l] || !out.table.layers.reachable(l) || !out.covers(Space::resolution_set[choice.resolution_index]))
      continue;
    const auto c = out.table.layers.config_with(l, engine);
    out.table.layers.for_each_layer(c, [&](std::size_t m) { covered[m] = true; });
    configs.push_back(c);
  }
  for (std::size_t i = 0; i < configs.size(); ++i) {
    time_network(configs[i], o.seed + i);
    if (progress) progress(static_cast<int>(i + 1), static_cast<int>(configs.size()));
  }
  for (std::size_t l = 0; l < samples.size(); ++l) out.entries.push_back(detail::summarize(samples[l]));
  std::vector<double> sums;
  for (const auto& layers : network_layers) {
    double sum = 0;
    for (auto l : layers) sum += out.entries[l].median;
    sums.push_back(sum);
  }
  const auto model = detail::whole_network_model(sums, network_whole, network_resolution);
  out.scale = model.scale;
  for (const auto& [r, fit] : model.by_resolution) out.resolution_fits.push_back({r, fit.scale, fit.offset});
  out.fit_error = model.error;
  out.held_out_sum = model.held_out_sum;
  out.held_out_fit = model.held_out_fit;
  out.held_out_per_resolution = model.held_out_per_resolution;
  out.table.overhead = model.offset;
  out.apply_scale();
  return out;
}

template <class Space>
latency_table<Space> adapt_latency_table(const latency_table<Space>& other, const latency_adapt_options& o,
                                         const std::function<void(int, int)>& progress) {
  if (o.networks < 2 || o.repeats < 1 || o.warmup < 0 || o.batch < 1 || o.threads < 0)
    throw config_error(
        "ofa::search::adapt_latency_table: networks must be at least 2 (a scale and an offset are "
        "fitted), repeats and batch at least 1, warmup and threads at least 0");
  parallel::arena threads(o.threads);
  rng engine(o.seed);
  const auto at_covered = sampling_constraint::at_resolutions(other.resolutions);
  const auto mac_table = macs_table<Space>();
  std::vector<double> predicted, macs, measured;
  for (int i = 0; i < o.networks; ++i) {
    const auto config = sample_config<Space>(engine, at_covered);
    predicted.push_back(other(config));
    macs.push_back(mac_table(config) * o.batch);
    measured.push_back(measure_latency(random_static_net(config, o.seed + std::uint64_t(i)), o.batch, o.repeats,
                                       o.warmup, o.seed + std::uint64_t(i)));
    if (progress) progress(i + 1, o.networks);
  }
  const auto fit = detail::fit_with_macs(predicted, macs, measured);
  if (!(fit.scale > 0) || !std::isfinite(fit.scale) || !std::isfinite(fit.offset) || !std::isfinite(fit.per_mac))
    throw config_error("ofa::search::adapt_latency_table: the timings here do not follow the table (fitted scale " +
                       std::to_string(fit.scale) + "); measure a table on this machine instead");
  latency_table<Space> t = other;
  t.adapted_from = {other.adapted_from.cpu.empty() ? other.cpu : other.adapted_from.cpu, other.threads, other.batch,
                    o.networks, fit.error};
  t.cpu = kernels::detail::cpu_model_name();
  t.isa = kernels::active_arch_name();
  t.threads = parallel::arena::threads();
  t.batch = o.batch;
  t.scale = other.scale * fit.scale;
  t.per_mac_ms = other.per_mac_ms * fit.scale * other.batch / o.batch + fit.per_mac;
  t.table.overhead = other.table.overhead * fit.scale + fit.offset;
  t.apply_scale();
  // Its own prediction for the smallest subnet must stay positive, as a loaded table's must.
  const auto smallest = subnet_config<Space>::min().with_resolution(t.resolutions.front());
  if (!(t(smallest) > 0))
    throw config_error("ofa::search::adapt_latency_table: the adapted table predicts " + std::to_string(t(smallest)) +
                       " ms for the smallest subnet; time more networks (--networks) or measure a table here");
  return t;
}

template <class Space>
latency_check<Space> check_latency_table(const latency_table<Space>& table, const latency_check_options& o,
                                         const std::function<void(int, int)>& progress) {
  if (o.subnets < 1 || o.rounds < 2 || o.repeats < 1 || o.warmup < 0 || o.batch < 1)
    throw config_error(
        "ofa::search::check_latency_table: subnets, repeats and batch must be at least 1, rounds at "
        "least 2 (its halves are the repeatability check), warmup at least 0");
  latency_check<Space> out;
  rng engine(o.seed);
  const auto at_covered = sampling_constraint::at_resolutions(table.resolutions);
  for (int i = 0; i < o.subnets; ++i) out.configs.push_back(sample_config<Space>(engine, at_covered));
  std::vector<std::vector<double>> halves[2];
  halves[0].resize(out.configs.size());
  halves[1].resize(out.configs.size());
  for (int round = 0; round < o.rounds; ++round) {
    for (std::size_t i = 0; i < out.configs.size(); ++i) {
      const auto net = random_static_net(out.configs[i], o.seed + i);
      const auto images = detail::random_images(o.batch, out.configs[i].resolution, o.seed + i);
      for (int w = 0; w < o.warmup; ++w) (void)net.forward(images);
      for (int r = 0; r < o.repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        (void)net.forward(images);
        halves[round % 2][i].push_back(detail::milliseconds_since(start));
      }
    }
    if (progress) progress(round + 1, o.rounds);
  }
  std::vector<double> errors;
  for (std::size_t i = 0; i < out.configs.size(); ++i) {
    auto all = halves[0][i];
    all.insert(all.end(), halves[1][i].begin(), halves[1][i].end());
    const double measured = detail::median_of(std::move(all)), predicted = table(out.configs[i]);
    const double a = detail::median_of(halves[0][i]), b = detail::median_of(halves[1][i]);
    out.predicted.push_back(predicted);
    out.measured.push_back(measured);
    out.first_half.push_back(a);
    out.second_half.push_back(b);
    const double error = std::abs(predicted - measured) / measured;
    errors.push_back(error);
    out.within += error <= 0.10;
    out.repeatable += std::abs(a - b) / (0.5 * (a + b)) <= 0.10;
  }
  out.median_error = detail::median_of(errors);
  out.worst_error = *std::max_element(errors.begin(), errors.end());
  if (out.configs.size() >= 2) {
    out.tau = kendall_tau(out.predicted, out.measured);
    out.halves_tau = kendall_tau(out.first_half, out.second_half);
  }
  return out;
}

template <class Space>
nlohmann::json latency_table<Space>::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t l = 0; l < entries.size(); ++l) {
    if (entries[l].count == 0) continue;
    const auto& key = table.layers.key(l);
    layers.push_back({{"key", key.to_string()},
                      {"op", key.op},
                      {"resolution", key.resolution},
                      {"input_shape", {key.in_size, key.in_size, key.in_channels}},
                      {"out_channels", key.out_channels},
                      {"expand", key.expand},
                      {"kernel", key.kernel},
                      {"stride", key.stride},
                      {"se", key.se},
                      {"act", key.act},
                      {"count", entries[l].count},
                      {"mean_ms", entries[l].mean},
                      {"stddev_ms", entries[l].stddev},
                      {"median_ms", entries[l].median}});
  }
  nlohmann::json fits = nlohmann::json::array();
  for (const auto& f : resolution_fits)
    fits.push_back({{"resolution", f.resolution}, {"scale", f.scale}, {"offset_ms", f.offset}});
  return {
      {"format", "ofa-latency-table-1"},
      {"space", Space::signature()},
      {"cpu", cpu},
      {"isa", isa},
      {"threads", threads},
      {"batch", batch},
      {"resolutions", resolutions},
      {"adapted_from", adapted_from.cpu.empty() ? nlohmann::json()
                                                : nlohmann::json{{"cpu", adapted_from.cpu},
                                                                 {"threads", adapted_from.threads},
                                                                 {"batch", adapted_from.batch},
                                                                 {"networks", adapted_from.networks},
                                                                 {"fit_error", adapted_from.fit_error}}},
      {"overhead_ms", table.overhead},
      {"scale", scale},
      {"per_mac_ms", per_mac_ms},
      {"fit_error", fit_error},
      {"resolution_fits", fits},
      {"held_out_error", {{"sum", held_out_sum}, {"fit", held_out_fit}, {"per_resolution", held_out_per_resolution}}},
      {"layers", layers}};
}

template <class Space>
latency_table<Space> latency_table<Space>::from_json(const nlohmann::json& j, const std::string& source) {
  auto fail = [&](const std::string& why) {
    return io_error("ofa::search::latency_table: " + source + ": " + why +
                    "; measure a table for this space with 'ofa latency-table'");
  };
  try {
    if (j.value("format", std::string()) != "ofa-latency-table-1") throw fail("not an ofa latency table");
    if (j.at("space").get<std::string>() != Space::signature())
      throw fail("it was measured for another space (" + j.at("space").get<std::string>() + ")");
    latency_table t;
    t.cpu = j.at("cpu").get<std::string>();
    t.isa = j.value("isa", std::string());
    const auto whole = [&]<class T>(const nlohmann::json& v, const char* name, T) {
      const auto w = ofa::detail::json_whole<T>(v);
      if (!w) throw fail(std::string(name) + " is not a whole number in range");
      return *w;
    };
    t.threads = whole(j.at("threads"), "threads", int{});
    t.batch = whole(j.at("batch"), "batch", int{});
    t.table.overhead = j.at("overhead_ms").get<double>();
    t.scale = j.value("scale", 1.0);  // tables written before the whole-network fit: sums as they are
    t.per_mac_ms = j.value("per_mac_ms", 0.0);
    if (!std::isfinite(t.per_mac_ms) || t.per_mac_ms < 0) throw fail("its per_mac_ms is not a number of at least 0");
    t.fit_error = j.value("fit_error", 0.0);
    if (j.contains("held_out_error")) {
      t.held_out_sum = j.at("held_out_error").at("sum").get<double>();
      t.held_out_fit = j.at("held_out_error").at("fit").get<double>();
      t.held_out_per_resolution = j.at("held_out_error").value("per_resolution", 0.0);
    }
    if (!(t.scale > 0) || !std::isfinite(t.scale)) throw fail("its scale is not a positive number");
    if (!std::isfinite(t.table.overhead)) throw fail("its overhead_ms is not a number");
    if (t.threads < 0 || t.batch < 1) throw fail("its threads or batch is impossible");
    if (j.contains("adapted_from") && !j.at("adapted_from").is_null()) {
      const auto& a = j.at("adapted_from");
      t.adapted_from = {a.at("cpu").get<std::string>(), whole(a.at("threads"), "adapted_from.threads", int{}),
                        whole(a.at("batch"), "adapted_from.batch", int{}),
                        whole(a.at("networks"), "adapted_from.networks", int{}), a.at("fit_error").get<double>()};
    }
    if (j.contains("resolutions")) {  // tables written before resolution subsets cover the space
      t.resolutions.clear();
      for (const auto& r : j.at("resolutions")) {
        const auto v = whole(r, "a resolution", int{});
        if (!Space::resolution_set.contains(v) || t.covers(v))
          throw fail("its resolution " + std::to_string(v) + " is not one of the space's, or is listed twice");
        t.resolutions.push_back(v);
      }
      if (t.resolutions.empty()) throw fail("it covers no resolution");
      std::sort(t.resolutions.begin(), t.resolutions.end());
    }
    if (j.contains("resolution_fits") && !j.at("resolution_fits").empty()) {  // one for each resolution it covers
      for (const auto& f : j.at("resolution_fits")) {
        const resolution_fit fit{whole(f.at("resolution"), "a resolution fit's resolution", int{}),
                                 f.at("scale").get<double>(), f.at("offset_ms").get<double>()};
        const bool listed = std::any_of(t.resolution_fits.begin(), t.resolution_fits.end(),
                                        [&](const resolution_fit& f) { return f.resolution == fit.resolution; });
        if (!t.covers(fit.resolution) || listed)
          throw fail("its resolution fit for " + std::to_string(fit.resolution) +
                     " is for a resolution it does not cover, or is listed twice");
        if (!(fit.scale > 0) || !std::isfinite(fit.scale) || !std::isfinite(fit.offset))
          throw fail("its resolution fit for " + std::to_string(fit.resolution) +
                     " is not a positive scale and a number");
        t.resolution_fits.push_back(fit);
      }
      if (t.resolution_fits.size() != t.resolutions.size())
        throw fail("it has resolution fits for some resolutions only");
    }
    t.entries.assign(t.table.layers.size(), {});
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t l = 0; l < t.table.layers.size(); ++l) index[t.table.layers.key(l).to_string()] = l;
    for (const auto& layer : j.at("layers")) {
      const auto key = layer.at("key").get<std::string>();
      const auto it = index.find(key);
      if (it == index.end()) throw fail("layer '" + key + "' is not a layer of this space");
      auto& e = t.entries[it->second];
      e.count = whole(layer.at("count"), "count", std::size_t{});
      e.mean = layer.at("mean_ms").get<double>();
      e.stddev = layer.at("stddev_ms").get<double>();
      e.median = layer.at("median_ms").get<double>();
      for (double ms : {e.mean, e.stddev, e.median})
        if (!(ms >= 0) || !std::isfinite(ms)) throw fail("layer '" + key + "' has a time that is negative or not a number");
    }
    t.apply_scale();
    for (std::size_t l = 0; l < t.entries.size(); ++l)
      if (t.entries[l].count == 0 && t.table.layers.reachable(l) && t.covers(t.table.layers.key(l).resolution))
        throw fail("layer '" + t.table.layers.key(l).to_string() + "' is missing");
    // A fitted offset may be negative, but no subnet may come out at zero or less: the search
    // would take it as free. The smallest subnet has the least time at each resolution.
    for (int r : t.resolutions) {
      const auto smallest = subnet_config<Space>::min().with_resolution(r);
      if (!(t(smallest) > 0))
        throw fail("it predicts " + std::to_string(t(smallest)) + " ms for the smallest subnet at " +
                   std::to_string(r) + " (its overhead_ms " + std::to_string(t.table.overhead) +
                   " or a resolution's offset_ms is too negative)");
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("malformed (") + e.what() + ")");
  }
}

template <class Space>
void latency_table<Space>::save(const std::string& path) const {
  io::write_atomically(path, to_json().dump(1) + "\n");
}

template <class Space>
latency_table<Space> latency_table<Space>::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw io_error("ofa::search::latency_table: cannot open " + path + "; measure one with 'ofa latency-table'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw io_error("ofa::search::latency_table: " + path + " is not JSON (" + e.what() +
                   "); measure the table again with 'ofa latency-table'");
  }
  return from_json(j, path);
}

template <class Space>
std::string latency_table<Space>::mismatch(int threads_now, int batch_now) const {
  std::string why;
  const auto here = kernels::detail::cpu_model_name();
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : ", ") + s; };
  if (cpu != here) add("it was measured on '" + cpu + "', this is '" + here + "'");
  if (threads != threads_now)
    add("it was measured with " + std::to_string(threads) + " threads, this run uses " + std::to_string(threads_now));
  if (batch != batch_now) add("it was measured at batch " + std::to_string(batch) + ", not " + std::to_string(batch_now));
  return why;
}

}  // namespace ofa::search
