// Loss curves as an SVG picture, from the log.csv files of one or more runs:
// the per-step training loss as a thin line, the evaluated val loss as a thick
// line with dots, one colour per run. No plotting library: the picture is a
// few hundred lines of SVG text any browser shows.
#pragma once

#include <string>
#include <vector>

namespace cg {

struct RunCurves {
    std::string label;                        // shown in the legend
    std::vector<std::pair<double, double>> train, val;  // (step, loss)
};

RunCurves read_log_csv(const std::string& path, const std::string& label);
std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title);

}  // namespace cg
