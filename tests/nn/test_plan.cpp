// Every consumer of a space's structure agrees with its plan (space/plan.hpp): the
// networks built, the weights extracted and the costs counted. The spaces here have
// the units that used to fall between them: a unit whose only expand ratio is 1 (the
// networks had no expand layer, the profile counted one) and a unit of ratios {1, 3}
// (an expand layer that ratio 1 also runs), with and without squeeze-excite.
#include <catch2/catch.hpp>

#include <ofa/nn/extract.hpp>
#include <ofa/search/layer_table.hpp>
#include <ofa/space/plan.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>

#include "../sanitized.hpp"
#include "net_helpers.hpp"

namespace sp = ofa::space;
namespace ag = ofa::autograd;

namespace {
using expand_one_space =
    sp::network<sp::resolutions<16, 20>, sp::stem<8, 2, sp::relu>, sp::first_block<8, sp::relu>,
                sp::units<sp::unit<16, 2, sp::relu, sp::se, sp::depth<1, 2>, sp::expand<1>, sp::kernel<3, 5>>,
                          sp::unit<24, 2, sp::hswish, sp::no_se, sp::depth<1, 2>, sp::expand<1, 3>, sp::kernel<3>>,
                          sp::unit<24, 1, sp::relu, sp::se, sp::depth<2>, sp::expand<1, 4>, sp::kernel<3, 5>>>,
                sp::head<32, 48>, sp::classes<10>>;

/// MACs and BN channels of a static_net read off its real tensors and the feature sizes its
/// stages produce: nothing here comes from the plan or the profile. (An absent part's tensor is
/// 0-dimensional and holds one element: skipped by its flag.)
template <class Space>
std::pair<std::int64_t, std::int64_t> count_from_network(const ofa::nn::static_net<Space>& net) {
  const int r = net.config().resolution;
  const auto images = test::random_images(1, static_cast<std::size_t>(r), 1);
  std::vector<int> sides;  // output side of every stage
  ofa::nn::feature_map in = ofa::nn::feature_map::view(images), out;
  for (std::size_t i = 0; i < net.stage_count(); ++i) {
    net.run_stage(i, in, out);
    sides.push_back(out.h);
    std::swap(in, out);
  }
  const auto area = [](int side) { return std::int64_t{side} * side; };
  std::int64_t macs = std::int64_t(net.stem_w.size()) * area(sides[0]);
  std::int64_t bn_channels = std::int64_t(net.stem_b.size());
  for (std::size_t b = 0; b < net.blocks.size(); ++b) {
    const auto& blk = net.blocks[b];
    const int in_side = sides[b], out_side = sides[b + 1];
    if (blk.has_expand) macs += std::int64_t(blk.expand_w.size()) * area(in_side);
    macs += std::int64_t(blk.dw_w.size()) * area(out_side);
    if (blk.se_mid > 0) macs += std::int64_t(blk.se_rw.size() + blk.se_ew.size());
    macs += std::int64_t(blk.project_w.size()) * area(out_side);
    if (blk.has_expand) bn_channels += std::int64_t(blk.expand_b.size());
    bn_channels += std::int64_t(blk.dw_b.size() + blk.project_b.size());
  }
  macs += std::int64_t(net.final_w.size()) * area(sides[net.blocks.size()]);
  if (net.mix_w.dimension() == 2) macs += std::int64_t(net.mix_w.size());  // no feature mix: 0-dimensional
  macs += std::int64_t(net.classifier_w.size());
  bn_channels += std::int64_t(net.final_b.size());
  return {macs, bn_channels};
}

template <class Space>
void check_consumers_agree(int configs, std::uint64_t seed) {
  ofa::nn::elastic_net<Space> net(seed);
  test::randomize_state(net, seed + 1);
  CHECK(net.parameter_count() == ofa::supernet_param_count<Space>());
  const auto macs = ofa::search::macs_table<Space>();
  const auto params = ofa::search::params_table<Space>();
  ofa::rng engine(seed + 2);
  for (int i = 0; i < configs; ++i) {
    const auto config = i == 0   ? ofa::subnet_config<Space>::max()
                        : i == 1 ? ofa::subnet_config<Space>::min()
                                 : ofa::sample_config<Space>(engine);
    const auto plan = ofa::plan_network(config);
    const auto extracted = ofa::nn::extract(net, config);
    REQUIRE(extracted.blocks.size() == plan.blocks.size());
    for (std::size_t b = 0; b < plan.blocks.size(); ++b) {
      CHECK(extracted.blocks[b].has_expand == plan.blocks[b].has_expand);
      CHECK(extracted.blocks[b].mid == plan.blocks[b].mid_channels);
    }
    const auto profile = ofa::profile_subnet(config);
    const auto [network_macs, bn_channels] = count_from_network(extracted);
    INFO("config " << i);
    CHECK(profile.macs == network_macs);
    // the profile counts BN's two affine parameters a channel, the folded network one bias
    CHECK(profile.params == extracted.parameter_count() + bn_channels);
    CHECK(macs(config) == Approx(double(profile.macs)).epsilon(1e-12));
    CHECK(params(config) == Approx(double(profile.params)).epsilon(1e-12));

    const auto images = test::random_images(2, static_cast<std::size_t>(config.resolution), seed + 10 + i);
    const auto elastic = net.evaluate(images, config);
    const auto logits = extracted.forward(images);
    double diff = 0;
    for (std::size_t j = 0; j < logits.size(); ++j)
      diff = std::max(diff, std::abs(double(logits.data()[j]) - double(elastic.data()[j])));
    CHECK(diff < 1e-4);
  }
}
}  // namespace

TEST_CASE("a unit of expand ratio 1 has no expand layer in any consumer", "[nn][plan]") {
  const auto plan = ofa::plan_network(ofa::subnet_config<expand_one_space>::max());
  REQUIRE(plan.blocks.size() == 1 + 2 + 2 + 2);
  CHECK_FALSE(plan.blocks[0].has_expand);  // the first block
  CHECK_FALSE(plan.blocks[1].has_expand);  // expand<1>: the middle is the input
  CHECK(plan.blocks[1].mid_channels == 8);
  CHECK(plan.blocks[3].has_expand);  // expand<1, 3> at ratio 3
  const auto min = ofa::plan_network(ofa::subnet_config<expand_one_space>::min());
  CHECK(min.blocks[2].has_expand);  // ... and at ratio 1, through the same layer
  CHECK(min.blocks[2].mid_channels == 16);
  CHECK(ofa::profile_subnet(ofa::subnet_config<expand_one_space>::max()).layers[3].name == "blocks.1.depth_conv");
  check_consumers_agree<expand_one_space>(test::sanitized ? 6 : 30, 5);
}

TEST_CASE("the bundled spaces' consumers agree with their plans", "[nn][plan]") {
  check_consumers_agree<ofa::spaces::cifar>(test::sanitized ? 3 : 10, 7);
  check_consumers_agree<ofa::spaces::proxyless_w13>(test::sanitized ? 2 : 4, 8);
  check_consumers_agree<ofa::spaces::mobilenet_v3>(test::sanitized ? 2 : 4, 9);
}

namespace {
/// A block that forgot run(): what a new kind's static block must not look like.
struct block_without_run {
  explicit block_without_run(const ofa::block_plan&) {}
  void prepare() {}
  void name_tensors(const std::string&, std::vector<std::pair<std::string, ofa::tensor<float>*>>&) {}
};
}  // namespace

TEST_CASE("every block kind's blocks are what the networks call", "[nn][plan]") {
  using ofa::space::block_kind;
  STATIC_REQUIRE(ofa::nn::inference_block<ofa::nn::static_block_type<block_kind::mbconv>::type>);
  STATIC_REQUIRE(ofa::nn::inference_block<ofa::nn::static_block_type<block_kind::bottleneck>::type>);
  STATIC_REQUIRE(ofa::nn::elastic_block<ofa::nn::elastic_block_type<block_kind::mbconv, float>::type, float>);
  STATIC_REQUIRE(ofa::nn::elastic_block<ofa::nn::elastic_block_type<block_kind::bottleneck, double>::type, double>);
  STATIC_REQUIRE_FALSE(ofa::nn::inference_block<block_without_run>);
  STATIC_REQUIRE_FALSE(ofa::nn::inference_block<ofa::nn::elastic_block_type<block_kind::mbconv, float>::type>);
}
