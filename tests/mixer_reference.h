// Naive references of the mixer table's kinds: each kind's core, (B, T, W) ->
// (B, T, C), as a plain loop in double written from its formula in
// nn/mixers.cpp's help text, sharing no code with the library. A new kind of
// the table adds its branch here; tests/test_mixers.cpp fails for a kind with
// none. An element-wise activation needs no branch: its unary op's row
// (autograd/unary.cpp) carries its formula in double.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "autograd/unary.h"
#include "nn/mixer.h"

namespace cg::ref {

struct CoreShape {
    int64_t B, T, W;
};

// y = the core of kind `name` on x (B, T, W), with the mixer's own weights
// from `m` where it has them (n_head, ema's decays). Returns false when no
// reference is written for `name`.
inline bool naive_core(const std::string& name, const Mixer& m, const std::vector<double>& x, const CoreShape& d,
                       std::vector<double>& y) {
    const int64_t B = d.B, T = d.T, W = d.W;
    auto at = [&](int64_t b, int64_t t, int64_t c) { return x[size_t((b * T + t) * W + c)]; };
    if (name == "attn") {  // W = 3C: q | k | v; per head softmax(q k^T / sqrt(HS)) over s <= t, @ v
        const int64_t C = W / 3, NH = m.n_head, HS = C / NH;
        y.assign(size_t(B * T * C), 0.0);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < NH; h++)
                for (int64_t t = 0; t < T; t++) {
                    std::vector<double> p(size_t(t + 1));
                    double mx = -INFINITY, total = 0;
                    for (int64_t s = 0; s <= t; s++) {
                        double dot = 0;
                        for (int64_t i = 0; i < HS; i++) dot += at(b, t, h * HS + i) * at(b, s, C + h * HS + i);
                        p[size_t(s)] = dot / std::sqrt(double(HS));
                        mx = std::fmax(mx, p[size_t(s)]);
                    }
                    for (double& v : p) total += v = std::exp(v - mx);
                    for (int64_t i = 0; i < HS; i++) {
                        double out = 0;
                        for (int64_t s = 0; s <= t; s++) out += p[size_t(s)] / total * at(b, s, 2 * C + h * HS + i);
                        y[size_t((b * T + t) * C + h * HS + i)] = out;
                    }
                }
        return true;
    }
    y.assign(x.size(), 0.0);
    auto each = [&](auto f) {  // y[b, t, c] = f(b, t, c)
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < W; c++) y[size_t((b * T + t) * W + c)] = f(b, t, c);
    };
    auto prev = [&](int64_t b, int64_t t, int64_t c) { return at(b, t == 0 ? 0 : t - 1, c); };
    auto running = [&](int64_t b, int64_t t, int64_t c, int pick) {  // pick: +1 max, -1 min, 0 mean
        double r = at(b, 0, c), sum = 0;
        for (int64_t s = 0; s <= t; s++) {
            r = pick > 0 ? std::fmax(r, at(b, s, c)) : pick < 0 ? std::fmin(r, at(b, s, c)) : r;
            sum += at(b, s, c);
        }
        return pick == 0 ? sum / double(t + 1) : r;
    };
    auto whole_mean = [&](int64_t b, int64_t c) {
        double sum = 0;
        for (int64_t s = 0; s < T; s++) sum += at(b, s, c);
        return sum / double(T);
    };
    if (name == "pair_max") each([&](int64_t b, int64_t t, int64_t c) { return std::fmax(at(b, t, c), prev(b, t, c)); });
    else if (name == "pair_min") each([&](int64_t b, int64_t t, int64_t c) { return std::fmin(at(b, t, c), prev(b, t, c)); });
    else if (name == "pair_mean") each([&](int64_t b, int64_t t, int64_t c) { return (at(b, t, c) + prev(b, t, c)) / 2; });
    else if (name == "scan_max") each([&](int64_t b, int64_t t, int64_t c) { return running(b, t, c, 1); });
    else if (name == "scan_min") each([&](int64_t b, int64_t t, int64_t c) { return running(b, t, c, -1); });
    else if (name == "avg") each([&](int64_t b, int64_t t, int64_t c) { return running(b, t, c, 0); });
    else if (name == "pair_max+avg")
        each([&](int64_t b, int64_t t, int64_t c) { return std::fmax(std::fmax(at(b, t, c), prev(b, t, c)), running(b, t, c, 0)); });
    else if (name == "pair_min+avg")
        each([&](int64_t b, int64_t t, int64_t c) { return std::fmin(std::fmin(at(b, t, c), prev(b, t, c)), running(b, t, c, 0)); });
    else if (name == "pair_max+gavg")
        each([&](int64_t b, int64_t t, int64_t c) { return std::fmax(std::fmax(at(b, t, c), prev(b, t, c)), whole_mean(b, c)); });
    else if (name == "pair_min+gavg")
        each([&](int64_t b, int64_t t, int64_t c) { return std::fmin(std::fmin(at(b, t, c), prev(b, t, c)), whole_mean(b, c)); });
    else if (name == "ema")  // y[t] = d y[t-1] + (1 - d) x[t], y[-1] = 0, d = sigmoid(w)
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < W; c++) {
                const double d_c = 1.0 / (1.0 + std::exp(-double(m.own[0].value.data[c])));
                double r = 0;
                for (int64_t t = 0; t < T; t++) y[size_t((b * T + t) * W + c)] = r = d_c * r + (1 - d_c) * at(b, t, c);
            }
    else {
        // An element-wise activation: the formula in double of its unary op's row.
        for (const UnaryOp* op : unary_ops())
            if (name == op->name) {
                each([&](int64_t b, int64_t t, int64_t c) { return op->reference(at(b, t, c)); });
                return true;
            }
        return false;
    }
    return true;
}

}  // namespace cg::ref
