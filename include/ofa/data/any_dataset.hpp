#pragma once
/// @file
/// any_dataset: a type-erased dataset, so that a data source chosen at run time
/// (a command-line SPEC) feeds the same loader and trainer.

#include <memory>
#include <utility>

#include "ofa/data/dataset.hpp"

namespace ofa::data {

class any_dataset {
 public:
  template <dataset D>
  explicit any_dataset(D source) : self_(std::make_shared<model<D>>(std::move(source))) {}

  std::size_t size() const { return self_->size(); }
  int class_count() const { return self_->class_count(); }
  int label(std::size_t i) const { return self_->label(i); }
  record read(std::size_t i) const { return self_->read(i); }
  image decode(const record& r) const { return self_->decode(r); }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual std::size_t size() const = 0;
    virtual int class_count() const = 0;
    virtual int label(std::size_t) const = 0;
    virtual record read(std::size_t) const = 0;
    virtual image decode(const record&) const = 0;
  };
  template <class D>
  struct model final : concept_t {
    explicit model(D d) : data(std::move(d)) {}
    std::size_t size() const override { return data.size(); }
    int class_count() const override { return data.class_count(); }
    int label(std::size_t i) const override { return data.label(i); }
    record read(std::size_t i) const override { return data.read(i); }
    image decode(const record& r) const override { return data.decode(r); }
    D data;
  };
  std::shared_ptr<const concept_t> self_;
};

}  // namespace ofa::data
