#include "tools/plot.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "io/text.h"
#include "tensor/tensor.h"
#include "train/run_log.h"

namespace cg {

namespace {

// A loss past this is no point of a readable axis (a hand-edited or damaged
// log): left out like inf and nan.
constexpr double kLargestLoss = 1e6;

}  // namespace

RunCurves read_log_csv(const std::string& path, const std::string& label) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        fail("plot", "'" + path + "' is not a file; point it at a run's folder or its log.csv");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("plot", "cannot read '" + path + "'; point it at a run's log.csv");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail("plot", "cannot read '" + path + "'");
    const LogFile log = parse_run_log(text, path, LogRows::losses);
    RunCurves r{label, {}, {}, 0};
    r.torn_last_line = log.torn_last_line;
    for (const LogRow& row : log.rows) {
        if (!std::isfinite(row.loss) || std::fabs(row.loss) > kLargestLoss) {
            r.non_finite++;
            continue;
        }
        (row.is_eval ? r.val : r.train).emplace_back(static_cast<double>(row.step), row.loss);
    }
    return r;
}

std::vector<BandPoint> mean_with_band(const std::vector<const std::vector<std::pair<double, double>>*>& series) {
    // step -> (sum, min, max, count); a step repeated within a run counts its last value
    std::map<double, std::vector<double>> at;
    for (const auto* s : series) {
        std::map<double, double> last;
        for (const auto& [step, loss] : *s) last[step] = loss;
        for (const auto& [step, loss] : last) at[step].push_back(loss);
    }
    std::vector<BandPoint> out;
    for (const auto& [step, losses] : at) {
        if (losses.size() != series.size()) continue;  // only steps every run has
        double sum = 0;
        for (double l : losses) sum += l;
        out.push_back({step, sum / static_cast<double>(losses.size()), *std::min_element(losses.begin(), losses.end()),
                       *std::max_element(losses.begin(), losses.end())});
    }
    return out;
}

namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    return buf;
}

// The length of the UTF-8 sequence at s[i] that is a character XML may hold,
// or 0 (a byte that is not UTF-8, a control character, U+FFFE, U+FFFF).
size_t xml_character_at(const std::string& s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; k++) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d >> 6) != 0x2) return 0;
        cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
    if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') return 0;
    return len;
}

// A tick spacing of 1, 2 or 5 times a power of ten giving at most 8 ticks over `range`.
double tick_spacing(double range) {
    double unit = std::pow(10.0, std::floor(std::log10(range / 8)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (range / (m * unit) <= 8) return m * unit;
    return 10 * unit;
}

struct Curves {
    std::string label;
    std::vector<BandPoint> train, val;
    size_t runs = 0;
};

}  // namespace

std::string svg_text(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const size_t len = xml_character_at(s, i);
        const char c = s[i];
        if (len == 0) out += "&#xFFFD;";
        else if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else out.append(s, i, len);
        i += len ? len : 1;
    }
    return out;
}

std::string plot_svg(const std::vector<PlotGroup>& groups, const PlotOptions& options) {
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    if (options.to_step >= 0 && options.to_step < options.from_step)
        fail("plot", "--to_step " + fmt("%.15g", options.to_step) + " comes before --from_step " +
                         fmt("%.15g", options.from_step) + "; give a range that holds steps");
    std::vector<Curves> curves;
    double last_logged = -1;  // the last step of any curve, before --from_step
    for (const PlotGroup& g : groups) {
        if (g.runs.empty()) fail("plot", "the curve '" + g.label + "' has no runs");
        std::vector<const std::vector<std::pair<double, double>>*> train, val;
        for (const RunCurves& r : g.runs) {
            train.push_back(&r.train);
            val.push_back(&r.val);
        }
        Curves c{g.label, options.train ? mean_with_band(train) : std::vector<BandPoint>{}, mean_with_band(val),
                 g.runs.size()};
        // log10(0) is not a place on the axis
        const double first = std::max(options.from_step, options.log_steps ? 1.0 : 0.0);
        for (auto* s : {&c.train, &c.val})
            if (!s->empty()) last_logged = std::max(last_logged, s->back().step);
        // Beyond 1e300 the axis arithmetic would overflow to inf: such a point is not drawn.
        auto drawable = [](double v) { return std::isfinite(v) && std::fabs(v) <= 1e300; };
        for (auto* s : {&c.train, &c.val})
            s->erase(std::remove_if(s->begin(), s->end(), [&](const BandPoint& p) {
                         return p.step < first || (options.to_step >= 0 && p.step > options.to_step) || !drawable(p.step) || !drawable(p.lo) || !drawable(p.hi) || !drawable(p.mean);
                     }), s->end());
        curves.push_back(std::move(c));
    }
    double min_step = 1e300, max_step = 0, lo = 1e300, hi = -1e300;
    for (const Curves& c : curves)
        for (const auto* s : {&c.train, &c.val})
            for (const BandPoint& p : *s) {
                min_step = std::min(min_step, p.step);
                max_step = std::max(max_step, p.step);
                lo = std::min(lo, p.lo);
                hi = std::max(hi, p.hi);
            }
    if (lo > hi && last_logged >= 0) {
        char text[160];
        std::snprintf(text, sizeof(text), "no loss to draw at or after step %.15g: the logs end at step %.15g; lower --from_step",
                      std::max(options.from_step, options.log_steps ? 1.0 : 0.0), last_logged);
        fail("plot", text);
    }
    if (lo > hi) fail("plot", "the logs hold no losses yet");
    const double dl = tick_spacing(std::max(hi - lo, 0.1));
    lo = std::floor(lo / dl) * dl;
    hi = std::max(std::ceil(hi / dl) * dl, lo + dl);
    // Linear axis: 0 to the last step. Log axis: whole decades around the steps.
    const double s0 = options.log_steps ? std::floor(std::log10(std::max(1.0, min_step))) : 0.0;
    const double s1 = options.log_steps ? std::max(s0 + 1, std::ceil(std::log10(std::max(1.0, max_step))))
                                        : std::max(1.0, max_step);
    const double W = 820, H = 460, left = 60, right = 240, top = 40, bottom = 50;
    auto x = [&](double s) {
        const double v = options.log_steps ? std::log10(s) : s;
        return left + (W - left - right) * (v - s0) / (s1 - s0);
    };
    auto y = [&](double l) { return top + (H - top - bottom) * (hi - l) / (hi - lo); };

    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    o << "<text x=\"" << left << "\" y=\"24\" font-size=\"15\">" << svg_text(options.title) << "</text>\n";
    // Grid with tick labels: loss every dl.
    const int n_loss_ticks = static_cast<int>(std::lround((hi - lo) / dl));
    for (int i = 0; i <= n_loss_ticks; i++) {
        const double l = lo + dl * i;
        char label[32];
        std::snprintf(label, sizeof(label), "%.*f", dl < 0.1 ? 2 : dl < 1 ? 1 : 0, l);
        o << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << num(y(l)) << "\" y2=\"" << num(y(l))
          << "\" stroke=\"#ddd\"/><text x=\"" << left - 8 << "\" y=\"" << num(y(l) + 4)
          << "\" text-anchor=\"end\">" << label << "</text>\n";
    }
    // Steps: round numbers (at most 8), or each decade on the log axis.
    const double ds = options.log_steps ? 1.0 : std::max(1.0, tick_spacing(std::max(1.0, max_step)));
    const int n_step_ticks = static_cast<int>(std::floor((s1 - s0) / ds + 1e-9));
    for (int i = 0; i <= n_step_ticks; i++) {
        const double s = options.log_steps ? std::pow(10.0, s0 + i) : ds * i;
        o << "<text x=\"" << num(x(s)) << "\" y=\"" << H - bottom + 18 << "\" text-anchor=\"middle\">"
          << static_cast<long long>(std::llround(s)) << "</text>\n";
    }
    o << "<text x=\"" << num((left + W - right) / 2) << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">step"
      << (options.log_steps ? " (log scale)" : "") << "</text>\n";
    o << "<text x=\"16\" y=\"" << num((top + H - bottom) / 2) << "\" transform=\"rotate(-90 16 "
      << num((top + H - bottom) / 2) << ")\" text-anchor=\"middle\">loss</text>\n";
    bool any_band = false;
    for (size_t k = 0; k < curves.size(); k++) {
        const Curves& c = curves[k];
        const char* colour = colours[k % 8];
        auto polyline = [&](const std::vector<BandPoint>& pts, const char* extra) {
            if (pts.empty()) return;
            o << "<polyline fill=\"none\" stroke=\"" << colour << "\" " << extra << " points=\"";
            for (const BandPoint& p : pts) o << num(x(p.step)) << "," << num(y(p.mean)) << " ";
            o << "\"/>\n";
        };
        // The min-max band of the val loss over runs: along the top, back along the bottom.
        if (c.runs > 1 && !c.val.empty()) {
            any_band = true;
            o << "<polygon fill=\"" << colour << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
            for (const BandPoint& p : c.val) o << num(x(p.step)) << "," << num(y(p.hi)) << " ";
            for (auto p = c.val.rbegin(); p != c.val.rend(); ++p) o << num(x(p->step)) << "," << num(y(p->lo)) << " ";
            o << "\"/>\n";
        }
        polyline(c.train, "stroke-width=\"1\" stroke-opacity=\"0.45\"");
        polyline(c.val, "stroke-width=\"2.5\"");
        for (const BandPoint& p : c.val)
            o << "<circle cx=\"" << num(x(p.step)) << "\" cy=\"" << num(y(p.mean)) << "\" r=\"3\" fill=\"" << colour
              << "\"/>\n";
        const double ly = top + 10 + 36 * static_cast<double>(k);
        char last[64] = "";
        if (!c.val.empty())
            std::snprintf(last, sizeof(last), c.runs > 1 ? "(val %.3f, mean of %zu)" : "(val %.3f)", c.val.back().mean,
                          c.runs);
        o << "<line x1=\"" << W - right + 12 << "\" x2=\"" << W - right + 36 << "\" y1=\"" << ly << "\" y2=\"" << ly
          << "\" stroke=\"" << colour << "\" stroke-width=\"2.5\"/><text x=\"" << W - right + 42 << "\" y=\"" << ly + 4
          << "\">" << svg_text(c.label) << "</text><text x=\"" << W - right + 42 << "\" y=\"" << ly + 18
          << "\" fill=\"#555\">" << svg_text(last) << "</text>\n";
    }
    double note_y = top + 10 + 36 * static_cast<double>(curves.size()) + 8;
    for (const char* note : {options.train ? "thin: train (per step)" : "", "thick: val (evaluated)",
                             any_band ? "band: min to max over runs" : ""}) {
        if (!*note) continue;
        o << "<text x=\"" << W - right + 12 << "\" y=\"" << note_y << "\" fill=\"#555\">" << note << "</text>\n";
        note_y += 16;
    }
    o << "</svg>\n";
    return o.str();
}

std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title) {
    std::vector<PlotGroup> groups;
    for (const RunCurves& r : runs) groups.push_back({r.label, {r}});
    PlotOptions options;
    options.title = title;
    return plot_svg(groups, options);
}

void write_svg(const std::string& path, const std::string& svg) {
    namespace fs = std::filesystem;
    if (path.size() < 5 || path.substr(path.size() - 4) != ".svg")
        fail("plot", "--to must name an .svg file, got '" + path + "' (a plot never replaces other files)");
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(path, ec);
    if (fs::exists(st) && !fs::is_regular_file(st))
        fail("plot", "'" + path + "' exists and is not a regular file; choose another --to");
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) fail("plot", "cannot write '" + tmp + "'; is the folder there and writable?");
        out << svg;
        out.close();  // a write the kernel refuses only at close (a network disk) is a failure too
        if (!out) {
            fs::remove(tmp, ec);
            fail("plot", "writing '" + tmp + "' failed (disk full?); '" + path + "' is untouched");
        }
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        fail("plot", "cannot move '" + tmp + "' to '" + path + "': " + ec.message());
    }
}

}  // namespace cg
