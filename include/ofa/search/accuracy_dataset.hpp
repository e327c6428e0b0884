#pragma once
/// @file
/// The accuracy data set the predictor learns from: N random subnets (subnet i
/// drawn from (seed, i) alone, resolutions included), each BN-recalibrated on
/// training images and measured on a held-out split of the training set (never
/// the test set, which judges the search). Several subnets are measured at once
/// on oneTBB: recalibration and evaluation are const on the supernet and keep
/// their statistics per call, so workers share one network. Each result is
/// appended to a JSON-lines file as it comes; a build that is interrupted
/// resumes by measuring only the indices the file lacks (a line cut short by a
/// crash is dropped and measured again).

#include <algorithm>  // max_element, sort
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>  // istreambuf_iterator
#include <mutex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>  // type_identity_t: the progress callback does not take part in deduction
#include <vector>

#include <oneapi/tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "ofa/data/loader.hpp"
#include "ofa/detail/json_number.hpp"
#include "ofa/errors.hpp"
#include "ofa/io/write_atomically.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/parallel/loops.hpp"
#include "ofa/parallel/process_group.hpp"
#include "ofa/random.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/train/evaluation.hpp"

namespace ofa::search {

template <class Space>
struct accuracy_record {
  std::size_t index = 0;
  subnet_config<Space> config;
  double top1 = 0, loss = 0;  ///< top-1 as a fraction; mean cross-entropy
  /// Top-1 on the even and on the odd held-out batches (the same images for every subnet): how
  /// far two halves of one measurement disagree is the labels' own noise (search/label_noise.hpp).
  /// Negative in records written before ofa kept them.
  std::array<double, 2> half_top1{-1, -1};
  std::size_t images = 0;
  double seconds = 0;          ///< recalibration and evaluation
  std::uint64_t seed = 0;      ///< the data set's seed (index i is drawn from (seed, i))
};

/** @brief Called after each measured subnet with (record, done, total). */
template <class Space>
using dataset_progress =
    std::type_identity_t<std::function<void(const accuracy_record<Space>&, std::size_t, std::size_t)>>;

struct accuracy_dataset_options {
  std::size_t subnets = 1000;
  std::uint64_t seed = 0;
  std::size_t calibration_images = 2000;  ///< the reference's 2,000
  int batch_size = 200;
};

/** @brief Subnet `index` of the data set of `seed`. */
template <class Space>
subnet_config<Space> accuracy_dataset_config(std::uint64_t seed, std::size_t index) {
  auto engine = rng::derive(seed, 0xacc0da7aULL, index);
  return sample_config<Space>(engine);
}

/** @brief Every record of a JSON-lines file, by index. A missing file gives none; a last line
 *  cut short is dropped (`dropped` counts it); any other bad line throws io_error naming it. */
template <class Space>
std::vector<accuracy_record<Space>> load_accuracy_dataset(const std::string& path, std::size_t* dropped = nullptr);

/** @brief One record as one JSON line. */
template <class Space>
nlohmann::json to_json(const accuracy_record<Space>& r);

/** @brief Images decoded once for many evaluations: calibration batches (training augmentation,
 *  as the reference recalibrates) and the held-out batches, per resolution. */
struct evaluation_images {
  std::map<int, std::vector<tensor<float>>> calibration;
  std::map<int, std::vector<data::batch>> held_out;
};

template <class Space, data::dataset D>
evaluation_images prepare_evaluation_images(const D& calibration_source, const D& held_out,
                                            std::size_t calibration_images, int batch_size, std::uint64_t seed);

/** @brief Recalibrates `config` and measures it on the prepared held-out images. */
template <class Space>
accuracy_record<Space> measure_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                                      const evaluation_images& images);

/** @brief measure_subnet for each of `configs`, several at once on oneTBB; results in their order. */
template <class Space>
std::vector<accuracy_record<Space>> measure_subnets(const nn::elastic_net<Space>& net,
                                                    std::span<const subnet_config<Space>> configs,
                                                    const evaluation_images& images);

/** @brief Measures every index in [0, options.subnets) that `path` lacks, appending as it goes;
 *  `progress(record, done, total)` after each (from the thread that measured it, serialised).
 *  Records already in the file must have the same seed. Returns the whole data set, by index.
 *  With a `group` of several processes (mpirun -np N ofa acc-dataset), each measures its share of
 *  the subnets, process 0 alone writes and reports progress, and every process returns the whole set. */
template <class Space, data::dataset D>
std::vector<accuracy_record<Space>> build_accuracy_dataset(
    const nn::elastic_net<Space>& net, const D& calibration_source, const D& held_out, const std::string& path,
    const accuracy_dataset_options& options,
    const dataset_progress<Space>& progress = {}, parallel::process_group* group = nullptr);

// ---------------------------------------------------------------------------
// implementation

template <class Space>
nlohmann::json to_json(const accuracy_record<Space>& r) {
  nlohmann::json j{{"index", r.index}, {"config", ofa::to_json(r.config)}, {"top1", r.top1},    {"loss", r.loss},
                   {"images", r.images}, {"seconds", r.seconds},            {"seed", r.seed}};
  if (r.half_top1[0] >= 0) j["half_top1"] = {r.half_top1[0], r.half_top1[1]};
  return j;
}

template <class Space>
std::vector<accuracy_record<Space>> load_accuracy_dataset(const std::string& path, std::size_t* dropped) {
  if (dropped) *dropped = 0;
  std::vector<accuracy_record<Space>> out;
  std::ifstream f(path, std::ios::binary);
  if (!f) return out;
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Records are written whole with their newline, so only a last line without one can be a
  // record a crash cut short; any other bad line means the file is something else.
  const bool cut_short = !text.empty() && text.back() != '\n';
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    try {
      const auto j = nlohmann::json::parse(lines[i]);
      accuracy_record<Space> r;
      const auto whole = [&]<class T>(const char* name, T) {
        const auto w = ofa::detail::json_whole<T>(j.at(name));
        if (!w) throw data_error(std::string("\"") + name + "\" is not a whole number in range");
        return *w;
      };
      r.index = whole("index", std::size_t{});
      r.config = config_from_json<Space>(j.at("config"));
      r.top1 = j.at("top1").get<double>();
      r.loss = j.at("loss").get<double>();
      r.images = whole("images", std::size_t{});
      r.seconds = j.value("seconds", 0.0);
      r.seed = whole("seed", std::uint64_t{});
      if (j.contains("half_top1")) r.half_top1 = j.at("half_top1").get<std::array<double, 2>>();
      const auto fraction = [](double v) { return v >= 0 && v <= 1; };
      const bool halves = !j.contains("half_top1") || (fraction(r.half_top1[0]) && fraction(r.half_top1[1]));
      if (!fraction(r.top1) || !halves || !std::isfinite(r.loss) ||
          r.images == 0)
        throw data_error("its top-1, loss or image count is impossible");
      if (seen.insert(r.index).second) out.push_back(r);
    } catch (const std::exception& e) {
      if (i + 1 == lines.size() && cut_short) {  // the line a crash cut short: measure it again
        if (dropped) *dropped = 1;
        break;
      }
      if (out.empty())
        throw io_error("ofa::search: " + path + " is not an accuracy data set (line " + std::to_string(i + 1) + ": " +
                       e.what() + "); give a data set written by ofa acc-dataset, or another --out");
      throw io_error("ofa::search: " + path + " line " + std::to_string(i + 1) + " is not an accuracy record (" +
                     e.what() + "); remove that line and build again to measure it anew");
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return out;
}

template <class Space, data::dataset D>
evaluation_images prepare_evaluation_images(const D& calibration_source, const D& held_out,
                                            std::size_t calibration_images, int batch_size, std::uint64_t seed) {
  evaluation_images images;
  for (int r : Space::resolution_set) {
    data::loader_options c;
    c.batch_size = batch_size;
    c.resolutions = {r};
    c.seed = seed;
    c.drop_last = false;
    c.aug = data::default_augmentation<Space>(true);  // the reference recalibrates on training transforms
    data::loader<D> calibration(calibration_source, c);
    auto cursor = calibration.epoch(0);
    std::size_t seen = 0;
    while (seen < calibration_images)
      if (auto b = cursor.next()) {
        seen += b->labels.size();
        images.calibration[r].push_back(std::move(b->images));
      } else {
        break;
      }
    data::loader_options h;
    h.batch_size = batch_size;
    h.resolutions = {r};
    h.shuffle = false;
    h.drop_last = false;
    h.aug = data::default_augmentation<Space>(false);
    data::loader<D> test(held_out, h);
    auto tc = test.epoch(0);
    while (auto b = tc.next()) images.held_out[r].push_back(std::move(*b));
  }
  return images;
}

template <class Space>
accuracy_record<Space> measure_subnet(const nn::elastic_net<Space>& net, const subnet_config<Space>& config,
                                      const evaluation_images& images) {
  const auto start = std::chrono::steady_clock::now();
  accuracy_record<Space> r;
  r.config = config;
  const auto stats = net.recalibrate(config, images.calibration.at(config.resolution));
  train::accuracy_meter meter, halves[2];
  std::size_t batch_index = 0;
  for (const auto& b : images.held_out.at(config.resolution)) {
    train::accuracy_meter one;
    one.add(net.evaluate(b.images, config, &stats), b.labels);
    meter.add(one);
    halves[batch_index++ % 2].add(one);
  }
  r.images = meter.images;
  r.top1 = meter.top1();
  r.loss = meter.loss();
  if (halves[1].images > 0) r.half_top1 = {halves[0].top1(), halves[1].top1()};
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

template <class Space>
std::vector<accuracy_record<Space>> measure_subnets(const nn::elastic_net<Space>& net,
                                                    std::span<const subnet_config<Space>> configs,
                                                    const evaluation_images& images) {
  std::vector<accuracy_record<Space>> out(configs.size());
  parallel::for_index(std::size_t{0}, configs.size(),
                      [&](std::size_t i) { out[i] = measure_subnet(net, configs[i], images); });
  return out;
}

namespace detail {
/// The pending subnets shared by the processes of `group`, in rounds of as many as they measure at
/// once: process p measures every size-th of a round from p, a sum gives every process every
/// record (a subnet's config follows from its index), and process 0 (`out` not null) appends them.
template <class Space, data::dataset D>
std::vector<accuracy_record<Space>> measure_share(const nn::elastic_net<Space>& net, const D& calibration_source,
                                                  const D& held_out, const accuracy_dataset_options& o,
                                                  const std::vector<std::size_t>& pending,
                                                  std::vector<accuracy_record<Space>> records,
                                                  const dataset_progress<Space>& progress,
                                                  parallel::process_group& group, std::ofstream* out) {
  const auto images = prepare_evaluation_images<Space>(calibration_source, held_out, o.calibration_images, o.batch_size,
                                                       o.seed ^ stream::calibration);
  const std::size_t n = std::size_t(group.size()), rank = std::size_t(group.rank());
  const std::size_t per_round = n * std::size_t(std::max(1, tbb::this_task_arena::max_concurrency()));
  constexpr std::size_t fields = 6;  // top-1, loss, images, seconds, the two halves' top-1
  const std::size_t total = records.size() + pending.size();
  for (std::size_t start = 0; start < pending.size(); start += per_round) {
    const std::size_t count = std::min(per_round, pending.size() - start);
    std::vector<subnet_config<Space>> mine;
    for (std::size_t i = rank; i < count; i += n) mine.push_back(accuracy_dataset_config<Space>(o.seed, pending[start + i]));
    const auto measured = measure_subnets(net, std::span<const subnet_config<Space>>(mine), images);
    std::vector<double> values(count * fields, 0.0);
    for (std::size_t k = 0; k < measured.size(); ++k) {
      const auto& r = measured[k];
      const std::size_t i = rank + k * n;
      const std::array<double, fields> v{r.top1, r.loss, double(r.images), r.seconds, r.half_top1[0], r.half_top1[1]};
      std::copy(v.begin(), v.end(), values.begin() + std::ptrdiff_t(i * fields));
    }
    group.sum(values);
    for (std::size_t i = 0; i < count; ++i) {
      accuracy_record<Space> r;
      r.index = pending[start + i];
      r.config = accuracy_dataset_config<Space>(o.seed, r.index);
      r.seed = o.seed;
      const double* v = values.data() + i * fields;
      r.top1 = v[0], r.loss = v[1], r.images = std::size_t(v[2]), r.seconds = v[3], r.half_top1 = {v[4], v[5]};
      if (out) *out << to_json(r).dump() << "\n" << std::flush;
      records.push_back(r);
      if (progress && out) progress(r, records.size(), total);
    }
  }
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return records;
}
}  // namespace detail

template <class Space, data::dataset D>
std::vector<accuracy_record<Space>> build_accuracy_dataset(
    const nn::elastic_net<Space>& net, const D& calibration_source, const D& held_out, const std::string& path,
    const accuracy_dataset_options& o,
    const dataset_progress<Space>& progress, parallel::process_group* group) {
  if (held_out.size() == 0)
    throw config_error("ofa::search::build_accuracy_dataset: the held-out set is empty; hold out some training "
                       "images (ofa train --holdout N)");
  auto records = load_accuracy_dataset<Space>(path);
  for (const auto& r : records)
    if (r.seed != o.seed)
      throw config_error("ofa::search::build_accuracy_dataset: " + path + " was built with seed " +
                         std::to_string(r.seed) + ", not " + std::to_string(o.seed) +
                         "; continue it with the same seed, or write to another file");
  std::set<std::size_t> have;
  for (const auto& r : records) have.insert(r.index);
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < o.subnets; ++i)
    if (!have.count(i)) pending.push_back(i);
  if (pending.empty()) return records;
  const bool shared = group && group->size() > 1;
  const bool writer = !group || group->is_writer();
  if (shared) {  // every process has read the file before process 0 rewrites it
    std::array<double, 1> here{1};
    group->sum(here);
  }
  if (!writer) return detail::measure_share(net, calibration_source, held_out, o, pending, records, progress, *group,
                                            nullptr);

  // Rewrite the file without a line a crash cut short, so appends start on a fresh line.
  {
    std::string text;
    for (const auto& r : records) text += to_json(r).dump() + "\n";
    io::write_atomically(path, text);
  }
  std::ofstream out(path, std::ios::app);
  if (!out) throw io_error("ofa::search: cannot append to " + path + "; check the folder is writable");

  if (shared)
    return detail::measure_share(net, calibration_source, held_out, o, pending, records, progress, *group, &out);
  const auto images = prepare_evaluation_images<Space>(calibration_source, held_out, o.calibration_images, o.batch_size,
                                                       o.seed ^ stream::calibration);
  std::mutex lock;
  std::size_t done = records.size();
  const std::size_t total = records.size() + pending.size();
  parallel::for_index(std::size_t{0}, pending.size(), [&](std::size_t p) {
    auto r = measure_subnet(net, accuracy_dataset_config<Space>(o.seed, pending[p]), images);
    r.index = pending[p];
    r.seed = o.seed;
    std::lock_guard<std::mutex> guard(lock);
    out << to_json(r).dump() << "\n" << std::flush;
    records.push_back(r);
    ++done;
    if (progress) progress(r, done, total);
  });
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return records;
}

}  // namespace ofa::search
