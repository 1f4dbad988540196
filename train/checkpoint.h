// Checkpoints: everything a run needs to continue exactly where it stopped.
//
// ckpt.bin layout (little-endian): magic "CGCKPT01", the settings as key=value
// text, the vocabulary, the step, best val loss, both random streams, then
// each parameter (name, shape, floats) and the AdamW moments. It is written to
// a temporary file and renamed over the old one, so a crash or a full disk
// never leaves a half-written checkpoint in place of a good one.
#pragma once

#include <string>

#include "models/gpt.h"
#include "nn/adamw.h"
#include "train/dataset.h"
#include "train/options.h"

namespace cg {

struct RunState {
    int64_t step = 0;           // optimizer steps done
    float best_val_loss = 1e9f;
    Rng data_rng;               // training batches
    Rng dropout_rng;
};

void save_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab,
                     GPT& model, const AdamW& opt, const RunState& state);
// The random streams of a run that starts at step 0.
RunState fresh_run_state(uint64_t seed);
// A checkpoint at step 0 with zero AdamW moments: the weights of `model`
// (imported, say), ready for sample, eval, export and train --init_from=resume.
void save_new_checkpoint(const std::string& path, const TrainConfig& config, const Vocab& vocab, GPT& model);

struct Checkpoint {
    TrainConfig config;
    Vocab vocab;
    RunState state;
    GPT model;
    std::vector<Tensor> adam_m, adam_v;
    int64_t adam_step = 0;
};
// Throws with the path and what is wrong (missing, not a checkpoint, truncated).
Checkpoint load_checkpoint(const std::string& path);
// Moves the saved AdamW moments into an optimizer made for ckpt.model.
void restore_optimizer(Checkpoint& ckpt, AdamW& opt);

}  // namespace cg
