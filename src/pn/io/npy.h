// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the way tensors travel between patternnet
// and Python tools. Reads little-endian float32 or float64 arrays in C order of rank <= 4 (float64
// is rounded to float32); writes float32, version 1.0, atomically. Fortran order, other dtypes,
// big-endian data and headers that disagree with the file size are errors. Limits, checked before
// anything is allocated: a header of at most 1 MiB, rank <= 4, a shape whose element count fits
// 64 bits (checked_mul) and whose bytes equal the data that follows the header. Chapter 2.
#pragma once

#include "pn/core/tensor.h"

#include <string>

namespace pn::io {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace pn::io
