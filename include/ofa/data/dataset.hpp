#pragma once
/// @file
/// The dataset concept. Reading is split in two so the loader can pipeline it:
/// read(i) does the (serial) I/O and returns a record; decode(record) turns it
/// into pixels and must be safe to call from many threads at once.

#include <concepts>
#include <cstddef>
#include <string>
#include <vector>

#include "ofa/data/image.hpp"

namespace ofa::data {

/** @brief A labelled image source.
 *  @code
 *  ds.size();          // number of examples
 *  ds.class_count();   // labels are 0 .. class_count()-1
 *  ds.label(i);        // without reading the image
 *  ds.read(i);         // record: bytes from storage (serial stage)
 *  ds.decode(rec);     // image: pixels (parallel stage, thread-safe)
 *  @endcode */
template <class D>
concept dataset = requires(const D& d, std::size_t i, const record& r) {
  { d.size() } -> std::convertible_to<std::size_t>;
  { d.class_count() } -> std::convertible_to<int>;
  { d.label(i) } -> std::convertible_to<int>;
  { d.read(i) } -> std::same_as<record>;
  { d.decode(r) } -> std::same_as<image>;
};

/** @brief A view of some examples of another dataset (a train/validation split). */
template <dataset D>
class subset {
 public:
  subset(const D& base, std::vector<std::size_t> indices) : base_(&base), indices_(std::move(indices)) {}
  std::size_t size() const { return indices_.size(); }
  int class_count() const { return base_->class_count(); }
  int label(std::size_t i) const { return base_->label(indices_[i]); }
  record read(std::size_t i) const { return base_->read(indices_[i]); }
  image decode(const record& r) const { return base_->decode(r); }

 private:
  const D* base_;
  std::vector<std::size_t> indices_;
};

}  // namespace ofa::data
