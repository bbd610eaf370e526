// From an image file's pixels to a model's input. Chapter 9 (paper §7.2).
// caffe: the paper's VGG-16 (the original Caffe weights): resize the shorter side to the input
//        size, centre crop, RGB -> BGR, subtract the channel means B 103.939, G 116.779, R 123.68.
// torchvision: PyTorch/timm weights: the same geometry, RGB scaled to [0, 1], then
//        (v - mean) / std with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
// unit: this project's Fashion-MNIST models: gray (channel mean), resized to the input, / 255.
#pragma once

#include "pn/core/tensor.h"

#include <string>

namespace pn::nn {

enum class Preprocess { caffe, torchvision, unit };

Preprocess preprocess_from_name(const std::string& name);  // throws naming the choices
const char* preprocess_name(Preprocess p);

// rgb (3, H, W) with values 0..255 -> (1, C, h, w) for a model whose input is (C, h, w).
Tensor preprocess_image(const Tensor& rgb, const Shape& model_input, Preprocess p);

// Whether the model's input channels are in BGR order (signals are flipped back for display).
inline bool is_bgr(Preprocess p) { return p == Preprocess::caffe; }

}  // namespace pn::nn
