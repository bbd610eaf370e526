// Tests that run a program (usually `patternnet`) as a child process: its standard output and
// error go to files, so a test can check the exit code or the signal that ended it, the messages,
// and which files the run left behind. Also the layer-spec shorthand of the tests that build small
// networks by hand.
#pragma once

#include "pn/nn/layer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace pntest {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ProgramResult {
  int exit_code = -1;  // when the process exited
  int signal = 0;      // when a signal ended it
  std::string out, err;
};

// Starts argv[0] with the arguments argv[1...], stdout and stderr redirected to the two files.
inline pid_t spawn_program(std::vector<std::string> argv, const std::string& out_file, const std::string& err_file) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
  return pid;
}

inline ProgramResult wait_program(pid_t pid, const std::string& out_file, const std::string& err_file) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ProgramResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

inline ProgramResult run_program(std::vector<std::string> argv, const std::string& out_file, const std::string& err_file) {
  return wait_program(spawn_program(std::move(argv), out_file, err_file), out_file, err_file);
}

inline pn::nn::LayerSpec layer_spec(const char* name, pn::nn::Kind kind, std::int64_t in = 0, std::int64_t out = 0,
                                    std::int64_t kernel = 0, std::int64_t stride = 1, std::int64_t padding = 0) {
  pn::nn::LayerSpec s;
  s.name = name;
  s.kind = kind;
  s.in = in;
  s.out = out;
  s.kernel = kernel;
  s.stride = stride;
  s.padding = padding;
  return s;
}

}  // namespace pntest
