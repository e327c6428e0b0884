#pragma once
/// @file
/// Time by layer type: where a training step or an inference goes. Off by
/// default (one relaxed atomic load per op); `ofa bench --profile` turns it on
/// and prints the table. Ops and the tape's backward closures open a scope with
/// a static name and a phase; scopes nest, and only the outermost one of a
/// thread counts, so an op built from other ops (linear = pointwise + bias) is
/// charged once, to itself.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ofa::profiling {

/** @brief Forward (and inference) or backward time. */
enum class phase { forward, backward };

/** @brief One row of the report: a layer type in a phase. */
struct entry {
  std::string name;
  phase when = phase::forward;
  double seconds = 0;
  std::int64_t calls = 0;
};

namespace detail {
struct registry {
  std::atomic<bool> on{false};
  std::atomic<bool> by_shape{false};
  std::mutex mutex;
  std::map<std::pair<std::string, phase>, entry> rows;
  std::set<std::string> names;  // labels with shapes; a set's nodes never move, so their c_str() stays valid

  static registry& get() {
    static registry r;
    return r;
  }
};
inline int& depth() {
  thread_local int d = 0;
  return d;
}
}  // namespace detail

/** @brief How finely time is split: by layer type, or by layer type and shape. */
enum class detail_level { type, shape };

/** @brief Turns collection on or off (process-wide); `level` shape gives one row per
 *  layer type and tensor shape (which of the 36 pointwise layers is slow). */
inline void enable(bool on = true, detail_level level = detail_level::type) {
  detail::registry::get().by_shape.store(on && level == detail_level::shape, std::memory_order_relaxed);
  detail::registry::get().on.store(on, std::memory_order_relaxed);
}
/** @brief Whether scopes are being timed. */
inline bool enabled() {
  return detail::registry::get().on.load(std::memory_order_relaxed);
}
/** @brief Forgets everything collected so far (e.g. after a warm-up). */
inline void reset() {
  auto& r = detail::registry::get();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.rows.clear();
}
/** @brief The rows collected so far, slowest first. */
inline std::vector<entry> report() {
  auto& r = detail::registry::get();
  std::vector<entry> out;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const auto& [key, row] : r.rows) out.push_back(row);
  }
  std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) { return a.seconds > b.seconds; });
  return out;
}

/** @brief The name an op times itself under: `type` alone, or, when rows are split by
 *  shape, `type` followed by `shape()` (a callable returning a string, only called then).
 *  The returned pointer stays valid for the life of the process. */
template <class ShapeText>
const char* label(const char* type, ShapeText&& shape) {
  auto& r = detail::registry::get();
  if (!r.by_shape.load(std::memory_order_relaxed) || !enabled()) return type;
  std::string name = std::string(type) + " " + shape();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.names.insert(std::move(name)).first->c_str();
}

/** @brief Times its lifetime under (name, phase) when profiling is on and it is the
 *  outermost scope of its thread. `name` must outlive the scope (a literal). */
class scope {
 public:
  explicit scope(const char* name, phase when = phase::forward) noexcept
      : name_(name), when_(when), timed_(enabled() && detail::depth() == 0) {
    if (!timed_) return;
    ++detail::depth();
    start_ = std::chrono::steady_clock::now();
  }
  ~scope() {
    if (!timed_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    --detail::depth();
    auto& r = detail::registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto& row = r.rows[{name_, when_}];
    row.name = name_;
    row.when = when_;
    row.seconds += s;
    ++row.calls;
  }
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;

 private:
  const char* name_;
  phase when_;
  bool timed_;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace ofa::profiling
