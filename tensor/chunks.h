// Work cut into a fixed number of chunks, decided by the size of the work
// alone, and sums over chunks added in chunk order afterwards: a result is the
// same bit for bit on 1 thread or 8. Chunks go to threads statically, so the
// rows one thread wrote in one kernel are the rows it reads in the next, from
// its own cache (handing chunks out as they come was slower: docs/performance.md).
#pragma once

#include <algorithm>
#include <cstdint>

namespace cg {

// Below this many elements a loop runs on the calling thread: waking another
// thread costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

// How many chunks n items make with at least min_items per chunk, at most 16.
inline int64_t chunk_count(int64_t n, int64_t min_items) {
    return std::clamp<int64_t>(n / std::max<int64_t>(min_items, 1), 1, 16);
}
// Chunk k of `chunks` covers items [chunk_begin(k), chunk_begin(k + 1)).
inline int64_t chunk_begin(int64_t n, int64_t chunks, int64_t k) { return n * k / chunks; }

}  // namespace cg
