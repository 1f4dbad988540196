// The stand-in for builds without MPI: one process, rank 0 of 1.
#include "train/process_group.h"

#include <cstdlib>

namespace cg {

ProcessGroup join_process_group(int*, char***) { return process_group(); }
void leave_process_group() {}

const ProcessGroup& process_group() {
    static const ProcessGroup single;
    return single;
}

void all_reduce_sum(std::vector<float>&) {}  // the sum over one process is its own values

void abort_process_group(int status) { std::exit(status); }

std::string process_group_library() { return "none (built without MPI)"; }

}  // namespace cg
