// A training loop written with the library alone: the pulled loader, a sampled subnet
// per step at the batch's resolution, the reduction seam, SGD with the reference's
// settings, a cosine learning rate, then BN recalibration, evaluation and extraction.
// docs/training.md walks through it.
//
//   train_minimal [DATA] [EPOCHS]     DATA: synthetic[:N] (default), cifar10-bin:DIR, folder:DIR

#include <algorithm>  // max_element
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <ofa/ofa.hpp>

using space = ofa::spaces::cifar;

int main(int argc, char** argv) try {
  const std::string spec = argc > 1 ? argv[1] : "synthetic:2048";
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 2;
  const auto train = ofa::data::open_dataset(spec, true), test = ofa::data::open_dataset(spec, false);

  ofa::data::loader_options options;
  options.batch_size = 64;
  options.resolutions = {24, 28, 32};  // one drawn per batch: elastic resolution
  options.seed = 1;
  ofa::data::loader<ofa::data::any_dataset> loader(train, options);

  ofa::nn::elastic_net<space> net(/*seed=*/1);
  ofa::train::sgd optimizer(net.state());  // momentum 0.9, Nesterov, weight decay 3e-5 (not on BN, biases)
  ofa::train::local_reduction reduction;   // one process; an MPI allreduce goes here
  const double base_lr = 0.05;
  const auto steps = double(epochs) * double(loader.batches_per_epoch());
  std::int64_t step = 0;

  for (int epoch = 0; epoch < epochs; ++epoch) {
    auto cursor = loader.epoch(static_cast<std::size_t>(epoch));
    double loss_sum = 0;
    int batches = 0;
    while (auto batch = cursor.next()) {  // on this thread: the tape is this thread's
      // Every draw is a function of (seed, step, index): resumable, and alike in every process.
      auto draw = ofa::rng::derive(options.seed, static_cast<std::uint64_t>(step));
      const auto config = ofa::sample_config<space>(draw).with_resolution(batch->resolution);
      optimizer.zero_grad();
      auto logits = net.forward(ofa::autograd::variable<float>(batch->images), config);
      auto loss = ofa::autograd::cross_entropy(logits, batch->labels, /*label_smoothing=*/0.1f);
      ofa::autograd::backward(loss);
      optimizer.reduce_gradients(reduction);
      const double lr = 0.5 * base_lr * (1 + std::cos(3.141592653589793 * double(step) / steps));
      optimizer.apply(lr);
      loss_sum += loss.item();
      ++batches;
      ++step;
    }
    std::printf("epoch %d: mean loss %.3f over %d batches\n", epoch, loss_sum / batches, batches);
  }

  // Evaluate the largest and the smallest subnet at 32 px, each after BN recalibration on
  // training images (the supernet's running statistics mix every subnet trained).
  ofa::data::loader_options eval_options = options;
  eval_options.resolutions = {32};
  eval_options.aug.train = false;
  eval_options.shuffle = false;
  eval_options.drop_last = false;
  ofa::data::loader<ofa::data::any_dataset> calibration(train, eval_options), testing(test, eval_options);
  for (const auto& config : {ofa::subnet_config<space>::max(), ofa::subnet_config<space>::min().with_resolution(32)}) {
    std::vector<ofa::tensor<float>> images;
    auto c = calibration.epoch(0);
    for (std::size_t seen = 0; seen < 512;)
      if (auto b = c.next()) {
        seen += b->labels.size();
        images.push_back(std::move(b->images));
      } else {
        break;
      }
    const auto stats = net.recalibrate(config, images);  // measured, not written into the net
    const auto deployed = ofa::nn::extract(net, config, &stats);
    std::size_t correct = 0, total = 0;
    auto t = testing.epoch(0);
    while (auto b = t.next()) {
      const auto logits = deployed.forward(b->images);
      const std::size_t classes = logits.shape()[1];
      for (std::size_t i = 0; i < b->labels.size(); ++i) {
        const float* row = logits.data() + i * classes;
        correct += static_cast<std::size_t>(std::max_element(row, row + classes) - row) ==
                   static_cast<std::size_t>(b->labels[i]);
      }
      total += b->labels.size();
    }
    std::printf("%s subnet: top-1 %.1f%% on %zu test images, %lld parameters\n",
                config == ofa::subnet_config<space>::max() ? "largest" : "smallest", 100.0 * double(correct) / double(total),
                total, static_cast<long long>(deployed.parameter_count()));
  }
  return 0;
} catch (const ofa::error& e) {
  std::fprintf(stderr, "train_minimal: %s\n", e.what());
  return 1;
}
