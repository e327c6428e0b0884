// Compares the parameters (not the BN running statistics) of two cifar supernet files: prints
// "identical" when every bit agrees, else |a - b| / |a| over all parameters (L2 norms).
// Usage: compare_weights A.ofa B.ofa [tolerance]   (exit 1 when above the tolerance, default 0)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <ofa/nn/serialize.hpp>
#include <ofa/spaces/cifar.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_weights A.ofa B.ofa [tolerance]\n");
    return 2;
  }
  ofa::nn::elastic_net<ofa::spaces::cifar> a(0), b(0);
  ofa::nn::load(a, argv[1]);
  ofa::nn::load(b, argv[2]);
  const double tolerance = argc > 3 ? std::atof(argv[3]) : 0.0;
  auto pa = a.state().parameters, pb = b.state().parameters;
  bool identical = true;
  double diff2 = 0, norm2 = 0, largest = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    const auto &x = pa[i].value.value(), &y = pb[i].value.value();
    identical = identical && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
    for (std::size_t j = 0; j < x.size(); ++j) {
      const double d = double(x.data()[j]) - double(y.data()[j]);
      diff2 += d * d, norm2 += double(x.data()[j]) * x.data()[j], largest = std::max(largest, std::fabs(d));
    }
  }
  const double worst = std::sqrt(diff2 / std::max(norm2, 1e-30));
  if (identical) {
    std::printf("identical\n");
    return 0;
  }
  std::printf("differ: relative L2 difference %.3g (largest single difference %.3g)\n", worst, largest);
  return worst <= tolerance ? 0 : 1;
}
