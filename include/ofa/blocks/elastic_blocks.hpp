#pragma once
/// @file
/// Every block kind's training block (the supernet's) and its extraction: one include per
/// kind's folder, and what elastic_net asks of each.

#include <concepts>
#include <string>

#include "ofa/blocks/bottleneck/elastic_block.hpp"
#include "ofa/blocks/bottleneck/extract.hpp"
#include "ofa/blocks/mbconv/elastic_block.hpp"
#include "ofa/blocks/mbconv/extract.hpp"
#include "ofa/nn/elastic_layers.hpp"
#include "ofa/random.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

/** @brief A supernet block: built from the supernet plan's block and its unit, run as a subnet's
 *  plan of it (training, and const for evaluation and recalibration), initialised, its BN layers
 *  numbered, its state named as the reference's, its middle channels sortable. */
template <class B, class T>
concept elastic_block = std::constructible_from<B, const block_plan&, const space::unit_info&> &&
    requires(B b, const B& cb, const variable<T>& x, const block_plan& p, const forward_context<T>& context,
             rng& engine, state_list<T>& state) {
  { b.forward(x, p, context) } -> std::same_as<variable<T>>;
  { cb.forward(x, p, context) } -> std::same_as<variable<T>>;
  b.init(engine);
  b.for_each_batch_norm([](elastic_batch_norm<T>&) {});
  b.collect(state, std::string());
  b.reorganize_middle(0);
};

}  // namespace ofa::nn
