// causalgrad eval
#include "cli/commands.h"

#include <cmath>
#include <iostream>

#include "data/dataset.h"
#include "train/evaluate.h"
#include "train/resources.h"

namespace cg {

int cmd_eval(int argc, char** argv) {
    std::string out_dir = "out", data_dir;
    int64_t eval_iters = 200, batch_size = 0;
    int threads = 0;
    bool token_by_token = true;
    std::string which;
    cxxopts::Options o("causalgrad eval", "Val loss of out_dir/ckpt.bin computed two ways: on full sequences (teacher "
                                          "forcing) and token by token through the incremental path. A causal model "
                                          "gives the same number both ways; a leaking one does not.");
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "data_dir", "token folder (default: the checkpoint's)", cxxopts::value(data_dir))(
        "eval_iters", "batches (nanoGPT's 200; the standard error printed says how sure the mean is)",
        cxxopts::value(eval_iters)->default_value("200"))(
        "batch_size", "sequences per batch (default: the checkpoint's)", cxxopts::value(batch_size)->default_value("0"))(
        "token_by_token", "also the token-by-token loss (slow for big models; false: full sequences only)",
        cxxopts::value(token_by_token)->default_value("true"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(threads)->default_value("0"));
    add_checkpoint_option(o, which);
    if (!parse(o, argc, argv)) return 0;
    use_threads(threads, "eval");
    RunCheckpoint read = load_from(out_dir, which, "eval");
    Checkpoint& c = read.ckpt;
    Dataset data = load_dataset(data_dir.empty() ? c.config.data_dir : data_dir);
    if (data.vocab != c.vocab) fail("eval", "the data's vocabulary differs from the checkpoint's");
    const int64_t B = batch_size > 0 ? batch_size : c.config.batch_size, T = c.config.model.block_size;
    if (eval_iters < 1) fail("eval", "eval_iters must be at least 1");
    if (batch_size < 0) fail("eval", "batch_size must be 0 (the checkpoint's) or positive");
    if (static_cast<int64_t>(data.val.size()) <= T)
        fail("eval", "the val split holds " + std::to_string(data.val.size()) + " tokens, too few for block_size " +
                         std::to_string(T));
    check_fits_in_memory(training_bytes(c.config.model, B), "eval");
    const uint64_t seed = 0xE7A1ull;
    std::cout << "checkpoint: " << checkpoint_read(read, which) << "\n";
    std::cout << "parameters: " << count_parameters(c.model, false) << " (" << count_parameters(c.model, true)
              << " without position embeddings)\n";
    std::cout << "step: " << c.state.step << "\n";
    std::cout << "val batches: " << eval_iters << " of " << B << " x " << T << " tokens\n";
    check_stdout("eval");  // before the work, whose only result is what it prints
    // The loss stays the last word of its line (scripts read it so); its standard error goes in the label.
    auto print = [&](const char* how, const LossEstimate& e) {
        if (!std::isfinite(e.mean)) fail("eval", "the loss is not finite; the checkpoint is unusable");
        std::cout << "val loss (" << how;
        if (std::isfinite(e.standard_error)) {
            char se[32];
            std::snprintf(se, sizeof(se), "%.4f", e.standard_error);
            std::cout << ", standard error " << se;
        }
        std::cout << "): " << e.mean << "\n";
    };
    print("full sequences", estimate_loss_with_error(c.model, data.val, B, T, eval_iters, seed));
    if (token_by_token)
        print("token by token", estimate_loss_token_by_token_with_error(c.model, data.val, B, T, eval_iters, seed));
    return 0;
}

}  // namespace cg
