#include "common.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/io/idx.h"
#include "pn/nn/builders.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"
#include "pn/nn/trainer.h"
#include "pn/io/safetensors.h"

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <filesystem>

namespace pn::experiments {
namespace fs = std::filesystem;

void add_common_options(CLI::App& app, Options& o, const std::string& default_out) {
  o.out = default_out;
  app.add_flag("--quick", o.quick, "Small data and a small network trained in seconds (the CI run)");
  app.add_option("--out", o.out, "Output folder for CSV, figures and summary.md")->capture_default_str();
  app.add_option("--models", o.models_dir, "Cache of trained networks (default $PN_MODELS_DIR or build/models)");
  app.add_option("--data-dir", o.data_dir, "Fashion-MNIST folder (default $PN_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)");
  app.add_option("--model", o.model_file, "Use this model file (.safetensors) instead of the Fashion-MNIST networks");
  app.add_option("--arch", o.arch, "Bind a --model file without pn.architecture to this builder (e.g. vgg16)");
  app.add_option("--images", o.images, "With --model: a folder of images to use instead of Fashion-MNIST");
  app.add_option("--preprocess", o.preprocess, "For --images: auto, caffe, torchvision or unit")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of every random choice")->capture_default_str();
}

namespace {

std::string models_dir(const Options& o) {
  if (!o.models_dir.empty()) return o.models_dir;
  if (const char* env = std::getenv("PN_MODELS_DIR"); env && *env) return env;
  return "build/models";
}

struct Recipe {
  int epochs = 1;
  std::int64_t limit = 0;
  std::string schedule = "constant";
  std::string command;
};

Recipe recipe_for(const std::string& arch, bool quick) {
  if (quick) return {1, 3000, "constant", "patternnet train --arch cnn --epochs 1 --limit 3000"};
  if (arch == "cnn") return {5, 0, "constant", "patternnet train --arch cnn --epochs 5"};
  if (arch == "vgg16-32") {
    return {3, 0, "cosine", "patternnet train --arch vgg16-32 --epochs 3 --batch 16 --lr 0.015 --warmup 0.3 --dropout 0"};
  }
  if (arch == "mlp") return {10, 0, "constant", "patternnet train --arch mlp --epochs 10"};
  throw Error("no training recipe for '{}' (cnn, vgg16-32, mlp)", arch);
}

double stored_accuracy(const std::string& path) {
  const io::SafetensorsReader reader(path);
  const auto& meta = reader.metadata();
  const auto it = meta.find("pn.test_accuracy");
  return it == meta.end() ? 0.0 : std::atof(it->second.c_str());
}

Network trained(const Options& o, const std::string& arch) {
  const Recipe r = recipe_for(arch, o.quick);
  const std::string dir = models_dir(o);
  const std::string path = (fs::path(dir) / (o.quick ? arch + "-quick.safetensors" : arch + ".safetensors")).string();
  Network net;
  net.name = arch;
  net.recipe = r.command;
  if (fs::exists(path)) {
    net.model = nn::load_model(path);
    net.test_accuracy = stored_accuracy(path);
    net.recipe += fmt::format(" (cached in {})", path);
    fmt::print(stderr, "using the cached {} network {}\n", arch, path);
    return net;
  }
  fs::create_directories(dir);
  net.model = nn::build_model(arch);
  const std::string fdir = io::fashion_mnist_dir(o.data_dir);
  auto train_raw = io::load_fashion_mnist(fdir, "train");
  auto test_raw = io::load_fashion_mnist(fdir, "test");
  nn::Dataset train_set{nn::fit_to_input(train_raw.images, net.model), std::move(train_raw.labels)};
  nn::Dataset test_set{nn::fit_to_input(test_raw.images, net.model), std::move(test_raw.labels)};
  if (r.limit > 0) {
    train_set = nn::take(train_set, r.limit);
    test_set = nn::take(test_set, 1000);
  }
  nn::TrainConfig cfg;
  cfg.epochs = r.epochs;
  cfg.seed = o.seed;
  cfg.schedule = r.schedule;
  if (arch == "vgg16-32") {
    // The README's 92% recipe: small batches, a short warm-up, no dropout (3 epochs leave no time for
    // over-fitting that dropout would prevent, while its noise costs accuracy).
    cfg.optimizer = "sgd", cfg.weight_decay = 5e-4f;
    cfg.batch = 16, cfg.lr = 0.015f, cfg.warmup_epochs = 0.3;
    for (std::size_t i = 0; i < net.model.size(); ++i) {
      if (net.model.layer(i).spec.kind == nn::Kind::dropout) net.model.layer(i).spec.p = 0.0f;
    }
  }
  Rng init_rng(o.seed ^ 0x5eedULL);  // as `patternnet train`
  net.model.init(init_rng);
  fmt::print(stderr, "training the {} network ({}); cached afterwards as {}\n", arch, r.command, path);
  const auto history = nn::train(net.model, train_set, test_set, cfg);
  net.test_accuracy = history.back().test_accuracy;
  nn::save_model(path, net.model,
                 {{"pn.trained_on", "fashion-mnist"},
                  {"pn.test_accuracy", fmt::format("{:.4f}", net.test_accuracy)},
                  {"pn.epochs", std::to_string(cfg.epochs)},
                  {"pn.seed", std::to_string(cfg.seed)}});
  return net;
}

}  // namespace

std::vector<Network> networks(const Options& o, const std::vector<std::string>& archs) {
  std::vector<Network> nets;
  if (!o.model_file.empty()) {
    Network net;
    net.name = fs::path(o.model_file).stem().string();
    net.model = nn::load_model(o.model_file, o.arch);
    net.recipe = "given with --model " + o.model_file;
    net.fashion_mnist = o.images.empty();
    if (net.fashion_mnist) net.test_accuracy = stored_accuracy(o.model_file);
    nets.push_back(std::move(net));
    return nets;
  }
  if (!o.images.empty()) throw Error("--images needs --model (the network to explain the images with)");
  if (o.quick) {
    nets.push_back(trained(o, "cnn"));
    return nets;
  }
  for (const std::string& a : archs) nets.push_back(trained(o, a));
  return nets;
}

Labelled load_split(const Options& o, const Network& net, const std::string& split, std::int64_t limit) {
  Labelled out;
  if (!net.fashion_mnist) {
    std::vector<std::string> files = nn::list_image_files(o.images);
    if (files.empty()) throw Error("--images '{}': no .png/.jpg/.jpeg/.bmp files there", o.images);
    if (limit > 0 && static_cast<std::int64_t>(files.size()) > limit) files.resize(static_cast<std::size_t>(limit));
    const nn::DataSource src = nn::DataSource::from_images(files, net.model.input_shape(), nn::choose_preprocess(o.preprocess, o.arch, net.model));
    out.x = src.batch(0, src.size());
    out.labels.assign(static_cast<std::size_t>(src.size()), -1);
    return out;
  }
  auto raw = io::load_fashion_mnist(io::fashion_mnist_dir(o.data_dir), split);
  nn::Dataset d{nn::fit_to_input(raw.images, net.model), std::move(raw.labels)};
  if (limit > 0) d = nn::take(d, limit);
  out.x = std::move(d.images);
  out.labels = std::move(d.labels);
  return out;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

std::string out_path(const Options& o, const std::string& name) { return (fs::path(o.out) / name).string(); }

void write_output(const Options& o, const std::string& name, const std::string& contents) {
  write_file_atomic(out_path(o, name), contents);
}

int run_main(int argc, char** argv, const std::string& description, const std::string& default_out,
             const std::function<void(CLI::App&, Options&)>& add_options, const std::function<void(const Options&)>& body) {
  const std::string program = fs::path(argv[0]).filename().string();
  CLI::App app{description};
  Options o;
  add_common_options(app, o, default_out);
  if (add_options) add_options(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    std::error_code ec;
    fs::create_directories(o.out, ec);
    if (!fs::is_directory(o.out)) throw Error("--out '{}': cannot create this folder", o.out);
    body(o);
    return 0;
  } catch (const pn::Error& e) {
    fmt::print(stderr, "{}: error: {}\n", program, e.what());
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "{}: error: out of memory\n", program);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: unexpected error: {}\n", program, e.what());
  }
  return 1;
}

}  // namespace pn::experiments
