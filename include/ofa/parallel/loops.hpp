#pragma once
/// @file
/// The parallel loops every ofa kernel, loader and search runs on: oneTBB's parallel_for, with the
/// fork and the join told to ThreadSanitizer.
///
/// Why the telling: oneTBB hands a loop's body to its workers through atomics inside libtbb, which
/// ThreadSanitizer does not see (the library is not built with it), so every read a worker makes
/// of what the caller wrote before the loop would be reported as a race, and every write the
/// caller reads after it. The loops below state the two edges oneTBB guarantees — everything
/// before the loop happens before each body, each body happens before everything after it — and
/// nothing more, so a race between two bodies is still reported. Outside a TSan build the
/// annotations compile to nothing.

#include <cstddef>
#include <type_traits>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#if defined(__SANITIZE_THREAD__)
#define OFA_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OFA_THREAD_SANITIZER 1
#endif
#endif

#ifdef OFA_THREAD_SANITIZER
extern "C" void __tsan_acquire(void* address);  // NOLINT(bugprone-reserved-identifier): TSan's interface
extern "C" void __tsan_release(void* address);  // NOLINT(bugprone-reserved-identifier)
/// Not checked by TSan: the few reads a worker makes of the loop's own bookkeeping (on the caller's
/// stack) before it can acquire the fork. The bodies it then calls are checked.
#define OFA_DETAIL_UNCHECKED_BY_TSAN __attribute__((no_sanitize("thread")))
#else
#define OFA_DETAIL_UNCHECKED_BY_TSAN
#endif

namespace ofa::parallel {

namespace detail {
/// The happens-before edges of one fork-join loop, for ThreadSanitizer: two sync objects (the
/// addresses of two bytes) released and acquired where oneTBB synchronises.
class fork_join_edges {
 public:
  fork_join_edges() { release(&fork_); }
  ~fork_join_edges() { acquire(&join_); }  // also when a body threw: the caller reads what it left
  fork_join_edges(const fork_join_edges&) = delete;
  fork_join_edges& operator=(const fork_join_edges&) = delete;

  /// Runs one body between the fork and the join.
  template <class F>
  void inside(const F& f) const {
    acquire(&fork_);
    struct at_end {
      const fork_join_edges* edges;
      ~at_end() { release(&edges->join_); }
    } end{this};
    f();
  }

 private:
  static void acquire([[maybe_unused]] const char* sync) {
#ifdef OFA_THREAD_SANITIZER
    __tsan_acquire(const_cast<char*>(sync));
#endif
  }
  static void release([[maybe_unused]] const char* sync) {
#ifdef OFA_THREAD_SANITIZER
    __tsan_release(const_cast<char*>(sync));
#endif
  }
  char fork_ = 0, join_ = 0;
};

/// oneTBB's body for for_index: it reaches the edges and the body through the caller's stack, which
/// it may read only after the fork is acquired -- hence unchecked itself (the body it calls is not).
template <class Index, class Body>
struct indexed_body {
  const fork_join_edges* edges;
  const Body* body;
  OFA_DETAIL_UNCHECKED_BY_TSAN void operator()(Index i) const {
    const Body* b = body;
    edges->inside([b, i] { (*b)(i); });
  }
};

/// The same for for_chunks' ranges.
template <class Body>
struct range_body {
  const fork_join_edges* edges;
  const Body* body;
  OFA_DETAIL_UNCHECKED_BY_TSAN void operator()(const tbb::blocked_range<std::size_t>& r) const {
    const Body* b = body;
    const std::size_t begin = r.begin(), end = r.end();
    edges->inside([b, begin, end] { (*b)(begin, end); });
  }
};
}  // namespace detail

/** @brief Runs body(i) for every i in [begin, end) on oneTBB's threads, returning when all are
 *  done (an exception from a body is rethrown here). Bodies must not depend on their order. */
template <class Index, class Body>
void for_index(Index begin, Index end, const Body& body) {
  static_assert(std::is_integral_v<Index>, "for_index: the index must be an integer type");
  if (!(begin < end)) return;
  detail::fork_join_edges edges;
  tbb::parallel_for(begin, end, detail::indexed_body<Index, Body>{&edges, &body});
}

/** @brief Runs body(begin, end) over [0, n) in chunks of about `grain` indices, in parallel
 *  (on the calling thread alone when n is at most one grain). */
template <class Body>
void for_chunks(std::size_t n, std::size_t grain, const Body& body) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (n <= grain) {
    body(std::size_t{0}, n);
    return;
  }
  detail::fork_join_edges edges;
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain), detail::range_body<Body>{&edges, &body});
}

}  // namespace ofa::parallel
