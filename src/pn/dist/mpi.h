// The processes of one run. patternnet is one process unless it was built with MPI (cmake
// -DPN_MPI=ON, the default when Open MPI's development files are installed) and started by an MPI
// launcher (`mpirun -np K patternnet ...`, srun); then `fit-patterns` and `quality` split their
// data over the K ranks and sum the statistics onto rank 0 (chapter 11).
//
// The collectives below are the only MPI calls in the project. Without MPI they are the identity
// of a one-process world, so callers have one code path.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace pn::dist {

// Initialises MPI for the lifetime of the object when the process was started by an MPI launcher
// (and finalises it after); otherwise does nothing. One per program, created first in main.
class MpiSession {
public:
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

int rank();                   // 0 in a one-process run
int size();                   // 1 in a one-process run
inline bool is_root() { return rank() == 0; }
bool built_with_mpi();
// The process count an MPI launcher announced in the environment (1 without a launcher), read
// also by a build without MPI so that it can refuse to run K copies of the same job.
int launcher_size();

// Element-wise sum of v over all ranks, left in rank 0's v (the other ranks' v are unspecified
// afterwards). In double, in chunks below MPI's int count limit.
void sum_to_root(std::span<double> v);
// True on every rank when every rank passed the same text (e.g. a digest of reference points).
bool all_agree(const std::string& text);
// Ends every rank of the run with the exit code (a failure on one rank must not leave the others
// waiting in a collective). Returns only in a one-process run.
void abort_all(int code);

}  // namespace pn::dist
