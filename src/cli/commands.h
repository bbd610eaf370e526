// The subcommands of the `patternnet` program; each lives in its own cmd_*.cpp file and
// registers its options on the CLI11 app. main.cpp parses, runs the chosen one and turns a
// pn::Error into a message on stderr and exit code 1.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pn::cli {

using Runner = std::function<int()>;

// Adds the subcommand to app; the returned runner is valid once app has parsed.
Runner add_selfcheck(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_fit_patterns(CLI::App& app);
Runner add_merge_stats(CLI::App& app);
Runner add_quality(CLI::App& app);
Runner add_explain(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_benchmark(CLI::App& app);

}  // namespace pn::cli
