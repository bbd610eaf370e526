#include "pn/dist/mpi.h"

#include "pn/core/error.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <vector>

#ifdef PN_HAVE_MPI
#include <mpi.h>
#endif

namespace pn::dist {
namespace {

bool g_active = false;  // MPI_Init ran (and MPI_Finalize has not)
int g_rank = 0, g_size = 1;

// Open MPI's mpirun, MPICH's Hydra and Slurm's PMI / PMIx each export one of these.
const char* env_size() {
  for (const char* key : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"}) {
    if (const char* v = std::getenv(key)) return v;
  }
  return nullptr;
}

}  // namespace

int launcher_size() {
  const char* v = env_size();
  if (!v) return 1;
  const long n = std::strtol(v, nullptr, 10);
  return n > 1 && n < std::numeric_limits<int>::max() ? static_cast<int>(n) : 1;
}

bool built_with_mpi() {
#ifdef PN_HAVE_MPI
  return true;
#else
  return false;
#endif
}

MpiSession::MpiSession([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#ifdef PN_HAVE_MPI
  if (!env_size()) return;  // a plain run: no MPI start-up cost, no launcher needed
  int provided = 0;
  // OpenMP threads compute, only the main thread talks to MPI.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  g_active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
#endif
}

MpiSession::~MpiSession() {
#ifdef PN_HAVE_MPI
  if (g_active) MPI_Finalize();
  g_active = false;
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }

void sum_to_root(std::span<double> v) {
  if (g_size == 1) return;
#ifdef PN_HAVE_MPI
  // MPI counts are int; 2^26 doubles (512 MiB) per call also bounds the library's own buffers.
  constexpr std::size_t kChunk = std::size_t{1} << 26;
  for (std::size_t at = 0; at < v.size(); at += kChunk) {
    const int count = static_cast<int>(std::min(kChunk, v.size() - at));
    double* p = v.data() + at;
    const int rc = g_rank == 0 ? MPI_Reduce(MPI_IN_PLACE, p, count, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD)
                               : MPI_Reduce(p, nullptr, count, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) throw Error("MPI_Reduce of {} doubles failed (error {})", count, rc);
  }
#endif
}

bool all_agree(const std::string& text) {
  if (g_size == 1) return true;
#ifdef PN_HAVE_MPI
  // Rank 0's text goes to everyone (length first); each compares, and a logical AND decides.
  unsigned long long len = text.size();
  MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  std::vector<char> root(static_cast<std::size_t>(len));
  if (g_rank == 0) std::copy(text.begin(), text.end(), root.begin());
  MPI_Bcast(root.data(), static_cast<int>(len), MPI_CHAR, 0, MPI_COMM_WORLD);
  int same = std::string(root.begin(), root.end()) == text ? 1 : 0, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all != 0;
#else
  return true;
#endif
}

void abort_all(int code) {
#ifdef PN_HAVE_MPI
  if (g_active && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  (void)code;
}

}  // namespace pn::dist
