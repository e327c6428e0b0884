#pragma once
/// @file
/// Where a training run is: what a checkpoint must hold, beside the weights and the
/// optimizer's state, for a resumed run to continue exactly as the uninterrupted one.
///
/// The determinism contract (docs/training.md): every random draw of training is a
/// pure function of (seed, step, index) — the subnets sampled at a step, the
/// classifier's dropout stream, the loader's order and augmentation — so the state
/// is a handful of counters and no hidden stream, and data-parallel processes draw
/// alike by construction.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ofa/errors.hpp"
#include "ofa/detail/json_number.hpp"
#include "ofa/random.hpp"

namespace ofa::train {

/** @brief The position of a run, saved in every checkpoint. */
struct trainer_state {
  std::string phase;            ///< name of the schedule phase ("" outside a schedule)
  std::size_t phase_index = 0;  ///< its place in the schedule
  std::size_t epoch = 0;        ///< epoch within the phase
  std::size_t batch = 0;        ///< next batch of that epoch
  std::size_t next_item = 0;    ///< the loader's exact position (epoch_start's item)
  std::int64_t step = 0;        ///< optimizer steps taken in the whole run
  double learning_rate = 0.0;   ///< the last one applied
  std::uint64_t seed = 0;       ///< the run's seed, from which every draw derives
  rng::state_type dropout{};    ///< the classifier's dropout stream
};

/** @brief The stream of draw `index` at `step` for purpose `tag` (sampling, dropout, ...). */
inline rng draw_stream(std::uint64_t seed, std::uint64_t tag, std::int64_t step, std::uint64_t index = 0) {
  return rng::derive(seed ^ tag, static_cast<std::uint64_t>(step), index);
}

inline nlohmann::json to_json(const trainer_state& s) {
  return {{"phase", s.phase},
          {"phase_index", s.phase_index},
          {"epoch", s.epoch},
          {"batch", s.batch},
          {"next_item", s.next_item},
          {"step", s.step},
          {"learning_rate", s.learning_rate},
          {"seed", s.seed},
          {"dropout_rng", {s.dropout[0], s.dropout[1], s.dropout[2], s.dropout[3]}}};
}

/** @brief Reads what to_json wrote; throws ofa::io_error naming `source` and the key that is
 *  missing or of the wrong type. */
inline trainer_state trainer_state_from_json(const nlohmann::json& j, const std::string& source) {
  trainer_state s;
  try {
    s.phase = j.at("phase").get<std::string>();
    const auto whole = [&]<class T>(const nlohmann::json& v, const char* name, T) {
      const auto w = ofa::detail::json_whole<T>(v);
      if (!w) throw io_error(std::string(name) + " is not a whole number in range");
      return *w;
    };
    s.phase_index = whole(j.at("phase_index"), "phase_index", std::size_t{});
    s.epoch = whole(j.at("epoch"), "epoch", std::size_t{});
    s.batch = whole(j.at("batch"), "batch", std::size_t{});
    s.next_item = whole(j.at("next_item"), "next_item", std::size_t{});
    s.step = whole(j.at("step"), "step", std::int64_t{});
    s.learning_rate = j.at("learning_rate").get<double>();
    s.seed = whole(j.at("seed"), "seed", std::uint64_t{});
    const auto& words = j.at("dropout_rng");
    if (!words.is_array() || words.size() != 4) throw io_error("dropout_rng must hold 4 words");
    for (std::size_t i = 0; i < 4; ++i) s.dropout[i] = whole(words[i], "dropout_rng", std::uint64_t{});
  } catch (const nlohmann::json::exception& e) {
    throw io_error("ofa: the trainer state in '" + source + "' is incomplete or corrupt (" + e.what() +
                   "); resume from another checkpoint");
  } catch (const io_error& e) {
    throw io_error("ofa: the trainer state in '" + source + "' is corrupt: " + e.what());
  }
  return s;
}

}  // namespace ofa::train
