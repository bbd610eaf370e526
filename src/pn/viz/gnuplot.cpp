#include "pn/viz/gnuplot.h"

#include "pn/core/error.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern char** environ;

namespace pn::viz {

ScratchDir::ScratchDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw Error("cannot create a scratch folder '{}': {}", templ, std::strerror(errno));
  path_ = buf.data();
}

ScratchDir::~ScratchDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void run_gnuplot(const std::string& script, const std::string& log, bool* ran) {
  if (ran) *ran = false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string prog = "gnuplot";
  std::vector<char> arg0(prog.begin(), prog.end()), arg1(script.begin(), script.end());
  arg0.push_back('\0');
  arg1.push_back('\0');
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  const std::string command = fmt::format("gnuplot '{}'", script);
  if (rc != 0) {
    if (rc == ENOENT) {
      throw Error("cannot run '{}': gnuplot is not installed or not on PATH (Debian package gnuplot-nox; scripts/deps "
                  "installs it)",
                  command);
    }
    throw Error("cannot run '{}': {}", command, std::strerror(rc));
  }
  if (ran) *ran = true;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error("waiting for '{}' failed: {}", command, std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string message = read_file_bytes(log);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (message.size() > 2000) message = "..." + message.substr(message.size() - 2000);
  // posix_spawnp reports a missing program as exit status 127 on some C libraries.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && message.empty()) {
    throw Error("cannot run '{}': gnuplot is not installed or not on PATH (Debian package gnuplot-nox)", command);
  }
  const std::string how = WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                                            : fmt::format("signal {}", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  throw Error("'{}' failed ({}): {}", command, how, message.empty() ? "no message" : message);
}

}  // namespace pn::viz
