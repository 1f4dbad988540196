// causalgrad plot
#include "cli/commands.h"

#include <iostream>
#include <sstream>

#include "tools/plot.h"

namespace cg {

namespace {

// A run folder or log.csv path: the log.csv it names.
std::string log_path(const std::string& run) {
    const bool is_csv = run.size() > 4 && run.substr(run.size() - 4) == ".csv";
    return is_csv ? run : run + "/log.csv";
}

}  // namespace

int cmd_plot(int argc, char** argv) {
    PlotOptions p;
    std::string to = "loss.svg";
    cxxopts::Options o("causalgrad plot", "Loss curves of runs as an SVG: give their out_dirs (or log.csv paths). "
                                          "LABEL=RUN1,RUN2,... draws the mean of several runs (seeds) as one curve "
                                          "with a min-max band. Example: causalgrad plot out-attn "
                                          "pair_max=out-pm-1,out-pm-2 --to=curves.svg");
    o.add_options()("to", "output SVG file (a new file, or an existing .svg)", cxxopts::value(to)->default_value(to))(
        "title", "title line", cxxopts::value(p.title)->default_value(p.title))(
        "log_steps", "log-scale step axis", cxxopts::value(p.log_steps)->default_value("false"))(
        "train", "draw the per-step training loss too", cxxopts::value(p.train)->default_value("true"))(
        "from_step", "leave out the steps before this one", cxxopts::value(p.from_step)->default_value("0"))(
        "to_step", "leave out the steps after this one (-1: none)", cxxopts::value(p.to_step)->default_value("-1"));
    o.positional_help("[LABEL=]RUN[,RUN...]...");
    // The runs are the arguments that are not options; taken as they are, since
    // a positional option of cxxopts would split them at the commas.
    cxxopts::ParseResult parsed;
    if (!parse(o, argc, argv, false, &parsed, true)) return 0;
    const std::vector<std::string> runs = parsed.unmatched();
    if (runs.empty()) fail("plot", "give at least one run folder (e.g. out-attn) or log.csv");
    std::vector<PlotGroup> groups;
    for (const std::string& arg : runs) {
        const size_t eq = arg.find('=');
        PlotGroup g{eq == std::string::npos ? arg : arg.substr(0, eq), {}};
        std::stringstream list(eq == std::string::npos ? arg : arg.substr(eq + 1));
        for (std::string run; std::getline(list, run, ',');) {
            if (run.empty()) fail("plot", "an empty run name in '" + arg + "'");
            g.runs.push_back(read_log_csv(log_path(run), run));
            if (g.runs.back().torn_last_line)
                std::cout << "plot: " << log_path(run) << ": the last line is cut short (a write stopped midway); left out\n";
            if (g.runs.back().non_finite > 0)
                std::cout << "plot: " << log_path(run) << ": " << g.runs.back().non_finite
                          << " losses are inf, nan or beyond 1e6; left out\n";
        }
        if (g.runs.empty()) fail("plot", "no run in '" + arg + "'");
        groups.push_back(std::move(g));
    }
    write_svg(to, plot_svg(groups, p));
    std::cout << "wrote " << to << "\n";
    return 0;
}

}  // namespace cg
