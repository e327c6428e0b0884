#pragma once
// The training data of a run, as `ofa train` records it in DIR/data.json: the data spec and the
// held-out split of its training set. `ofa acc-dataset` measures on exactly those held-out images.

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <ofa/data/any_dataset.hpp>
#include <ofa/data/spec.hpp>
#include <ofa/data/split.hpp>
#include <ofa/errors.hpp>
#include <ofa/io/write_atomically.hpp>

namespace ofa_cli {

inline constexpr std::uint64_t holdout_split_seed = ofa::data::holdout_split_seed;

/** @brief --holdout as given (-1: the default), checked against the training set's size. */
inline std::size_t held_out_count(long long requested, std::size_t train_size) {
  if (requested < -1) throw ofa::config_error("--holdout must be 0 or more (-1: a tenth, at most 10,000)");
  const std::size_t n = requested < 0 ? ofa::data::default_holdout(train_size) : std::size_t(requested);
  if (n >= train_size)
    throw ofa::config_error("--holdout " + std::to_string(n) + " leaves no training images of " +
                            std::to_string(train_size) + "; hold out fewer");
  return n;
}

/** @brief `data` (opened from `spec`) as the data of a space of `space_classes` classes: an image
 *  labelled beyond them would index past the network's outputs. */
inline const ofa::data::any_dataset& check_class_count(const ofa::data::any_dataset& data, int space_classes,
                                                       const std::string& spec) {
  if (data.class_count() > space_classes)
    throw ofa::data_error("--data " + spec + " has " + std::to_string(data.class_count()) +
                          " classes (labels 0-" + std::to_string(data.class_count() - 1) + ") but the space " +
                          std::to_string(space_classes) + "; use data of the space's classes, or a space of the data's");
  return data;
}

inline void write_data_identity(const std::string& dir, const nlohmann::json& identity) {
  ofa::io::write_atomically((std::filesystem::path(dir) / "data.json").string(), identity.dump(1) + "\n");
}

/** @brief DIR/data.json of the run that wrote `checkpoint` (beside it), or null when absent. */
inline nlohmann::json read_data_identity(const std::string& checkpoint) {
  const auto path = std::filesystem::path(checkpoint).parent_path() / "data.json";
  std::ifstream f(path);
  if (!f) return nullptr;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw ofa::io_error("'" + path.string() + "' is not JSON (" + e.what() +
                        "); give the split with --data and --holdout instead");
  }
  const bool holdout_ok = !j.contains("holdout") || j["holdout"].is_number_integer();
  if (!j.is_object() || !j.contains("data") || !j["data"].is_string() || !holdout_ok)
    throw ofa::io_error("'" + path.string() + "' is not the data.json ofa train writes ({\"data\": SPEC, " +
                        "\"holdout\": N}); give the split with --data and --holdout instead");
  return j;
}

/// A run's training data split as `ofa train` split it: the images it trained on and those it held out.
struct run_split {
  std::shared_ptr<const ofa::data::any_dataset> all;  // what the subsets index (they point at it)
  ofa::data::any_dataset train, held_out;
};

/// `what` names the input that chose an empty held-out split, for the message.
inline run_split open_run_split(const std::string& data, long long holdout, const std::string& what) {
  const auto all = std::make_shared<const ofa::data::any_dataset>(ofa::data::open_dataset(data, true, 0));
  const auto n = held_out_count(holdout, all->size());
  if (n == 0)
    throw ofa::config_error(what +
                            " leaves no held-out training images to measure on; train with --holdout N "
                            "(ofa train) so that subnets can be measured on images the supernet never saw");
  const auto split = ofa::data::make_split(all->size(), n, holdout_split_seed);
  return {all, ofa::data::any_dataset(ofa::data::subset<ofa::data::any_dataset>(*all, split.train)),
          ofa::data::any_dataset(ofa::data::subset<ofa::data::any_dataset>(*all, split.validation))};
}

}  // namespace ofa_cli
