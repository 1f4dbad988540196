// causalgrad attention
#include "cli/commands.h"

#include <iostream>

#include "data/dataset.h"
#include "tools/attention_view.h"
#include "tools/plot.h"
#include "tools/sample.h"

namespace cg {

int cmd_attention(int argc, char** argv) {
    std::string out_dir = "out", start, to, which;
    int64_t draw_tokens = 64;
    int threads = 0;
    cxxopts::Options o("causalgrad attention",
                       "Each attention head's weights for a prompt: how far each head is from the uniform causal "
                       "average (the pattern the paper reports for trained attention), and its weight on the token "
                       "itself and on the previous one (what pair_max hard-codes); --to draws them as heat maps.");
    add_checkpoint_option(o, which);
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "start", "the prompt, with \\n \\t \\\\ escapes, or FILE:path to read it from a file (at most block_size "
                 "characters, at least 2)", cxxopts::value(start))(
        "to", "an .svg file for the heat maps (default: the table only)", cxxopts::value(to))(
        "draw_tokens", "draw the first N tokens of the prompt (the table uses all)",
        cxxopts::value(draw_tokens)->default_value("64"))(
        "threads", "threads (0: 1 or all cores, chosen by measuring as it runs)", cxxopts::value(threads)->default_value("0"));
    if (!parse(o, argc, argv)) return 0;
    if (start.empty()) fail("attention", "give a prompt: --start=TEXT or --start=FILE:prompt.txt");
    if (draw_tokens < 1) fail("attention", "draw_tokens must be at least 1");
    use_threads(threads, "attention");
    RunCheckpoint read = load_from(out_dir, which, "attention");
    Checkpoint& c = read.ckpt;
    const std::vector<int> tokens = encode(c.vocab, start_text(start));
    const int64_t T = static_cast<int64_t>(tokens.size());
    if (T < 2) fail("attention", "the prompt has " + std::to_string(T) + " token; give at least 2");
    if (T > c.config.model.block_size)
        fail("attention", "the prompt has " + std::to_string(T) + " tokens, more than the model's block_size " +
                              std::to_string(c.config.model.block_size) + "; shorten it");
    const std::vector<HeadWeights> heads = gpt_attention_maps(c.model, tokens);
    if (heads.empty())
        fail("attention", "the model has no attention block (mixer " + c.config.model.mixer + "); nothing to look at");
    std::vector<HeadPattern> patterns;
    for (const HeadWeights& h : heads) patterns.push_back(head_pattern(h.w));
    std::cout << "checkpoint: " << checkpoint_read(read, which) << "\nprompt: " << T << " tokens\n"
              << attention_table(heads, patterns);
    if (!to.empty()) {
        std::vector<std::string> pieces;
        for (const int t : tokens) pieces.push_back(decode(c.vocab, {t}));
        write_svg(to, attention_svg(heads, patterns, pieces, draw_tokens,
                                    "causalgrad attention: " + out_dir + " (step " + std::to_string(c.state.step) + ")"));
        std::cout << "wrote " << to << "\n";
    }
    return 0;
}

}  // namespace cg
