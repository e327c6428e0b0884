#pragma once
/// @file
/// The ResNets' elastic input stem, as the reference's OFAResNets builds it: 3×3 conv
/// (stride 2) to the middle width, BN, act; a 3×3 conv of that width, BN, act, plus its
/// input -- skipped where the subnet says so; a 3×3 conv to the output width, BN, act;
/// then max pooling where the space has it (the reference: 3×3, stride 2). Both widths are elastic (the first channels
/// run).

#include <string>

#include "ofa/nn/elastic_layers.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

template <class T>
struct deep_stem {
  activation act;
  int stride;
  elastic_conv<T> first;
  elastic_batch_norm<T> first_bn;
  elastic_conv<T> middle;  ///< the skippable residual layer
  elastic_batch_norm<T> middle_bn;
  elastic_conv<T> last;
  elastic_batch_norm<T> last_bn;

  /** @brief The stem of the supernet's plan `widest`. */
  explicit deep_stem(const stem_plan& widest)
      : act(widest.act),
        stride(widest.stride),
        first(widest.mid_width, 3, 3),
        first_bn(widest.mid_width),
        middle(widest.mid_width, 3, widest.mid_width),
        middle_bn(widest.mid_width),
        last(widest.width, 3, widest.mid_width),
        last_bn(widest.width) {}

  variable<T> forward(const variable<T>& x, const stem_plan& s, const forward_context<T>& context) {
    return run(*this, x, s, context);
  }
  variable<T> forward(const variable<T>& x, const stem_plan& s, const forward_context<T>& context) const {
    return run(*this, x, s, context);
  }

  template <class F>
  void for_each_batch_norm(F&& f) {
    f(first_bn);
    f(middle_bn);
    f(last_bn);
  }
  void init(rng& engine) {
    first.init(engine);
    middle.init(engine);
    last.init(engine);
  }
  /** @brief The reference's names: input_stem.0, input_stem.1.conv (a residual block's layer), input_stem.2. */
  void collect(state_list<T>& s) {
    first.collect(s, "input_stem.0.conv");
    first_bn.collect(s, "input_stem.0.bn");
    middle.collect(s, "input_stem.1.conv.conv");
    middle_bn.collect(s, "input_stem.1.conv.bn");
    last.collect(s, "input_stem.2.conv");
    last_bn.collect(s, "input_stem.2.bn");
  }

 private:
  template <class Self>
  static variable<T> run(Self& self, const variable<T>& x, const stem_plan& s, const forward_context<T>& context) {
    auto h = self.first_bn.forward(self.first.forward(x, s.mid_width, self.stride), context, self.act);
    if (!s.skip)
      h = autograd::add(self.middle_bn.forward(self.middle.forward(h, s.mid_width, 1), context, self.act), h);
    h = self.last_bn.forward(self.last.forward(h, s.width, 1), context, self.act);
    return s.pool_window > 0 ? autograd::max_pool2d(h, s.pool_window, s.pool_stride) : h;
  }
};

}  // namespace ofa::nn
