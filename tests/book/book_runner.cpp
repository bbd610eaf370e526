// book_runner: keeps the textbook honest.
//
//   book_runner excerpts --src ROOT [--update] CHAPTER.md...
//       Every code block announced by `<!-- excerpt: PATH NAME -->` must equal the lines of PATH
//       between the markers `[book:NAME]` and `[/book:NAME]` (marker lines excluded, common
//       indentation removed). --update rewrites the blocks from the sources instead.
//   book_runner layout --src ROOT CHAPTER.md...
//       The fixed chapter header (paper section, code, tests, run), a "Run it" section holding only
//       runnable `console` blocks, exercises, and that every file the header names exists.
//   book_runner run --src ROOT --bin DIR --work DIR [--full] CHAPTER.md
//       Executes every ```console block of the chapter in DIR (a stand-in for the repository root
//       in which build/release/bin, bench and scripts point at this build and source tree). Lines
//       starting with "$ " are commands (a trailing backslash continues them); the lines after a
//       command are its expected output. The expected lines must match lines the command printed, in order,
//       token by token, where a token of the book containing a digit matches any token
//       (timings, accuracies and sizes vary; the words do not); "..." stands for omitted lines.
//       Without --full, a comment `<!-- quick: A -> B | C -> D -->` just above a console block
//       replaces text A by B and C by D in that block's commands first (smaller data, fewer
//       epochs), so the test suite runs the book in seconds with the commands a reader types.
//       --full --update copies each matched output line into the book (new timings, new digits).
//
// The markdown conventions are described in textbook/README.md ("How the book checks itself").
#include <fmt/core.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Failure(fmt::format("cannot open '{}'", path.string()));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines_atomically(const fs::path& path, const std::vector<std::string>& lines) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    for (const auto& l : lines) out << l << '\n';
    if (!out) throw Failure(fmt::format("cannot write '{}'", tmp.string()));
  }
  fs::rename(tmp, path);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::vector<std::string> tokens(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

// A fenced code block: the line index of its opening fence, its info string and its body.
struct Block {
  std::size_t open = 0;   // index of the ``` line
  std::size_t close = 0;  // index of the closing ``` line
  std::string info;
  std::vector<std::string> body;
};

std::vector<Block> fenced_blocks(const std::vector<std::string>& lines, const std::string& file) {
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!starts_with(lines[i], "```")) continue;
    Block b;
    b.open = i;
    b.info = trim(lines[i].substr(3));
    std::size_t j = i + 1;
    while (j < lines.size() && !starts_with(lines[j], "```")) b.body.push_back(lines[j++]);
    if (j == lines.size()) throw Failure(fmt::format("{}:{}: code block is never closed", file, i + 1));
    b.close = j;
    blocks.push_back(std::move(b));
    i = j;
  }
  return blocks;
}

// --- excerpts ---------------------------------------------------------------------------------

// The lines of `path` between "[book:name]" and "[/book:name]", without their common indentation.
std::vector<std::string> excerpt_from_source(const fs::path& root, const std::string& rel, const std::string& name) {
  const auto lines = read_lines(root / rel);
  const std::string open = "[book:" + name + "]", close = "[/book:" + name + "]";
  std::optional<std::size_t> begin, end;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(open) != std::string::npos) {
      if (begin) throw Failure(fmt::format("{}: marker {} appears twice", rel, open));
      begin = i;
    } else if (lines[i].find(close) != std::string::npos) {
      end = i;
    }
  }
  if (!begin || !end || *end <= *begin)
    throw Failure(fmt::format("{}: no marker pair {} ... {}", rel, open, close));
  std::vector<std::string> out(lines.begin() + static_cast<long>(*begin) + 1, lines.begin() + static_cast<long>(*end));
  std::size_t indent = std::string::npos;
  for (const auto& l : out)
    if (!trim(l).empty()) indent = std::min(indent, l.find_first_not_of(' '));
  if (indent == std::string::npos) throw Failure(fmt::format("{}: excerpt {} is empty", rel, name));
  for (auto& l : out) l = l.size() >= indent ? l.substr(indent) : std::string{};
  return out;
}

int cmd_excerpts(const fs::path& root, const std::vector<fs::path>& files, bool update) {
  int problems = 0, count = 0;
  for (const auto& file : files) {
    auto lines = read_lines(file);
    const auto blocks = fenced_blocks(lines, file.string());
    bool changed = false;
    // Walk backwards so that rewriting a block does not shift the blocks still to visit.
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
      const Block& b = *it;
      if (b.open == 0) continue;
      const std::string marker = trim(lines[b.open - 1]);
      if (!starts_with(marker, "<!-- excerpt:")) continue;
      const auto t = tokens(marker);  // <!-- excerpt: PATH NAME -->
      if (t.size() != 5 || t[4] != "-->")
        throw Failure(fmt::format("{}:{}: expected '<!-- excerpt: PATH NAME -->'", file.string(), b.open));
      ++count;
      const auto want = excerpt_from_source(root, t[2], t[3]);
      if (want == b.body) continue;
      if (update) {
        lines.erase(lines.begin() + static_cast<long>(b.open) + 1, lines.begin() + static_cast<long>(b.close));
        lines.insert(lines.begin() + static_cast<long>(b.open) + 1, want.begin(), want.end());
        changed = true;
        fmt::print("{}:{}: excerpt {} {} updated\n", file.string(), b.open + 1, t[2], t[3]);
        continue;
      }
      ++problems;
      std::size_t k = 0;
      while (k < want.size() && k < b.body.size() && want[k] == b.body[k]) ++k;
      fmt::print("{}:{}: excerpt {} {} differs from the source at its line {}:\n  book:   {}\n  source: {}\n",
                 file.string(), b.open + 1, t[2], t[3], k + 1, k < b.body.size() ? b.body[k] : "(end)",
                 k < want.size() ? want[k] : "(end)");
    }
    if (changed) write_lines_atomically(file, lines);
  }
  fmt::print("{} excerpts checked, {} out of date{}\n", count, problems,
             problems ? " (book_runner excerpts --update rewrites them)" : "");
  return problems ? 1 : 0;
}

// --- layout -----------------------------------------------------------------------------------

// Paths named in the header's Code line that can be checked literally (no globs or braces).
std::vector<std::string> literal_paths(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = text.find('`', pos)) != std::string::npos) {
    const auto end = text.find('`', pos + 1);
    if (end == std::string::npos) break;
    const std::string item = text.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (item.find_first_of("{}*<> ") != std::string::npos) continue;
    for (const char* top : {"src/", "tests/", "toy/", "experiments/", "bench/", "scripts/", "fuzz/"})
      if (starts_with(item, top)) out.push_back(item);
  }
  return out;
}

int cmd_layout(const fs::path& root, const std::vector<fs::path>& files) {
  int problems = 0;
  auto complain = [&](const fs::path& f, const std::string& what) {
    ++problems;
    fmt::print("{}: {}\n", f.string(), what);
  };
  for (const auto& file : files) {
    const auto lines = read_lines(file);
    if (lines.empty() || !starts_with(lines[0], "# Chapter ")) complain(file, "first line is not '# Chapter N — title'");
    std::string header;  // everything before the first "## " section
    for (const auto& l : lines) {
      if (starts_with(l, "## ")) break;
      header += l + '\n';
    }
    for (const char* field : {"- **Paper section:**", "- **Code:**", "- **Tests:**", "- **Run:**"})
      if (header.find(field) == std::string::npos) complain(file, fmt::format("header lacks '{}'", field));
    // A header field runs to the next "- **" field or the end of the header.
    const auto field = [&](const std::string& name) -> std::string {
      const auto b = header.find(name);
      if (b == std::string::npos) return {};
      const auto e = header.find("\n- **", b + name.size());
      return header.substr(b, e == std::string::npos ? std::string::npos : e - b);
    };
    for (const auto& p : literal_paths(field("- **Code:**")))
      if (!fs::exists(root / p)) complain(file, fmt::format("the Code line names '{}', which does not exist", p));
    // The chapter's tests carry its own label: chNN of the file name chNN_*.md.
    const std::string stem = file.filename().string();
    if (starts_with(stem, "ch") && stem.size() > 4) {
      const std::string label = "-L " + stem.substr(0, 4);
      const std::string tests = field("- **Tests:**");
      if (!tests.empty() && tests.find(label) == std::string::npos)
        complain(file, fmt::format("the Tests line does not name the chapter's label ({})", label));
    }

    bool in_run_it = false, saw_run_it = false, saw_exercises = false;
    int console_blocks = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto& l = lines[i];
      if (starts_with(l, "## ")) {
        in_run_it = l.find("Run it") != std::string::npos;
        saw_run_it = saw_run_it || in_run_it;
        saw_exercises = saw_exercises || l.find("Exercises") != std::string::npos;
      }
      if (starts_with(l, "```") && trim(l) != "```") {
        const std::string info = trim(l.substr(3));
        if (info == "console") ++console_blocks;
        else if (in_run_it)
          complain(file, fmt::format("line {}: a '{}' block in Run it (only console blocks are run)", i + 1, info));
        // skip to the closing fence
        for (++i; i < lines.size() && !starts_with(lines[i], "```"); ++i) {}
      } else if (trim(l) == "```" && in_run_it) {
        complain(file, fmt::format("line {}: an unlabelled block in Run it (label it console)", i + 1));
        for (++i; i < lines.size() && !starts_with(lines[i], "```"); ++i) {}
      }
    }
    // Every picture the chapter shows must exist (scripts/reproduce writes them).
    for (std::size_t i = 0; i < lines.size(); ++i) {
      for (std::size_t at = lines[i].find("]("); at != std::string::npos; at = lines[i].find("](", at + 2)) {
        const auto close = lines[i].find(')', at);
        const auto open = lines[i].rfind("![", at);
        if (close == std::string::npos || open == std::string::npos) continue;
        const std::string target = lines[i].substr(at + 2, close - at - 2);
        if (!fs::exists(file.parent_path() / target))
          complain(file, fmt::format("line {}: the figure '{}' does not exist", i + 1, target));
      }
    }
    if (!saw_run_it) complain(file, "no '## ... Run it' section");
    if (!saw_exercises) complain(file, "no '## Exercises' section");
    if (console_blocks == 0) complain(file, "no console block to run");
  }
  fmt::print("{} chapters checked, {} problems\n", files.size(), problems);
  return problems ? 1 : 0;
}

// --- run --------------------------------------------------------------------------------------

struct Command {
  std::size_t line = 0;  // 1-based line of the "$ " line
  std::string text;
  std::vector<std::string> expected;
  std::vector<std::size_t> expected_at;  // their 0-based lines in the chapter
  std::vector<std::pair<std::string, std::string>> quick;  // substitutions of quick mode
};

std::vector<std::pair<std::string, std::string>> parse_quick(const std::string& comment, const std::string& where) {
  // <!-- quick: A -> B | C -> D -->
  std::string body = comment.substr(comment.find("quick:") + 6);
  const auto end = body.rfind("-->");
  if (end == std::string::npos) throw Failure(fmt::format("{}: quick comment must end on its line with -->", where));
  body = body.substr(0, end);
  std::vector<std::pair<std::string, std::string>> subs;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto bar = body.find(" | ", pos);
    if (bar == std::string::npos) bar = body.size();
    const std::string item = body.substr(pos, bar - pos);
    const auto arrow = item.find(" -> ");
    if (arrow == std::string::npos) throw Failure(fmt::format("{}: '{}' is not 'A -> B'", where, trim(item)));
    subs.emplace_back(trim(item.substr(0, arrow)), trim(item.substr(arrow + 4)));
    pos = bar + 3;
  }
  return subs;
}

std::string substitute(std::string text, const std::vector<std::pair<std::string, std::string>>& subs) {
  for (const auto& [from, to] : subs) {
    if (from.empty()) continue;
    for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
      text.replace(pos, from.size(), to);
  }
  return text;
}

bool has_digit(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Words must agree; a token of the book holding a digit stands for whatever the machine printed
// there (a time, an accuracy, a size, or an instruction set such as avx2 vs scalar).
bool line_matches(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  if (want.size() != got.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!has_digit(want[i]) && want[i] != got[i]) return false;
  }
  return true;
}

// What a command printed, stream by stream: a pipe buffers stdout but not stderr, so their
// interleaving is not the terminal's and only the order within each stream can be relied on.
struct Outcome {
  int status = 0;
  std::vector<std::string> out, err;
};

std::vector<std::string> printed_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) {
    // Progress bars redraw with carriage returns; only the last state of a line counts.
    if (const auto cr = l.rfind('\r'); cr != std::string::npos) l = l.substr(cr + 1);
    lines.push_back(l);
  }
  return lines;
}

Outcome run_shell(const std::string& command, const fs::path& cwd) {
  // Per-process capture files: chapters may run at the same time in the same folder.
  const std::string tag = std::to_string(::getpid());
  const fs::path out = cwd / (".book_stdout_" + tag), err = cwd / (".book_stderr_" + tag);
  const std::string wrapped =
      fmt::format("cd '{}' && {{\n{}\n}} >'{}' 2>'{}'", cwd.string(), command, out.string(), err.string());
  const int raw = std::system(wrapped.c_str());
  if (raw == -1) throw Failure("cannot start /bin/sh");
  Outcome o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  o.out = printed_lines(out);
  o.err = printed_lines(err);
  fs::remove(out);
  fs::remove(err);
  return o;
}

// Chapters run in parallel share the work folder, so an existing link to the same target is kept.
void link_into(const fs::path& link, const fs::path& target) {
  fs::create_directories(link.parent_path());
  const fs::path want = fs::absolute(target);
  const auto points_there = [&] { return fs::is_symlink(link) && fs::read_symlink(link) == want; };
  if (points_there()) return;
  if (fs::is_symlink(link)) fs::remove(link);
  std::error_code ec;
  fs::create_directory_symlink(want, link, ec);
  if (ec && !points_there())
    throw Failure(fmt::format("cannot link '{}' to '{}': {}", link.string(), want.string(), ec.message()));
}

int cmd_run(const fs::path& root, const fs::path& bin, const fs::path& work, const fs::path& file, bool full, bool update) {
  auto lines = read_lines(file);
  std::vector<std::pair<std::string, std::string>> pending, subs;  // quick substitutions: announced, in force
  std::vector<Command> commands;
  bool in_block = false, in_console = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    const std::string where = fmt::format("{}:{}", file.string(), i + 1);
    if (starts_with(l, "```")) {
      if (!in_block) {
        in_block = true;
        in_console = trim(l.substr(3)) == "console";
        subs = in_console ? pending : decltype(subs){};
        pending.clear();
      } else {
        in_block = in_console = false;
      }
      continue;
    }
    if (!in_block && starts_with(trim(l), "<!-- quick:")) {
      pending = parse_quick(trim(l), where);
      continue;
    }
    if (!in_console) continue;
    if (starts_with(l, "$ ")) {
      Command c;
      c.line = i + 1;
      c.text = l.substr(2);
      c.quick = subs;
      while (!c.text.empty() && c.text.back() == '\\' && i + 1 < lines.size() && !starts_with(lines[i + 1], "```")) {
        c.text.back() = ' ';
        c.text.append(trim(lines[++i]));
      }
      commands.push_back(std::move(c));
    } else if (trim(l) == "...") {
      continue;
    } else if (!trim(l).empty()) {
      if (commands.empty()) throw Failure(fmt::format("{}: output line before any '$ ' command", where));
      commands.back().expected.push_back(l);
      commands.back().expected_at.push_back(i);
    }
  }
  if (commands.empty()) throw Failure(fmt::format("{}: no '$ ' command in a console block", file.string()));

  fs::create_directories(work);
  link_into(work / "build" / "release" / "bin", bin);
  for (const char* dir : {"bench", "scripts", "tests", "textbook"}) link_into(work / dir, root / dir);

  int failed = 0;
  for (const auto& c : commands) {
    const std::string text = full ? c.text : substitute(c.text, c.quick);
    fmt::print("--- {}:{}\n$ {}\n", file.filename().string(), c.line, text);
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    const Outcome o = run_shell(text, work);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& l : o.out) fmt::print("{}\n", l);
    for (const auto& l : o.err) fmt::print("{}\n", l);
    // The book's lines must appear in the printed order of their stream (lines in between are
    // allowed): the rows of a table are told apart by their order when their names hold digits.
    struct Stream {
      const std::vector<std::string>& lines;
      std::size_t from = 0;
    };
    Stream streams[2] = {{o.out}, {o.err}};
    std::vector<std::string> missing;
    for (std::size_t e = 0; e < c.expected.size(); ++e) {
      const auto w = tokens(c.expected[e]);
      bool found = false;
      for (auto& st : streams) {
        for (std::size_t k = st.from; k < st.lines.size() && !found; ++k) {
          if (!line_matches(w, tokens(st.lines[k]))) continue;
          if (update) lines[c.expected_at[e]] = st.lines[k];
          st.from = k + 1;
          found = true;
        }
        if (found) break;
      }
      if (!found) missing.push_back(c.expected[e]);
    }
    if (o.status != 0 || !missing.empty()) {
      ++failed;
      fmt::print("FAILED ({:.1f} s): exit status {}\n", secs, o.status);
      for (const auto& m : missing) fmt::print("  the book shows a line the command did not print (after the lines matched before it):\n    {}\n", m);
    } else {
      fmt::print("ok ({:.1f} s, {} expected lines found)\n", secs, c.expected.size());
    }
  }
  if (update && failed == 0) {
    write_lines_atomically(file, lines);
    fmt::print("{}: the book's output lines now show this run's numbers\n", file.string());
  }
  fmt::print("{}: {} of {} commands ok ({} mode)\n", file.filename().string(), commands.size() - static_cast<std::size_t>(failed),
             commands.size(), full ? "full" : "quick");
  return failed ? 1 : 0;
}

int usage() {
  fmt::print(stderr,
             "usage: book_runner excerpts --src ROOT [--update] CHAPTER.md...\n"
             "       book_runner layout --src ROOT CHAPTER.md...\n"
             "       book_runner run --src ROOT --bin DIR --work DIR [--full [--update]] CHAPTER.md\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) return usage();
    const std::string mode = argv[1];
    fs::path root, bin, work;
    bool update = false, full = false;
    std::vector<fs::path> files;
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw Failure(fmt::format("{} needs a value", a));
        return argv[++i];
      };
      if (a == "--src") root = value();
      else if (a == "--bin") bin = value();
      else if (a == "--work") work = value();
      else if (a == "--update") update = true;
      else if (a == "--full") full = true;
      else if (starts_with(a, "--")) throw Failure(fmt::format("unknown option {}", a));
      else files.emplace_back(a);
    }
    if (root.empty() || files.empty()) return usage();
    if (mode == "excerpts") return cmd_excerpts(root, files, update);
    if (mode == "layout") return cmd_layout(root, files);
    if (mode == "run") {
      if (update && !full) throw Failure("run --update needs --full: the book shows full-size runs");
      if (bin.empty() || work.empty() || files.size() != 1) return usage();
      return cmd_run(root, bin, work, files[0], full, update);
    }
    return usage();
  } catch (const std::exception& e) {
    fmt::print(stderr, "book_runner: error: {}\n", e.what());
    return 2;
  }
}
