// Model files. Chapter 2.
// A model written by patternnet is a safetensors file whose __metadata__["pn.architecture"] holds
// the architecture JSON, with tensors "<layer>.weight" and "<layer>.bias"; so `--model file`
// alone defines the network. PyTorch files carry no architecture: `arch = "vgg16"` binds them to
// the VGG-16 builder through the torchvision names (features.N.*, classifier.{0,3,6}.*) or the timm
// names (features.N.*, pre_logits.fc1.* stored as a 7x7 conv, pre_logits.fc2.*, head.fc.*).
// Missing, extra or mis-shaped tensors are errors that list the names.
#pragma once

#include "pn/nn/sequential.h"

#include <map>
#include <string>

namespace pn::nn {

inline constexpr const char* kArchitectureKey = "pn.architecture";

// Writes atomically; extra metadata entries are stored alongside pn.architecture.
void save_model(const std::string& path, const Sequential& model, const std::map<std::string, std::string>& extra = {});

// arch: empty (use the file's pn.architecture) or the name of a builder ("vgg16", "cnn", ...), which
// then must match the file's tensors (by patternnet names, or torchvision / timm names for vgg16).
Sequential load_model(const std::string& path, const std::string& arch = {});

}  // namespace pn::nn
