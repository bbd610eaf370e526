// Dense double-precision linear algebra for the quality criterion: a Cholesky factorisation of a
// symmetric positive definite matrix and solves with it, plus a small general solver. Row-major.
// The matrices are the covariance of a layer's inputs (D x D, D up to a few thousand); the
// factorisation is blocked so that most of its work is matrix-matrix products.
#pragma once

#include <cstdint>
#include <vector>

namespace pn::linalg {

// In place: a (n x n, symmetric positive definite) becomes L with a = L Lᵀ in its lower triangle.
// Throws pn::Error when the matrix is not positive definite (names the failing pivot).
void cholesky(std::vector<double>& a, std::int64_t n);

// Solves (L Lᵀ) X = B in place for B (n x k), with L from cholesky().
void cholesky_solve(const std::vector<double>& l, std::int64_t n, std::vector<double>& b, std::int64_t k);

// Solves a x = b for a small general matrix (n x n) by Gaussian elimination with partial
// pivoting; returns false if the matrix is singular to working precision.
bool solve_small(std::vector<double> a, std::vector<double>& b, std::int64_t n);

}  // namespace pn::linalg
