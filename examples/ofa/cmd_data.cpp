// `ofa bench data`: how many images per second the loader delivers from a data
// set, decoding and augmenting every image (no cache).

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/data/loader.hpp>
#include <ofa/data/spec.hpp>
#include <ofa/parallel/arena.hpp>

#include "commands.hpp"

namespace ofa_cli {

struct data_bench_options {
  std::string data = "synthetic";
  int threads = 0, batch = 256, resolution = 32;
  std::size_t max_images = 0;
  bool json = false;
};

inline void run_data_bench(const data_bench_options& o) {
  ofa::parallel::arena arena(o.threads);
  const auto data = ofa::data::open_dataset(o.data, true);
  ofa::data::loader_options options;
  options.batch_size = o.batch;
  options.resolutions = {o.resolution};
  ofa::data::loader<ofa::data::any_dataset> loader(data, options);
  std::size_t images = 0;
  const std::size_t limit = o.max_images ? o.max_images : data.size();
  const auto t0 = std::chrono::steady_clock::now();
  auto cursor = loader.epoch(0);
  while (images < limit)
    if (auto b = cursor.next())
      images += b->labels.size();
    else
      break;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int threads = ofa::parallel::arena::threads();
  if (o.json) {
    std::cout << nlohmann::json{{"data", o.data},
                                {"threads", threads},
                                {"images", images},
                                {"seconds", seconds},
                                {"images_per_s", double(images) / seconds},
                                {"skipped", loader.skipped()}}
                     .dump()
              << "\n";
    return;
  }
  std::printf("data %s, %d threads: %zu images in %.2f s = %.0f images/s (decode + augment + batch at %d px)\n",
              o.data.c_str(), threads, images, seconds, double(images) / seconds, o.resolution);
}

void add_data_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("data", "Loader throughput over a data set");
  auto o = std::make_shared<data_bench_options>();
  cmd->add_option("--data", o->data, "synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--batch", o->batch, "Images per batch")->check(CLI::Range(1, 65536));
  cmd->add_option("--resolution", o->resolution, "Output side")->check(CLI::Range(8, 1024));
  cmd->add_option("--max-images", o->max_images, "Stop after this many images (default: one epoch)");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { run_data_bench(*o); });
}

}  // namespace ofa_cli
