// The method montage of `patternnet explain --methods` (chapters 4 and 8): the shared forward pass
// (explain::trace_forward + Explainer::explain_traced) gives every method the bits it gives when
// run alone; the compiled-in ImageNet class names; the montage layout; and the program itself on a
// randomly initialised Fashion-MNIST `cnn` (written here, so no data set or training is needed):
// the montage PNGs' sizes follow from the number of panels, and refusals exit non-zero with a
// message naming the flag and write nothing.
#include "test_process.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/explain/explain.h"
#include "pn/io/idx.h"
#include "pn/io/image.h"
#include "pn/io/npy.h"
#include "pn/nn/builders.h"
#include "pn/nn/class_names.h"
#include "pn/nn/model_io.h"
#include "pn/viz/montage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace pn;

using pntest::layer_spec;

// Every layer kind the rules treat differently: conv, ReLU, max- and average pooling, dense.
// 1x12x12 -> conv 4 -> pool 6x6 -> conv 6 -> avg 3x3 -> dense 54 -> 8 -> 5.
nn::Sequential small_model(std::uint64_t seed) {
  std::vector<nn::LayerSpec> l = {layer_spec("conv1", nn::Kind::conv2d, 1, 4, 3, 1, 1), layer_spec("relu1", nn::Kind::relu),
                                  layer_spec("pool1", nn::Kind::maxpool2d, 0, 0, 2, 2),  layer_spec("conv2", nn::Kind::conv2d, 4, 6, 3, 1, 1),
                                  layer_spec("relu2", nn::Kind::relu),                  layer_spec("avg2", nn::Kind::avgpool2d, 0, 0, 2, 2),
                                  layer_spec("flatten", nn::Kind::flatten),             layer_spec("fc1", nn::Kind::linear, 54, 8),
                                  layer_spec("relu3", nn::Kind::relu),                  layer_spec("fc2", nn::Kind::linear, 8, 5)};
  nn::Sequential m(Shape{1, 12, 12}, std::move(l));
  Rng rng(seed);
  m.init(rng);
  return m;
}

Tensor uniform(Shape s, float lo, float hi, std::uint64_t seed) {
  Tensor x(std::move(s));
  Rng rng(seed);
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.uniform(lo, hi));
  return x;
}

// Patterns that differ from the weights (so PatternNet is not the gradient), stamped with the
// model's fingerprint.
explain::Patterns perturbed_patterns(const nn::Sequential& model) {
  explain::Patterns p;
  p.model_fingerprint = model.fingerprint();
  Rng rng(99);
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    if (!l.spec.has_params()) continue;
    explain::LayerPatterns lp;
    lp.layer = l.spec.name;
    lp.a = l.weight.value().clone();
    for (float& v : lp.a.values()) v = 0.5f * v + 0.1f * static_cast<float>(rng.normal());
    p.layers.push_back(std::move(lp));
  }
  return p;
}

::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes " << a.shape().str() << " and " << b.shape().str();
  if (a.numel() > 0 && std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) != 0) {
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      if (std::memcmp(a.data() + i, b.data() + i, sizeof(float)) != 0) return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

explain::MethodOptions options_for_all() {
  explain::MethodOptions o;
  o.low = -1.0, o.high = 3.0;   // lrp_zbox and the bounded deep_taylor
  o.samples = 3, o.steps = 4;   // keep the many-pass methods short
  return o;
}

// ---------------------------------------------------------------------------------------------
// The shared forward pass

TEST(shared_trace, EveryMethodBitIdenticalToRunningAlone) {
  const nn::Sequential model = small_model(3);
  const explain::Patterns patterns = perturbed_patterns(model);
  const Tensor x = uniform(Shape{3, 1, 12, 12}, -1.0f, 3.0f, 5);
  for (const std::optional<std::int64_t> target : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{2}}) {
    const explain::TracedForward shared = explain::trace_forward(model, x, target);
    // Twice over the methods, in opposite orders: a backward pass must leave the shared trace as it found it.
    std::vector<std::string> names = explain::method_names();
    for (int round = 0; round < 2; ++round) {
      for (const std::string& name : names) {
        SCOPED_TRACE(name + (target ? " target 2" : " target max") + (round ? " (second round)" : ""));
        const explain::Method m = explain::make_method(name, options_for_all());
        const explain::Explainer ex(model, m, &patterns);
        const explain::Explanation alone = explain::Explainer(model, m, &patterns)(x, target, true);
        const explain::Explanation together = ex.explain_traced(shared, true);
        EXPECT_TRUE(same_bits(alone.result, together.result));
        EXPECT_EQ(alone.targets, together.targets);
        EXPECT_EQ(alone.target_outputs, together.target_outputs);
        ASSERT_EQ(alone.flows.size(), together.flows.size());
        for (std::size_t k = 0; k < alone.flows.size(); ++k) {
          EXPECT_EQ(alone.flows[k].rule, together.flows[k].rule);
          EXPECT_EQ(alone.flows[k].sum_in, together.flows[k].sum_in);
          EXPECT_EQ(alone.flows[k].sum_out, together.flows[k].sum_out);
        }
      }
      std::reverse(names.begin(), names.end());
    }
  }
}

// The single-pass methods against the pass written out by hand (forward, start signal, backward),
// which shares no code with trace_forward / explain_traced.
TEST(shared_trace, SinglePassMethodsMatchAHandWrittenPass) {
  const nn::Sequential model = small_model(4);
  const explain::Patterns patterns = perturbed_patterns(model);
  const Tensor x = uniform(Shape{2, 1, 12, 12}, 0.0f, 1.0f, 6);
  const explain::TracedForward shared = explain::trace_forward(model, x);
  for (const char* name : {"gradient", "input_x_gradient", "guided_backprop", "pattern_net", "lrp_epsilon", "lrp_zplus", "lrp_zbox",
                           "deep_taylor", "pattern_attribution"}) {
    SCOPED_TRACE(name);
    const explain::Method m = explain::make_method(name, options_for_all());
    nn::Trace trace;
    model.forward(x, &trace);
    const std::vector<std::int64_t> targets = explain::choose_targets(trace.output, std::nullopt);
    Tensor expected = explain::backward_pass(model, trace, m, &patterns, explain::start_signal(trace.output, targets, m.start));
    if (m.times_input) {
      for (std::int64_t i = 0; i < x.numel(); ++i) expected[i] *= x[i];
    }
    EXPECT_TRUE(same_bits(expected, explain::Explainer(model, m, &patterns).explain_traced(shared).result));
    EXPECT_EQ(targets, shared.targets);
  }
}

TEST(shared_trace, RefusesATraceOfAnotherModel) {
  const nn::Sequential a = small_model(3), b = small_model(3);  // same architecture and weights, another object
  const Tensor x = uniform(Shape{1, 1, 12, 12}, 0.0f, 1.0f, 7);
  const explain::TracedForward f = explain::trace_forward(a, x);
  const explain::Explainer ex(b, explain::make_method("gradient"), nullptr);
  try {
    (void)ex.explain_traced(f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
}

TEST(shared_trace, RefusesNonFiniteInputsAndTargetsOutside) {
  const nn::Sequential model = small_model(3);
  Tensor x = uniform(Shape{1, 1, 12, 12}, 0.0f, 1.0f, 7);
  EXPECT_THROW((void)explain::trace_forward(model, x, 5), Error);  // 5 outputs: 0..4
  x[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW((void)explain::trace_forward(model, x), Error);
}

// ---------------------------------------------------------------------------------------------
// Class names

TEST(class_names, ImageNetListIsCompiledIn) {
  ASSERT_EQ(nn::imagenet_class_names().size(), 1000u);
  EXPECT_EQ(nn::imagenet_class_name(0), "tench");
  EXPECT_EQ(nn::imagenet_class_name(1), "goldfish");
  EXPECT_EQ(nn::imagenet_class_name(281), "tabby");
  EXPECT_EQ(nn::imagenet_class_name(285), "Egyptian cat");
  EXPECT_EQ(nn::imagenet_class_name(999), "toilet tissue");
  for (const std::string_view n : nn::imagenet_class_names()) EXPECT_FALSE(n.empty());
  EXPECT_THROW((void)nn::imagenet_class_name(1000), Error);
  EXPECT_THROW((void)nn::imagenet_class_name(-1), Error);
}

TEST(class_names, ChosenByTheModelsShape) {
  const nn::Sequential imagenet(Shape{3, 4, 4}, {layer_spec("flatten", nn::Kind::flatten), layer_spec("fc", nn::Kind::linear, 48, 1000)});
  EXPECT_EQ(nn::class_name_for(imagenet, 281), "tabby");
  EXPECT_EQ(nn::class_name_for(imagenet, 1000), "");
  const nn::Sequential fashion = nn::build_cnn();  // 1x28x28 -> 10
  EXPECT_EQ(nn::class_name_for(fashion, 9), "Ankle boot");
  EXPECT_EQ(nn::class_name_for(fashion, 0), io::fashion_mnist_classes()[0]);
  EXPECT_EQ(nn::class_name_for(small_model(1), 2), "");  // 5 outputs: unknown classes
}

// ---------------------------------------------------------------------------------------------
// Montage layout

viz::RgbImage solid(std::int64_t h, std::int64_t w, std::uint8_t v) {
  viz::RgbImage img;
  img.height = h;
  img.width = w;
  img.pixels.assign(static_cast<std::size_t>(h * w * 3), v);
  return img;
}

TEST(montage, ColumnsBalanceTheRows) {
  EXPECT_EQ(viz::montage_columns(1), 1);
  EXPECT_EQ(viz::montage_columns(6), 6);
  EXPECT_EQ(viz::montage_columns(7), 4);
  EXPECT_EQ(viz::montage_columns(15), 5);
  EXPECT_EQ(viz::montage_columns(17), 6);
  EXPECT_THROW((void)viz::montage_columns(0), Error);
}

TEST(montage, PanelsWrapWithATitleBandPerRow) {
  viz::Montage m;
  for (int i = 0; i < 7; ++i) m.panels.push_back({"p" + std::to_string(i) + "\nsecond", solid(10, 12, static_cast<std::uint8_t>(i))});
  m.title = "title";
  m.caption = "caption";
  const viz::ImageGrid g = viz::montage_grid(m);
  ASSERT_EQ(g.cells.size(), 2u);
  ASSERT_EQ(g.cells[0].size(), 4u);
  EXPECT_EQ(g.cell_titles[1][2], "p6\nsecond");
  EXPECT_EQ(g.cell_titles[1][3], "");
  EXPECT_EQ(g.cells[1][3].pixels, solid(10, 12, 255).pixels);  // the unused cell stays white
  const viz::GridLayout l = viz::grid_layout(g);
  ASSERT_EQ(l.cell_title_bottom.size(), 2u);
  // Each row: its two title lines, then the cells.
  EXPECT_EQ(l.cell_y[1] - l.cell_y[0], 10 + m.style.gap + 2 * l.line_height + (l.cell_y[0] - l.cell_title_bottom[0]));
  EXPECT_LT(l.cell_title_bottom[1], l.cell_y[1]);
  EXPECT_EQ(l.width, 2 * m.style.margin + 4 * 12 + 3 * m.style.gap);
  // The cells land where the layout says, pixel for pixel.
  const viz::RgbImage page = viz::compose_grid(g);
  const auto at = [&](std::int64_t y, std::int64_t x) { return page.pixels[static_cast<std::size_t>((y * page.width + x) * 3)]; };
  EXPECT_EQ(at(l.cell_y[1], l.cell_x[2]), 6);
  EXPECT_EQ(at(l.cell_y[0] + 9, l.cell_x[3] + 11), 3);
  // An explicit column count; more columns than panels gives one row.
  m.columns = 7;
  EXPECT_EQ(viz::montage_grid(m).cells.size(), 1u);
  m.columns = 100;
  EXPECT_EQ(viz::montage_grid(m).cells[0].size(), 7u);
}

TEST(montage, RefusesPanelsOfAnotherSizeNamingThem) {
  viz::Montage m;
  m.panels.push_back({"input", solid(10, 10, 0)});
  m.panels.push_back({"lrp", solid(10, 11, 0)});
  try {
    (void)viz::montage_grid(m);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("panel 1 ('lrp') is 10x11"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)viz::montage_grid(viz::Montage{}), Error);
  viz::ImageGrid g;
  g.cells = {{solid(4, 4, 0)}};
  g.cell_titles = {{"a", "b"}};
  EXPECT_THROW((void)viz::grid_layout(g), Error);
}

// ---------------------------------------------------------------------------------------------
// The program

using pntest::slurp;

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

class ExplainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(PN_MONTAGE_TEST_DIR) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    nn::Sequential cnn = nn::build_cnn();
    Rng rng(11);
    cnn.init(rng);
    model_ = path("cnn.safetensors");
    nn::save_model(model_, cnn);
    input_ = path("x.npy");
    io::write_npy(input_, uniform(Shape{2, 1, 28, 28}, 0.0f, 1.0f, 13));
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  Outcome run(std::vector<std::string> args) const {
    args.insert(args.begin(), {PN_PATTERNNET_EXE, "explain"});
    const pntest::ProgramResult p = pntest::run_program(std::move(args), path("stdout.txt"), path("stderr.txt"));
    return Outcome{p.exit_code, p.out, p.err};
  }

  // Files in the test's folder other than the inputs and the captured output.
  std::vector<std::string> outputs() const {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      const std::string n = e.path().filename().string();
      if (n != "cnn.safetensors" && n != "x.npy" && n != "stdout.txt" && n != "stderr.txt") found.push_back(n);
    }
    return found;
  }

  fs::path dir_;
  std::string model_, input_;
};

// The montage's page for `panels` panels of `side` pixels with text of the given line counts (the
// texts of a 28x28 model's montage fit within its rows, so the size follows from the structure).
viz::GridLayout expected_page(std::int64_t panels, std::int64_t side, int title_lines, int caption_lines, std::int64_t columns = 0) {
  viz::Montage m;
  for (std::int64_t i = 0; i < panels; ++i) m.panels.push_back({"t\nt", solid(side, side, 0)});
  m.title = "t";
  for (int i = 1; i < title_lines; ++i) m.title += "\nt";
  m.caption = "c";
  for (int i = 1; i < caption_lines; ++i) m.caption += "\nc";
  m.columns = columns;
  return viz::grid_layout(viz::montage_grid(m));
}

TEST_F(ExplainCli, AllMethodsMontagePerSampleAndOneHeatmapPerMethod) {
  const Outcome r = run({"--model", model_, "--input", input_, "--methods", "all", "--heatmap", path("m.png"), "--out-dir", path("each")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // No patterns: every single-pass method but the two pattern methods, with a note; lrp_zbox
  // bounded by the unit preprocessing's [0, 1].
  const std::vector<std::string>& known = explain::method_names();
  const std::size_t methods = known.size() - 4;
  EXPECT_NE(r.out.find("leaves out pattern_net and pattern_attribution"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lrp_zbox: input bounds [0, 1]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sample 1: top 5 of 10 outputs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("forward pass (shared by " + std::to_string(methods) + " methods)"), std::string::npos) << r.out;
  for (const std::string& name : known) {
    const bool expected = name != "smoothgrad" && name != "integrated_gradients" && name != "pattern_net" && name != "pattern_attribution";
    EXPECT_EQ(fs::exists(dir_ / "each" / (name + "_1.png")), expected) << name;
  }
  // One montage per sample: the input and one panel per method, 224 pixels each (28 x 8), wrapped
  // into balanced rows; two title lines, the caption's model/input line, three lines of colour
  // conventions and the lrp_zbox bounds.
  const auto panels = static_cast<std::int64_t>(methods + 1);
  const viz::GridLayout page = expected_page(panels, 224, 2, 5);
  const std::int64_t columns = viz::montage_columns(panels), rows = (panels + columns - 1) / columns;
  for (const char* f : {"m_0.png", "m_1.png"}) {
    SCOPED_TRACE(f);
    ASSERT_TRUE(fs::exists(path(f)));
    const Tensor png = io::read_image(path(f));
    EXPECT_EQ(png.dim(2), page.width);
    EXPECT_EQ(png.dim(1), page.height);
    EXPECT_GE(png.dim(2), columns * 224);
    EXPECT_GE(png.dim(1), rows * 224);
  }
  EXPECT_NE(r.out.find("(" + std::to_string(panels) + " panels)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("m.png")));  // a batch writes m_0.png, m_1.png, ...
  const Tensor one = io::read_image((dir_ / "each" / "lrp_epsilon_0.png").string());
  EXPECT_EQ(one.dim(1), 224);
  EXPECT_EQ(one.dim(2), 224);
}

TEST_F(ExplainCli, NamedMethodsWithPatternsAndAFixedTarget) {
  const nn::Sequential cnn = nn::load_model(model_);
  explain::save_patterns(path("p.safetensors"), perturbed_patterns(cnn));
  const Outcome r = run({"--model", model_, "--patterns", path("p.safetensors"), "--input", input_, "--methods",
                     "gradient, pattern_attribution,smoothgrad,gradient", "--samples", "2", "--target", "9", "--heatmap",
                     path("m.png"), "--columns", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("sample 0: explaining output 9 Ankle boot"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("forward pass (shared by 3 methods)"), std::string::npos) << r.out;
  // The input and three methods in two rows of two; no lrp_zbox line in the caption. Two
  // columns are narrower than the caption, which widens the page.
  const viz::GridLayout page = expected_page(4, 224, 2, 4, 2);
  EXPECT_EQ(page.rows, 2);
  const Tensor png = io::read_image(path("m_0.png"));
  EXPECT_EQ(png.dim(1), page.height);
  EXPECT_GE(png.dim(2), page.width);
}

TEST_F(ExplainCli, RefusalsExitNonZeroNamingTheProblemAndWriteNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--method", "gradient", "--methods", "all"}, "give either --method NAME (one explanation) or --methods LIST|all"},
      {{}, "give --method NAME (one explanation) or --methods LIST|all"},
      {{"--methods", "gradient,magic"}, "--methods: unknown method 'magic'; known methods: gradient"},
      {{"--methods", "gradient,,lrp_z"}, "--methods: empty method name"},
      {{"--methods", "pattern_net"}, "--methods: pattern_net needs --patterns"},
      {{"--methods", "all", "--out", "never.npy"}, "--out writes one method's result; with --methods use --heatmap"},
      {{"--methods", "all", "--columns", "-1"}, "--columns must be 0 (automatic) or a positive number"},
      {{"--method", "gradient", "--out-dir", "never"}, "--out-dir writes one heatmap per method of --methods"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--model", model_, "--input", input_, "--heatmap", path("never.png")};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Outcome r = run(args);
    SCOPED_TRACE(c.message);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("patternnet: error: " + c.message), std::string::npos) << r.err;
    EXPECT_EQ(outputs(), std::vector<std::string>{});
  }
  // lrp_zbox named without bounds on inputs outside the preprocessing's range: refused; from `all`
  // it is left out with a note instead.
  io::write_npy(input_, uniform(Shape{1, 1, 28, 28}, -2.0f, 2.0f, 17));
  Outcome r = run({"--model", model_, "--input", input_, "--methods", "lrp_zbox", "--heatmap", path("never.png")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--methods lrp_zbox: the input's values"), std::string::npos) << r.err;
  EXPECT_EQ(outputs(), std::vector<std::string>{});
  r = run({"--model", model_, "--input", input_, "--methods", "all", "--report"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("note: `all` leaves out lrp_zbox"), std::string::npos) << r.out;
  EXPECT_EQ(outputs(), std::vector<std::string>{});
}

}  // namespace
