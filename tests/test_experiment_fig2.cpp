// The output of `fig2_toy --quick` (paper Fig. 2, the rotated distractor): for every distractor
// angle the fitted filter must be orthogonal to the distractor and the linear pattern must stay on
// the signal direction a_s = (1, 0), while the filter itself turns. The folder is compiled in
// (PN_FIG2_QUICK_DIR, where the quick-run ctest writes); the environment variable PN_FIG2_DIR
// overrides it, e.g. to check a full run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  std::size_t column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    ADD_FAILURE() << "rotation.csv has no column '" << name << "'";
    return 0;
  }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}

Table read_rotation() {
  const char* env = std::getenv("PN_FIG2_DIR");
  const std::string dir = env && *env ? env : PN_FIG2_QUICK_DIR;
  Table t;
  const std::string path = (std::filesystem::path(dir) / "rotation.csv").string();
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return t;
  }
  std::string line;
  std::getline(in, line);
  t.header = split(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> row;
    for (const std::string& f : split(line)) {
      char* end = nullptr;
      const double v = std::strtod(f.c_str(), &end);
      EXPECT_TRUE(end == f.c_str() + f.size() && std::isfinite(v)) << "'" << f << "' in " << line;
      row.push_back(v);
    }
    EXPECT_EQ(row.size(), t.header.size()) << line;
    t.rows.push_back(std::move(row));
  }
  return t;
}

TEST(Fig2Rotation, AnglesFromTenToOneHundredSeventyDegrees) {
  const Table t = read_rotation();
  ASSERT_EQ(t.rows.size(), 17u);
  const std::size_t a = t.column("angle_distractor");
  for (std::size_t i = 0; i < t.rows.size(); ++i) EXPECT_DOUBLE_EQ(t.rows[i][a], 10.0 * static_cast<double>(i + 1));
}

TEST(Fig2Rotation, FilterIsOrthogonalToTheDistractor) {
  const Table t = read_rotation();
  ASSERT_FALSE(t.rows.empty());
  const std::size_t c = t.column("cos_w_a_d"), a = t.column("angle_distractor");
  for (const auto& r : t.rows) EXPECT_LT(std::fabs(r[c]), 1e-2) << "distractor at " << r[a] << " degrees";
}

TEST(Fig2Rotation, PatternStaysOnTheSignalWhileTheFilterTurns) {
  const Table t = read_rotation();
  ASSERT_FALSE(t.rows.empty());
  const std::size_t p = t.column("angle_pattern"), w = t.column("angle_w"), a = t.column("angle_distractor");
  double w_min = 1e9, w_max = -1e9;
  for (const auto& r : t.rows) {
    EXPECT_LT(std::fabs(r[p]), 3.0) << "pattern angle at distractor " << r[a] << " degrees";
    w_min = std::min(w_min, r[w]);
    w_max = std::max(w_max, r[w]);
  }
  EXPECT_GT(w_max - w_min, 90.0) << "the filter's angle spans only " << w_min << " .. " << w_max;
}

TEST(Fig2Rotation, FilterAngleFollowsTheory) {
  // w = (1, -cot θ) points at θ - 90 degrees: the filter turns exactly with the distractor.
  const Table t = read_rotation();
  ASSERT_FALSE(t.rows.empty());
  const std::size_t w = t.column("angle_w"), a = t.column("angle_distractor");
  for (const auto& r : t.rows) EXPECT_NEAR(r[w], r[a] - 90.0, 0.5) << "distractor at " << r[a] << " degrees";
}

}  // namespace
