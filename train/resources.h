// What a configuration asks of the machine, checked before anything is
// allocated or written: memory for the model and its training, and thread counts.
#pragma once

#include <cstdint>

#include "models/gpt.h"

namespace cg {

// Rough bytes to train `config` with `batch_size` sequences per step: weights,
// gradients and both AdamW moments, plus the activations kept for backward.
// In double, so that absurd settings cannot overflow.
double training_bytes(const GPTConfig& config, int64_t batch_size);

// Physical memory of this machine (0 if unknown).
double machine_memory_bytes();

// Throws (under `op`) when `bytes` exceed the machine's memory.
void check_fits_in_memory(double bytes, const char* op);

// Throws unless 0 <= threads <= 4 threads per core.
void check_thread_count(int64_t threads, const char* op);

}  // namespace cg
