// What every experiment program (one per figure of the paper) shares: the command line they all
// accept, the trained networks (trained on first use and cached, or given with --model), the data
// (Fashion-MNIST, or a folder of images for a VGG-16 at 224x224), the output folder with its CSV,
// figures and summary.md, and one main() that turns a pn::Error into a message and exit code 1.
#pragma once

#include "pn/core/tensor.h"
#include "pn/nn/data_source.h"
#include "pn/nn/sequential.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pn::experiments {

struct Options {
  bool quick = false;          // small data and a network trained in seconds: the CI run
  std::string out;             // output folder (created if missing)
  std::string models_dir;      // cache of trained networks (default $PN_MODELS_DIR or build/models)
  std::string data_dir;        // Fashion-MNIST folder (default $PN_FASHION_MNIST_DIR or Debian's)
  std::string model_file;      // --model: explain this network instead of the Fashion-MNIST ones
  std::string arch;            // --arch: bind a file without pn.architecture (e.g. torchvision vgg16)
  std::string images;          // --images: a folder of images (with --model), instead of Fashion-MNIST
  std::string preprocess = "auto";
  std::uint64_t seed = 1;
};

// Registers --quick --out --models --data-dir --model --arch --images --preprocess --seed.
void add_common_options(CLI::App& app, Options& o, const std::string& default_out);

// A network to experiment on, with the data it was trained for.
struct Network {
  std::string name;          // "cnn", "vgg16-32", or the --model file's stem
  nn::Sequential model;
  std::string recipe;        // how it was trained (the train command), or where it came from
  double test_accuracy = 0;  // on the Fashion-MNIST test set; 0 when unknown
  bool fashion_mnist = true; // false for a --model with --images
};

// The networks of this run. --model: that one. Otherwise the archs given (e.g. {"cnn",
// "vgg16-32"}): each is loaded from <models>/<arch>.safetensors, or trained with the README's
// recipe and cached there first. --quick: only the cnn, trained for one epoch on 3000 images (a
// few seconds; cached as <models>/cnn-quick.safetensors).
std::vector<Network> networks(const Options& o, const std::vector<std::string>& archs);

// Labelled data for a network: the Fashion-MNIST split ("train" or "test") fitted to the model's
// input, at most `limit` samples (0: all); or, for a --images network, the images in name order
// (labels -1: unknown).
struct Labelled {
  Tensor x;                         // (N, C, H, W)
  std::vector<std::int32_t> labels;
};
Labelled load_split(const Options& o, const Network& net, const std::string& split, std::int64_t limit);

// The Fashion-MNIST class names (index = label).
const std::vector<std::string>& fashion_mnist_classes();

// The output folder's files: out/<name>, written atomically.
std::string out_path(const Options& o, const std::string& name);
void write_output(const Options& o, const std::string& name, const std::string& contents);

// Runs body after parsing; pn::Error and CLI errors become a message and a non-zero exit.
int run_main(int argc, char** argv, const std::string& description, const std::string& default_out,
             const std::function<void(CLI::App&, Options&)>& add_options, const std::function<void(const Options&)>& body);

}  // namespace pn::experiments
