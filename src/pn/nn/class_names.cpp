#include "pn/nn/class_names.h"

#include "pn/core/error.h"
#include "pn/io/idx.h"

namespace pn::nn {

std::string_view imagenet_class_name(std::int64_t index) {
  if (index < 0 || index >= kImageNetClasses) {
    throw Error("ImageNet class index {} is outside 0..{}", index, kImageNetClasses - 1);
  }
  return detail::kImageNetClassNames[static_cast<std::size_t>(index)];
}

std::span<const std::string_view> imagenet_class_names() { return detail::kImageNetClassNames; }

std::string_view class_name_for(const Sequential& model, std::int64_t index) {
  const std::int64_t outputs = model.num_classes();
  if (index < 0 || index >= outputs) return {};
  if (outputs == kImageNetClasses) return imagenet_class_name(index);
  const Shape& in = model.input_shape();
  const auto& fashion = io::fashion_mnist_classes();
  if (outputs == static_cast<std::int64_t>(fashion.size()) && in.rank() == 3 && in.dim(0) == 1) {
    return fashion[static_cast<std::size_t>(index)];
  }
  return {};
}

}  // namespace pn::nn
