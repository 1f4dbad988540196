// Checkpoints: everything a run needs to continue exactly where it stopped.
//
// ckpt.bin layout (little-endian): magic "CGCKPT02", the payload's length
// (u64), the payload, and the CRC-32 of the payload (u32). The payload: the
// settings as key=value text, the vocabulary, the step, best val loss, both
// random streams, then each parameter (name, shape, floats) and the AdamW
// moments. It is written to a temporary file, fsynced and renamed over the old
// one, so a crash or a full disk never leaves a half-written checkpoint in
// place of a good one; every load checks the length, the CRC and that every
// number is finite.
#pragma once

#include <string>

#include "models/gpt.h"
#include "nn/adamw.h"
#include "data/dataset.h"
#include "train/settings.h"

namespace cg {

struct RunState {
    int64_t step = 0;           // optimizer steps done
    float best_val_loss = 1e9f;
    Rng data_rng;               // training batches
    Rng dropout_rng;
};

// Throws, leaving `path` untouched, if any weight, moment or loss is not finite.
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
// Throws with the path and what is wrong (missing, not a checkpoint, damaged).
Checkpoint load_checkpoint(const std::string& path);
// The same from the file's bytes (`path` only names it in messages).
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path);
// The bytes save_checkpoint writes, and the way to wrap a payload in them.
std::string checkpoint_bytes(const TrainConfig& config, const Vocab& vocab, GPT& model,
                             const AdamW& opt, const RunState& state);
std::string wrap_checkpoint_payload(const std::string& payload);
// Moves the saved AdamW moments into an optimizer made for ckpt.model.
void restore_optimizer(Checkpoint& ckpt, AdamW& opt);

// The two checkpoints of a run folder. ckpt.bin holds the best state (the
// lowest val loss; with always_save_checkpoint, the latest evaluated one).
// last.bin holds the latest state whenever ckpt.bin does not: an evaluation
// that did not improve, or a stop signal. A save of ckpt.bin removes last.bin,
// so last.bin, when there, is the newer of the two.
std::string best_checkpoint_path(const std::string& out_dir);
std::string last_checkpoint_path(const std::string& out_dir);

struct RunCheckpoint {
    std::string path;  // the file read
    Checkpoint ckpt;
    bool best_exists = false;  // out_dir holds a ckpt.bin (read or not)
    float best_val_loss = 0;   // ckpt.bin's best val loss, when it exists
};
// which = "best": ckpt.bin. which = "last": the newer (by step) of last.bin and
// ckpt.bin, ckpt.bin on a tie: the state `train --init_from=resume` continues
// from. Throws under `op` naming the file and the option to read the other.
RunCheckpoint load_run_checkpoint(const std::string& out_dir, const std::string& which, const char* op);

}  // namespace cg
