#pragma once
/// @file
/// Re-ranking a search's finalists by measurement: the predictor's order among its last few
/// candidates is within its own error, so the best of the first K, measured on held-out images,
/// is a better choice than its first (docs/search.md has the figures).

#include <cstddef>
#include <span>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/search/accuracy_dataset.hpp"
#include "ofa/search/evolution.hpp"

namespace ofa::search {

/** @brief The finalists measured, and which one measured best. */
template <class Space>
struct reranking {
  std::vector<candidate<Space>> finalists;       ///< the first K finalists, in the predictor's order
  std::vector<accuracy_record<Space>> measured;  ///< each one's measurement on the held-out images
  std::size_t best = 0;                          ///< index of the best measured
};

/** @brief The first `k` of `finalists` (a search_result's, best predicted first) recalibrated and
 *  measured on `images` (prepare_evaluation_images: training images for BN, held-out ones to score),
 *  in parallel; the best measured is `best` (the earlier one on a tie). */
template <class Space>
reranking<Space> rerank(const nn::elastic_net<Space>& net, std::span<const candidate<Space>> finalists, std::size_t k,
                        const evaluation_images& images) {
  if (finalists.empty() || k == 0)
    throw logic_error("ofa::search::rerank: nothing to re-rank; give a search's finalists and k of at least 1");
  reranking<Space> r;
  r.finalists.assign(finalists.begin(), finalists.begin() + static_cast<std::ptrdiff_t>(std::min(k, finalists.size())));
  std::vector<subnet_config<Space>> configs;
  for (const auto& f : r.finalists) configs.push_back(f.config);
  r.measured = measure_subnets(net, std::span<const subnet_config<Space>>(configs), images);
  for (std::size_t i = 1; i < r.measured.size(); ++i)
    if (r.measured[i].top1 > r.measured[r.best].top1) r.best = i;
  return r;
}

}  // namespace ofa::search
