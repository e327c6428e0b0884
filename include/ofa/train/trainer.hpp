#pragma once
/// @file
/// The progressive-shrinking trainer: runs a schedule (train/schedule.hpp) on a
/// supernet, phase by phase. A step draws its subnets from (seed, step, index),
/// runs forward + backward for each on the same batch at the batch's resolution
/// (gradients accumulate), distils from the frozen full network where the phase
/// says so, then calls the gradient-reduction seam and one optimizer update.
/// After every epoch (and every few minutes) it writes a checkpoint that a resumed
/// run continues from exactly, bit for bit; SIGINT/SIGTERM write one and stop; a
/// non-finite loss stops the run and keeps the last good checkpoint.

#include <algorithm>  // find
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>  // isfinite, fmod
#include <csignal>
#include <cstdio>  // fprintf: warnings go to stderr even when quiet
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/data/loader.hpp"
#include "ofa/detail/json_excerpt.hpp"
#include "ofa/detail/json_number.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/nn/serialize.hpp"
#include "ofa/parallel/process_group.hpp"
#include "ofa/space/profile.hpp"
#include "ofa/train/checkpoint.hpp"
#include "ofa/train/evaluation.hpp"
#include "ofa/train/gradient_reduction.hpp"
#include "ofa/train/losses.hpp"
#include "ofa/train/lr_schedule.hpp"
#include "ofa/train/optimizer.hpp"
#include "ofa/train/progress.hpp"
#include "ofa/train/schedule.hpp"
#include "ofa/train/trainer_state.hpp"

namespace ofa::train {

/** @brief Settings of a run beside its schedule. */
struct trainer_options {
  std::string out_dir;  ///< checkpoint.ofa, teacher.ofa, log.jsonl, final.ofa go here
  int batch_size = 64;
  std::uint64_t seed = 0;
  float label_smoothing = 0.1f;
  sgd_options sgd{};                  ///< momentum 0.9, Nesterov, weight decay 3e-5
  double checkpoint_minutes = 10;     ///< also after every epoch
  std::int64_t checkpoint_steps = 0;  ///< also every N steps (0: off)
  std::size_t recalibration_images = 2000;
  std::size_t eval_images = 2000;  ///< test images per subnet after each epoch (0: all)
  bool evaluate_epochs = true;     ///< the grid after every epoch (always after each phase, on all)
  data::augmentation train_aug{};  ///< CIFAR recipe by default (ImageNet spaces: data::default_augmentation)
  std::vector<int> resolutions;    ///< training resolutions, one drawn per batch (empty: the space's)
  bool quiet = false;              ///< no status lines (the log is still written)
  bool skip_corrupt = false;       ///< training images that fail to decode are skipped, not fatal
  /// The processes of a data-parallel run (null: this process alone). Each trains on its shard of
  /// every batch (batch_size / size images), all take the same optimizer step, only rank 0 writes.
  parallel::process_group* group = nullptr;
  /// Micro-batches a step: each process's share of the batch in this many pieces, each with its own
  /// BN statistics, their gradients averaged: the mathematics of as many processes, in one.
  int accumulate = 1;
  /// What the training data is (e.g. its spec and held-out split): saved in every checkpoint,
  /// and a resume with other data is refused.
  nlohmann::json data_identity = nlohmann::json::object();
};

/** @brief How a run ended. */
enum class run_outcome { finished, interrupted };

/** @brief Draws the subnets of step `step` of `p` (resolution set by the caller). */
template <class Space>
std::vector<subnet_config<Space>> subnets_of_step(const phase<Space>& p, std::uint64_t seed, std::int64_t step);

/** @brief What one step of `p` computes, in MACs at `resolution`: forward and backward of each of
 *  its subnets (about three forwards) and, where it distils from the frozen full network, that
 *  network's forward; the mean over `draws` steps drawn as training draws them. The ETA weighs
 *  the steps left in each phase by it: a step of four small subnets and a step of the full
 *  network cost what they compute, not the same. */
template <class Space>
double step_macs(const phase<Space>& p, bool with_teacher, int resolution, int draws = 32);

/** @brief Forward + backward of every config on one batch, gradients accumulated; returns the
 *  summed loss. `teacher_logits` (may be null) is distilled with `kd_ratio`; under the sandwich
 *  rule configs[0] is the largest and its logits teach the others. */
template <class Space>
double accumulate_gradients(nn::elastic_net<Space>& net, const data::batch& b,
                            const std::vector<subnet_config<Space>>& configs, const tensor<float>* teacher_logits,
                            double kd_ratio, bool sandwich, float label_smoothing, std::uint64_t seed,
                            std::int64_t step, std::uint64_t shard = 0);

template <class Space, data::dataset D>
class trainer {
 public:
  trainer(nn::elastic_net<Space>& net, schedule<Space> plan, const D& train_data, const D* test_data,
          trainer_options options);

  /** @brief Runs the schedule, from the checkpoint in out_dir when `resume`. */
  run_outcome run(bool resume);
  /** @brief The last grid evaluation. */
  const std::vector<evaluation>& last_evaluation() const noexcept { return last_eval_; }
  const trainer_state& state() const noexcept { return state_; }
  /** @brief Set by SIGINT/SIGTERM (install_signal_handlers) or by the caller: the run writes a
   *  checkpoint after the current step and returns interrupted. */
  static std::atomic<bool>& stop_requested() {
    static std::atomic<bool> flag{false};
    return flag;
  }
  static void install_signal_handlers() {
    std::signal(SIGINT, [](int) { stop_requested() = true; });
    std::signal(SIGTERM, [](int) { stop_requested() = true; });
  }
  std::string checkpoint_path() const { return (dir_ / "checkpoint.ofa").string(); }
  /** @brief A hash of every parameter's bits: equal on every process of a run. */
  std::uint64_t weights_hash() const;

 private:
  void save();
  std::size_t steps_per_epoch() const { return loader_.batches_per_epoch(shard_); }
  double step_gradients(const phase<Space>& p, const data::batch& b, const std::vector<subnet_config<Space>>& configs);
  void pack_buffers(std::vector<float>& out);
  void unpack_buffers(const std::vector<float>& in);
  bool any_process(bool flag) {
    std::array<double, 1> count{double(flag)};
    group_.sum(count);
    return count[0] > 0;
  }
  void check_resumed_position() const;
  void check_resumed_settings(const nlohmann::json& extra);
  void start_phase(const phase<Space>& p);
  bool train_epoch(const phase<Space>& p);  // false: stopped by a signal
  void evaluate_grid(std::size_t limit, const std::string& when);
  double eta_seconds() const;
  std::size_t epoch_number() const;  // epochs of earlier phases + epoch: the loader's epoch

  nn::elastic_net<Space>& net_;
  schedule<Space> plan_;
  const D& train_;
  const D* test_;
  trainer_options o_;
  std::filesystem::path dir_;
  sgd optimizer_;
  parallel::single_process alone_;
  parallel::process_group& group_;
  data::shard_spec shard_;
  group_average reduction_;
  std::vector<float> summed_, piece_;                         // the shards' packed gradients
  std::vector<float> buffers_before_, buffers_summed_, buffers_piece_;  // and BN running statistics
  std::optional<nn::elastic_net<Space>> teacher_;
  trainer_state state_;
  data::loader<D> loader_;
  progress progress_;
  std::vector<evaluation> last_eval_;
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
  // The ETA: seconds per MAC of training measured in the running epoch (data waits included),
  // each phase's step in MACs, and what the last evaluations took.
  std::vector<double> step_macs_;
  double seconds_per_mac_ = 0, epoch_eval_seconds_ = 0, phase_eval_seconds_ = 0;
};

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline constexpr std::uint64_t sampling_tag = 0x5a3bULL, dropout_tag = 0xd50ULL;
}

template <class Space>
std::vector<subnet_config<Space>> subnets_of_step(const phase<Space>& p, std::uint64_t seed, std::int64_t step) {
  std::vector<subnet_config<Space>> configs;
  if (p.rule == sampling_rule::fixed) return {*p.fixed};
  const auto constraint = p.constraint();
  std::uint64_t index = 0;
  if (p.rule == sampling_rule::sandwich) {
    configs.push_back(subnet_config<Space>::max());
    configs.push_back(subnet_config<Space>::min());
  }
  while (configs.size() < static_cast<std::size_t>(p.subnets_per_step)) {
    auto e = draw_stream(seed, detail::sampling_tag, step, index++);
    configs.push_back(sample_config<Space>(e, constraint));
  }
  return configs;
}

template <class Space>
double step_macs(const phase<Space>& p, bool with_teacher, int resolution, int draws) {
  const auto macs = [&](const subnet_config<Space>& c) { return double(profile_subnet(c, resolution).macs); };
  double total = 0;
  for (int step = 0; step < draws; ++step)
    for (const auto& config : subnets_of_step(p, /*seed=*/0x7e1a, step)) total += 3 * macs(config);
  return total / draws + (with_teacher ? macs(subnet_config<Space>::max()) : 0.0);
}

template <class Space>
double accumulate_gradients(nn::elastic_net<Space>& net, const data::batch& b,
                            const std::vector<subnet_config<Space>>& configs, const tensor<float>* teacher_logits,
                            double kd_ratio, bool sandwich, float label_smoothing, std::uint64_t seed,
                            std::int64_t step, std::uint64_t shard) {
  const autograd::variable<float> images(b.images);
  tensor<float> largest;  // sandwich: the largest subnet's logits of this step
  double total = 0;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    // Each shard of the batch (a process's, or a micro-batch's) draws its own dropout masks.
    net.dropout_stream() = draw_stream(seed, detail::dropout_tag, step, i + (shard << 32));
    const auto config = configs[i].with_resolution(b.resolution);
    auto logits = net.forward(images, config);
    const tensor<float>* teacher = sandwich ? (i == 0 ? nullptr : &largest) : teacher_logits;
    auto loss = teacher && kd_ratio > 0
                    ? distillation_loss(logits, b.labels, *teacher, float(kd_ratio), label_smoothing)
                    : autograd::cross_entropy(logits, b.labels, label_smoothing);
    if (sandwich && i == 0) largest = logits.value();
    autograd::backward(loss);
    total += loss.item();
  }
  return total;
}

template <class Space, data::dataset D>
trainer<Space, D>::trainer(nn::elastic_net<Space>& net, schedule<Space> plan, const D& train_data, const D* test_data,
                           trainer_options options)
    : net_(net),
      plan_(std::move(plan)),
      train_(train_data),
      test_(test_data),
      o_(std::move(options)),
      dir_(o_.out_dir),
      optimizer_(net.state(), o_.sgd),
      group_(o_.group ? *o_.group : alone_),
      shard_{group_.rank(), group_.size()},
      reduction_(group_),
      loader_(train_data,
              [&] {
                data::loader_options l;
                // Each process loads its shard of every batch: every size-th image of it.
                l.batch_size = std::max(1, o_.batch_size / group_.size());
                l.resolutions = o_.resolutions;
                if (l.resolutions.empty())
                  l.resolutions.assign(Space::resolution_set.begin(), Space::resolution_set.end());
                for (int r : l.resolutions)
                  if (!Space::resolution_set.contains(r))
                    throw config_error("ofa: training resolution " + std::to_string(r) +
                                       " is not one of the space's (" + Space::resolution_set.to_string() + ")");
                l.seed = o_.seed;
                l.aug = o_.train_aug;
                if (o_.skip_corrupt) l.on_corrupt = data::corrupt_policy::skip;
                return l;
              }()),
      progress_((std::filesystem::create_directories(o_.out_dir),
                 group_.is_writer() ? (dir_ / "log.jsonl").string() : std::string()),
                o_.quiet || !group_.is_writer()) {
  if (plan_.phases.empty()) throw config_error("ofa::train::trainer: the schedule has no phase");
  const int pieces = group_.size() * o_.accumulate;
  if (o_.accumulate < 1) throw config_error("ofa: --accumulate must be at least 1");
  if (o_.batch_size % pieces != 0)
    throw config_error("ofa: the batch of " + std::to_string(o_.batch_size) + " images does not split into " +
                       std::to_string(group_.size()) + " processes x " + std::to_string(o_.accumulate) +
                       " micro-batches; give a --batch divisible by " + std::to_string(pieces));
  if (o_.skip_corrupt && group_.size() > 1)
    throw config_error("ofa: --skip-corrupt is for one process: skipped images would put the processes' shards "
                       "out of step; remove the corrupt images instead");
  if (steps_per_epoch() == 0)
    throw data_error("ofa::train::trainer: the training set has fewer images (" + std::to_string(train_data.size()) +
                     ") than one batch (" + std::to_string(o_.batch_size) + "); use a smaller --batch");
  if (train_data.class_count() != Space::class_count)
    throw data_error("ofa::train::trainer: the data set has " + std::to_string(train_data.class_count()) +
                     " classes but the space " + std::to_string(Space::class_count) +
                     "; use a space of as many classes");
  state_.seed = o_.seed;
  for (const auto& p : plan_.phases)
    step_macs_.push_back(step_macs(p, p.kd_ratio > 0 && p.rule != sampling_rule::sandwich,
                                   loader_.options().resolutions.back()));
}

template <class Space, data::dataset D>
void trainer<Space, D>::check_resumed_position() const {
  // A checkpoint is written by this trainer only at positions inside its schedule; anything else
  // is a damaged or edited file, which would train nothing or never end.
  const auto bad = [&](const std::string& what) {
    throw io_error("ofa: checkpoint '" + checkpoint_path() + "' holds an impossible position (" + what +
                   ") for schedule '" + plan_.name + "'; the file is damaged or edited: start a new run");
  };
  const std::size_t phases = plan_.phases.size();
  if (state_.phase_index > phases)
    bad("phase " + std::to_string(state_.phase_index) + " of " + std::to_string(phases));
  if (state_.phase_index == phases) {
    if (state_.epoch != 0 || state_.batch != 0) bad("a position after the last phase");
  } else {
    const auto& p = plan_.phases[state_.phase_index];
    if (state_.epoch >= std::size_t(p.epochs))
      bad("epoch " + std::to_string(state_.epoch + 1) + " of " + std::to_string(p.epochs) + " in phase '" + p.name + "'");
    if (state_.batch > steps_per_epoch())
      bad("batch " + std::to_string(state_.batch) + " of " + std::to_string(steps_per_epoch()));
  }
  if (state_.step < 0) bad("step " + std::to_string(state_.step));
}

template <class Space, data::dataset D>
std::size_t trainer<Space, D>::epoch_number() const {
  std::size_t n = state_.epoch;
  for (std::size_t i = 0; i < state_.phase_index; ++i) n += std::size_t(plan_.phases[i].epochs);
  return n;
}

template <class Space, data::dataset D>
double trainer<Space, D>::eta_seconds() const {
  const double spe = double(steps_per_epoch());
  double macs_left = 0, partial_evaluations = 0, full_evaluations = 0;
  for (std::size_t i = state_.phase_index; i < plan_.phases.size(); ++i) {
    const auto& p = plan_.phases[i];
    double steps = double(p.epochs) * spe, epochs = p.epochs;
    if (i == state_.phase_index) steps -= double(state_.epoch) * spe + double(state_.batch), epochs -= double(state_.epoch);
    macs_left += steps * step_macs_[i];
    full_evaluations += 1;  // after a phase's last epoch, on the whole test set
    if (o_.evaluate_epochs) partial_evaluations += epochs - 1;
  }
  // Before the first whole-test-set evaluation, scale a partial one by the images each reads.
  double full_seconds = phase_eval_seconds_;
  if (full_seconds == 0 && test_) {
    const std::size_t partial = o_.eval_images == 0 ? test_->size() : std::min(o_.eval_images, test_->size());
    full_seconds = epoch_eval_seconds_ * double(o_.recalibration_images + test_->size()) /
                   double(o_.recalibration_images + partial);
  }
  const double evaluations = test_ ? partial_evaluations * epoch_eval_seconds_ + full_evaluations * full_seconds : 0;
  return macs_left * seconds_per_mac_ + evaluations;
}

namespace detail {
/// Images first, first + stride, ... of `b`: one micro-batch, or one process's shard of it.
inline data::batch every_nth_image(const data::batch& b, std::size_t first, std::size_t stride) {
  const std::size_t n = b.labels.size(), image = b.images.size() / std::max<std::size_t>(n, 1);
  data::batch part;
  part.resolution = b.resolution;
  part.index = b.index;
  part.next_item = b.next_item;
  const std::size_t count = n > first ? (n - first + stride - 1) / stride : 0;
  auto shape = b.images.shape();
  part.images = tensor<float>(shape_type{count, shape[1], shape[2], shape[3]});
  for (std::size_t i = 0; i < count; ++i) {
    std::copy_n(b.images.data() + (first + i * stride) * image, image, part.images.data() + i * image);
    part.labels.push_back(b.labels[first + i * stride]);
  }
  return part;
}

/// The name of the first parameter or buffer holding a NaN or an infinity, or "" when all are finite.
template <class T>
std::string first_non_finite(const nn::state_list<T>& state) {
  const auto finite = [](const tensor<T>& t) {
    return std::all_of(t.data(), t.data() + t.size(), [](T v) { return std::isfinite(v); });
  };
  for (const auto& p : state.parameters)
    if (!finite(p.value.value())) return p.name;
  for (const auto& b : state.buffers)
    if (!finite(*b.value)) return b.name;
  return "";
}
}  // namespace detail

template <class Space, data::dataset D>
void trainer<Space, D>::save() {
  // A loss can stay finite for a step while an update has already made weights infinite (a
  // learning rate of 1e308): such weights are never written over the last good checkpoint.
  if (const auto bad = detail::first_non_finite(net_.state()); !bad.empty())
    throw numeric_error("ofa: the weights became non-finite ('" + bad + "') in phase '" +
                        plan_.phases[std::min(state_.phase_index, plan_.phases.size() - 1)].name + "', step " +
                        std::to_string(state_.step) + "; the last good checkpoint is kept in '" + checkpoint_path() +
                        "'; lower the learning rate (a schedule file) and resume from it");
  if (group_.size() > 1) {
    const auto hashes = group_.gather(weights_hash());
    for (int r = 1; r < group_.size(); ++r)
      if (hashes[std::size_t(r)] != hashes[0])
        throw logic_error("ofa: the weights of process " + std::to_string(r) + " differ from process 0's at step " +
                          std::to_string(state_.step) + " (the processes fell out of step: a different build, "
                          "data or options on one machine?); the last good checkpoint is kept in '" +
                          checkpoint_path() + "'");
  }
  last_save_ = std::chrono::steady_clock::now();
  if (!group_.is_writer()) return;
  state_.dropout = net_.dropout_stream().state();
  nlohmann::json extra{
      {"schedule", to_json(plan_)}, {"batch_size", o_.batch_size}, {"resolutions", loader_.options().resolutions},
      {"data", o_.data_identity}, {"processes", group_.size()}};
  save_checkpoint(checkpoint_path(), net_, optimizer_, state_, extra);
}

template <class Space, data::dataset D>
std::uint64_t trainer<Space, D>::weights_hash() const {
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& p : const_cast<nn::elastic_net<Space>&>(net_).state().parameters) {
    const auto& t = p.value.value();
    h = io::detail::fnv1a(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float), h);
  }
  return h;
}

template <class Space, data::dataset D>
void trainer<Space, D>::pack_buffers(std::vector<float>& out) {
  out.clear();
  for (const auto& b : net_.state().buffers) out.insert(out.end(), b.value->begin(), b.value->end());
}

template <class Space, data::dataset D>
void trainer<Space, D>::unpack_buffers(const std::vector<float>& in) {
  std::size_t at = 0;
  for (auto& b : net_.state().buffers)
    for (auto& v : *b.value) v = in[at++];
}

template <class Space, data::dataset D>
double trainer<Space, D>::step_gradients(const phase<Space>& p, const data::batch& b,
                                         const std::vector<subnet_config<Space>>& configs) {
  const bool distil = teacher_ && p.kd_ratio > 0 && p.rule != sampling_rule::sandwich;
  const bool sandwich = p.rule == sampling_rule::sandwich;
  const auto run = [&](const data::batch& part, std::uint64_t shard) {
    optimizer_.zero_grad();
    std::optional<tensor<float>> soft;
    if (distil) soft = teacher_->evaluate(part.images, subnet_config<Space>::max().with_resolution(part.resolution));
    return accumulate_gradients(net_, part, configs, soft ? &*soft : nullptr, p.kd_ratio, sandwich, o_.label_smoothing,
                                o_.seed, state_.step, shard);
  };
  // BN running statistics: each shard's forward moves them by its own images; after the step every
  // process holds their average over all shards (the teacher of later phases reads them), a sum of
  // a few thousand floats beside the gradients'.
  const auto average_buffers = [&](std::vector<float>& summed, float shards) {
    group_.sum(summed);
    for (float& v : summed) v /= shards;
    unpack_buffers(summed);
  };
  const auto rank = static_cast<std::uint64_t>(group_.rank());
  const int pieces = o_.accumulate;
  if (pieces == 1) {
    const double loss = run(b, rank);
    optimizer_.reduce_gradients(reduction_);  // nothing to do in one process
    if (group_.size() > 1) {
      pack_buffers(buffers_summed_);
      average_buffers(buffers_summed_, static_cast<float>(group_.size()));
    }
    return loss;
  }
  // Micro-batch k is every pieces-th image from the k-th, as process k of as many would load it;
  // each starts from the step's BN statistics; their mean gradients (and statistics) are summed in
  // that order and divided by their number, as the processes' are: with two, the bits of two processes.
  summed_.resize(optimizer_.gradient_size());
  piece_.resize(optimizer_.gradient_size());
  pack_buffers(buffers_before_);
  double loss = 0;
  for (int k = 0; k < pieces; ++k) {
    if (k > 0) unpack_buffers(buffers_before_);
    // This process's images are every size-th of the batch from its rank, so micro-batch k holds
    // every (size x pieces)-th from rank + size x k: that shard's number, as one process would count.
    const auto shard = rank + std::uint64_t(group_.size()) * std::uint64_t(k);
    loss += run(detail::every_nth_image(b, std::size_t(k), std::size_t(pieces)), shard);
    optimizer_.pack_gradients(k == 0 ? std::span<float>(summed_) : std::span<float>(piece_));
    pack_buffers(k == 0 ? buffers_summed_ : buffers_piece_);
    if (k > 0) {
      for (std::size_t i = 0; i < summed_.size(); ++i) summed_[i] += piece_[i];
      for (std::size_t i = 0; i < buffers_summed_.size(); ++i) buffers_summed_[i] += buffers_piece_[i];
    }
  }
  const float shards = static_cast<float>(pieces * group_.size());
  group_.sum(summed_);
  for (float& g : summed_) g /= shards;
  optimizer_.unpack_gradients(summed_);
  average_buffers(buffers_summed_, shards);
  return loss / pieces;
}

template <class Space, data::dataset D>
void trainer<Space, D>::evaluate_grid(std::size_t limit, const std::string& when) {
  last_eval_.clear();
  if (!test_) return;
  data::augmentation eval_aug = o_.train_aug;
  eval_aug.train = false;
  nlohmann::json results = nlohmann::json::array();
  std::string line = "  " + when + ":";
  // Several processes share each measurement: their shares of the calibration and test images.
  for (const auto& [name, config] : evaluation_grid<Space>()) {
    const auto calibration = first_images(train_, o_.recalibration_images, o_.batch_size, config.resolution,
                                          o_.train_aug, o_.seed ^ stream::calibration);
    auto e = evaluate_subnet(net_, config, calibration, *test_, limit, o_.batch_size, eval_aug, group_);
    e.name = name;
    results.push_back({{"subnet", name}, {"top1", e.top1}, {"loss", e.loss}, {"images", e.images}});
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s %.1f%%", name.c_str(), 100 * e.top1);
    line += buf;
    last_eval_.push_back(e);
  }
  progress_.note(line);
  progress_.record({{"event", "evaluation"},
                    {"when", when},
                    {"phase", plan_.phases[std::min(state_.phase_index, plan_.phases.size() - 1)].name},
                    {"step", state_.step},
                    {"results", results}});
}

template <class Space, data::dataset D>
void trainer<Space, D>::start_phase(const phase<Space>& p) {
  // At the position (phase, epoch 0, batch 0) only, which no checkpoint of this phase records
  // (mid-epoch ones have batch > 0, epoch-end ones a later epoch): a resumed run redoes it
  // exactly when the interrupted one had not done it yet.
  if (p.kd_ratio > 0 && p.rule != sampling_rule::sandwich && !teacher_) {
    teacher_.emplace(net_.clone());  // the full network as the phases before left it
    teacher_->freeze();
    if (group_.is_writer()) nn::save(*teacher_, (dir_ / "teacher.ofa").string(), R"({"role": "teacher"})");
  }
  if (p.reorganize_stage) net_.reorganize_channels(*p.reorganize_stage);
  optimizer_.reset();  // a new optimizer per phase, as the reference
  progress_.record({{"event", "phase"}, {"phase", p.name}, {"index", state_.phase_index}, {"step", state_.step}});
}

template <class Space, data::dataset D>
bool trainer<Space, D>::train_epoch(const phase<Space>& p) {
  const std::size_t spe = steps_per_epoch();
  const cosine_schedule lr{p.base_lr, static_cast<std::int64_t>(p.warmup_epochs * double(spe)),
                           static_cast<std::int64_t>(p.epochs) * static_cast<std::int64_t>(spe)};
  // The exact position in the shard's order; several processes skip no image, so there the batch
  // number alone is exact, whatever the number of processes that wrote the checkpoint.
  const std::size_t first_item = state_.batch == 0 ? 0 : state_.next_item;
  auto cursor = loader_.epoch(epoch_number(),
                              group_.size() > 1 ? data::epoch_start(state_.batch)
                                                : data::epoch_start(state_.batch, first_item),
                              shard_);
  double loss_sum = 0;
  std::size_t batches = 0, images = 0;
  const auto start = std::chrono::steady_clock::now();
  while (auto b = cursor.next()) {
    state_.learning_rate = lr(static_cast<std::int64_t>(state_.epoch * spe + b->index));
    const auto configs = subnets_of_step(p, o_.seed, state_.step);
    double loss = step_gradients(p, *b, configs);
    // One small sum a step tells every process what any of them saw: a non-finite loss, a stop
    // signal, and whether rank 0's clock says a checkpoint is due (collectives must agree).
    const auto now = std::chrono::steady_clock::now();
    const bool due_by_steps = o_.checkpoint_steps > 0 && (state_.step + 1) % o_.checkpoint_steps == 0;
    const bool due_by_time = now - last_save_ > std::chrono::duration<double>(o_.checkpoint_minutes * 60);
    bool stop = stop_requested(), due = due_by_steps || due_by_time;
    if (group_.size() > 1) {
      std::array<double, 3> shared{std::isfinite(loss) ? loss : 0.0, std::isfinite(loss) ? 0.0 : 1.0,
                                   double(stop) + (group_.is_writer() && due ? 1e6 : 0.0)};
      group_.sum(shared);
      loss = shared[1] > 0 ? std::numeric_limits<double>::quiet_NaN() : shared[0] / group_.size();
      stop = std::fmod(shared[2], 1e6) > 0;
      due = shared[2] >= 1e6;
    }
    if (!std::isfinite(loss))
      throw numeric_error("ofa: the training loss became " + std::to_string(loss) + " in phase '" + p.name +
                          "', epoch " + std::to_string(state_.epoch + 1) + ", step " + std::to_string(state_.step) +
                          "; the last good checkpoint is kept in '" + checkpoint_path() +
                          "'; lower the learning rate (a schedule file) and resume from it");
    optimizer_.apply(state_.learning_rate);
    ++state_.step;
    state_.batch = b->index + 1;
    state_.next_item = b->next_item;
    loss_sum += loss / double(configs.size());
    ++batches;
    images += b->labels.size() * std::size_t(group_.size());
    const double elapsed = std::chrono::duration<double>(now - start).count();
    // The epoch's mean so far: batches alternate between resolutions whose costs differ by 1.8x,
    // so one step says little; the first few steps of an epoch keep the last epoch's figure.
    if (batches >= 8 || seconds_per_mac_ == 0)
      seconds_per_mac_ = elapsed / (double(batches) * step_macs_[state_.phase_index]);
    progress_.step({p.name, state_.phase_index, plan_.phases.size(), state_.epoch, std::size_t(p.epochs), b->index, spe,
                    loss_sum / double(batches), last_eval_.empty() ? -1.0 : last_eval_.back().top1,
                    double(images) / elapsed, eta_seconds()});
    if (stop) return false;
    if (due) save();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mean_loss = batches ? loss_sum / double(batches) : 0.0;
  char line[160];
  std::snprintf(line, sizeof line, "phase %s epoch %zu/%d: loss %.3f, %.0f img/s, %s", p.name.c_str(), state_.epoch + 1,
                p.epochs, mean_loss, double(images) / std::max(seconds, 1e-9), progress::duration(seconds).c_str());
  progress_.note(line);
  progress_.record({{"event", "epoch"},
                    {"phase", p.name},
                    {"epoch", state_.epoch},
                    {"step", state_.step},
                    {"loss", mean_loss},
                    {"images_per_s", double(images) / std::max(seconds, 1e-9)},
                    {"seconds", seconds},
                    {"lr", state_.learning_rate}});
  return true;
}

template <class Space, data::dataset D>
run_outcome trainer<Space, D>::run(bool resume) {
  namespace fs = std::filesystem;
  stop_requested() = false;
  if (resume) {
    if (!fs::exists(checkpoint_path()))
      throw io_error("ofa: cannot resume: '" + checkpoint_path() + "' does not exist; start without --resume");
    nlohmann::json extra;
    state_ = load_checkpoint(checkpoint_path(), net_, optimizer_, &extra);
    check_resumed_settings(extra);
    check_resumed_position();
    if (state_.phase_index == plan_.phases.size() && fs::exists(dir_ / "final.ofa")) {
      progress_.note("the run in '" + dir_.string() + "' has already finished: its weights are in '" +
                     (dir_ / "final.ofa").string() + "'; train into a new --out for another run");
      return run_outcome::finished;
    }
    if (const auto teacher_path = (dir_ / "teacher.ofa").string(); fs::exists(teacher_path)) {
      teacher_.emplace(0, net_.dropout_rate);
      nn::load(*teacher_, teacher_path);
      teacher_->freeze();
    }
    progress_.note("resuming '" + plan_.name + "' at phase " + std::to_string(state_.phase_index + 1) + ", epoch " +
                   std::to_string(state_.epoch + 1) + ", batch " + std::to_string(state_.batch) + " (step " +
                   std::to_string(state_.step) + ")");
  }
  while (state_.phase_index < plan_.phases.size()) {
    const auto& p = plan_.phases[state_.phase_index];
    if (state_.epoch == 0 && state_.batch == 0) start_phase(p);
    if (!train_epoch(p)) {
      save();
      progress_.note("interrupted: checkpoint written to '" + checkpoint_path() +
                     "'; continue with the same command and --resume");
      return run_outcome::interrupted;
    }
    const bool last_epoch = state_.epoch + 1 == std::size_t(p.epochs);
    if (o_.evaluate_epochs || last_epoch) {
      const auto start = std::chrono::steady_clock::now();
      evaluate_grid(last_epoch ? 0 : o_.eval_images, p.name + " epoch " + std::to_string(state_.epoch + 1));
      (last_epoch ? phase_eval_seconds_ : epoch_eval_seconds_) =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    state_.batch = state_.next_item = 0;  // the position after this epoch: a resume starts the next one
    if (++state_.epoch == std::size_t(p.epochs)) {
      ++state_.phase_index;
      state_.epoch = 0;
    }
    save();
    if (any_process(stop_requested())) {
      progress_.note("interrupted: checkpoint written to '" + checkpoint_path() +
                     "'; continue with the same command and --resume");
      return run_outcome::interrupted;
    }
  }
  if (group_.is_writer())
    nn::save(net_, (dir_ / "final.ofa").string(), nlohmann::json{{"schedule", to_json(plan_)}}.dump());
  progress_.record({{"event", "finished"}, {"step", state_.step}});
  progress_.note("finished: weights in '" + (dir_ / "final.ofa").string() + "'");
  return run_outcome::finished;
}

template <class Space, data::dataset D>
void trainer<Space, D>::check_resumed_settings(const nlohmann::json& extra) try {
  if (extra.value("schedule", nlohmann::json()) != to_json(plan_))
    throw config_error("ofa: the checkpoint in '" + dir_.string() +
                       "' was made by another schedule; resume with the same --schedule and --epochs-scale, or "
                       "train into a new --out");
  if (const auto batch = ofa::detail::json_whole<int>(extra.value("batch_size", nlohmann::json())); batch != o_.batch_size)
    throw config_error("ofa: the checkpoint in '" + dir_.string() + "' was made with --batch " +
                       (batch ? std::to_string(*batch) : std::string("(unreadable)")) +
                       "; resume with the same batch size");
  if (extra.value("resolutions", nlohmann::json::array()) != nlohmann::json(loader_.options().resolutions))
    throw config_error("ofa: the checkpoint in '" + dir_.string() +
                       "' was made with other training resolutions; resume with the same --resolutions");
  if (extra.value("data", nlohmann::json::object()) != o_.data_identity)
    throw config_error("ofa: the checkpoint in '" + dir_.string() + "' was trained on other data (" +
                       ofa::detail::json_excerpt(extra.value("data", nlohmann::json::object())) + ", not " +
                       ofa::detail::json_excerpt(o_.data_identity) +
                       "); resume with the same --data and --holdout");
  if (state_.seed != o_.seed)
    throw config_error("ofa: the checkpoint was made with --seed " + std::to_string(state_.seed) +
                       "; resume with the same seed");
  if (const int before = ofa::detail::json_whole<int>(extra.value("processes", nlohmann::json(1))).value_or(-1);
      before != group_.size()) {
    // The saved position in the shard's order was process 0's; no image was skipped (several
    // processes refuse --skip-corrupt), so the batch number gives this run's.
    state_.next_item = state_.batch * std::size_t(loader_.options().batch_size);
    const std::string warning = "the checkpoint was written by " + std::to_string(before) +
                                " processes, this run has " + std::to_string(group_.size()) +
                                ": it continues from the checkpoint's step, with each step's images split anew (the "
                                "same images a step; the same bits where --accumulate makes up the difference)";
    if (group_.is_writer()) std::fprintf(stderr, "ofa: warning: %s\n", warning.c_str());
    progress_.record({{"event", "warning"}, {"message", warning}});
  }
} catch (const nlohmann::json::exception& e) {
  throw io_error("ofa: checkpoint '" + checkpoint_path() + "' has malformed settings (" + e.what() +
                 "); the file is damaged: start a new run");
}

}  // namespace ofa::train
