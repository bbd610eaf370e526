// Entry point of the `patternnet` program: parses the subcommand and catches errors once.
#include "cli/commands.h"
#include "pn/core/error.h"
#include "pn/dist/mpi.h"

#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

// A failure ends the program with exit code 1; under mpirun it must end every rank, or the others
// would wait for it in a collective forever.
int fail(const std::string& message) {
  if (pn::dist::size() > 1) {
    fmt::print(stderr, "patternnet: error (MPI rank {} of {}): {}\n", pn::dist::rank(), pn::dist::size(), message);
    std::fflush(stderr);
    pn::dist::abort_all(1);
  }
  fmt::print(stderr, "patternnet: error: {}\n", message);
  return 1;
}

// Only these split their work over MPI ranks; any other command would run K times over and have
// every copy write the same files.
bool runs_under_mpi(const std::string& command) { return command == "fit-patterns" || command == "quality"; }

}  // namespace

static int run_program(int argc, char** argv) {
  pn::dist::MpiSession mpi(argc, argv);
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
    add(pn::cli::add_merge_stats);
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
      if (!sub->parsed()) continue;
      if (pn::dist::launcher_size() > 1 && !pn::dist::built_with_mpi()) {
        throw pn::Error("started by an MPI launcher with {} processes, but this patternnet was built without MPI: every "
                        "process would do the whole job (install libopenmpi-dev and rebuild, or run one process)",
                        pn::dist::launcher_size());
      }
      if (pn::dist::size() > 1 && !runs_under_mpi(sub->get_name())) {
        throw pn::Error("`patternnet {}` does not run under mpirun (only fit-patterns and quality split their work); "
                        "start it as one process",
                        sub->get_name());
      }
      return run();
    }
    return 0;
  } catch (const pn::Error& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(std::string("unexpected: ") + e.what());
  }
}

// Whatever escapes run() (the MPI session's start, the printing of an error message itself) still
// ends in a message and a non-zero exit instead of std::terminate.
int main(int argc, char** argv) {
  try {
    return run_program(argc, argv);
  } catch (const std::exception& e) {
    std::fputs("patternnet: fatal error: ", stderr);
    std::fputs(e.what(), stderr);
    std::fputs("\n", stderr);
  } catch (...) {
    std::fputs("patternnet: fatal error\n", stderr);
  }
  return 3;
}
