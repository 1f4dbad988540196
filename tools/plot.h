// Loss curves as an SVG picture, from the log.csv files of one or more runs:
// the per-step training loss as a thin line, the evaluated val loss as a thick
// line with dots, one colour per curve. Several runs of one setting (seeds)
// make one curve: their mean at every step they all logged, inside a shaded
// band from their minimum to their maximum. No plotting library: the picture
// is a few hundred lines of SVG text any browser shows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cg {

struct RunCurves {
    std::string label;                                  // shown in the legend
    std::vector<std::pair<double, double>> train, val;  // (step, loss)
    int64_t non_finite = 0;      // losses that were inf, nan or beyond +-1e6 (no axis holds them): left out
    bool torn_last_line = false;  // the last line had no newline (cut short): left out
};

// Reads a run's log.csv through the log's own reader (parse_run_log in
// train/run_log.h, taking the logs it draws: LogRows::losses), which throws
// naming the file and the line when it is not a log.csv or a line is
// malformed. A loss that is inf, nan or beyond +-1e6 is counted in non_finite
// and left out, so a diverged run still plots up to that point; a last line
// cut short (no newline) is left out and torn_last_line set.
RunCurves read_log_csv(const std::string& path, const std::string& label);

// One curve of the picture: one run, or several runs averaged.
struct PlotGroup {
    std::string label;
    std::vector<RunCurves> runs;
};

struct PlotOptions {
    std::string title = "causalgrad: loss curves";
    bool log_steps = false;   // a log-scale step axis (steps from 1; step 0 is left out)
    bool train = true;        // draw the per-step training loss too
    double from_step = 0;     // leave out the steps before this one (the first loss dwarfs the rest)
    double to_step = -1;      // leave out the steps after this one (-1: none), to compare runs of other lengths
};

// The mean over runs of a series at each step that every run has, with the
// minimum and maximum there: (step, mean, min, max).
struct BandPoint {
    double step, mean, lo, hi;
};
std::vector<BandPoint> mean_with_band(const std::vector<const std::vector<std::pair<double, double>>*>& series);

// Text as SVG (XML) content: markup characters escaped, and anything XML
// cannot hold (bytes that are not UTF-8, control characters) shown as U+FFFD.
std::string svg_text(const std::string& s);

std::string plot_svg(const std::vector<PlotGroup>& groups, const PlotOptions& options);
// One curve per run.
std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title);

// Writes the SVG to `path` through a temporary file and a rename, so a failure
// leaves an existing file as it was. Refuses a path that does not end in
// ".svg" or that exists and is not a regular file, so a slip of the finger
// cannot replace a log.csv, a checkpoint, a data file or a device.
void write_svg(const std::string& path, const std::string& svg);

}  // namespace cg
