// The ResNet family as a space: its widths, counts against the PyTorch reference
// (ofa.utils.flops_counter.profile on OFAResNets(depth_list=[0,1,2], expand_ratio_list=
// [0.2,0.25,0.35], width_mult_list=[0.65,0.8,1.0]).get_active_subnet()), its JSON in the
// reference's arch-dict form, and sampling that stays inside the space.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <ofa/space/config_json.hpp>
#include <ofa/space/plan.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/resnet.hpp>

using resnet = ofa::spaces::resnet50;
using config = ofa::subnet_config<resnet>;

namespace {
/// The reference accumulates each layer's count into a float32 tensor; ofa counts exactly. This is
/// the reference's sum of ofa's layers, to compare digit for digit.
double reference_float32_sum(const ofa::subnet_profile& p) {
  float sum = 0;
  for (const auto& l : p.layers) sum += static_cast<float>(l.macs);
  return sum;
}
}  // namespace

TEST_CASE("resnet50: widths as the reference's make_divisible gives them", "[resnet][space]") {
  STATIC_REQUIRE(resnet::blocks == ofa::space::block_kind::bottleneck);
  STATIC_REQUIRE(resnet::stem.deep() && !resnet::first_block.present() && !resnet::head.has_final_expand());
  constexpr auto stem = resnet::stem;
  CHECK((stem.widths[0] == 40 && stem.widths[1] == 48 && stem.widths[2] == 64));
  CHECK((stem.mid_widths[0] == 24 && stem.mid_widths[1] == 24 && stem.mid_widths[2] == 32));
  const int widths[4][3] = {{168, 208, 256}, {336, 408, 512}, {664, 816, 1024}, {1328, 1640, 2048}};
  for (std::size_t u = 0; u < 4; ++u)
    for (std::size_t w = 0; w < 3; ++w) CHECK(resnet::unit_table[u].widths[w] == widths[u][w]);
  CHECK(resnet::block_slots == 18);
  // Per stage (Σ_d 3^d) · 3 widths; the stem: skip or not, 3 · 3 widths.
  const double stage = (9 + 27 + 81) * 3.0, deep = (81 + 243 + 729) * 3.0;
  CHECK(static_cast<double>(resnet::architecture_count) == Approx(stage * stage * deep * stage * 18).epsilon(1e-12));
}

TEST_CASE("resnet50: the plan's bottlenecks and their shortcuts", "[resnet][space]") {
  const auto plan = ofa::plan_network(config::max());
  REQUIRE(plan.blocks.size() == 18);
  CHECK(plan.stem.conv_size == 112);
  CHECK(plan.stem.out_size == 56);
  CHECK(plan.head.classifier_inputs() == 2048);
  int shortcut_convs = 0;
  for (const auto& b : plan.blocks) {
    CHECK(b.bottleneck());
    CHECK(b.residual());
    shortcut_convs += b.has_shortcut_conv;
    if (b.position == 0) CHECK(b.has_shortcut_conv);  // each stage's first block changes the width
  }
  CHECK(shortcut_convs == 4);
  // The middle width follows the output width: round(256 · 0.35) = 90 → 88.
  CHECK(plan.blocks[0].mid_channels == 88);
  CHECK(plan.blocks.back().out_size == 7);
  // An odd side: 132 → 66 → 33 after pooling; the stride-2 stages give ceil(33 / 2) = 17, as the
  // shortcut's average pooling with ceil_mode does.
  const auto odd = ofa::plan_network(config::max(), 132);
  CHECK(odd.stem.out_size == 33);
  CHECK(odd.blocks[4].out_size == 17);
}

TEST_CASE("resnet50: MACs and parameters equal the reference's", "[resnet][profile]") {
  struct reference_case {
    const char* arch;
    double macs;  // as the reference prints it (float32 sums)
    long long params;
  };
  const reference_case cases[] = {
      {R"({"d":[2,2,2,2,2],"e":[0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35],"w":[2,2,2,2,2,2],"r":224})",
       7491642368.0, 48105992},
      {R"({"d":[0,0,0,0,0],"e":[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2],"w":[0,0,0,0,0,0],"r":128})",
       315079552.0, 6539280},
      {R"({"d":[0,0,0,0,0],"e":[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2],"w":[0,0,0,0,0,0],"r":224})",
       962192128.0, 6539280},
      // Random subnets the reference sampled (random.seed(1)), at random resolutions.
      {R"({"d":[0,1,2,0,2],"e":[0.2,0.35,0.2,0.25,0.2,0.25,0.25,0.25,0.35,0.25,0.2,0.2,0.25,0.2,0.25,0.25,0.35,0.2],"w":[0,1,0,0,0,2],"r":196})",
       2096080128.0, 25167344},
      {R"({"d":[0,0,1,2,2],"e":[0.2,0.25,0.35,0.2,0.25,0.35,0.2,0.35,0.2,0.25,0.25,0.35,0.2,0.25,0.2,0.35,0.2,0.25],"w":[0,0,2,2,1,0],"r":220})",
       2786940416.0, 15974672},
      {R"({"d":[0,1,2,0,1],"e":[0.25,0.35,0.35,0.35,0.25,0.35,0.35,0.2,0.25,0.25,0.35,0.25,0.35,0.25,0.35,0.2,0.25,0.2],"w":[2,2,2,2,1,0],"r":184})",
       2535188992.0, 14198184},
      {R"({"d":[2,0,2,0,0],"e":[0.35,0.35,0.2,0.2,0.35,0.25,0.25,0.25,0.35,0.2,0.25,0.2,0.25,0.35,0.35,0.35,0.35,0.25],"w":[0,2,2,0,1,2],"r":172})",
       1970905472.0, 22085520},
      {R"({"d":[0,1,2,2,0],"e":[0.35,0.25,0.25,0.25,0.35,0.35,0.35,0.35,0.2,0.25,0.35,0.35,0.2,0.35,0.35,0.2,0.25,0.2],"w":[2,1,1,1,1,1],"r":128})",
       1112852992.0, 16557800},
  };
  for (const auto& c : cases) {
    INFO(c.arch);
    const auto p = ofa::profile_subnet(ofa::parse_config<resnet>(c.arch));
    CHECK(reference_float32_sum(p) == c.macs);
    CHECK(p.params == c.params);
  }
  // The exact count of the largest subnet, which the reference's float32 sum rounds by 1536.
  CHECK(ofa::profile_subnet(config::max()).macs == 7491643904LL);
  CHECK(ofa::supernet_param_count<resnet>() == 48105992);
}

TEST_CASE("resnet50: configs in the reference's arch-dict form", "[resnet][json]") {
  const auto max = ofa::to_json(config::max());
  CHECK(max["d"] == nlohmann::json::array({2, 2, 2, 2, 2}));
  CHECK(max["w"] == nlohmann::json::array({2, 2, 2, 2, 2, 2}));
  CHECK(max["e"][0].get<double>() == 0.35);
  CHECK(!max.contains("ks"));
  CHECK(ofa::config_from_json<resnet>(max) == config::max());
  const auto min = config::min();
  CHECK(min.stem_skip);
  CHECK(ofa::to_json(min)["d"][0] == 0);
  CHECK(ofa::config_from_json<resnet>(ofa::to_json(min)) == min);

  auto bad = max;
  bad["e"][3] = 0.3;
  CHECK_THROWS_WITH(ofa::config_from_json<resnet>(bad, "a.json"),
                    Catch::Contains("a.json") && Catch::Contains("e[3] = 30") && Catch::Contains("20, 25, 35"));
  bad = max;
  bad["w"][4] = 3;
  CHECK_THROWS_WITH(ofa::config_from_json<resnet>(bad, "a.json"),
                    Catch::Contains("unit 2") && Catch::Contains("0 to 2"));
  bad = max;
  bad["ks"] = nlohmann::json::array({3});
  CHECK_THROWS_WITH(ofa::config_from_json<resnet>(bad, "a.json"), Catch::Contains("unknown key \"ks\""));
  bad = max;
  bad["d"][2] = 3;  // stage 1 runs 2 + 3 blocks: more than it has
  CHECK_THROWS_WITH(ofa::config_from_json<resnet>(bad, "a.json"), Catch::Contains("d[1] = 5"));
}

TEST_CASE("resnet50: sampling, mutation and crossover stay in the space and reach every choice", "[resnet][sampling]") {
  ofa::rng engine(7);
  std::set<int> stem_widths, widths, expands;
  int skipped = 0;
  for (int i = 0; i < 300; ++i) {
    const auto a = ofa::sample_config<resnet>(engine), b = ofa::sample_config<resnet>(engine);
    REQUIRE_NOTHROW(a.validate());
    REQUIRE_NOTHROW(ofa::mutate_config(a, engine, 0.5).validate());
    REQUIRE_NOTHROW(ofa::crossover_config(a, b, engine).validate());
    REQUIRE(ofa::config_from_json<resnet>(ofa::to_json(a)) == a);
    stem_widths.insert(a.stem_width[0] * 3 + a.stem_width[1]);
    widths.insert(a.width.begin(), a.width.end());
    expands.insert(a.expand.begin(), a.expand.end());
    skipped += a.stem_skip;
  }
  CHECK(stem_widths.size() == 9);
  CHECK(widths == std::set<int>{0, 1, 2});
  CHECK(expands == std::set<int>{20, 25, 35});
  CHECK(skipped > 100);
  CHECK(skipped < 200);

  // A phase that trains the largest depths only never skips the stem's middle layer.
  ofa::sampling_constraint deepest;
  deepest.depths = {2};  // the reference's d: two blocks above every unit's smallest depth
  deepest.widths = {2};
  for (int i = 0; i < 50; ++i) {
    const auto c = ofa::sample_config<resnet>(engine, deepest);
    CHECK(!c.stem_skip);
    CHECK(c.width == std::array<int, 4>{2, 2, 2, 2});
    CHECK(c.stem_width == std::array<int, 2>{2, 2});
  }
}
