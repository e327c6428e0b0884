// Data sources on files the test writes (good and corrupt), the synthetic set,
// splits, transforms, and the loader's determinism across thread counts.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <oneapi/tbb/task_arena.h>
#include <png.h>
#include <turbojpeg.h>

#include <ofa/data/cifar_binary.hpp>
#include <ofa/data/idx.hpp>
#if OFA_WITH_ZLIB
#include <zlib.h>
#endif
#include <ofa/data/image_folder.hpp>
#include <ofa/data/loader.hpp>
#include <ofa/data/spec.hpp>
#include <ofa/data/split.hpp>
#include <ofa/data/synthetic.hpp>

#include "../hash.hpp"

namespace fs = std::filesystem;
namespace od = ofa::data;
using Catch::Matchers::Contains;

namespace {
/// Every batch of one epoch, pulled through a cursor.
template <class D>
std::vector<od::batch> all_batches(const od::loader<D>& l, std::size_t epoch, od::epoch_start start = {},
                                   od::shard_spec shard = {}) {
  std::vector<od::batch> out;
  auto cursor = l.epoch(epoch, start, shard);
  while (auto b = cursor.next()) out.push_back(std::move(*b));
  return out;
}

fs::path fresh_dir(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("ofa_test_data_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
void write_file(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
std::vector<std::uint8_t> test_pixels(int w, int h, int seed) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * 3);
  for (std::size_t i = 0; i < px.size(); ++i)
    px[i] = static_cast<std::uint8_t>((i * 7 + static_cast<std::size_t>(seed) * 31) % 251);
  return px;
}
std::vector<std::uint8_t> encode_jpeg(int w, int h, int seed) {
  auto px = test_pixels(w, h, seed);
  tjhandle t = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  REQUIRE(tjCompress2(t, px.data(), w, 0, h, TJPF_RGB, &out, &size, TJSAMP_444, 95, 0) == 0);
  std::vector<std::uint8_t> bytes(out, out + size);
  tjFree(out);
  tjDestroy(t);
  return bytes;
}
std::vector<std::uint8_t> encode_png(int w, int h, int seed) {
  auto px = test_pixels(w, h, seed);
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  REQUIRE(png_image_write_to_memory(&img, nullptr, &size, 0, px.data(), 0, nullptr));
  std::vector<std::uint8_t> bytes(size);
  REQUIRE(png_image_write_to_memory(&img, bytes.data(), &size, 0, px.data(), 0, nullptr));
  bytes.resize(size);
  return bytes;
}
}  // namespace

TEST_CASE("image folders: JPEG and PNG, classes by sorted folder name", "[data][folder]") {
  const auto root = fresh_dir("folder");
  fs::create_directories(root / "b_cats");
  fs::create_directories(root / "a_dogs");
  write_file(root / "a_dogs" / "1.jpg", encode_jpeg(20, 12, 1));
  write_file(root / "a_dogs" / "2.png", encode_png(8, 8, 2));
  write_file(root / "b_cats" / "x.JPEG", encode_jpeg(16, 16, 3));
  write_file(root / "b_cats" / "notes.txt", {1, 2, 3});
  od::image_folder folder(root.string());
  REQUIRE(folder.size() == 3);
  CHECK(folder.class_count() == 2);
  CHECK(folder.class_names()[0] == "a_dogs");
  CHECK(folder.label(2) == 1);
  const auto jpg = folder.decode(folder.read(0));
  CHECK(jpg.width == 20);
  CHECK(jpg.height == 12);
  const auto png = folder.decode(folder.read(1));
  CHECK(png.pixels == test_pixels(8, 8, 2));  // PNG is lossless
  // JPEG at quality 95, 4:4:4 is close to the original
  const auto original = test_pixels(20, 12, 1);
  double err = 0;
  for (std::size_t i = 0; i < original.size(); ++i) err += std::abs(int(jpg.pixels[i]) - int(original[i]));
  CHECK(err / original.size() < 12);
}

TEST_CASE("ImageNet's layout: train and val folders, .JPEG files, classes by sorted wnid", "[data][folder]") {
  const auto root = fresh_dir("imagenet_layout");
  for (const char* split : {"train", "val"})
    for (const char* wnid : {"n01440764", "n01443537"}) {
      fs::create_directories(root / split / wnid);
      write_file(root / split / wnid / (std::string(wnid) + "_1.JPEG"), encode_jpeg(8, 8, 1));
    }
  const auto val = od::open_dataset("folder:" + root.string(), false);
  CHECK(val.size() == 2);
  CHECK(val.class_count() == 2);
  CHECK(val.label(1) == 1);
  fs::remove_all(root);
}

TEST_CASE("image folders: every bad input is a data_error naming it", "[data][folder]") {
  CHECK_THROWS_WITH(od::image_folder("/no/such/dir"), Contains("/no/such/dir") && Contains("does not exist"));
  const auto root = fresh_dir("bad");
  CHECK_THROWS_WITH(od::image_folder(root.string()), Contains("no class folders"));
  fs::create_directories(root / "empty_class");
  CHECK_THROWS_WITH(od::image_folder(root.string()), Contains("empty_class") && Contains("no .jpg"));
  write_file(root / "empty_class" / "good.jpg", encode_jpeg(8, 8, 1));
  auto truncated = encode_jpeg(32, 32, 2);
  truncated.resize(truncated.size() / 2);
  write_file(root / "empty_class" / "truncated.jpg", truncated);
  write_file(root / "empty_class" / "zero.png", {});
  auto garbage = encode_png(8, 8, 3);
  for (std::size_t i = 40; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 13);
  write_file(root / "empty_class" / "garbage.png", garbage);
  od::image_folder folder(root.string());
  REQUIRE(folder.size() == 4);
  for (std::size_t i = 0; i < folder.size(); ++i) {
    if (folder.path(i).ends_with("good.jpg")) continue;
    INFO(folder.path(i));
    CHECK_THROWS_AS(folder.decode(folder.read(i)), ofa::data_error);
    CHECK_THROWS_WITH(folder.decode(folder.read(i)), Contains(folder.path(i)));
  }
  // The loader fails by default and skips (and counts) with the skip policy.
  od::loader_options options;
  options.batch_size = 1;
  options.drop_last = false;
  od::loader<od::image_folder> strict(folder, options);
  CHECK_THROWS_AS(all_batches(strict, 0), ofa::data_error);  // thrown on this thread, by next()
  options.on_corrupt = od::corrupt_policy::skip;
  od::loader<od::image_folder> lenient(folder, options);
  CHECK(all_batches(lenient, 0).size() == 1);
  CHECK(lenient.skipped() == 3);
}

namespace {
std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {  // PNG's chunk checksum (ISO 3309)
  std::uint32_t c = 0xffffffffu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}
void put_be16(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  b[at] = std::uint8_t(v >> 8), b[at + 1] = std::uint8_t(v);
}
void put_be32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  put_be16(b, at, v >> 16), put_be16(b, at + 2, v & 0xffffu);
}
/// A real PNG whose IHDR claims `w` x `h` (checksum fixed, so libpng reads the header).
std::vector<std::uint8_t> png_claiming(std::uint32_t w, std::uint32_t h) {
  auto png = encode_png(4, 4, 1);
  put_be32(png, 16, w);  // 8 signature + 4 length + 4 "IHDR"
  put_be32(png, 20, h);
  put_be32(png, 29, crc32(png.data() + 12, 17));
  return png;
}
/// A real JPEG whose SOF0 claims `w` x `h`.
std::vector<std::uint8_t> jpeg_claiming(std::uint32_t w, std::uint32_t h) {
  auto jpeg = encode_jpeg(8, 8, 1);
  for (std::size_t i = 0; i + 8 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      put_be16(jpeg, i + 5, h);
      put_be16(jpeg, i + 7, w);
      return jpeg;
    }
  FAIL("no SOF0 marker");
  return jpeg;
}
}  // namespace

TEST_CASE("image headers claiming huge sizes are refused before the pixels are allocated", "[data][hostile]") {
  // 20000^2 and 32768^2 asked for 1-3 GB before the decoder failed; 10^6 squared wrapped libpng's size.
  for (const auto& bytes : {png_claiming(20000, 20000), png_claiming(1000000, 1000000), png_claiming(20000, 1),
                            jpeg_claiming(32768, 32768), jpeg_claiming(16000, 16000)})
    CHECK_THROWS_WITH(od::decode_image(bytes, "huge.img"), Contains("huge.img") && Contains("its header claims"));
  CHECK(od::decode_image(png_claiming(4, 4), "small.png").width == 4);  // the patching itself is sound
  CHECK(od::decode_image(jpeg_claiming(8, 8), "small.jpg").height == 8);
}

TEST_CASE("CIFAR-10 binary: layout, and wrong sizes are refused", "[data][cifar]") {
  const auto dir = fresh_dir("cifar");
  std::vector<std::uint8_t> bytes;
  for (int r = 0; r < 3; ++r) {
    bytes.push_back(static_cast<std::uint8_t>(r + 4));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) bytes.push_back(static_cast<std::uint8_t>(c * 100 + r));
  }
  write_file(dir / "test_batch.bin", bytes);
  od::cifar10_binary test(dir.string(), false);
  REQUIRE(test.size() == 3);
  CHECK(test.label(1) == 5);
  const auto img = test.decode(test.read(2));
  CHECK(img.at(0, 0, 0) == 2);
  CHECK(img.at(31, 31, 1) == 102);  // planar -> interleaved
  CHECK(img.at(5, 7, 2) == 202);
  bytes.pop_back();
  write_file(dir / "test_batch.bin", bytes);
  CHECK_THROWS_WITH(od::cifar10_binary(dir.string(), false),
                    Contains("test_batch.bin") && Contains("not a multiple of 3073"));
  CHECK_THROWS_WITH(od::cifar10_binary(dir.string(), true), Contains("data_batch_1.bin"));
  bytes.push_back(0);
  bytes[0] = 11;
  write_file(dir / "test_batch.bin", bytes);
  CHECK_THROWS_WITH(od::cifar10_binary(dir.string(), false), Contains("label 11"));
}

TEST_CASE("IDX (MNIST family): grey to RGB, header checks", "[data][idx]") {
  const auto dir = fresh_dir("idx");
  std::vector<std::uint8_t> images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<std::uint8_t>(i * 20));
  std::vector<std::uint8_t> labels{0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
  write_file(dir / "train-images-idx3-ubyte", images);
  write_file(dir / "train-labels-idx1-ubyte", labels);
  od::idx_dataset mnist(dir.string());
  REQUIRE(mnist.size() == 2);
  CHECK(mnist.class_count() == 8);
  CHECK(mnist.label(1) == 3);
  const auto img = mnist.decode(mnist.read(1));
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  CHECK(img.at(0, 0, 0) == 120);
  CHECK(img.at(0, 0, 2) == 120);
  images.pop_back();
  write_file(dir / "train-images-idx3-ubyte", images);
  CHECK_THROWS_WITH(od::idx_dataset(dir.string()), Contains("truncated"));
  CHECK_THROWS_WITH(od::idx_dataset(dir.string(), "t10k"), Contains("t10k-images-idx3-ubyte"));
  write_file(dir / "train-images-idx3-ubyte", labels);
  CHECK_THROWS_WITH(od::idx_dataset(dir.string()), Contains("not an IDX image file"));
}

#if OFA_WITH_ZLIB
TEST_CASE("gzipped IDX files read as the plain ones; a truncated one is refused by name", "[data][idx]") {
  const auto dir = fresh_dir("idx_gz");
  std::vector<std::uint8_t> images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<std::uint8_t>(i * 20));
  const std::vector<std::uint8_t> labels{0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
  const auto gzip = [](const fs::path& p, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(f);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    gzclose(f);
  };
  gzip(dir / "train-images-idx3-ubyte.gz", images);
  gzip(dir / "train-labels-idx1-ubyte.gz", labels);
  const od::idx_dataset gz(dir.string());
  REQUIRE(gz.size() == 2);
  CHECK(gz.label(1) == 3);
  CHECK(gz.decode(gz.read(1)).at(0, 0, 1) == 120);
  // A plain file beside the gzipped one is preferred (the user unpacked it).
  write_file(dir / "train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 5, 4});
  CHECK(od::idx_dataset(dir.string()).label(1) == 4);
  // Cut short: zlib says the stream ends early, and the error names the file.
  std::ifstream in(dir / "train-images-idx3-ubyte.gz", std::ios::binary);
  std::vector<std::uint8_t> whole{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  whole.resize(whole.size() - 12);
  write_file(dir / "train-images-idx3-ubyte.gz", whole);
  CHECK_THROWS_WITH(od::idx_dataset(dir.string()), Contains("train-images-idx3-ubyte.gz"));
}

TEST_CASE("Debian's Fashion-MNIST reads from its gzipped files", "[data][idx][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed (scripts/setup.sh installs it): skipped");
    return;
  }
  const od::idx_dataset test(dir, "t10k");
  CHECK(test.size() == 10000);
  CHECK(test.class_count() == 10);
  const auto img = test.decode(test.read(0));
  CHECK((img.width == 28 && img.height == 28));
}
#endif

TEST_CASE("SPEC@N: N random training images, the test split whole", "[data][spec]") {
  const auto sample = od::open_dataset("synthetic:500@120", true);
  REQUIRE(sample.size() == 120);
  const auto again = od::open_dataset("synthetic:500@120", true);
  std::vector<int> labels;
  for (std::size_t i = 0; i < sample.size(); ++i) {
    REQUIRE(sample.read(i).source == again.read(i).source);  // the same draw every time
    labels.push_back(sample.label(i));
  }
  CHECK(std::set<int>(labels.begin(), labels.end()).size() == 10);  // drawn across the set, not its first 120
  CHECK(sample.read(119).source != "synthetic#119");
  CHECK(od::open_dataset("synthetic:500@120", false).size() == od::open_dataset("synthetic:500", false).size());
  CHECK_THROWS_WITH(od::open_dataset("synthetic:500@600", true), Contains("at most that many"));
  CHECK_THROWS_WITH(od::open_dataset("synthetic:500@0", true), Contains("count after @"));
}

TEST_CASE("the synthetic set is deterministic, balanced and varied", "[data][synthetic]") {
  od::synthetic a(100, 7), b(100, 7), c(100, 8);
  CHECK(a.decode(a.read(13)).pixels == b.decode(b.read(13)).pixels);
  CHECK(a.decode(a.read(13)).pixels != c.decode(c.read(13)).pixels);
  CHECK(a.decode(a.read(13)).pixels != a.decode(a.read(23)).pixels);  // same class, another image
  std::map<int, int> counts;
  for (std::size_t i = 0; i < a.size(); ++i) ++counts[a.label(i)];
  CHECK(counts.size() == 10);
  for (auto [label, n] : counts) CHECK(n == 10);
}

TEST_CASE("splits are seeded and disjoint", "[data][split]") {
  const auto s1 = od::make_split(1000, 100, 3), s2 = od::make_split(1000, 100, 3), s3 = od::make_split(1000, 100, 4);
  CHECK(s1.validation == s2.validation);
  CHECK(s1.validation != s3.validation);
  CHECK(s1.train.size() == 900);
  std::set<std::size_t> all(s1.train.begin(), s1.train.end());
  for (auto v : s1.validation) CHECK(all.count(v) == 0);
  CHECK_THROWS_AS(od::make_split(10, 10, 1), ofa::data_error);
}

TEST_CASE("transforms: eval is the normalised image, train crops stay in range", "[data][transforms]") {
  od::image img;
  img.height = img.width = 32;
  img.pixels.assign(32 * 32 * 3, 255);
  od::augmentation eval;
  eval.train = false;
  eval.mean = {0, 0, 0};
  eval.stddev = {1, 1, 1};
  std::vector<float> out(32 * 32 * 3);
  ofa::rng e(1);
  od::transform_image(img, eval, 32, e, out.data());
  for (float v : out) CHECK(v == Approx(1.0f));
  od::augmentation train = eval;
  train.train = true;  // padding 4: some crops show zero borders
  bool saw_padding = false;
  for (int i = 0; i < 20; ++i) {
    od::transform_image(img, train, 24, e, out.data());
    for (int j = 0; j < 24 * 24 * 3; ++j) {
      CHECK(out[std::size_t(j)] >= 0.0f);
      CHECK(out[std::size_t(j)] <= 1.0f + 1e-6f);
      saw_padding = saw_padding || out[std::size_t(j)] < 0.5f;
    }
  }
  CHECK(saw_padding);
  od::augmentation imagenet = eval;
  imagenet.kind = od::augmentation::recipe::imagenet;
  imagenet.train = true;
  od::transform_image(img, imagenet, 16, e, out.data());
  for (int j = 0; j < 16 * 16 * 3; ++j) CHECK(out[std::size_t(j)] == Approx(1.0f));
}

TEST_CASE("the loader gives the same batches on 1 and 2 threads", "[data][loader]") {
  od::synthetic data(300, 5);
  od::loader_options options;
  options.batch_size = 32;
  options.resolutions = {24, 28, 32};
  options.seed = 9;
  auto run = [&](int threads, std::size_t epoch) {
    std::vector<od::batch> batches;
    tbb::task_arena arena(threads);
    arena.execute([&] {
      od::loader<od::synthetic> l(data, options);
      batches = all_batches(l, epoch);
    });
    return batches;
  };
  const auto one = run(1, 0), two = run(2, 0), other_epoch = run(2, 1);
  REQUIRE(one.size() == 9);  // 300 / 32, last partial batch dropped
  REQUIRE(two.size() == one.size());
  std::set<int> resolutions;
  for (std::size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].labels == two[i].labels);
    CHECK(one[i].resolution == two[i].resolution);
    const bool same = one[i].images == two[i].images;
    CHECK(same);
    CHECK(one[i].images.shape()[1] == static_cast<std::size_t>(one[i].resolution));
    resolutions.insert(one[i].resolution);
  }
  CHECK(resolutions.size() > 1);
  CHECK(one[0].labels != other_epoch[0].labels);  // reshuffled each epoch
}

namespace {
using test::fnv;
std::uint64_t hash_batches(const std::vector<od::batch>& batches) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& b : batches) {
    h = fnv(b.images.data(), b.images.size() * sizeof(float), h);
    h = fnv(b.labels.data(), b.labels.size() * sizeof(int), h);
    h = fnv(&b.resolution, sizeof b.resolution, h);
  }
  return h;
}
}  // namespace

TEST_CASE("the pulled loader gives the batches the callback loader gave", "[data][loader]") {
  // The hashes were taken from the callback (run_epoch) loader this cursor replaced, on this
  // data set and these options: pixels, labels and resolutions, bit for bit.
  od::synthetic data(300, 5);
  od::loader_options options;
  options.batch_size = 32;
  options.resolutions = {24, 28, 32};
  options.seed = 9;
  od::loader<od::synthetic> kept(data, options);
  const auto e0 = all_batches(kept, 0), e1 = all_batches(kept, 1);
  CHECK(e0.size() == 9);
  CHECK(hash_batches(e0) == 0xc95a77b012f08842ULL);
  CHECK(hash_batches(e1) == 0xaeef283ef5d769fbULL);
  options.drop_last = false;
  od::loader<od::synthetic> all(data, options);
  const auto last_kept = all_batches(all, 0);
  REQUIRE(last_kept.size() == 10);
  CHECK(last_kept.back().labels.size() == 300 - 9 * 32);
  CHECK(hash_batches(last_kept) == 0x6bf4abae48a16bbfULL);
  CHECK(hash_batches(all_batches(all, 1)) == 0x9713e32ac020af52ULL);
}

TEST_CASE("an epoch resumed mid-way gives the rest of the same epoch", "[data][loader]") {
  od::synthetic data(200, 3);
  od::loader_options options;
  options.batch_size = 16;
  options.resolutions = {24, 32};
  options.seed = 4;
  od::loader<od::synthetic> l(data, options);
  const auto whole = all_batches(l, 2);
  REQUIRE(whole.size() == 12);
  // Stop after five batches (the cursor is dropped mid-epoch: its producer is cancelled) ...
  std::size_t resume_item = 0;
  {
    auto cursor = l.epoch(2);
    for (int i = 0; i < 5; ++i) resume_item = cursor.next()->next_item;
  }
  CHECK(resume_item == 5 * 16);
  // ... and start again where it stopped, by batch number or by exact position.
  for (const od::epoch_start start : {od::epoch_start(5), od::epoch_start(5, resume_item)}) {
    const auto rest = all_batches(l, 2, start);
    REQUIRE(rest.size() == whole.size() - 5);
    for (std::size_t i = 0; i < rest.size(); ++i) {
      CHECK(rest[i].index == whole[i + 5].index);
      CHECK(rest[i].resolution == whole[i + 5].resolution);
      CHECK(rest[i].labels == whole[i + 5].labels);
      const bool same = rest[i].images == whole[i + 5].images;
      CHECK(same);
    }
  }
  CHECK(all_batches(l, 2, 12).empty());
}

TEST_CASE("shards of an epoch partition it and step in lockstep", "[data][loader]") {
  od::synthetic data(203, 8);
  od::loader_options options;
  options.batch_size = 10;
  options.resolutions = {24, 28, 32};
  options.seed = 11;
  options.aug.kind = od::augmentation::recipe::none;  // each image's pixels then name it
  od::loader<od::synthetic> l(data, options);
  std::multiset<std::string> seen;
  std::vector<std::vector<od::batch>> shards;
  for (int s = 0; s < 3; ++s) shards.push_back(all_batches(l, 0, 0, {s, 3}));
  for (const auto& shard : shards) {
    REQUIRE(shard.size() == l.batches_per_epoch({0, 3}));  // 203 / 3 = 67 images each: 6 batches
    CHECK(shard.size() == 6);
    for (std::size_t b = 0; b < shard.size(); ++b) {
      CHECK(shard[b].resolution == shards[0][b].resolution);  // the same step, the same resolution
      const std::size_t floats = shard[b].images.size() / shard[b].labels.size();
      for (std::size_t i = 0; i < shard[b].labels.size(); ++i)
        seen.insert(std::to_string(fnv(shard[b].images.data() + i * floats, floats * sizeof(float), 0)));
    }
  }
  CHECK(seen.size() == 3 * 6 * 10);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == seen.size());  // no image twice
  CHECK_THROWS_AS(l.epoch(0, 0, {3, 3}), ofa::config_error);
}

TEST_CASE("real CIFAR-10 JPEG folders load with the right counts", "[data][real]") {
  const std::string root = std::string(OFA_SHARED_DIR) + "/data/cifar10-jpeg";
  if (!fs::is_directory(root + "/test")) {
    WARN("skipped: " << root << " is absent");
    return;
  }
  od::image_folder test(root + "/test");
  REQUIRE(test.size() == 10000);
  CHECK(test.class_names().front() == "airplane");
  CHECK(test.class_names().back() == "truck");
  std::map<int, int> counts;
  for (std::size_t i = 0; i < test.size(); ++i) ++counts[test.label(i)];
  for (auto [label, n] : counts) CHECK(n == 1000);
  const auto img = test.decode(test.read(1234));
  CHECK(img.width == 32);
  CHECK(img.height == 32);
  od::image_folder train(root + "/train");
  CHECK(train.size() == 50000);
}
