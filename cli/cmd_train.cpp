// causalgrad train
#include "cli/commands.h"

#include <iostream>
#include <ostream>

#include "cli/options.h"
#include "train/process_group.h"
#include "train/settings.h"
#include "train/stop_signal.h"
#include "train/train.h"

namespace cg {

int cmd_train(int argc, char** argv) {
    TrainConfig config;
    cxxopts::Options o("causalgrad train", "Train a GPT on character tokens. Defaults: nanoGPT's CPU run of "
                                           "shakespeare_char (about 0.8M parameters with attention).");
    add_train_options(o, config);
    cxxopts::ParseResult r;
    if (!parse(o, argc, argv, true, &r)) return 0;
    if (config.out_dir.empty()) fail("train", "the output folder is empty; give a path, e.g. --out_dir=out");
    for (const Setting& s : settings(config))
        if (s.from_checkpoint && s.option && r.count(s.key)) config.model_keys_given.push_back(s.key);
    // Under mpirun: rank 0 prints; an error on any rank ends them all, not only itself.
    const ProcessGroup group = join_process_group(&argc, &argv);
    std::ostream unused(nullptr);  // the other ranks' progress: no buffer, so never written
    TrainReport report;
    try {
        report = train(config, group.rank == 0 ? static_cast<std::ostream&>(std::cout) : unused);
    } catch (const std::exception& e) {
        if (group.size == 1) throw;
        std::cerr << "causalgrad train (rank " << group.rank << " of " << group.size << "): " << e.what() << "\n";
        abort_process_group(1);
    }
    leave_process_group();
    check_stdout("train");
    return report.stopped_by_signal ? exit_status_for_signal(report.stopped_by_signal) : 0;
}

}  // namespace cg
