#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tensor/tensor.h"

namespace cg {

RunCurves read_log_csv(const std::string& path, const std::string& label) {
    std::ifstream in(path);
    if (!in) fail("plot", "cannot read '" + path + "'; point it at a run's log.csv");
    RunCurves r{label, {}, {}};
    std::string line;
    std::getline(in, line);
    if (line.rfind("step,train_loss,val_loss", 0) != 0) fail("plot", "'" + path + "' is not a causalgrad log.csv");
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
        if (cells.size() < 3 || cells[0].empty()) continue;
        const double step = std::stod(cells[0]);
        if (!cells[2].empty()) r.val.emplace_back(step, std::stod(cells[2]));       // an evaluation row
        else if (!cells[1].empty()) r.train.emplace_back(step, std::stod(cells[1]));  // a step row
    }
    return r;
}

namespace {
std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    return buf;
}
std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return out;
}
}  // namespace

std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title) {
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    double max_step = 1, lo = 1e9, hi = -1e9;
    for (const RunCurves& r : runs)
        for (const auto* series : {&r.train, &r.val})
            for (const auto& [s, l] : *series) {
                max_step = std::max(max_step, s);
                lo = std::min(lo, l);
                hi = std::max(hi, l);
            }
    if (lo > hi) fail("plot", "the logs hold no losses yet");
    lo = std::floor(lo * 10) / 10;
    hi = std::ceil(hi * 10) / 10;
    if (hi - lo < 0.1) hi = lo + 0.1;
    const double W = 760, H = 460, left = 60, right = 180, top = 40, bottom = 50;
    auto x = [&](double s) { return left + (W - left - right) * s / max_step; };
    auto y = [&](double l) { return top + (H - top - bottom) * (hi - l) / (hi - lo); };

    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    o << "<text x=\"" << left << "\" y=\"24\" font-size=\"15\">" << escape(title) << "</text>\n";
    // Grid with tick labels: loss every 0.1 (or 0.5 on a tall range), steps in fifths.
    const double dl = hi - lo > 2 ? 0.5 : 0.1;
    for (double l = lo; l <= hi + 1e-9; l += dl)
        o << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << num(y(l)) << "\" y2=\"" << num(y(l))
          << "\" stroke=\"#ddd\"/><text x=\"" << left - 8 << "\" y=\"" << num(y(l) + 4)
          << "\" text-anchor=\"end\">" << num(l).substr(0, 4) << "</text>\n";
    for (int i = 0; i <= 5; i++) {
        const double s = max_step * i / 5;
        o << "<text x=\"" << num(x(s)) << "\" y=\"" << H - bottom + 18 << "\" text-anchor=\"middle\">"
          << static_cast<long long>(s) << "</text>\n";
    }
    o << "<text x=\"" << num((left + W - right) / 2) << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">step</text>\n";
    o << "<text x=\"16\" y=\"" << num((top + H - bottom) / 2) << "\" transform=\"rotate(-90 16 "
      << num((top + H - bottom) / 2) << ")\" text-anchor=\"middle\">loss</text>\n";
    for (size_t k = 0; k < runs.size(); k++) {
        const char* c = colours[k % 8];
        auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const char* extra) {
            if (pts.empty()) return;
            o << "<polyline fill=\"none\" stroke=\"" << c << "\" " << extra << " points=\"";
            for (const auto& [s, l] : pts) o << num(x(s)) << "," << num(y(l)) << " ";
            o << "\"/>\n";
        };
        polyline(runs[k].train, "stroke-width=\"1\" stroke-opacity=\"0.45\"");
        polyline(runs[k].val, "stroke-width=\"2.5\"");
        for (const auto& [s, l] : runs[k].val)
            o << "<circle cx=\"" << num(x(s)) << "\" cy=\"" << num(y(l)) << "\" r=\"3\" fill=\"" << c << "\"/>\n";
        const double ly = top + 10 + 36 * static_cast<double>(k);
        char last[48] = "";
        if (!runs[k].val.empty()) std::snprintf(last, sizeof(last), "(val %.3f)", runs[k].val.back().second);
        o << "<line x1=\"" << W - right + 12 << "\" x2=\"" << W - right + 36 << "\" y1=\"" << ly << "\" y2=\"" << ly
          << "\" stroke=\"" << c << "\" stroke-width=\"2.5\"/><text x=\"" << W - right + 42 << "\" y=\"" << ly + 4
          << "\">" << escape(runs[k].label) << "</text><text x=\"" << W - right + 42 << "\" y=\"" << ly + 18
          << "\" fill=\"#555\">" << escape(last) << "</text>\n";
    }
    const double note_y = top + 10 + 36 * static_cast<double>(runs.size()) + 8;
    o << "<text x=\"" << W - right + 12 << "\" y=\"" << note_y << "\" fill=\"#555\">thin: train (per step)</text>\n";
    o << "<text x=\"" << W - right + 12 << "\" y=\"" << note_y + 16 << "\" fill=\"#555\">thick: val (evaluated)</text>\n";
    o << "</svg>\n";
    return o.str();
}

}  // namespace cg
