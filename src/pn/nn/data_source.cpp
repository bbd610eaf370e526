#include "pn/nn/data_source.h"

#include "pn/core/error.h"
#include "pn/io/image.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace pn::nn {

DataSource DataSource::from_tensor(Tensor x) {
  DataSource d;
  d.end_ = x.dim(0);
  d.tensor_ = std::make_shared<const Tensor>(std::move(x));
  return d;
}

DataSource DataSource::from_images(std::vector<std::string> files, Shape input, Preprocess p) {
  DataSource d;
  d.end_ = static_cast<std::int64_t>(files.size());
  d.files_ = std::move(files);
  d.input_ = input;
  d.prep_ = p;
  return d;
}

std::int64_t DataSource::size() const { return end_ - begin_; }

DataSource DataSource::slice(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size()) throw Error("data: slice [{}, {}) of {} samples", begin, end, size());
  DataSource d = *this;
  d.begin_ = begin_ + begin;
  d.end_ = begin_ + end;
  return d;
}

Tensor DataSource::batch(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size()) throw Error("data: batch [{}, {}) of {} samples", begin, end, size());
  const std::int64_t n = end - begin;
  if (tensor_) {
    Shape s{n};
    for (int i = 1; i < tensor_->rank(); ++i) s.push_back(tensor_->dim(i));
    Tensor out(s);
    const std::int64_t per = tensor_->numel() / std::max<std::int64_t>(1, tensor_->dim(0));
    std::copy_n(tensor_->data() + (begin_ + begin) * per, n * per, out.data());
    return out;
  }
  Shape s{n};
  for (int i = 0; i < input_.rank(); ++i) s.push_back(input_.dim(i));
  Tensor out(s);
  const std::int64_t per = input_.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string& f = files_[static_cast<std::size_t>(begin_ + begin + i)];
    const Tensor x = nn::preprocess_image(io::read_image(f), input_, prep_);
    std::copy_n(x.data(), per, out.data() + i * per);
  }
  return out;
}

std::vector<std::string> list_image_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Preprocess choose_preprocess(const std::string& name, const std::string& arch, const Sequential& model) {
  if (name != "auto") return nn::preprocess_from_name(name);
  if (!arch.empty()) return Preprocess::torchvision;
  return model.input_shape().rank() == 3 && model.input_shape().dim(0) == 1 ? Preprocess::unit : Preprocess::caffe;
}

std::int64_t batch_for_memory(const Sequential& model, std::int64_t max_batch, std::int64_t budget_bytes) {
  std::int64_t floats = model.input_shape().numel();
  for (std::size_t i = 0; i < model.size(); ++i) floats += model.output_shape(i).numel();
  const std::int64_t per_sample = std::max<std::int64_t>(1, floats) * static_cast<std::int64_t>(sizeof(float));
  return std::clamp<std::int64_t>(budget_bytes / per_sample, 1, max_batch);
}

}  // namespace pn::nn
