// The data the fitting commands (fit-patterns, quality) and the experiments stream through a model: a tensor already in
// memory (Fashion-MNIST, .npy files) or a folder of image files, read and preprocessed one batch at
// a time so that a folder of photographs never has to fit in memory.
#pragma once

#include "pn/core/tensor.h"
#include "pn/nn/preprocess.h"
#include "pn/nn/sequential.h"

#include <memory>
#include <string>
#include <vector>

namespace pn::nn {

class DataSource {
public:
  static DataSource from_tensor(Tensor x);
  static DataSource from_images(std::vector<std::string> files, Shape input, Preprocess p);

  std::int64_t size() const;
  // Samples [begin, end) as one (n, input...) batch.
  Tensor batch(std::int64_t begin, std::int64_t end) const;
  // Samples [begin, end) as a data source of their own (no copy of the pixels).
  DataSource slice(std::int64_t begin, std::int64_t end) const;

private:
  std::shared_ptr<const Tensor> tensor_;
  std::vector<std::string> files_;
  Shape input_;
  Preprocess prep_ = Preprocess::unit;
  std::int64_t begin_ = 0, end_ = 0;
};

// The image files (.png, .jpg, .jpeg, .bmp) in a folder, sorted by name; empty if there are none.
std::vector<std::string> list_image_files(const std::string& dir);

// The default batch of the statistics commands (fit-patterns, quality): max_batch samples, fewer
// when the forward trace of a batch (every layer's input and the output, float) would pass
// budget_bytes. Small models get max_batch; VGG-16 at 224x224 (about 29 M traced values, 115 MB,
// per image) gets 18 instead of a 15 GB trace at 128.
std::int64_t batch_for_memory(const Sequential& model, std::int64_t max_batch = 128,
                              std::int64_t budget_bytes = std::int64_t{2} << 30);

// --preprocess auto: torchvision for files bound with --arch, unit for one-channel models, caffe otherwise.
Preprocess choose_preprocess(const std::string& name, const std::string& arch, const Sequential& model);

}  // namespace pn::nn
