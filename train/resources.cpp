#include "train/resources.h"

#include "tensor/tensor.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

namespace cg {

double training_bytes(const GPTConfig& c, int64_t batch_size) {
    const double C = static_cast<double>(c.n_embd), V = static_cast<double>(c.vocab_size),
                 T = static_cast<double>(c.block_size), L = static_cast<double>(c.n_layer);
    // Per block at most: attention's 4 C^2 and the MLP's 8 C^2, plus biases and norms.
    const double params = (V + T) * C + L * (12.0 * C * C + 13.0 * C) + 2.0 * C;
    // Per token and block about 20 C activations live until backward; logits and their gradient 3 V.
    const double activations = static_cast<double>(batch_size) * T * (L * 20.0 * C + 3.0 * V);
    return 4.0 * (4.0 * params + activations);  // float32: value, gradient, AdamW m and v
}

double machine_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

void check_fits_in_memory(double bytes, const char* op) {
    const double have = machine_memory_bytes();
    if (have <= 0.0 || bytes <= have) return;
    char msg[256];
    std::snprintf(msg, sizeof(msg),
                  "this configuration needs about %.3g GiB, more than this machine's %.3g GiB; "
                  "lower n_layer, n_embd, block_size or batch_size",
                  bytes / 1073741824.0, have / 1073741824.0);
    fail(op, msg);
}

void check_thread_count(int64_t threads, const char* op) {
    const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    if (threads < 0 || threads > 4 * cores)
        fail(op, "threads must be 0 (all cores) or 1.." + std::to_string(4 * cores) + " on this machine of " +
                     std::to_string(cores) + " cores, got " + std::to_string(threads));
}

}  // namespace cg
