#pragma once
/// @file
/// Pictures of a run from its JSON-lines log: top-1 of every evaluated subnet
/// against the training step, and the training loss with every subnet's test loss.

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/errors.hpp"
#include "ofa/io/svg_plot.hpp"

namespace ofa::train {

/** @brief Reads `log_path` (a trainer's log.jsonl) and writes `<prefix>top1.svg` and
 *  `<prefix>loss.svg`; returns the two paths. Lines that do not parse (a run killed while
 *  writing one) are skipped. */
inline std::vector<std::string> plot_training_log(const std::string& log_path, const std::string& prefix) {
  std::ifstream in(log_path);
  if (!in) throw io_error("ofa: cannot open the training log '" + log_path + "'; give the run's DIR/log.jsonl");
  std::map<std::string, io::plot_series> top1, loss;
  io::plot_series train_loss{"training loss", {}, {}, false};
  std::string line;
  std::size_t events = 0;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) try {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    const std::string event = j.value("event", "");
    const double step = j.value("step", 0.0);
    if (event == "epoch") {
      train_loss.x.push_back(step);
      train_loss.y.push_back(j.value("loss", 0.0));
      ++events;
    } else if (event == "evaluation" && j.contains("results")) {
      for (const auto& r : j["results"]) {
        const std::string name = r.value("subnet", "?");
        auto& t = top1[name];
        t.name = name;
        t.x.push_back(step);
        t.y.push_back(100 * r.value("top1", 0.0));
        auto& l = loss[name];
        l.name = name + " test";
        l.x.push_back(step);
        l.y.push_back(r.value("loss", 0.0));
      }
      ++events;
    }
  } catch (const nlohmann::json::exception& e) {
    throw data_error("ofa: the training log '" + log_path + "' line " + std::to_string(line_number) +
                     " is not a log event of ofa train (" + e.what() + "); give the run's own DIR/log.jsonl");
  }
  if (events == 0) throw data_error("ofa: the training log '" + log_path + "' holds no epoch yet; plot it later");
  io::plot a{"Top-1 of the evaluated subnets (after BN recalibration)", "training step", "top-1 (%)", {}};
  for (auto& [name, s] : top1) a.series.push_back(s);
  io::plot b{"Loss", "training step", "cross-entropy", {train_loss}};
  for (auto& [name, s] : loss) b.series.push_back(s);
  const std::vector<std::string> paths{prefix + "top1.svg", prefix + "loss.svg"};
  io::save_svg(a, paths[0]);
  io::save_svg(b, paths[1]);
  return paths;
}

}  // namespace ofa::train
