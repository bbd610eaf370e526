// 2-D convolution: forward, backward-data and backward-weight of every kernel table against the
// float64 oracle (and the scalar table), through pn::ops and through the kernel-level functions;
// pointwise, strided, padded and non-square kernels; a product large enough to be cut into
// im2col bands; im2col/col2im themselves; and a self-check of the oracle (adjoint identities).
#include "oracle/oracle.h"
#include "pn/core/tensor.h"
#include "pn/kernels/conv.h"
#include "pn/kernels/kernels.h"
#include "pn/kernels/winograd.h"
#include "pn/ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace {

using namespace pntest;

const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct ConvCase {
  std::int64_t batch, in_c, h, w, out_c, kh, kw, stride, pad;
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) {
  return os << "x (" << c.batch << ", " << c.in_c << ", " << c.h << ", " << c.w << ") w (" << c.out_c << ", "
            << c.in_c << ", " << c.kh << ", " << c.kw << ") stride " << c.stride << " pad " << c.pad;
}

oracle::ConvGeom oracle_geom(const ConvCase& c) {
  oracle::ConvGeom g;
  g.batch = c.batch;
  g.in_c = c.in_c;
  g.in_h = c.h;
  g.in_w = c.w;
  g.out_c = c.out_c;
  g.kernel_h = c.kh;
  g.kernel_w = c.kw;
  g.stride = c.stride;
  g.pad = c.pad;
  return g;
}

struct ConvInputs {
  std::vector<float> x, w, b, dy, dw0, db0;  // dw0/db0: what accumulate adds into
  ConvInputs(const oracle::ConvGeom& g, std::uint64_t seed)
      : x(random_floats(g.x_size(), seed)),
        w(random_floats(g.w_size(), seed + 1)),
        b(random_floats(g.out_c, seed + 2)),
        dy(random_floats(g.y_size(), seed + 3)),
        dw0(random_floats(g.w_size(), seed + 4)),
        db0(random_floats(g.out_c, seed + 5)) {}
};

struct ConvOutputs {
  std::vector<float> y, y_nobias, dx, dw, db, dw_nobias, dw_acc, db_acc;
};

std::vector<float> values(const pn::Tensor& t) { return {t.data(), t.data() + t.numel()}; }

// Runs every pass once, either through pn::ops (tensors) or through pn::kernels::conv2d_* directly.
ConvOutputs run_conv(const KernelTable& t, const ConvCase& cc, const ConvInputs& in, bool via_ops) {
  ConvOutputs out;
  const oracle::ConvGeom og = oracle_geom(cc);
  if (via_ops) {
    using pn::Shape;
    using pn::Tensor;
    const Shape xs{cc.batch, cc.in_c, cc.h, cc.w}, ws{cc.out_c, cc.in_c, cc.kh, cc.kw},
        ys{cc.batch, cc.out_c, og.out_h(), og.out_w()};
    const Tensor x = Tensor::from(xs, in.x), w = Tensor::from(ws, in.w), b = Tensor::from(Shape{cc.out_c}, in.b),
                 dy = Tensor::from(ys, in.dy);
    const pn::ops::Conv2dSpec spec{cc.stride, cc.pad};
    EXPECT_EQ(pn::ops::conv2d_output_shape(xs, ws, spec), ys);

    const Tensor y = pn::ops::conv2d_forward(x, w, &b, spec, t);
    EXPECT_EQ(y.shape(), ys);
    out.y = values(y);
    out.y_nobias = values(pn::ops::conv2d_forward(x, w, nullptr, spec, t));
    const Tensor dx = pn::ops::conv2d_backward_data(dy, w, xs, spec, t);
    EXPECT_EQ(dx.shape(), xs);
    out.dx = values(dx);

    Tensor dw = Tensor::full(ws, kNaN), db = Tensor::full(Shape{cc.out_c}, kNaN);
    pn::ops::conv2d_backward_weight(x, dy, spec, dw, &db, false, t);
    out.dw = values(dw);
    out.db = values(db);
    Tensor dw2 = Tensor::full(ws, kNaN);
    pn::ops::conv2d_backward_weight(x, dy, spec, dw2, nullptr, false, t);
    out.dw_nobias = values(dw2);
    Tensor dwa = Tensor::from(ws, in.dw0), dba = Tensor::from(Shape{cc.out_c}, in.db0);
    pn::ops::conv2d_backward_weight(x, dy, spec, dwa, &dba, true, t);
    out.dw_acc = values(dwa);
    out.db_acc = values(dba);
  } else {
    const pn::kernels::ConvGeom g =
        pn::kernels::make_conv_geom(cc.batch, cc.in_c, cc.h, cc.w, cc.out_c, cc.kh, cc.kw, cc.stride, cc.pad);
    EXPECT_EQ(g.out_h, og.out_h());
    EXPECT_EQ(g.out_w, og.out_w());
    const auto ny = static_cast<std::size_t>(og.y_size());
    const auto nw = static_cast<std::size_t>(og.w_size());
    out.y.assign(ny, kNaN);
    pn::kernels::conv2d_forward(t, g, in.x.data(), in.w.data(), in.b.data(), out.y.data());
    out.y_nobias.assign(ny, kNaN);
    pn::kernels::conv2d_forward(t, g, in.x.data(), in.w.data(), nullptr, out.y_nobias.data());
    out.dx.assign(static_cast<std::size_t>(og.x_size()), kNaN);
    pn::kernels::conv2d_backward_data(t, g, in.dy.data(), in.w.data(), out.dx.data());
    out.dw.assign(nw, kNaN);
    out.db.assign(static_cast<std::size_t>(cc.out_c), kNaN);
    pn::kernels::conv2d_backward_weight(t, g, in.x.data(), in.dy.data(), out.dw.data(), out.db.data(), false);
    out.dw_nobias.assign(nw, kNaN);
    pn::kernels::conv2d_backward_weight(t, g, in.x.data(), in.dy.data(), out.dw_nobias.data(), nullptr, false);
    out.dw_acc = in.dw0;
    out.db_acc = in.db0;
    pn::kernels::conv2d_backward_weight(t, g, in.x.data(), in.dy.data(), out.dw_acc.data(), out.db_acc.data(), true);
  }
  return out;
}

struct Ref {
  std::vector<double> val, abs;
};

// The float64 answers and their error scales (the same sums over absolute values).
struct ConvRefs {
  Ref y, y_nobias, dx, dw, db, dw_acc, db_acc;

  ConvRefs(const oracle::ConvGeom& g, const ConvInputs& in) {
    const auto x = to_double(in.x), w = to_double(in.w), b = to_double(in.b), dy = to_double(in.dy);
    const auto xa = abs_double(in.x), wa = abs_double(in.w), ba = abs_double(in.b), dya = abs_double(in.dy);
    const auto ny = static_cast<std::size_t>(g.y_size()), nx = static_cast<std::size_t>(g.x_size()),
               nw = static_cast<std::size_t>(g.w_size()), no = static_cast<std::size_t>(g.out_c);
    for (Ref* r : {&y, &y_nobias}) r->val.resize(ny), r->abs.resize(ny);
    for (Ref* r : {&dw, &dw_acc}) r->val.resize(nw), r->abs.resize(nw);
    for (Ref* r : {&db, &db_acc}) r->val.resize(no), r->abs.resize(no);
    dx.val.resize(nx);
    dx.abs.resize(nx);
    oracle::conv2d_forward(g, x.data(), w.data(), b.data(), y.val.data());
    oracle::conv2d_forward(g, xa.data(), wa.data(), ba.data(), y.abs.data());
    oracle::conv2d_forward(g, x.data(), w.data(), nullptr, y_nobias.val.data());
    oracle::conv2d_forward(g, xa.data(), wa.data(), nullptr, y_nobias.abs.data());
    oracle::conv2d_backward_data(g, dy.data(), w.data(), dx.val.data());
    oracle::conv2d_backward_data(g, dya.data(), wa.data(), dx.abs.data());
    oracle::conv2d_backward_weight(g, x.data(), dy.data(), dw.val.data(), db.val.data());
    oracle::conv2d_backward_weight(g, xa.data(), dya.data(), dw.abs.data(), db.abs.data());
    dw_acc = dw;
    db_acc = db;
    for (std::size_t i = 0; i < nw; ++i) {
      dw_acc.val[i] += in.dw0[i];
      dw_acc.abs[i] += std::fabs(in.dw0[i]);
    }
    for (std::size_t i = 0; i < no; ++i) {
      db_acc.val[i] += in.db0[i];
      db_acc.abs[i] += std::fabs(in.db0[i]);
    }
  }
};

void check_all(const KernelTable& t, const ConvCase& cc, std::uint64_t seed, bool via_ops) {
  SCOPED_TRACE(::testing::Message() << cc << (via_ops ? " via pn::ops" : " via pn::kernels"));
  const oracle::ConvGeom og = oracle_geom(cc);
  const ConvInputs in(og, seed);
  const ConvRefs ref(og, in);
  const ConvOutputs got = run_conv(t, cc, in, via_ops);
  if (::testing::Test::HasFailure()) return;

  const double fwd_tol = reduction_rel_tol(og.in_c * og.kernel_h * og.kernel_w);
  const double bd_tol = reduction_rel_tol(og.out_c * og.kernel_h * og.kernel_w);
  const double bw_tol = reduction_rel_tol(og.batch * og.out_h() * og.out_w());
  struct Item {
    const char* name;
    const std::vector<float>& got;
    const Ref& ref;
    double tol;
  };
  const Item items[] = {
      {"forward", got.y, ref.y, fwd_tol},
      {"forward without bias", got.y_nobias, ref.y_nobias, fwd_tol},
      {"backward-data", got.dx, ref.dx, bd_tol},
      {"backward-weight dw", got.dw, ref.dw, bw_tol},
      {"backward-weight dbias", got.db, ref.db, bw_tol},
      {"backward-weight dw without dbias", got.dw_nobias, ref.dw, bw_tol},
      {"backward-weight dw, accumulate", got.dw_acc, ref.dw_acc, bw_tol},
      {"backward-weight dbias, accumulate", got.db_acc, ref.db_acc, bw_tol},
  };
  for (const Item& it : items) {
    ASSERT_EQ(it.got.size(), it.ref.val.size()) << it.name;
    EXPECT_TRUE(all_close(it.got.data(), it.ref.val.data(), it.ref.abs.data(), static_cast<std::int64_t>(it.got.size()),
                          it.tol))
        << it.name << " vs float64 oracle, table " << t.name;
  }
  if (t.isa != Isa::scalar) {
    const ConvOutputs s = run_conv(pn::kernels::scalar_table(), cc, in, via_ops);
    const std::vector<float>* scalar_outs[] = {&s.y, &s.y_nobias, &s.dx, &s.dw, &s.db, &s.dw_nobias, &s.dw_acc, &s.db_acc};
    for (std::size_t i = 0; i < std::size(items); ++i) {
      EXPECT_TRUE(all_close_pair(items[i].got.data(), scalar_outs[i]->data(), items[i].ref.abs.data(),
                                 static_cast<std::int64_t>(items[i].got.size()), items[i].tol))
          << items[i].name << " vs scalar table";
    }
  }
}

// Square kernels: pointwise (the im2col-free path), 1x1 with stride or padding (not pointwise),
// 3x3 pad 1 stride 1, 3x3 pad 0 stride 2, 5x5 pad 2 stride 2, a kernel larger than the input,
// padding wider than the kernel; batch 1 and 3, odd sizes, in_c 1/3/5, out_c 1/4/17.
const std::vector<ConvCase> kSquareCases = {
    {1, 3, 7, 9, 4, 1, 1, 1, 0},    {3, 5, 9, 7, 17, 1, 1, 1, 0},  {3, 1, 5, 5, 1, 1, 1, 1, 0},
    {2, 3, 9, 11, 4, 1, 1, 2, 0},   {1, 5, 5, 5, 4, 1, 1, 1, 1},   {1, 1, 8, 8, 1, 3, 3, 1, 1},
    {3, 3, 11, 13, 4, 3, 3, 1, 1},  {1, 5, 17, 17, 17, 3, 3, 1, 1}, {3, 3, 15, 9, 4, 3, 3, 2, 0},
    {1, 5, 16, 16, 17, 3, 3, 2, 0}, {1, 3, 17, 13, 4, 5, 5, 2, 2},  {3, 1, 9, 9, 17, 5, 5, 2, 2},
    {1, 2, 3, 3, 4, 5, 5, 1, 2},    {1, 2, 5, 5, 3, 3, 3, 1, 3},    {2, 3, 13, 14, 5, 4, 4, 3, 1},
    {1, 3, 1, 1, 4, 1, 1, 1, 0},    {3, 5, 33, 35, 4, 3, 3, 1, 1},
};

// kH != kW, including a one-row input.
const std::vector<ConvCase> kNonSquareCases = {
    {2, 3, 10, 12, 4, 1, 3, 1, 1}, {1, 5, 9, 11, 17, 3, 5, 2, 2}, {3, 3, 7, 6, 4, 5, 2, 1, 0},
    {1, 1, 1, 13, 4, 1, 5, 1, 0},  {3, 1, 12, 5, 1, 7, 1, 2, 3},  {1, 3, 8, 8, 17, 2, 3, 3, 1},
};

class ConvIsa : public PerIsaTest {};

TEST_P(ConvIsa, SquareKernelsViaOps) {
  std::uint64_t seed = 100;
  for (const ConvCase& cc : kSquareCases) {
    check_all(table(), cc, seed, true);
    seed += 10;
    if (HasFailure()) return;
  }
}

TEST_P(ConvIsa, NonSquareKernelsViaKernelFunctions) {
  std::uint64_t seed = 300;
  for (const ConvCase& cc : kNonSquareCases) {
    check_all(table(), cc, seed, false);
    seed += 10;
    if (HasFailure()) return;
  }
}

TEST_P(ConvIsa, NonSquareKernelsViaOps) {
  std::uint64_t seed = 500;
  for (const ConvCase& cc : kNonSquareCases) {
    check_all(table(), cc, seed, true);
    seed += 10;
    if (HasFailure()) return;
  }
}

// Small feature maps put several images into one im2col matrix (at most 8M floats): here
// D = 64*3*3 = 576 and P = 16*16 = 256 give groups of 56 images, so a batch of 60 runs as two
// groups (56, 4) and a batch of 2 as one; batch 1 keeps the per-image path.
TEST_P(ConvIsa, ImageGroupsOfSmallFeatureMaps) {
  std::uint64_t seed = 700;
  for (const ConvCase& cc : {ConvCase{60, 64, 16, 16, 8, 3, 3, 1, 1}, ConvCase{2, 64, 16, 16, 8, 3, 3, 1, 1},
                             ConvCase{5, 7, 4, 4, 9, 3, 3, 2, 1}}) {
    check_all(table(), cc, seed, true);
    seed += 10;
    if (HasFailure()) return;
  }
}

// 3x3, stride-1, padding-1 layers with at least 16 channels each way run forward and
// backward-data through Winograd's F(2x2, 3x3) (pn/kernels/winograd.cpp): odd and even sizes (an
// odd H or W ends in a half tile), one-pixel images, batches whose images share one chunk of
// tiles. Every pass is held to the same float64 oracle and tolerance as the direct path; how the
// tiles are cut into chunks is WinogradChunksDoNotChangeTheResult's business.
TEST_P(ConvIsa, WinogradLayers) {
  using pn::kernels::make_conv_geom;
  using pn::kernels::winograd_suits;
  ASSERT_TRUE(winograd_suits(make_conv_geom(1, 16, 16, 16, 16, 3, 3, 1, 1)));   // 64 tiles
  ASSERT_FALSE(winograd_suits(make_conv_geom(1, 16, 16, 16, 15, 3, 3, 1, 1)));  // too few channels
  ASSERT_FALSE(winograd_suits(make_conv_geom(1, 16, 16, 16, 16, 3, 3, 2, 1)));  // strided
  ASSERT_FALSE(winograd_suits(make_conv_geom(1, 512, 14, 14, 512, 3, 3, 1, 1)));  // conv5 at batch 1: 49 tiles
  ASSERT_TRUE(winograd_suits(make_conv_geom(2, 512, 14, 14, 512, 3, 3, 1, 1)));
  std::uint64_t seed = 900;
  for (const ConvCase& cc : {ConvCase{1, 16, 16, 16, 16, 3, 3, 1, 1}, ConvCase{3, 17, 9, 14, 19, 3, 3, 1, 1},
                             ConvCase{64, 24, 1, 1, 16, 3, 3, 1, 1}, ConvCase{40, 16, 2, 3, 33, 3, 3, 1, 1},
                             ConvCase{6, 20, 7, 5, 18, 3, 3, 1, 1}, ConvCase{2, 16, 41, 37, 16, 3, 3, 1, 1}}) {
    ASSERT_TRUE(winograd_suits(make_conv_geom(cc.batch, cc.in_c, cc.h, cc.w, cc.out_c, 3, 3, 1, 1))) << cc;
    check_all(table(), cc, seed, cc.batch % 2 == 0);
    seed += 10;
    if (HasFailure()) return;
  }
}

// Chunks of tile rows (normally sized to the cache) are a schedule, not arithmetic: every output is
// the same whether a chunk holds one tile row, three (boundaries inside and across images) or the
// whole batch, forward and flipped (backward-data), bit for bit.
TEST_P(ConvIsa, WinogradChunksDoNotChangeTheResult) {
  const pn::kernels::ConvGeom g = pn::kernels::make_conv_geom(3, 17, 19, 22, 16, 3, 3, 1, 1);  // 10 tile rows per image
  const std::vector<float> w = random_floats(g.out_c * g.in_c * 9, 952);
  for (const bool flip : {false, true}) {
    // flipped: the same weights read as the transposed layer's, from 16 to 17 channels
    const pn::kernels::ConvGeom gg = flip ? pn::kernels::make_conv_geom(3, 16, 19, 22, 17, 3, 3, 1, 1) : g;
    const std::vector<float> xin = random_floats(gg.batch * gg.in_c * gg.in_h * gg.in_w, 953);
    const std::int64_t n = gg.batch * gg.out_c * gg.out_h * gg.out_w;
    std::vector<float> whole(static_cast<std::size_t>(n), kNaN);
    pn::kernels::winograd_conv3x3(table(), gg, xin.data(), w.data(), flip, whole.data(), 30);
    for (const std::int64_t rows : {1, 3, 7, 0}) {
      std::vector<float> got(static_cast<std::size_t>(n), kNaN);
      pn::kernels::winograd_conv3x3(table(), gg, xin.data(), w.data(), flip, got.data(), rows);
      for (std::int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_bits(got[static_cast<std::size_t>(i)], whole[static_cast<std::size_t>(i)]))
            << (flip ? "flipped, " : "") << rows << " tile rows per chunk, output " << i;
      }
    }
  }
}

// The tile transforms themselves: each table's Bᵀ d B and Aᵀ M A against the matrix products
// written out in double (the coefficients are 0, ±1, so float results are the double ones rounded
// at most twice), and bit-identical to the scalar table for tile counts around the vector widths.
TEST_P(ConvIsa, WinogradTileTransforms) {
  const double Bt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  const double At[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  const KernelTable& t = table();
  const KernelTable& s = pn::kernels::scalar_table();
  std::uint64_t seed = 4242;
  for (std::int64_t tiles : {1, 3, 7, 8, 9, 15, 16, 17, 33, 112}) {
    SCOPED_TRACE(::testing::Message() << tiles << " tiles");
    std::vector<std::vector<float>> e(4), o(4);
    for (int r = 0; r < 4; ++r) {
      e[r] = random_floats(tiles + 1, seed++, -2.0f, 2.0f);
      o[r] = random_floats(tiles + 1, seed++, -2.0f, 2.0f);
    }
    const float* ep[4] = {e[0].data(), e[1].data(), e[2].data(), e[3].data()};
    const float* op[4] = {o[0].data(), o[1].data(), o[2].data(), o[3].data()};
    const std::int64_t stride = tiles + 5;  // rows of V further apart than one row of tiles
    std::vector<float> v(static_cast<std::size_t>(16 * stride), kNaN), vs(v.size(), kNaN);
    t.winograd_input(ep, op, tiles, v.data(), stride);
    s.winograd_input(ep, op, tiles, vs.data(), stride);
    for (std::int64_t tx = 0; tx < tiles; ++tx) {
      double d[4][4];
      for (int r = 0; r < 4; ++r) {
        d[r][0] = e[r][tx];
        d[r][1] = o[r][tx];
        d[r][2] = e[r][tx + 1];
        d[r][3] = o[r][tx + 1];
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          double want = 0.0;  // (Bᵀ d B)[i][j]
          for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) want += Bt[i][a] * d[a][b] * Bt[j][b];
          const std::size_t at = static_cast<std::size_t>((i * 4 + j) * stride + tx);
          ASSERT_NEAR(v[at], want, 4e-7 * 8.0) << "V[" << i << "][" << j << "] of tile " << tx;
          ASSERT_TRUE(same_bits(v[at], vs[at])) << "V[" << i << "][" << j << "] of tile " << tx << " vs scalar";
        }
    }
    for (std::int64_t i = 0; i < 16; ++i)  // nothing written between the rows
      for (std::int64_t tx = tiles; tx < stride; ++tx) ASSERT_TRUE(std::isnan(v[static_cast<std::size_t>(i * stride + tx)]));

    const std::vector<float> m = random_floats(16 * stride, seed++, -2.0f, 2.0f);
    std::vector<std::vector<float>> y(4, std::vector<float>(static_cast<std::size_t>(tiles) + 1, kNaN)), ys = y;
    t.winograd_output(m.data(), stride, tiles, y[0].data(), y[1].data(), y[2].data(), y[3].data());
    s.winograd_output(m.data(), stride, tiles, ys[0].data(), ys[1].data(), ys[2].data(), ys[3].data());
    for (std::int64_t tx = 0; tx < tiles; ++tx)
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          double want = 0.0;  // (Aᵀ M A)[a][b]
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) want += At[a][i] * m[static_cast<std::size_t>((i * 4 + j) * stride + tx)] * At[b][j];
          const float got = y[static_cast<std::size_t>(a * 2 + b)][static_cast<std::size_t>(tx)];
          ASSERT_NEAR(got, want, 4e-7 * 18.0) << "Y[" << a << "][" << b << "] of tile " << tx;
          ASSERT_TRUE(same_bits(got, ys[static_cast<std::size_t>(a * 2 + b)][static_cast<std::size_t>(tx)])) << "vs scalar";
        }
    for (const auto& row : y) ASSERT_TRUE(std::isnan(row[static_cast<std::size_t>(tiles)])) << "written past the last tile";
  }
}

// An empty batch: outputs are empty, and the weight gradient without accumulate is zero.
TEST_P(ConvIsa, EmptyBatch) {
  using pn::Shape;
  using pn::Tensor;
  const Tensor x(Shape{0, 3, 6, 6});
  const Tensor w = Tensor::full(Shape{4, 3, 3, 3}, 1.0f);
  const pn::ops::Conv2dSpec spec{1, 1};
  const Tensor y = pn::ops::conv2d_forward(x, w, nullptr, spec, table());
  EXPECT_EQ(y.shape(), (Shape{0, 4, 6, 6}));
  const Tensor dy(Shape{0, 4, 6, 6});
  EXPECT_EQ(pn::ops::conv2d_backward_data(dy, w, x.shape(), spec, table()).shape(), x.shape());
  Tensor dw = Tensor::full(w.shape(), kNaN), db = Tensor::full(Shape{4}, kNaN);
  pn::ops::conv2d_backward_weight(x, dy, spec, dw, &db, false, table());
  for (float v : dw.values()) ASSERT_TRUE(same_bits(v, 0.0f));
  for (float v : db.values()) ASSERT_TRUE(same_bits(v, 0.0f));
  Tensor dwa = Tensor::full(w.shape(), 2.5f), dba = Tensor::full(Shape{4}, 2.5f);
  pn::ops::conv2d_backward_weight(x, dy, spec, dwa, &dba, true, table());
  for (float v : dwa.values()) ASSERT_EQ(v, 2.5f);
  for (float v : dba.values()) ASSERT_EQ(v, 2.5f);
}

PN_INSTANTIATE_FOR_EACH_ISA(ConvIsa);

// --- Large products: the im2col is cut into bands of output rows (budget 8M floats) -------------

struct Sample {
  std::int64_t a, b, c, d;
};

// Rows at the start, end and every band boundary region are all covered: every output row is
// sampled in a few columns, plus random positions.
std::vector<Sample> sample_outputs(std::int64_t batch, std::int64_t channels, std::int64_t rows, std::int64_t cols,
                                   std::uint64_t seed, std::int64_t random_count) {
  TestRng rng(seed);
  std::vector<Sample> s;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c : {std::int64_t{0}, std::int64_t{1}, cols / 2, cols - 2, cols - 1})
      s.push_back({rng.below(batch), rng.below(channels), r, c});
  for (std::int64_t i = 0; i < random_count; ++i)
    s.push_back({rng.below(batch), rng.below(channels), rng.below(rows), rng.below(cols)});
  return s;
}

void check_banded(const ConvCase& cc, std::uint64_t seed) {
  const KernelTable& t = pn::kernels::active();
  SCOPED_TRACE(::testing::Message() << cc << ", table " << t.name);
  const oracle::ConvGeom og = oracle_geom(cc);
  const std::int64_t patch = cc.in_c * cc.kh * cc.kw;
  // The point of the test: the full im2col would exceed the 8M-float band budget.
  ASSERT_GT(patch * og.out_h() * og.out_w(), std::int64_t{8} << 20);
  const ConvInputs in(og, seed);
  const ConvOutputs got = run_conv(t, cc, in, true);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const auto x = to_double(in.x), w = to_double(in.w), b = to_double(in.b), dy = to_double(in.dy);
  const auto xa = abs_double(in.x), wa = abs_double(in.w), ba = abs_double(in.b), dya = abs_double(in.dy);
  const std::int64_t oh = og.out_h(), ow = og.out_w();
  const auto check = [](const char* what, float value, double ref, double absref, double tol) {
    const double bound = tol * absref + 1e-6;
    if (!(std::fabs(static_cast<double>(value) - ref) <= bound)) {
      ADD_FAILURE() << what << ": got " << value << " want " << ref << " (bound " << bound << ")";
      return false;
    }
    return true;
  };

  const double fwd_tol = reduction_rel_tol(patch);
  for (const Sample& s : sample_outputs(cc.batch, cc.out_c, oh, ow, seed + 7, 1000)) {
    const std::int64_t at = ((s.a * cc.out_c + s.b) * oh + s.c) * ow + s.d;
    const double r = oracle::conv2d_forward_at(og, x.data(), w.data(), b.data(), s.a, s.b, s.c, s.d);
    const double ra = oracle::conv2d_forward_at(og, xa.data(), wa.data(), ba.data(), s.a, s.b, s.c, s.d);
    if (!check("forward", got.y[static_cast<std::size_t>(at)], r, ra, fwd_tol)) {
      ADD_FAILURE() << "at n " << s.a << " o " << s.b << " row " << s.c << " col " << s.d;
      return;
    }
  }
  const double bd_tol = reduction_rel_tol(cc.out_c * cc.kh * cc.kw);
  for (const Sample& s : sample_outputs(cc.batch, cc.in_c, cc.h, cc.w, seed + 8, 1000)) {
    const std::int64_t at = ((s.a * cc.in_c + s.b) * cc.h + s.c) * cc.w + s.d;
    const double r = oracle::conv2d_backward_data_at(og, dy.data(), w.data(), s.a, s.b, s.c, s.d);
    const double ra = oracle::conv2d_backward_data_at(og, dya.data(), wa.data(), s.a, s.b, s.c, s.d);
    if (!check("backward-data", got.dx[static_cast<std::size_t>(at)], r, ra, bd_tol)) {
      ADD_FAILURE() << "at n " << s.a << " c " << s.b << " row " << s.c << " col " << s.d;
      return;
    }
  }
  const double bw_tol = reduction_rel_tol(cc.batch * oh * ow);
  TestRng rng(seed + 9);
  for (int i = 0; i < 60; ++i) {
    const std::int64_t o = rng.below(cc.out_c), c = rng.below(cc.in_c), ky = rng.below(cc.kh), kx = rng.below(cc.kw);
    const std::int64_t at = ((o * cc.in_c + c) * cc.kh + ky) * cc.kw + kx;
    const double r = oracle::conv2d_backward_weight_at(og, x.data(), dy.data(), o, c, ky, kx);
    const double ra = oracle::conv2d_backward_weight_at(og, xa.data(), dya.data(), o, c, ky, kx);
    if (!check("backward-weight", got.dw[static_cast<std::size_t>(at)], r, ra, bw_tol)) return;
    if (!check("backward-weight, accumulate", got.dw_acc[static_cast<std::size_t>(at)], r + in.dw0[static_cast<std::size_t>(at)],
               ra + std::fabs(in.dw0[static_cast<std::size_t>(at)]), bw_tol))
      return;
  }
  // Bias gradient: every output position of every image.
  for (std::int64_t o = 0; o < cc.out_c; ++o) {
    double r = 0.0, ra = 0.0;
    for (std::int64_t n = 0; n < cc.batch; ++n)
      for (std::int64_t p = 0; p < oh * ow; ++p) {
        const double v = dy[static_cast<std::size_t>((n * cc.out_c + o) * oh * ow + p)];
        r += v;
        ra += std::fabs(v);
      }
    if (!check("dbias", got.db[static_cast<std::size_t>(o)], r, ra, bw_tol)) return;
  }
}

// in_c 64, 3x3, 150x150: patch * positions = 576 * 22500 = 12.96M floats, two bands.
TEST(ConvBanding, ThreeByThreeStrideOne) { check_banded({1, 64, 150, 150, 8, 3, 3, 1, 1}, 7001); }

// Stride 2 with padding: the band's first input row is row0 * stride - pad. Three bands.
TEST(ConvBanding, FiveByFiveStrideTwo) { check_banded({1, 32, 301, 301, 8, 5, 5, 2, 2}, 7101); }

// The pointwise path reads bands of the image itself (no im2col): 600 * 128 * 128 = 9.8M floats.
TEST(ConvBanding, PointwiseBands) { check_banded({1, 600, 128, 128, 4, 1, 1, 1, 0}, 7201); }

// --- Geometry, im2col and col2im ----------------------------------------------------------------

TEST(ConvGeometry, MakeConvGeomComputesOutputSize) {
  const auto g = pn::kernels::make_conv_geom(2, 3, 17, 13, 5, 5, 3, 2, 2);
  EXPECT_EQ(g.out_h, (17 + 4 - 5) / 2 + 1);
  EXPECT_EQ(g.out_w, (13 + 4 - 3) / 2 + 1);
  EXPECT_EQ(g.patch(), 3 * 5 * 3);
  EXPECT_EQ(g.positions(), g.out_h * g.out_w);
  EXPECT_EQ(g.batch, 2);
  EXPECT_EQ(g.out_c, 5);
  // Exact fit and a kernel reaching only through padding.
  EXPECT_EQ(pn::kernels::make_conv_geom(1, 1, 3, 3, 1, 3, 3, 1, 0).out_h, 1);
  EXPECT_EQ(pn::kernels::make_conv_geom(1, 1, 1, 1, 1, 3, 3, 1, 1).out_w, 1);
  EXPECT_THROW(pn::kernels::make_conv_geom(1, 1, 2, 2, 1, 3, 3, 1, 0), pn::Error);
  EXPECT_THROW(pn::kernels::make_conv_geom(1, 0, 5, 5, 1, 3, 3, 1, 0), pn::Error);
  EXPECT_THROW(pn::kernels::make_conv_geom(1, 1, 5, 5, 1, 3, 3, 0, 0), pn::Error);
  EXPECT_THROW(pn::kernels::make_conv_geom(1, 1, 5, 5, 1, 3, 3, 1, -1), pn::Error);
  EXPECT_THROW(pn::kernels::make_conv_geom(-1, 1, 5, 5, 1, 3, 3, 1, 0), pn::Error);
}

// im2col of a band [row0, row0 + rows) equals the receptive fields written out by hand, zero in
// the padding; col2im is its adjoint (<im2col x, c> = <x, col2im c>) and adds into dx.
TEST(ConvGeometry, Im2colBandsAndCol2imAdjoint) {
  const auto g = pn::kernels::make_conv_geom(1, 3, 7, 8, 2, 3, 2, 2, 1);  // out 4 x 5
  const std::vector<float> x = random_floats(g.in_c * g.in_h * g.in_w, 11);
  for (std::int64_t row0 = 0; row0 < g.out_h; ++row0) {
    for (std::int64_t rows = 1; row0 + rows <= g.out_h; ++rows) {
      const std::int64_t cols = rows * g.out_w;
      std::vector<float> col(static_cast<std::size_t>(g.patch() * cols), kNaN);
      pn::kernels::im2col(g, x.data(), row0, rows, col.data());
      for (std::int64_t c = 0; c < g.in_c; ++c)
        for (std::int64_t ky = 0; ky < g.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < g.kernel_w; ++kx)
            for (std::int64_t r = 0; r < rows; ++r)
              for (std::int64_t ox = 0; ox < g.out_w; ++ox) {
                const std::int64_t iy = (row0 + r) * g.stride + ky - g.pad, ix = ox * g.stride + kx - g.pad;
                const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
                const float want = inside ? x[static_cast<std::size_t>((c * g.in_h + iy) * g.in_w + ix)] : 0.0f;
                const std::int64_t at = ((c * g.kernel_h + ky) * g.kernel_w + kx) * cols + r * g.out_w + ox;
                ASSERT_TRUE(same_bits(col[static_cast<std::size_t>(at)], want))
                    << "row0 " << row0 << " rows " << rows << " c " << c << " ky " << ky << " kx " << kx << " r " << r
                    << " ox " << ox;
              }

      const std::vector<float> cv = random_floats(static_cast<std::int64_t>(col.size()), 12 + static_cast<std::uint64_t>(row0 * 10 + rows));
      std::vector<float> dx(x.size(), 0.0f);
      pn::kernels::col2im(g, cv.data(), row0, rows, dx.data());
      double lhs = 0.0, rhs = 0.0;
      for (std::size_t i = 0; i < col.size(); ++i) lhs += static_cast<double>(col[i]) * cv[i];
      for (std::size_t i = 0; i < x.size(); ++i) rhs += static_cast<double>(x[i]) * dx[i];
      EXPECT_NEAR(lhs, rhs, 1e-4) << "row0 " << row0 << " rows " << rows;
      // col2im adds: a second call doubles the result.
      std::vector<float> dx2 = dx;
      pn::kernels::col2im(g, cv.data(), row0, rows, dx2.data());
      for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_FLOAT_EQ(dx2[i], 2.0f * dx[i]);
    }
  }
}

// --- The oracle checks itself: its three passes are mutually adjoint, and the single-element
// (gather) versions agree with the full (scatter) ones. ------------------------------------------

TEST(ConvOracle, PassesAreAdjointAndConsistent) {
  for (const ConvCase& cc : {ConvCase{2, 3, 7, 9, 4, 3, 2, 2, 1}, ConvCase{1, 2, 6, 6, 3, 5, 5, 3, 2},
                             ConvCase{2, 1, 5, 4, 2, 1, 1, 1, 0}}) {
    SCOPED_TRACE(::testing::Message() << cc);
    const oracle::ConvGeom g = oracle_geom(cc);
    const auto x = to_double(random_floats(g.x_size(), 1)), w = to_double(random_floats(g.w_size(), 2)),
               dy = to_double(random_floats(g.y_size(), 3));
    std::vector<double> y(static_cast<std::size_t>(g.y_size())), dx(x.size()), dw(w.size()), db(static_cast<std::size_t>(g.out_c));
    oracle::conv2d_forward(g, x.data(), w.data(), nullptr, y.data());
    oracle::conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    oracle::conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data());
    double ydy = 0.0, xdx = 0.0, wdw = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) ydy += y[i] * dy[i];
    for (std::size_t i = 0; i < x.size(); ++i) xdx += x[i] * dx[i];
    for (std::size_t i = 0; i < w.size(); ++i) wdw += w[i] * dw[i];
    EXPECT_NEAR(ydy, xdx, 1e-9);
    EXPECT_NEAR(ydy, wdw, 1e-9);
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t c = 0; c < g.in_c; ++c)
        for (std::int64_t iy = 0; iy < g.in_h; ++iy)
          for (std::int64_t ix = 0; ix < g.in_w; ++ix)
            ASSERT_NEAR(oracle::conv2d_backward_data_at(g, dy.data(), w.data(), n, c, iy, ix),
                        dx[static_cast<std::size_t>(((n * g.in_c + c) * g.in_h + iy) * g.in_w + ix)], 1e-12);
    // The bias adds per output channel.
    std::vector<double> yb(y.size());
    const std::vector<double> bias(static_cast<std::size_t>(g.out_c), 0.5);
    oracle::conv2d_forward(g, x.data(), w.data(), bias.data(), yb.data());
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(yb[i], y[i] + 0.5, 1e-12);
  }
}

// Hand-computed answers: cross-correlation (the kernel is not flipped), zero padding, stride.
TEST(ConvOracle, KnownAnswers) {
  oracle::ConvGeom g;  // x 1x1x3x3 = 1..9, w 1x1x2x2
  g.in_h = g.in_w = 3;
  g.kernel_h = g.kernel_w = 2;
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<double> y(4);
  const std::vector<double> top_left = {1, 0, 0, 0}, bottom_right = {0, 0, 0, 1};
  oracle::conv2d_forward(g, x.data(), top_left.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<double>{1, 2, 4, 5}));
  oracle::conv2d_forward(g, x.data(), bottom_right.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<double>{5, 6, 8, 9}));

  g.kernel_h = g.kernel_w = 3;  // 3x3 box sum, pad 1, stride 2: corners of the 3x3 output grid
  g.pad = 1;
  g.stride = 2;
  ASSERT_EQ(g.out_h(), 2);
  const std::vector<double> ones(9, 1.0);
  oracle::conv2d_forward(g, x.data(), ones.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<double>{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}));

  // Backward-data of that: each input receives the dy of every window containing it.
  const std::vector<double> dy = {1, 10, 100, 1000};
  std::vector<double> dx(9);
  oracle::conv2d_backward_data(g, dy.data(), ones.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{1, 11, 10, 101, 1111, 1010, 100, 1100, 1000}));
}

}  // namespace
