// The process group over MPI: the only file that calls MPI.
#include "train/process_group.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "tensor/tensor.h"

namespace cg {

namespace {

ProcessGroup joined;  // rank 0 of 1 until join_process_group

void check(int status, const char* call) {
    if (status != MPI_SUCCESS) fail("mpi", std::string(call) + " failed with MPI error " + std::to_string(status));
}

}  // namespace

ProcessGroup join_process_group(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return joined;
    check(MPI_Init(argc, argv), "MPI_Init");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &joined.rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &joined.size), "MPI_Comm_size");
    // The processes that share this machine's memory share its cores too.
    MPI_Comm local;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, joined.rank, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    check(MPI_Comm_size(local, &joined.local_size), "MPI_Comm_size");
    MPI_Comm_free(&local);
    return joined;
}

void leave_process_group() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

const ProcessGroup& process_group() { return joined; }

void all_reduce_sum(std::vector<float>& values) {
    if (joined.size == 1) return;
    // MPI counts are ints: a buffer past 2^31 floats goes in pieces.
    for (size_t done = 0; done < values.size();) {
        const int count = static_cast<int>(std::min<size_t>(values.size() - done, INT_MAX));
        check(MPI_Allreduce(MPI_IN_PLACE, values.data() + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
        done += static_cast<size_t>(count);
    }
}

void abort_process_group(int status) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Abort(MPI_COMM_WORLD, status);
    std::exit(status);
}

std::string process_group_library() {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string text(version, static_cast<size_t>(length));
    const size_t comma = text.find(',');  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
    return comma == std::string::npos ? text : text.substr(0, comma);
}

}  // namespace cg
