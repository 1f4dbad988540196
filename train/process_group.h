// The processes of one training run: one (rank 0 of 1) in the default build,
// N under `mpirun -np N` in the MPI build (cmake -DCAUSALGRAD_MPI=ON).
// CMake compiles exactly one of process_group/mpi.cpp (the MPI calls) and
// process_group/single.cpp (the stand-in), so no other file knows about MPI.
#pragma once

#include <string>
#include <vector>

namespace cg {

struct ProcessGroup {
    int rank = 0;        // this process, 0..size-1; rank 0 logs, evaluates and saves
    int size = 1;        // processes in the run
    int local_size = 1;  // processes on this machine (they share its cores)
};

// Joins the run's processes (MPI_Init); call once, after the program's own
// restart (runtime_setup.h) and before any other call here.
ProcessGroup join_process_group(int* argc, char*** argv);
// Leaves it (MPI_Finalize); every process calls it after its last collective call.
void leave_process_group();
// The group joined, or rank 0 of 1 when none was (the tests, other commands).
const ProcessGroup& process_group();

// In place: every process ends with the element-wise sum over all processes.
// A collective call: every process of the group must make it, in the same order.
void all_reduce_sum(std::vector<float>& values);

// Ends every process of the run at once with `status` (MPI_Abort): for an
// error on one process, which the others would otherwise wait for forever.
[[noreturn]] void abort_process_group(int status);

// For start-up tables: "Open MPI v4.1.4" or "none (built without MPI)".
std::string process_group_library();

}  // namespace cg
