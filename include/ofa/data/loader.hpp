#pragma once
/// @file
/// The batch loader, pulled by the trainer: `auto cursor = loader.epoch(e)`, then
/// `cursor.next()` on the caller's own thread, while a producer thread reads ahead
/// (serially, in order), decodes and augments each batch's images in parallel on
/// oneTBB, and keeps at most `prefetch_batches` finished batches waiting. The tape,
/// no_grad, signal handling and (later) MPI calls therefore all stay on the thread
/// that trains.
///
/// Each batch has one resolution drawn from the list given (elastic resolution, as
/// the reference). The epoch's order and every random choice are functions of
/// (seed, epoch, index): the same seed gives the same batches on any number of
/// threads, from any starting batch, and in every shard.

#include <algorithm>  // min, copy_n
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // exchange
#include <vector>

#include "ofa/parallel/loops.hpp"

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
  int prefetch_batches = 2;  ///< finished batches waiting beyond the one being consumed
  augmentation aug{};
  corrupt_policy on_corrupt = corrupt_policy::fail;
};

/** @brief One batch: NHWC images at `resolution`, labels, and its place in the epoch. */
struct batch {
  tensor<float> images;
  std::vector<int> labels;
  int resolution = 0;
  std::size_t index = 0;      ///< batch number in the epoch (in this shard)
  std::size_t next_item = 0;  ///< position in the shard's order after this batch's last image
};

/** @brief Part `index` of `count` of every epoch: the positions p of the epoch's order with
 *  p % count == index (data-parallel training, one shard per process). */
struct shard_spec {
  int index = 0;
  int count = 1;
};

/** @brief Where an epoch starts. A batch number alone is exact when no image has been
 *  skipped; a resumed run passes the `next_item` of the last batch it consumed as well. */
struct epoch_start {
  std::size_t batch = 0;
  std::size_t item = std::numeric_limits<std::size_t>::max();  ///< default: batch · batch_size
  epoch_start(std::size_t first_batch = 0) : batch(first_batch) {}  // NOLINT: a batch number reads as a start
  epoch_start(std::size_t first_batch, std::size_t first_item) : batch(first_batch), item(first_item) {}
};

template <dataset D>
class loader {
 public:
  class cursor;

  loader(const D& data, loader_options options) : data_(&data), o_(std::move(options)) {
    if (o_.batch_size < 1) throw config_error("ofa::data::loader: batch_size must be positive");
    if (o_.resolutions.empty()) throw config_error("ofa::data::loader: give at least one resolution");
    if (data.size() == 0) throw data_error("ofa::data::loader: the data set is empty");
  }
  loader(const loader&) = delete;  // cursors point at it
  loader& operator=(const loader&) = delete;

  /** @brief Batches in one epoch of `shard`. Shards of a drop_last loader all get as many
   *  batches as the smallest, so that data-parallel processes step in lockstep. */
  std::size_t batches_per_epoch(shard_spec shard = {}) const {
    const std::size_t n = data_->size(), k = static_cast<std::size_t>(shard.count);
    const std::size_t b = static_cast<std::size_t>(o_.batch_size);
    if (o_.drop_last) return n / k / b;
    const std::size_t mine = shard_size(shard);
    return (mine + b - 1) / b;
  }
  /** @brief Corrupt images skipped so far (with corrupt_policy::skip). */
  std::size_t skipped() const { return skipped_.load(); }
  const loader_options& options() const { return o_; }

  /** @brief The resolution of batch `b` of `epoch` (the same in every shard). */
  int resolution_of(std::size_t epoch, std::size_t b) const {
    if (o_.resolutions.size() == 1) return o_.resolutions[0];
    rng e = rng::derive(o_.seed ^ 0x7e50ULL, epoch, b);
    return o_.resolutions[static_cast<std::size_t>(e.uniform_index(o_.resolutions.size()))];
  }

  /** @brief Starts epoch `epoch` at `start` in `shard`; the producer begins reading at once.
   *  The loader must outlive the cursor. */
  cursor epoch(std::size_t epoch, epoch_start start = {}, shard_spec shard = {}) const {
    if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
      throw config_error("ofa::data::loader::epoch: shard " + std::to_string(shard.index) + " of " +
                         std::to_string(shard.count) + " does not exist; give 0 <= index < count");
    return cursor(*this, epoch, start, shard);
  }

 private:
  std::size_t shard_size(shard_spec s) const {
    const std::size_t n = data_->size(), k = static_cast<std::size_t>(s.count), i = static_cast<std::size_t>(s.index);
    return n > i ? (n - i + k - 1) / k : 0;
  }
  /// The epoch's order of `shard`: positions of the shuffled whole, every k-th from the shard's index.
  std::vector<std::size_t> order_of(std::size_t epoch, shard_spec shard) const {
    std::vector<std::size_t> order(data_->size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (o_.shuffle) {
      rng e = rng::derive(o_.seed ^ 0x5f1eULL, epoch);
      shuffle(order.begin(), order.end(), e);
    }
    if (shard.count == 1) return order;
    std::vector<std::size_t> mine;
    mine.reserve(shard_size(shard));
    for (std::size_t p = static_cast<std::size_t>(shard.index); p < order.size(); p += std::size_t(shard.count))
      mine.push_back(order[p]);
    return mine;
  }

  const D* data_;
  loader_options o_;
  mutable std::atomic<std::size_t> skipped_{0};
};

/** @brief One epoch being read. next() hands out the batches in order on the calling thread;
 *  destroying the cursor (or reaching the end) stops the producer. Move-only. */
template <dataset D>
class loader<D>::cursor {
 public:
  cursor(cursor&&) = default;
  cursor& operator=(cursor&&) = default;
  ~cursor() = default;

  /** @brief The next batch, or nullopt at the end of the epoch. Rethrows, on this thread,
   *  what the producer hit (a corrupt image under corrupt_policy::fail). */
  std::optional<batch> next() { return shared_->pop(); }
  /** @brief Batches in this epoch, counted from batch 0 (not from the start). */
  std::size_t batch_count() const { return total_batches_; }

 private:
  friend class loader;
  /// The hand-over between the producer and the caller: a bounded queue of finished batches.
  struct channel {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<batch> ready;
    std::size_t capacity = 1;
    bool finished = false, cancelled = false;
    std::exception_ptr failure;

    /// Producer side: false when the consumer has gone.
    bool push(batch b) {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return cancelled || ready.size() < capacity; });
      if (cancelled) return false;
      ready.push_back(std::move(b));
      changed.notify_all();
      return true;
    }
    void finish(std::exception_ptr error) {
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
      failure = std::move(error);
      changed.notify_all();
    }
    std::optional<batch> pop() {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return !ready.empty() || finished; });
      if (!ready.empty()) {
        batch b = std::move(ready.front());
        ready.pop_front();
        changed.notify_all();
        return b;
      }
      if (failure) std::rethrow_exception(std::exchange(failure, nullptr));
      return std::nullopt;
    }
    bool stopped() {
      std::lock_guard<std::mutex> lock(mutex);
      return cancelled;
    }
  };
  /// Owns the producer thread; cancels and joins it when the cursor goes.
  struct producer {
    std::shared_ptr<channel> shared;
    std::thread thread;
    ~producer() {
      {
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->cancelled = true;
        shared->changed.notify_all();
      }
      if (thread.joinable()) thread.join();
    }
  };

  cursor(const loader& owner, std::size_t epoch, epoch_start start, shard_spec shard)
      : shared_(std::make_shared<channel>()), total_batches_(owner.batches_per_epoch(shard)) {
    shared_->capacity = static_cast<std::size_t>(std::max(1, owner.o_.prefetch_batches));
    const std::size_t item = start.item != std::numeric_limits<std::size_t>::max()
                                 ? start.item
                                 : start.batch * static_cast<std::size_t>(owner.o_.batch_size);
    worker_ = std::make_unique<producer>();
    worker_->shared = shared_;
    worker_->thread = std::thread([&owner, shared = shared_, epoch, start, item, shard, total = total_batches_] {
      try {
        produce(owner, *shared, epoch, start.batch, item, shard, total);
        shared->finish(nullptr);
      } catch (...) {
        shared->finish(std::current_exception());
      }
    });
  }

  static void produce(const loader& owner, channel& out, std::size_t epoch, std::size_t first_batch,
                      std::size_t first_item, shard_spec shard, std::size_t total_batches);

  std::shared_ptr<channel> shared_;
  std::unique_ptr<producer> worker_;  // declared last: joined before the channel handle goes
  std::size_t total_batches_ = 0;
};

// ---------------------------------------------------------------------------
// implementation

template <dataset D>
void loader<D>::cursor::produce(const loader& owner, channel& out, std::size_t epoch, std::size_t first_batch,
                                std::size_t first_item, shard_spec shard, std::size_t total_batches) {
  const auto& o = owner.o_;
  const D& data = *owner.data_;
  const std::vector<std::size_t> order = owner.order_of(epoch, shard);
  const std::size_t bs = static_cast<std::size_t>(o.batch_size);
  std::size_t next = first_item;
  struct slot {
    record rec;
    bool failed = false;
  };
  std::vector<slot> slots;
  for (std::size_t b = first_batch; next < order.size() && (!o.drop_last || b < total_batches); ++b) {
    if (out.stopped()) return;
    batch current;
    current.index = b;
    current.resolution = owner.resolution_of(epoch, b);
    const auto r = static_cast<std::size_t>(current.resolution), image_floats = r * r * 3;
    tensor<float> images(shape_type{bs, r, r, 3});
    std::size_t filled = 0;
    // Read the images still missing (serially, in order), decode them in parallel, and read
    // again for those that were skipped as corrupt.
    while (filled < bs && next < order.size()) {
      const std::size_t want = std::min(bs - filled, order.size() - next);
      slots.assign(want, slot{});
      for (std::size_t i = 0; i < want; ++i) slots[i].rec = data.read(order[next + i]);
      next += want;
      float* base = images.data() + filled * image_floats;
      parallel::for_index(std::size_t{0}, want, [&](std::size_t i) {
        try {
          const image img = data.decode(slots[i].rec);
          rng e = rng::derive(o.seed ^ 0xa11aULL, epoch, slots[i].rec.index);
          transform_image(img, o.aug, current.resolution, e, base + i * image_floats);
        } catch (const data_error&) {
          if (o.on_corrupt == corrupt_policy::fail) throw;
          slots[i].failed = true;
        }
      });
      for (std::size_t i = 0; i < want; ++i) {  // close the gaps the skipped images left
        if (slots[i].failed) {
          ++owner.skipped_;
          continue;
        }
        if (float* to = images.data() + filled * image_floats; to != base + i * image_floats)
          std::copy_n(base + i * image_floats, image_floats, to);
        current.labels.push_back(slots[i].rec.label);
        ++filled;
      }
    }
    if (filled == 0 || (filled < bs && o.drop_last)) return;
    if (filled < bs) {  // the last, smaller batch
      tensor<float> last(shape_type{filled, r, r, 3});
      std::copy_n(images.data(), filled * image_floats, last.data());
      images = std::move(last);
    }
    current.images = std::move(images);
    current.next_item = next;
    if (!out.push(std::move(current))) return;
  }
}

}  // namespace ofa::data
