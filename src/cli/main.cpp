// Entry point of the `patternnet` program: parses the subcommand and catches errors once.
#include "cli/commands.h"
#include "pn/core/error.h"

#include <fmt/core.h>

#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"patternnet: PatternNet, PatternAttribution and the explanation methods they are compared with"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("patternnet 0.1.0"));

  std::vector<std::pair<CLI::App*, pn::cli::Runner>> commands;
  const auto add = [&](auto adder) {
    const std::size_t before = app.get_subcommands({}).size();
    auto runner = adder(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(runner));
  };
  try {
    add(pn::cli::add_selfcheck);
    add(pn::cli::add_train);
    add(pn::cli::add_eval);
    add(pn::cli::add_fit_patterns);
    add(pn::cli::add_quality);
    add(pn::cli::add_explain);
    add(pn::cli::add_export);
    add(pn::cli::add_benchmark);
  } catch (const std::exception& e) {
    fmt::print(stderr, "patternnet: internal error while setting up: {}\n", e.what());
    return 2;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : commands) {
      if (sub->parsed()) return run();
    }
    return 0;
  } catch (const pn::Error& e) {
    fmt::print(stderr, "patternnet: error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "patternnet: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "patternnet: unexpected error: {}\n", e.what());
    return 1;
  }
}
