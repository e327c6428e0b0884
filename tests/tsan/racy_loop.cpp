// Run by the tsan preset: shows that the fork/join edges parallel/loops.hpp tells ThreadSanitizer
// do not hide races between a loop's bodies. "race": every body adds to one variable, which TSan
// must report; "ordered": what the loop guarantees (writes before it read in every body, each
// body its own element, the results read after it), which TSan must pass.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <ofa/parallel/arena.hpp>
#include <ofa/parallel/loops.hpp>

int main(int argc, char** argv) {
  const bool race = argc > 1 && std::string(argv[1]) == "race";
  ofa::parallel::arena threads(4);
  std::vector<long> per_index(400, 0);
  long shared = 0;
  const long scale = argc;  // written before the loop, read by every body
  ofa::parallel::for_index(0, 400, [&](int i) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // long enough for the workers to steal
    per_index[std::size_t(i)] = scale * i;
    if (race) shared += i;
  });
  ofa::parallel::for_chunks(per_index.size(), 16, [&](std::size_t begin, std::size_t end) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    for (std::size_t i = begin; i < end; ++i) per_index[i] += 1;
  });
  long sum = 0;
  for (long v : per_index) sum += v;
  std::printf("sum %ld, shared %ld\n", sum, shared);
  return 0;
}
