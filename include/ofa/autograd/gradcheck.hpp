#pragma once
/// @file
/// gradcheck: central finite differences in double precision against the
/// tape's analytic gradient, for every element of every input (or a seeded
/// sample of them when an input is large).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "ofa/autograd/tape.hpp"
#include "ofa/autograd/variable.hpp"
#include "ofa/random.hpp"

namespace ofa::autograd {

/** @brief Outcome of a gradcheck: the worst mismatch and where it was. */
struct gradcheck_result {
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::string worst;  ///< "input 1, element 17: analytic 0.3, numeric 0.31"
  std::size_t checked = 0;
  bool passed(double tolerance = 1e-6) const { return max_rel_error <= tolerance; }
};

/** @brief Compares d(loss)/d(input) from backward() with (f(x+h) - f(x-h)) / 2h.
 *  @param loss builds the scalar loss from the current input values (recorded on the tape)
 *  @param max_elements per input; larger inputs are sampled with a fixed seed */
inline gradcheck_result gradcheck(const std::function<variable<double>()>& loss, std::vector<variable<double>> inputs,
                                  double h = 1e-6, std::size_t max_elements = 64) {
  for (auto& in : inputs) {
    in.set_requires_grad(true);
    in.zero_grad();
  }
  tape<double>::current().clear();
  auto l = loss();
  backward(l);
  gradcheck_result result;
  rng engine(2024);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto& in = inputs[i];
    const std::size_t n = in.value().size();
    std::vector<std::size_t> elements(n);
    for (std::size_t e = 0; e < n; ++e) elements[e] = e;
    if (n > max_elements) {
      shuffle(elements.begin(), elements.end(), engine);
      elements.resize(max_elements);
    }
    const auto analytic = in.grad();
    for (std::size_t e : elements) {
      double& x = in.value().data()[e];
      const double saved = x;
      double f[2];
      for (int side = 0; side < 2; ++side) {
        x = saved + (side == 0 ? h : -h);
        no_grad<double> off;
        f[side] = loss().item();
      }
      x = saved;
      const double numeric = (f[0] - f[1]) / (2 * h);
      const double a = analytic.data()[e];
      const double abs_err = std::abs(a - numeric);
      const double rel_err = abs_err / std::max(1.0, std::max(std::abs(a), std::abs(numeric)));
      ++result.checked;
      result.max_abs_error = std::max(result.max_abs_error, abs_err);
      if (rel_err > result.max_rel_error) {
        result.max_rel_error = rel_err;
        result.worst = "input " + std::to_string(i) + ", element " + std::to_string(e) + ": analytic " +
                       std::to_string(a) + ", numeric " + std::to_string(numeric);
      }
    }
  }
  return result;
}

}  // namespace ofa::autograd
