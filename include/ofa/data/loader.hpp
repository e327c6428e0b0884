#pragma once
/// @file
/// The batch loader: a oneTBB parallel_pipeline of three stages, read (serial,
/// in order) → decode + augment (parallel) → assemble the batch (serial, in
/// order), with a bounded number of examples in flight so that the next
/// batches are being prepared while the caller trains on the current one.
/// Each batch has one resolution drawn from the list given (elastic resolution,
/// as the reference). The epoch's order and every random choice are functions
/// of (seed, epoch, index): the same seed gives the same batches on any number
/// of threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include "ofa/data/dataset.hpp"
#include "ofa/data/transforms.hpp"
#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::data {

/** @brief What to do with an image that cannot be decoded. */
enum class corrupt_policy { fail, skip };

/** @brief Loader settings. */
struct loader_options {
  int batch_size = 64;
  std::vector<int> resolutions{32};  ///< one is drawn per batch
  bool shuffle = true;
  bool drop_last = true;  ///< drop a last, smaller batch (training)
  std::uint64_t seed = 0;
  int prefetch_batches = 2;  ///< batches in flight beyond the one being consumed
  augmentation aug{};
  corrupt_policy on_corrupt = corrupt_policy::fail;
};

/** @brief One batch: NHWC images at `resolution`, labels, and its position in the epoch. */
struct batch {
  tensor<float> images;
  std::vector<int> labels;
  int resolution = 0;
  std::size_t index = 0;
};

template <dataset D>
class loader {
 public:
  loader(const D& data, loader_options options) : data_(&data), o_(std::move(options)) {
    if (o_.batch_size < 1) throw config_error("ofa::data::loader: batch_size must be positive");
    if (o_.resolutions.empty()) throw config_error("ofa::data::loader: give at least one resolution");
    if (data.size() == 0) throw data_error("ofa::data::loader: the data set is empty");
  }

  std::size_t batches_per_epoch() const {
    const std::size_t n = data_->size(), b = static_cast<std::size_t>(o_.batch_size);
    return o_.drop_last ? n / b : (n + b - 1) / b;
  }
  /** @brief Corrupt images skipped so far (with corrupt_policy::skip). */
  std::size_t skipped() const { return skipped_.load(); }
  const loader_options& options() const { return o_; }

  /** @brief The resolution of batch `b` of `epoch`. */
  int resolution_of(std::size_t epoch, std::size_t b) const {
    if (o_.resolutions.size() == 1) return o_.resolutions[0];
    rng e = rng::derive(o_.seed ^ 0x7e50ULL, epoch, b);
    return o_.resolutions[static_cast<std::size_t>(e.uniform_index(o_.resolutions.size()))];
  }

  /** @brief Runs one epoch, calling on_batch(batch&) for every batch, in order. Returning
   *  false from on_batch stops the epoch early. */
  void run_epoch(std::size_t epoch, const std::function<bool(batch&)>& on_batch);

 private:
  struct item {
    std::size_t position = 0;  // in the epoch order
    record rec;
    int resolution = 0;
    pooled_vector<float> pixels;
    bool failed = false;
    std::string error;
  };

  const D* data_;
  loader_options o_;
  std::atomic<std::size_t> skipped_{0};
};

// ---------------------------------------------------------------------------
// implementation

template <dataset D>
void loader<D>::run_epoch(std::size_t epoch, const std::function<bool(batch&)>& on_batch) {
  const std::size_t n = data_->size(), bs = static_cast<std::size_t>(o_.batch_size);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (o_.shuffle) {
    rng e = rng::derive(o_.seed ^ 0x5f1eULL, epoch);
    shuffle(order.begin(), order.end(), e);
  }
  const std::size_t total_batches = batches_per_epoch();
  std::size_t next = 0;           // next position to read
  std::size_t batch_number = 0;   // batches emitted
  std::atomic<bool> stop{false};  // set by the last stage, read by the first
  batch current;
  auto start_batch = [&] {
    current = batch{};
    current.index = batch_number;
    current.resolution = resolution_of(epoch, batch_number);
    const auto r = static_cast<std::size_t>(current.resolution);
    current.images = tensor<float>(shape_type{bs, r, r, 3});
  };
  start_batch();
  std::size_t filled = 0;
  // Resolution of the batch an item will land in is only known once earlier items are in
  // (skips shift it), so the parallel stage renders at the resolution guessed from its
  // position and the serial stage re-renders the rare item whose guess was wrong.
  const auto ntokens = static_cast<std::size_t>(std::max(2, o_.prefetch_batches + 1) * o_.batch_size);
  tbb::parallel_pipeline(
      ntokens, tbb::make_filter<void, std::shared_ptr<item>>(tbb::filter_mode::serial_in_order,
                                                             [&](tbb::flow_control& fc) -> std::shared_ptr<item> {
                                                               if (stop.load() || next >= n) {
                                                                 fc.stop();
                                                                 return nullptr;
                                                               }
                                                               auto it = std::make_shared<item>();
                                                               it->position = next;
                                                               it->resolution = resolution_of(epoch, next / bs);
                                                               it->rec = data_->read(order[next]);
                                                               ++next;
                                                               return it;
                                                             }) &
                   tbb::make_filter<std::shared_ptr<item>, std::shared_ptr<item>>(
                       tbb::filter_mode::parallel,
                       [&](std::shared_ptr<item> it) {
                         try {
                           const image img = data_->decode(it->rec);
                           rng e = rng::derive(o_.seed ^ 0xa11aULL, epoch, it->rec.index);
                           it->pixels.resize(static_cast<std::size_t>(it->resolution) * it->resolution * 3);
                           transform_image(img, o_.aug, it->resolution, e, it->pixels.data());
                         } catch (const data_error& err) {
                           if (o_.on_corrupt == corrupt_policy::fail) throw;
                           it->failed = true;
                           it->error = err.what();
                         }
                         return it;
                       }) &
                   tbb::make_filter<std::shared_ptr<item>, void>(
                       tbb::filter_mode::serial_in_order, [&](std::shared_ptr<item> it) {
                         if (stop.load()) return;
                         if (it->failed) {
                           ++skipped_;
                           return;
                         }
                         const auto r = static_cast<std::size_t>(current.resolution);
                         if (it->resolution != current.resolution) {  // a skip shifted this item into another batch
                           const image img = data_->decode(it->rec);
                           rng e = rng::derive(o_.seed ^ 0xa11aULL, epoch, it->rec.index);
                           it->pixels.resize(r * r * 3);
                           transform_image(img, o_.aug, current.resolution, e, it->pixels.data());
                         }
                         std::copy(it->pixels.begin(), it->pixels.end(), current.images.data() + filled * r * r * 3);
                         current.labels.push_back(it->rec.label);
                         if (++filled == bs) {
                           bool go_on = on_batch(current);
                           ++batch_number;
                           filled = 0;
                           if (o_.drop_last && batch_number >= total_batches) go_on = false;
                           if (go_on)
                             start_batch();
                           else
                             stop = true;
                         }
                       }));
  if (!stop && filled > 0 && !o_.drop_last) {  // the last, smaller batch
    const auto r = static_cast<std::size_t>(current.resolution);
    tensor<float> last(shape_type{filled, r, r, 3});
    std::copy(current.images.data(), current.images.data() + filled * r * r * 3, last.data());
    current.images = std::move(last);
    on_batch(current);
  }
}

}  // namespace ofa::data
