// Training runs for the tests: a small corpus with structure to learn, its
// preparation into a temporary folder, and a tiny run of a few dozen steps.
#pragma once

#include <string>

#include "data/prepare.h"
#include "tests/helpers.h"
#include "tests/model_helpers.h"
#include "train/settings.h"

namespace cg {

// About 6 KB: four sentences in a fixed cycle. After a few characters of a
// sentence the rest of it is determined, so the achievable loss is far below
// the entropy of the character frequencies.
inline std::string pattern_corpus() {
    const char* sentences[] = {"the cat sat on the mat.\n", "a dog ran to the log.\n",
                               "my hen hid in a pen.\n", "so the fox got a box.\n"};
    std::string text;
    for (int i = 0; text.size() < 6000; i++) text += sentences[i % 4];
    return text;
}

// Writes the corpus and prepares it into dir/data.
inline std::string prepare_corpus(const TempDir& dir, const std::string& text = pattern_corpus()) {
    write_file(dir / "input.txt", text);
    prepare_text(dir / "input.txt", dir / "data");
    return dir / "data";
}

inline TrainConfig tiny_run(const std::string& data_dir, const std::string& out_dir, const std::string& mixer) {
    TrainConfig c;
    c.model = tiny_config(mixer);  // its vocab_size is replaced by the data's
    c.data_dir = data_dir;
    c.out_dir = out_dir;
    c.batch_size = 4;
    c.max_iters = 50;
    c.learning_rate = 1e-2f;
    c.warmup_iters = 5;
    c.lr_decay_iters = 50;
    c.min_lr = 1e-3f;
    c.eval_interval = 1000;
    c.eval_iters = 2;
    c.log_interval = 10;
    c.seed = 1234;
    return c;
}

}  // namespace cg
