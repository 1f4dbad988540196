// Loads a checkpoint that `causalgrad train` wrote and prints a sample from it:
//   sample CKPT [START]      e.g. sample out/ckpt.bin "ROMEO:"
// Exits 1 if the checkpoint cannot be read or nothing was generated.
#include <iostream>

#include "train/checkpoint.h"
#include "tensor/runtime_setup.h"
#include "tools/sample.h"

int main(int argc, char** argv) {
    cg::restart_with_runtime_settings(argv);  // OpenBLAS's kernels, OpenMP's spinning, huge pages, as causalgrad does
    if (argc < 2) {
        std::cerr << "usage: sample CKPT [START]\n";
        return 2;
    }
    try {
        cg::Checkpoint ckpt = cg::load_checkpoint(argv[1]);
        cg::SampleOptions options;  // temperature 0.8, top_k 200, seed 1337
        options.max_new_tokens = 200;
        if (argc > 2) options.start = argv[2];
        const std::string text = cg::generate(ckpt.model, ckpt.vocab, options)[0];
        std::cout << text << "\n";
        return text.size() > options.start.size() ? 0 : 1;
    } catch (const cg::Error& e) {
        std::cerr << "sample: " << e.what() << "\n";
        return 1;
    }
}
