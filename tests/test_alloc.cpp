// Heap allocations of a steady-state training step, counted by replacing the
// global operator new in the test binary. Tensors come from the pool and tape
// nodes are reused, so a step allocates only a few small things of its own
// (the batch's token vectors), not one per op.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "models/gpt.h"
#include "nn/adamw.h"
#include "tests/model_helpers.h"
#include "data/dataset.h"

namespace {
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations++;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace cg {
namespace {

TEST_CASE("alloc: a steady-state training step makes a handful of heap allocations, not one per op") {
    for (const std::string mixer : {"attn", "pair_max+avg"}) {
        CAPTURE(mixer);
        GPTConfig c = tiny_config(mixer);
        c.n_embd = 32;
        GPT model = make_gpt(c, 1);
        std::vector<Parameter*> params = gpt_parameters(model);
        AdamW opt = make_adamw(params, AdamWConfig{});
        std::vector<uint16_t> tokens;
        for (int i = 0; i < 500; i++) tokens.push_back(static_cast<uint16_t>(i * 7 % 11));
        Rng data{1, 0}, drop{2, 0};
        long during_step = 0;
        int ops = 0;
        for (int step = 0; step < 4; step++) {
            const long before = allocations.load();
            Batch b = get_batch(tokens, 4, c.block_size, data);
            Var loss = cross_entropy(gpt_forward(model, b.x, true, drop), b.y);
            ops = tape_size();
            backward(loss);
            clip_grad_norm(params, 1.0f);
            adamw_step(opt, 1e-3f);
            zero_grad(params);
            during_step = allocations.load() - before;
        }
        MESSAGE(mixer << ": " << during_step << " allocations in a step of " << ops << " ops");
        // The batch: two id vectors and their shared owners (4); the position
        // ids of gpt_forward (2). Anything per op would be dozens more.
        CHECK(during_step <= 8);
        CHECK(ops > 20);
    }
}

}  // namespace
}  // namespace cg
