// From an image file's pixels to a model's input. Chapter 8 (paper §7.2).
// caffe: the paper's VGG-16 (the original Caffe weights): resize the shorter side to the input
//        size, centre crop, RGB -> BGR, subtract the channel means B 103.939, G 116.779, R 123.68.
// torchvision: PyTorch/timm weights: resize the shorter side to 256/224 of the input size (256
//        for 224), centre crop, RGB scaled to [0, 1], then (v - mean) / std with mean
//        (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
// unit: this project's Fashion-MNIST models: gray (channel mean), resized to the input, / 255.
#pragma once

#include "pn/core/tensor.h"

#include <string>
#include <utility>

namespace pn::nn {

enum class Preprocess { caffe, torchvision, unit };

Preprocess preprocess_from_name(const std::string& name);  // throws naming the choices
const char* preprocess_name(Preprocess p);

// rgb (3, H, W) with values 0..255 -> (1, C, h, w) for a model whose input is (C, h, w).
Tensor preprocess_image(const Tensor& rgb, const Shape& model_input, Preprocess p);

// The model-input value of an 8-bit value v (0..255) of the colour that feeds model channel ch
// (for caffe, channel 0 is blue), and its inverse. unit maps the gray value v to v / 255.
float preprocess_value(Preprocess p, std::int64_t ch, float v);
float unpreprocess_value(Preprocess p, std::int64_t ch, float x);

// The smallest and largest model-input value any pixel can take, over all channels (e.g. the box
// of the zB rule): every preprocessed pixel lies inside it exactly, since each channel's map is
// monotone in v and is evaluated here by the same expression as in preprocess_image.
std::pair<float, float> preprocess_range(Preprocess p);

// Whether the model's input channels are in BGR order (signals are flipped back for display).
inline bool is_bgr(Preprocess p) { return p == Preprocess::caffe; }

}  // namespace pn::nn
