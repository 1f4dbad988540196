// causalgrad export
#include "cli/commands.h"

#include <iostream>

#include "tools/export.h"

namespace cg {

int cmd_export(int argc, char** argv) {
    std::string out_dir = "out", to, which;
    cxxopts::Options o("causalgrad export", "Write the weights of out_dir/ckpt.bin as safetensors, named as nanoGPT's "
                                            "state_dict, with the model config in __metadata__.");
    add_checkpoint_option(o, which);
    o.add_options()("out_dir", "folder holding ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "to", "output file (default: out_dir/model.safetensors)", cxxopts::value(to));
    if (!parse(o, argc, argv)) return 0;
    RunCheckpoint read = load_from(out_dir, which, "export");
    Checkpoint& c = read.ckpt;
    if (to.empty()) to = out_dir + "/model.safetensors";
    export_safetensors(c.model, c.vocab, to);
    int64_t masks = 0;
    for (const Block& b : c.model.h) masks += b.mixer.kind->nanogpt;  // attention blocks have the mask buffer
    std::cout << "read " << checkpoint_read(read, which) << "\n";
    std::cout << "wrote " << to << " (" << gpt_parameters(c.model).size() << " parameters, lm_head.weight, " << masks
              << " causal-mask buffers)\n";
    return 0;
}

}  // namespace cg
