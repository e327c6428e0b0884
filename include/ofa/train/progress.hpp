#pragma once
/// @file
/// What a person sees of a long run: on a terminal, one status line redrawn in
/// place (phase, epoch, step, loss, top-1, images/s, ETA); otherwise plain lines, a
/// few per epoch, that a log file keeps readable. Every epoch and phase also goes,
/// as one JSON object per line, to a log that `ofa plot` draws.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>  // isatty

#include <nlohmann/json.hpp>

#include "ofa/errors.hpp"

namespace ofa::train {

/** @brief The status line and the JSON-lines log of a run. */
class progress {
 public:
  /** @param log_path JSON-lines file, appended to (a resumed run continues it); "" for none.
   *  @param quiet no status lines at all (the log is still written). */
  explicit progress(const std::string& log_path, bool quiet = false)
      : terminal_(!quiet && isatty(fileno(stdout))), quiet_(quiet) {
    if (!log_path.empty()) {
      log_.open(log_path, std::ios::app);
      if (!log_) throw io_error("ofa: cannot write the training log '" + log_path + "'; check the directory");
    }
  }
  ~progress() { end_line(); }

  struct status {
    std::string phase;
    std::size_t phase_index = 0, phases = 1;
    std::size_t epoch = 0, epochs = 1, batch = 0, batches = 1;
    double loss = 0, top1 = -1, images_per_s = 0, eta_s = 0;
  };

  /** @brief The status after a step: redrawn at most 4 times a second on a terminal, else a
   *  line at every tenth of an epoch. */
  void step(const status& s) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    if (terminal_) {
      if (now - last_draw_ < std::chrono::milliseconds(250) && s.batch + 1 < s.batches) return;
      last_draw_ = now;
      std::printf("\r%s\033[K", describe(s).c_str());
      std::fflush(stdout);
      drawn_ = true;
      return;
    }
    const std::size_t tenth = std::max<std::size_t>(1, s.batches / 10);
    if ((s.batch + 1) % tenth != 0) return;
    std::printf("%s\n", describe(s).c_str());
    std::fflush(stdout);  // piped into a file, stdout is block-buffered: `tail -f` would lag by minutes
  }
  /** @brief A line that stays (an epoch's evaluation, a checkpoint, a warning). */
  void note(const std::string& line) {
    if (quiet_) return;
    end_line();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  /** @brief One JSON object into the log, flushed (a killed run keeps what it logged). */
  void record(const nlohmann::json& event) {
    if (!log_) return;
    log_ << event.dump() << '\n';
    log_.flush();
  }

  static std::string duration(double seconds) {
    if (seconds < 0 || seconds > 1e7) return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
      std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
  }

 private:
  static std::string describe(const status& s) {
    char buf[256];
    const std::string top1 =
        s.top1 >= 0 ? std::to_string(static_cast<int>(s.top1 * 1000) / 10.0).substr(0, 4) + "%" : "-";
    std::snprintf(buf, sizeof buf, "[%zu/%zu %s] epoch %zu/%zu step %zu/%zu  loss %.3f  top-1 %s  %.0f img/s  ETA %s",
                  s.phase_index + 1, s.phases, s.phase.c_str(), s.epoch + 1, s.epochs, s.batch + 1, s.batches, s.loss,
                  top1.c_str(), s.images_per_s, duration(s.eta_s).c_str());
    return buf;
  }
  void end_line() {
    if (drawn_) std::printf("\n");
    drawn_ = false;
  }

  bool terminal_, quiet_, drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
  std::ofstream log_;
};

}  // namespace ofa::train
