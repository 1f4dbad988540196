#include "tools/attention_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "io/text.h"
#include "tools/plot.h"

namespace cg {

namespace {

// The prompt as SVG text: a line break shown as a visible mark (U+23CE).
std::string prompt_text(const std::string& s) {
    std::string out;
    for (const char c : s) out += c == '\n' ? std::string("\xe2\x8f\x8e") : std::string(1, c);
    return svg_text(out);
}

}  // namespace

std::string attention_table(const std::vector<HeadWeights>& heads, const std::vector<HeadPattern>& patterns) {
    std::ostringstream o;
    o << "layer  head  KL from uniform  TV from uniform  on itself  on previous  nearest\n";
    std::map<std::string, int> count;
    for (size_t i = 0; i < heads.size(); i++) {
        const HeadPattern& p = patterns[i];
        char line[160];
        std::snprintf(line, sizeof line, "%5lld  %4lld  %15.3f  %15.3f  %9.3f  %11.3f  %s\n",
                      static_cast<long long>(heads[i].layer), static_cast<long long>(heads[i].head), p.kl_uniform,
                      p.tv_uniform, p.self_weight, p.previous_weight, p.nearest.c_str());
        o << line;
        count[p.nearest]++;
    }
    o << "heads: " << heads.size() << "; near uniform " << count["uniform"] << ", near the previous token "
      << count["previous"] << ", near the token itself " << count["self"] << ", neither " << count["neither"]
      << " (near: total variation below 1/2, averaged over the prompt's queries)\n";
    return o.str();
}

std::string attention_svg(const std::vector<HeadWeights>& heads, const std::vector<HeadPattern>& patterns,
                          const std::vector<std::string>& tokens, int64_t draw_tokens, const std::string& title) {
    if (heads.empty()) fail("attention", "the model has no attention block to draw");
    const int64_t T = heads[0].w.shape[0];
    const int64_t n = std::min(T, draw_tokens);
    const int64_t cell = std::max<int64_t>(1, 192 / n), panel = cell * n;
    int64_t n_layers = 0, n_heads = 0;
    std::map<int64_t, int64_t> row_of_layer;
    for (const HeadWeights& h : heads) {
        if (!row_of_layer.count(h.layer)) row_of_layer[h.layer] = n_layers++;
        n_heads = std::max(n_heads, h.head + 1);
    }
    const int64_t gap = 40, left = 20, top = 80;
    const int64_t width = left + n_heads * (panel + gap), height = top + n_layers * (panel + gap);
    std::string drawn;
    for (int64_t t = 0; t < n; t++) drawn += tokens[t];

    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"20\" font-size=\"14\">" << svg_text(title) << "</text>\n"
      << "<text x=\"" << left << "\" y=\"38\">row t: how query t spreads its weight over keys 0..t (darker: more; "
      << "opacity sqrt(weight)); the first " << n << " of " << T << " tokens drawn</text>\n"
      << "<text x=\"" << left << "\" y=\"56\" font-family=\"monospace\">" << prompt_text(drawn) << "</text>\n";
    // One path per shade: cells quantised to 20 opacities keep the file small.
    constexpr int kShades = 20;
    for (size_t i = 0; i < heads.size(); i++) {
        const HeadWeights& h = heads[i];
        const int64_t x0 = left + h.head * (panel + gap), y0 = top + row_of_layer[h.layer] * (panel + gap);
        o << "<text x=\"" << x0 << "\" y=\"" << y0 - 6 << "\">layer " << h.layer << " head " << h.head << ": "
          << patterns[i].nearest << ", KL " << fmt("%.2f", patterns[i].kl_uniform) << "</text>\n"
          << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << panel << "\" height=\"" << panel
          << "\" fill=\"none\" stroke=\"#999\"/>\n";
        std::vector<std::string> shade(kShades + 1);
        auto shade_of = [&](int64_t t, int64_t j) {
            const float p = h.w.data[t * T + j];  // (T, T)
            return static_cast<int>(std::lround(std::sqrt(std::clamp(p, 0.0f, 1.0f)) * kShades));
        };
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0, run; j <= t; j += run) {
                const int s = shade_of(t, j);
                for (run = 1; j + run <= t && shade_of(t, j + run) == s;) run++;  // cells of one shade: one rectangle
                if (s == 0) continue;
                shade[s] += "M" + std::to_string(x0 + j * cell) + " " + std::to_string(y0 + t * cell) + "h" +
                            std::to_string(run * cell) + "v" + std::to_string(cell) + "h-" +
                            std::to_string(run * cell) + "z";
            }
        for (int s = 1; s <= kShades; s++)
            if (!shade[s].empty())
                o << "<path fill=\"#08306b\" fill-opacity=\"" << fmt("%.2f", static_cast<double>(s) / kShades)
                  << "\" d=\"" << shade[s] << "\"/>\n";
    }
    o << "</svg>\n";
    return o.str();
}

}  // namespace cg
