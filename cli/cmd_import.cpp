// causalgrad import
#include "cli/commands.h"

#include <filesystem>
#include <iostream>
#include <utility>

#include "io/run_lock.h"
#include "io/safe_file.h"
#include "tools/import.h"

namespace cg {

int cmd_import(int argc, char** argv) {
    std::string from, out_dir = "out", data_dir, n_head, mixer, activation, dropout;
    bool overwrite = false;
    ImportOptions io;
    cxxopts::Options o("causalgrad import", "Make out_dir/ckpt.bin (step 0, fresh optimizer state) from a safetensors "
                                            "file with nanoGPT's names: an export, or a nanoGPT state_dict saved from "
                                            "PyTorch (F32, F16 or BF16). The config comes from the file's metadata, "
                                            "else from the shapes and the options below.");
    o.add_options()("from", "safetensors file", cxxopts::value(from))(
        "out_dir", "folder for ckpt.bin", cxxopts::value(out_dir)->default_value(out_dir))(
        "vocab", "vocab.txt of the training data (default: the file's vocab metadata)", cxxopts::value(io.vocab_path))(
        "data_dir", "token folder that eval and train use (default: the --vocab file's folder, else "
                    "data/shakespeare_char)", cxxopts::value(data_dir))(
        "untied", "if lm_head.weight differs from wte: error, keep_wte or keep_lm_head",
        cxxopts::value(io.untied)->default_value(io.untied))(
        "n_head", "attention heads (not readable from shapes)", cxxopts::value(n_head))(
        "mixer", "mixer name or comma list, for files whose metadata does not say", cxxopts::value(mixer))(
        "activation", "MLP activation, if not gelu and not in the metadata", cxxopts::value(activation))(
        "dropout", "dropout for fine-tuning", cxxopts::value(dropout))(
        "overwrite", "replace a run already in out_dir (its ckpt.bin and log.csv)",
        cxxopts::value(overwrite)->default_value("false"));
    if (!parse(o, argc, argv)) return 0;
    if (from.empty()) fail("import", "give the file to read with --from=FILE.safetensors");
    const std::string ckpt_path = best_checkpoint_path(out_dir), last_path = last_checkpoint_path(out_dir),
                      log_path = out_dir + "/log.csv";
    for (const std::string& path : {ckpt_path, last_path, log_path})
        if (!overwrite && std::filesystem::exists(path))
            fail("import", "'" + path + "' holds an earlier run; import into another --out_dir, or replace it with --overwrite");
    check_writable_dir(out_dir, "import");
    const std::pair<const char*, const std::string*> given[] = {
        {"n_head", &n_head}, {"mixer", &mixer}, {"activation", &activation}, {"dropout", &dropout}};
    for (const auto& [key, value] : given)
        if (!value->empty()) io.settings.emplace_back(key, *value);
    ImportedModel m = import_safetensors(from, io);
    m.config.out_dir = out_dir;
    if (!data_dir.empty()) m.config.data_dir = data_dir;
    std::filesystem::create_directories(out_dir);
    const RunLock lock = lock_out_dir(out_dir);  // not while a run trains there
    std::filesystem::remove(log_path);           // the earlier run's rows would not belong to this checkpoint
    std::filesystem::remove(last_path);          // nor its latest state, which a resume would prefer
    save_new_checkpoint(ckpt_path, m.config, m.vocab, m.model);
    for (const std::string& note : m.notes) std::cout << note << "\n";
    const GPTConfig& c = m.model.config;
    std::cout << "wrote " << out_dir << "/ckpt.bin: n_layer " << c.n_layer << ", n_head " << c.n_head << ", n_embd "
              << c.n_embd << ", block_size " << c.block_size << ", vocab " << c.vocab_size << ", mixer " << c.mixer
              << ", " << count_parameters(m.model, false) << " parameters\n";
    return 0;
}

}  // namespace cg
