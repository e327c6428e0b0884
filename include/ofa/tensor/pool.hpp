#pragma once
/// @file
/// A caching pool for tensor and scratch storage: freed blocks go to a free
/// list of their power-of-two size class and are handed out again, so a
/// training step in steady state asks the system for no memory at all
/// (`pool_stats().system_allocations` stops growing; a test checks it).

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>  // forward
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>  // madvise
#endif

namespace ofa {

/** @brief Counters of the global tensor pool. */
struct pool_statistics {
  std::size_t system_allocations = 0;  ///< blocks obtained from the system
  std::size_t reuses = 0;              ///< blocks served from a free list
  std::size_t bytes_cached = 0;        ///< bytes held in free lists now
};

namespace detail {
class block_pool {
 public:
  static constexpr std::size_t alignment = 64;
  static constexpr int classes = 48;

  static block_pool& instance() {
    static block_pool* pool = new block_pool();  // never destroyed: tensors may outlive statics
    return *pool;
  }

  void* allocate(std::size_t bytes) {
    const int cls = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& list = free_[static_cast<std::size_t>(cls)];
      if (!list.empty()) {
        void* p = list.back();
        list.pop_back();
        ++reuses_;
        cached_ -= class_bytes(cls);
        return p;
      }
      ++system_;
    }
    return system_allocate(class_bytes(cls));
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    const int cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      free_[static_cast<std::size_t>(cls)].push_back(p);
      cached_ += class_bytes(cls);
    } catch (...) {
      std::free(p);
    }
  }

  /** Returns every cached block to the system. */
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& list : free_) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    cached_ = 0;
  }

  pool_statistics stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {system_, reuses_, cached_};
  }

 private:
  static int size_class(std::size_t bytes) {
    const std::size_t rounded = std::bit_ceil(bytes < alignment ? alignment : bytes);
    return std::countr_zero(rounded);
  }
  static std::size_t class_bytes(int cls) { return std::size_t{1} << cls; }

  /// Blocks of 2 MiB and more (activations of the first layers at batch 16: 4-12 MB) are
  /// 2 MiB aligned and asked for as transparent huge pages where Linux offers them on request
  /// (THP "madvise" mode): one TLB entry per 2 MiB instead of 512 for the kernels that stream
  /// through them.
  static void* system_allocate(std::size_t bytes) {
    constexpr std::size_t huge_page = std::size_t{2} << 20;
    const bool huge = bytes >= huge_page;  // a power of two, so a multiple of 2 MiB
    void* p = std::aligned_alloc(huge ? huge_page : alignment, bytes);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) (void)::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; without it pages are 4 KiB
#endif
    return p;
  }

  std::mutex mutex_;
  std::array<std::vector<void*>, classes> free_{};
  std::size_t system_ = 0, reuses_ = 0, cached_ = 0;
};
}  // namespace detail

/** @brief Counters of the pool every ofa tensor and kernel scratch buffer uses. */
inline pool_statistics pool_stats() {
  return detail::block_pool::instance().stats();
}

/** @brief Gives every cached block back to the system (e.g. between training and search). */
inline void pool_release() {
  detail::block_pool::instance().release();
}

/** @brief Standard allocator over the pool; 64-byte aligned. */
template <class T>
struct pool_allocator {
  using value_type = T;
  pool_allocator() noexcept = default;
  template <class U>
  pool_allocator(const pool_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(detail::block_pool::instance().allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::block_pool::instance().deallocate(p, n * sizeof(T)); }
  /// Default-initialises (leaves floats unset) where std::allocator would zero: kernels
  /// overwrite their scratch, and a memset per buffer per layer is measurable. Constructing
  /// with a value (v(n, 0.0f), assign) still initialises.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  struct rebind {
    using other = pool_allocator<U>;
  };
  friend bool operator==(const pool_allocator&, const pool_allocator&) noexcept { return true; }
};

/** @brief Scratch vectors of kernels: pooled, aligned, and not zeroed by resize(n). */
template <class T>
using pooled_vector = std::vector<T, pool_allocator<T>>;

}  // namespace ofa
