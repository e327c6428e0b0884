#pragma once
/// @file
/// Evaluating subnets as the reference does: BN statistics recalibrated on a few
/// thousand training images first (the supernet's running statistics mix every
/// subnet trained), then top-1 and loss on held-out images. The grid the trainer
/// reports: the smallest, a middle and the largest subnet at the space's smallest
/// and largest resolution.

#include <algorithm>
#include <array>
#include <cmath>  // log, exp
#include <span>
#include <string>
#include <vector>

#include "ofa/data/loader.hpp"
#include "ofa/errors.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/parallel/process_group.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::train {

/** @brief Top-1 and mean cross-entropy of one subnet. */
struct evaluation {
  std::string name;  ///< "max@32", "min@24", ...
  double top1 = 0, loss = 0;
  std::size_t images = 0;
};

/** @brief Top-1 and mean cross-entropy accumulated over batches of logits. */
struct accuracy_meter {
  std::size_t images = 0, correct = 0;
  double loss_sum = 0;

  /** @brief Adds the first labels.size() rows of `logits` [N, classes]. */
  void add(const tensor<float>& logits, const std::vector<int>& labels);
  /** @brief Adds another meter's counts (a part of the same measurement). */
  void add(const accuracy_meter& part) {
    images += part.images;
    correct += part.correct;
    loss_sum += part.loss_sum;
  }
  double top1() const { return images ? double(correct) / double(images) : 0.0; }
  double loss() const { return images ? loss_sum / double(images) : 0.0; }
};

/** @brief `limit` indices spread evenly over [0, n): every (n/limit)-th. The subset a limited
 *  evaluation uses, not the first `limit`: image folders list their images class by class. */
inline std::vector<std::size_t> evenly_spaced(std::size_t n, std::size_t limit) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < limit && i < n; ++i) out.push_back(i * n / std::min(limit, n));
  return out;
}

/** @brief Every unit at its middle depth, kernel and expand ratio. */
template <class Space>
subnet_config<Space> middle_config(int resolution);

/** @brief {min, middle, max} × {smallest, largest resolution}, with names. */
template <class Space>
std::vector<std::pair<std::string, subnet_config<Space>>> evaluation_grid();

/** @brief Subnets from the smallest to the largest at `resolution`, each one step bigger than the
 *  one before: starting from the minimum, depth, expand ratio and kernel size are raised one
 *  level at a time in turn, in every unit at once, until all are at their maximum (7 subnets when
 *  each dimension has 3 levels). Comparing supernets on it shows the whole range of sizes, not
 *  just its ends; named "size-1", "size-2", .... */
template <class Space>
std::vector<std::pair<std::string, subnet_config<Space>>> size_ladder(int resolution);

/** @brief `images` images of `data`, in batches of `batch_size` at `resolution`, with the given
 *  augmentation (the reference recalibrates on training transforms). */
template <data::dataset D>
std::vector<tensor<float>> first_images(const D& data, std::size_t images, int batch_size, int resolution,
                                        data::augmentation aug, std::uint64_t seed);

/** @brief Recalibrates `config` on `calibration` and measures it on (up to `limit`, 0: all) of `test`. */
template <class Space, data::dataset D>
evaluation evaluate_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                           const std::vector<tensor<float>>& calibration, const D& test, std::size_t limit,
                           int batch_size, data::augmentation eval_aug);

/** @brief evaluate_subnet shared by the processes of `group`: each recalibrates on every size-th
 *  calibration batch and measures every size-th test image, and the BN sums and the counts are
 *  combined, so every process gets the whole measurement for a size-th of the work. */
template <class Space, data::dataset D>
evaluation evaluate_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                           const std::vector<tensor<float>>& calibration, const D& test, std::size_t limit,
                           int batch_size, data::augmentation eval_aug, parallel::process_group& group);

// ---------------------------------------------------------------------------
// implementation

inline void accuracy_meter::add(const tensor<float>& logits, const std::vector<int>& labels) {
  const std::size_t k = logits.shape()[1];
  if (labels.size() > logits.shape()[0])
    throw shape_error("ofa::train::accuracy_meter::add: " + std::to_string(labels.size()) + " labels for " +
                      std::to_string(logits.shape()[0]) + " rows of logits");
  for (int label : labels)
    if (label < 0 || std::size_t(label) >= k)
      throw data_error("ofa: an image is labelled class " + std::to_string(label) + " but the network has " +
                       std::to_string(k) + " classes (0-" + std::to_string(k - 1) +
                       "); use a data set of as many classes as the space, or a space of as many as the data");
  for (std::size_t i = 0; i < labels.size(); ++i, ++images) {
    const float* row = logits.data() + i * k;
    const float top = *std::max_element(row, row + k);
    correct += static_cast<std::size_t>(std::max_element(row, row + k) - row) == static_cast<std::size_t>(labels[i]);
    double sum = 0;
    for (std::size_t j = 0; j < k; ++j) sum += std::exp(double(row[j] - top));
    loss_sum += std::log(sum) - double(row[static_cast<std::size_t>(labels[i])] - top);
  }
}

template <class Space>
subnet_config<Space> middle_config(int resolution) {
  auto c = subnet_config<Space>::max();
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    c.depth[u] = info.depths[info.depths.size / 2];
    c.width[u] = int(info.widths.size / 2);
    for (int i = 0; i < info.depths.max(); ++i) {
      c.kernel[std::size_t(info.first_slot + i)] = info.kernels[info.kernels.size / 2];
      c.expand[std::size_t(info.first_slot + i)] = info.expands[info.expands.size / 2];
    }
  }
  if constexpr (Space::stem.deep())
    c.stem_width = {int(Space::stem.mid_widths.size / 2), int(Space::stem.widths.size / 2)};
  c.resolution = resolution;
  return c;
}

template <class Space>
std::vector<std::pair<std::string, subnet_config<Space>>> evaluation_grid() {
  std::vector<std::pair<std::string, subnet_config<Space>>> grid;
  for (int r : {Space::resolution_set.min(), Space::resolution_set.max()}) {
    const std::string at = "@" + std::to_string(r);
    grid.emplace_back("min" + at, subnet_config<Space>::min().with_resolution(r));
    grid.emplace_back("mid" + at, middle_config<Space>(r));
    grid.emplace_back("max" + at, subnet_config<Space>::max().with_resolution(r));
  }
  return grid;
}

template <class Space>
std::vector<std::pair<std::string, subnet_config<Space>>> size_ladder(int resolution) {
  // level[0]: depth, level[1]: expand, level[2]: kernel, level[3]: width (ResNets), as indices into
  // each unit's sets (clamped where a unit's set is shorter). A deep stem skips its middle layer at
  // the smallest depth level and follows the width level.
  std::array<int, 4> level{0, 0, 0, 0}, levels{0, 0, 0, 0};
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    levels[0] = std::max(levels[0], int(info.depths.size));
    levels[1] = std::max(levels[1], int(info.expands.size));
    levels[2] = std::max(levels[2], int(info.kernels.size));
    levels[3] = std::max(levels[3], int(info.widths.size));
  }
  levels[3] = std::max({levels[3], int(Space::stem.widths.size), int(Space::stem.mid_widths.size)});
  const auto at = [](const auto& set, int i) { return set[std::min(i, int(set.size) - 1)]; };
  const auto config_at = [&] {
    auto c = subnet_config<Space>::max();
    for (std::size_t u = 0; u < Space::unit_count; ++u) {
      const auto& info = Space::unit_table[u];
      c.depth[u] = at(info.depths, level[0]);
      c.width[u] = std::min(level[3], int(info.widths.size) - 1);
      for (int i = 0; i < info.depths.max(); ++i) {
        c.expand[std::size_t(info.first_slot + i)] = at(info.expands, level[1]);
        c.kernel[std::size_t(info.first_slot + i)] = at(info.kernels, level[2]);
      }
    }
    if constexpr (Space::stem.deep()) {
      c.stem_skip = level[0] == 0;
      c.stem_width = {std::min(level[3], int(Space::stem.mid_widths.size) - 1),
                      std::min(level[3], int(Space::stem.widths.size) - 1)};
    }
    c.resolution = resolution;
    return c;
  };
  std::vector<std::pair<std::string, subnet_config<Space>>> ladder;
  ladder.emplace_back("size-1", config_at());
  for (bool raised = true; raised;) {
    raised = false;
    for (std::size_t d = 0; d < level.size(); ++d)
      if (level[d] + 1 < levels[d]) {
        ++level[d];
        raised = true;
        ladder.emplace_back("size-" + std::to_string(ladder.size() + 1), config_at());
      }
  }
  return ladder;
}

template <data::dataset D>
std::vector<tensor<float>> first_images(const D& data, std::size_t images, int batch_size, int resolution,
                                        data::augmentation aug, std::uint64_t seed) {
  data::loader_options o;
  o.batch_size = batch_size;
  o.resolutions = {resolution};
  o.seed = seed;
  o.aug = aug;
  o.drop_last = false;
  data::loader<D> loader(data, o);
  std::vector<tensor<float>> out;
  std::size_t seen = 0;
  auto cursor = loader.epoch(0);
  while (seen < images)
    if (auto b = cursor.next()) {
      seen += b->labels.size();
      out.push_back(std::move(b->images));
    } else {
      break;
    }
  return out;
}

namespace detail {
template <class Space, data::dataset D>
evaluation evaluate_on(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                       const nn::bn_statistics<float>& stats, const D& test, const data::loader_options& o,
                       parallel::process_group* group = nullptr) {
  data::loader<D> loader(test, o);
  evaluation e;
  accuracy_meter meter;
  const data::shard_spec shard{group ? group->rank() : 0, group ? group->size() : 1};
  auto cursor = loader.epoch(0, {}, shard);
  while (auto b = cursor.next()) meter.add(net.evaluate(b->images, config, &stats), b->labels);
  if (group && group->size() > 1) {
    std::array<double, 3> counts{double(meter.images), double(meter.correct), meter.loss_sum};
    group->sum(counts);
    meter.images = std::size_t(counts[0]), meter.correct = std::size_t(counts[1]), meter.loss_sum = counts[2];
  }
  e.images = meter.images;
  e.top1 = meter.top1();
  e.loss = meter.loss();
  return e;
}
}  // namespace detail

namespace detail {
/// Top-1 and loss of `config` with `stats` on (up to `limit`, 0: all) of `test`, shared by `group`.
template <class Space, data::dataset D>
evaluation measure_recalibrated(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                                const nn::bn_statistics<float>& stats, const D& test, std::size_t limit,
                                int batch_size, data::augmentation eval_aug, parallel::process_group* group) {
  data::loader_options o;
  o.batch_size = batch_size;
  o.resolutions = {config.resolution};
  o.shuffle = false;
  o.drop_last = false;
  o.aug = eval_aug;
  if (limit > 0 && limit < test.size()) {
    // The first 2,000 CIFAR-10 test images of a folder are two classes of ten.
    return evaluate_on(net, config, stats, data::subset<D>(test, evenly_spaced(test.size(), limit)), o, group);
  }
  return evaluate_on(net, config, stats, test, o, group);
}
}  // namespace detail

template <class Space, data::dataset D>
evaluation evaluate_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                           const std::vector<tensor<float>>& calibration, const D& test, std::size_t limit,
                           int batch_size, data::augmentation eval_aug) {
  const auto stats = net.recalibrate(config, calibration);
  return detail::measure_recalibrated(net, config, stats, test, limit, batch_size, eval_aug, nullptr);
}

template <class Space, data::dataset D>
evaluation evaluate_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                           const std::vector<tensor<float>>& calibration, const D& test, std::size_t limit,
                           int batch_size, data::augmentation eval_aug, parallel::process_group& group) {
  const std::size_t n = std::size_t(group.size()), rank = std::size_t(group.rank());
  const auto stats = [&] {
    // Fewer calibration batches than processes: each recalibrates on all (the same statistics).
    if (n == 1 || calibration.size() < n) return net.recalibrate(config, calibration);
    std::vector<tensor<float>> mine;
    for (std::size_t i = rank; i < calibration.size(); i += n) mine.push_back(calibration[i]);
    return net.recalibrate(config, std::span<const tensor<float>>(mine),
                           [&](std::span<double> sums) { group.sum(sums); });
  }();
  return detail::measure_recalibrated(net, config, stats, test, limit, batch_size, eval_aug, &group);
}

}  // namespace ofa::train
