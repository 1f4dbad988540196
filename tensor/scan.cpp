// The sequence ops of the replacement mixers, along T of a (B, T, C) tensor.
//
// Each runs over (batch x channel blocks) in parallel; within a block the loop
// goes over t with the channels innermost, so memory is read row by row and
// the channel loop vectorises. Position 0 only ever sees itself.
//
// Tie rule for max/min: the gradient goes to the most recent of the tied
// elements (x[t] over x[t-1] in a pair; the newest equal running max in a scan).
#include "tensor/kernels.h"

namespace cg {

namespace {

constexpr int64_t kBlock = 64;  // channels per task

struct Dims {
    int64_t B, T, C;
};

Dims check_btc(const char* op, const Tensor& a, const Tensor& b) {
    if (a.ndim() != 3) fail(op, "expects (B, T, C), got " + a.shape.str());
    check_contiguous(op, "input", a);
    check_shape(op, "output", b, a.shape);
    check_contiguous(op, "output", b);
    return {a.shape[0], a.shape[1], a.shape[2]};
}

// Calls f(offset, c0, c1) for every batch b and channel block [c0, c1), where
// offset = b * T * C: the element (b, t, c) is at offset + t * C + c.
template <typename F>
void for_columns(const Dims& d, F f) {
    const int64_t blocks = (d.C + kBlock - 1) / kBlock;
    #pragma omp parallel for collapse(2) if (d.B * d.T * d.C > (1 << 14))
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t c0 = blk * kBlock, c1 = c0 + kBlock < d.C ? c0 + kBlock : d.C;
            f(b * d.T * d.C, c0, c1);
        }
}

// y[t] = pick(x[t], x[t-1]) with pick(a, b) returning a or b; y[0] = x[0].
template <typename Pick>
void pair_forward(const char* op, const Tensor& out, const Tensor& x, Pick pick) {
    const Dims d = check_btc(op, x, out);
    const float* px = x.data;
    float* py = out.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) py[o + c] = px[o + c];
        for (int64_t t = 1; t < d.T; t++) {
            const float* cur = px + o + t * d.C;
            const float* prev = cur - d.C;
            float* y = py + o + t * d.C;
            for (int64_t c = c0; c < c1; c++) y[c] = pick(cur[c], prev[c]);
        }
    });
}

// dy[t] goes to x[t] when current_wins(x[t], x[t-1]), else to x[t-1]. Written
// as a gather, dx[t] = (dy[t] if x[t] won) + (dy[t+1] if x[t+1] lost), each
// dx[t] is stored once: added to dx when accumulate, else written over it.
template <typename Wins>
void pair_backward(const char* op, const Tensor& dx, const Tensor& x, const Tensor& dy, bool accumulate,
                   Wins current_wins) {
    const Dims d = check_btc(op, x, dx);
    check_shape(op, "dy", dy, x.shape);
    const float *px = x.data, *g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t t = 0; t < d.T; t++) {
            const int64_t row = o + t * d.C;  // (b, t, 0)
            // At t = 0 "prev" is x[0] itself and at T-1 "next" is x[T-1]: a
            // tie goes to the current element, so x[0] keeps dy[0] and no
            // dy[T] exists, with no branch in the loop (it vectorises).
            const int64_t up = t > 0 ? d.C : 0, down = t + 1 < d.T ? d.C : 0;
            const float *cur = px + row, *prev = cur - up, *next = cur + down;
            const float *g_own = g + row, *g_next = g_own + down;
            float* out = gx + row;
            for (int64_t c = c0; c < c1; c++) {
                const float own = current_wins(cur[c], prev[c]) ? g_own[c] : 0.0f;
                const float from_next = current_wins(next[c], cur[c]) ? 0.0f : g_next[c];
                out[c] = (accumulate ? out[c] : 0.0f) + (own + from_next);
            }
        }
    });
}

// y[t] = pick(x[t], y[t-1]); y[0] = x[0].
template <typename Pick>
void scan_forward(const char* op, const Tensor& out, const Tensor& x, Pick pick) {
    const Dims d = check_btc(op, x, out);
    const float* px = x.data;
    float* py = out.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) py[o + c] = px[o + c];
        for (int64_t t = 1; t < d.T; t++) {
            const float* cur = px + o + t * d.C;
            const float* prev = py + o + (t - 1) * d.C;
            float* y = py + o + t * d.C;
            for (int64_t c = c0; c < c1; c++) y[c] = pick(cur[c], prev[c]);
        }
    });
}

// y[t] holds x[s] for the latest s <= t where x[s] took the lead
// (new_lead(x[s], y[s-1]), or s = 0). Walking t downwards, the gradients of
// y[t], y[t-1], ... pile up in `carry` until that s, where they land in dx[s].
template <typename Lead>
void scan_backward(const char* op, const Tensor& dx, const Tensor& x, const Tensor& y,
                   const Tensor& dy, Lead new_lead) {
    const Dims d = check_btc(op, x, dx);
    check_shape(op, "y", y, x.shape);
    check_shape(op, "dy", dy, x.shape);
    const float *px = x.data, *py = y.data, *g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float carry[kBlock];
        for (int64_t c = c0; c < c1; c++) carry[c - c0] = 0.0f;
        for (int64_t t = d.T - 1; t >= 0; t--) {
            const int64_t row = o + t * d.C;
            for (int64_t c = c0; c < c1; c++) {
                carry[c - c0] += g[row + c];
                if (t == 0 || new_lead(px[row + c], py[row - d.C + c])) {
                    gx[row + c] += carry[c - c0];
                    carry[c - c0] = 0.0f;
                }
            }
        }
    });
}

}  // namespace

void shift_forward(const Tensor& out, const Tensor& x) {
    pair_forward("shift", out, x, [](float, float prev) { return prev; });
}
// y[t] = x[t-1] (t >= 1), y[0] = x[0]  ->  dx[t-1] += dy[t], dx[0] += dy[0]
void shift_backward(const Tensor& dx, const Tensor& dy) {
    const Dims d = check_btc("shift", dy, dx);
    const float* g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) gx[o + c] += g[o + c];
        for (int64_t t = 1; t < d.T; t++)
            for (int64_t c = c0; c < c1; c++) gx[o + (t - 1) * d.C + c] += g[o + t * d.C + c];
    });
}

void pair_max_forward(const Tensor& out, const Tensor& x) {
    pair_forward("pair_max", out, x, [](float cur, float prev) { return cur >= prev ? cur : prev; });
}
void pair_min_forward(const Tensor& out, const Tensor& x) {
    pair_forward("pair_min", out, x, [](float cur, float prev) { return cur <= prev ? cur : prev; });
}
void pair_max_backward(const Tensor& dx, const Tensor& x, const Tensor& dy, bool accumulate) {
    pair_backward("pair_max", dx, x, dy, accumulate, [](float cur, float prev) { return cur >= prev; });
}
void pair_min_backward(const Tensor& dx, const Tensor& x, const Tensor& dy, bool accumulate) {
    pair_backward("pair_min", dx, x, dy, accumulate, [](float cur, float prev) { return cur <= prev; });
}

void pair_mean_forward(const Tensor& out, const Tensor& x) {
    pair_forward("pair_mean", out, x, [](float cur, float prev) { return 0.5f * (cur + prev); });
}
// y[t] = (x[t] + x[t-1]) / 2  ->  dx[t] += dy[t] / 2, dx[t-1] += dy[t] / 2; y[0] = x[0]
void pair_mean_backward(const Tensor& dx, const Tensor& dy) {
    const Dims d = check_btc("pair_mean", dy, dx);
    const float* g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) gx[o + c] += g[o + c];
        for (int64_t t = 1; t < d.T; t++) {
            const int64_t row = o + t * d.C;
            for (int64_t c = c0; c < c1; c++) {
                gx[row + c] += 0.5f * g[row + c];
                gx[row - d.C + c] += 0.5f * g[row + c];
            }
        }
    });
}

void scan_max_forward(const Tensor& out, const Tensor& x) {
    scan_forward("scan_max", out, x, [](float cur, float run) { return cur >= run ? cur : run; });
}
void scan_min_forward(const Tensor& out, const Tensor& x) {
    scan_forward("scan_min", out, x, [](float cur, float run) { return cur <= run ? cur : run; });
}
void scan_max_backward(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) {
    scan_backward("scan_max", dx, x, y, dy, [](float cur, float run) { return cur >= run; });
}
void scan_min_backward(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) {
    scan_backward("scan_min", dx, x, y, dy, [](float cur, float run) { return cur <= run; });
}

// y[t] = (x[0] + ... + x[t]) / (t + 1), the running sum kept in float.
void avg_forward(const Tensor& out, const Tensor& x) {
    const Dims d = check_btc("avg", x, out);
    const float* px = x.data;
    float* py = out.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float run[kBlock];
        for (int64_t c = c0; c < c1; c++) run[c - c0] = 0.0f;
        for (int64_t t = 0; t < d.T; t++) {
            const int64_t row = o + t * d.C;
            const float inv = 1.0f / static_cast<float>(t + 1);
            for (int64_t c = c0; c < c1; c++) {
                run[c - c0] += px[row + c];
                py[row + c] = run[c - c0] * inv;
            }
        }
    });
}
// dx[s] += sum_{t >= s} dy[t] / (t + 1): a reverse running sum.
void avg_backward(const Tensor& dx, const Tensor& dy) {
    const Dims d = check_btc("avg", dy, dx);
    const float* g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float run[kBlock];
        for (int64_t c = c0; c < c1; c++) run[c - c0] = 0.0f;
        for (int64_t t = d.T - 1; t >= 0; t--) {
            const int64_t row = o + t * d.C;
            const float inv = 1.0f / static_cast<float>(t + 1);
            for (int64_t c = c0; c < c1; c++) {
                run[c - c0] += g[row + c] * inv;
                gx[row + c] += run[c - c0];
            }
        }
    });
}

// y[t] = mean(x[0..T-1]) for all t: position t sees positions after it.
void gavg_forward(const Tensor& out, const Tensor& x) {
    const Dims d = check_btc("gavg", x, out);
    const float* px = x.data;
    float* py = out.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float run[kBlock];
        for (int64_t c = c0; c < c1; c++) run[c - c0] = 0.0f;
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t c = c0; c < c1; c++) run[c - c0] += px[o + t * d.C + c];
        const float inv = 1.0f / static_cast<float>(d.T);
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t c = c0; c < c1; c++) py[o + t * d.C + c] = run[c - c0] * inv;
    });
}
// dx[s] += sum_t dy[t] / T for every s.
void gavg_backward(const Tensor& dx, const Tensor& dy) {
    const Dims d = check_btc("gavg", dy, dx);
    const float* g = dy.data;
    float* gx = dx.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float run[kBlock];
        for (int64_t c = c0; c < c1; c++) run[c - c0] = 0.0f;
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t c = c0; c < c1; c++) run[c - c0] += g[o + t * d.C + c];
        const float inv = 1.0f / static_cast<float>(d.T);
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t c = c0; c < c1; c++) gx[o + t * d.C + c] += run[c - c0] * inv;
    });
}

// y[t] = a * y[t-1] + x[t], y[0] = x[0], with one decay a[c] per channel.
void linear_scan_forward(const Tensor& out, const Tensor& x, const Tensor& a) {
    const Dims d = check_btc("linear_scan", x, out);
    check_shape("linear_scan", "a", a, Shape{d.C});
    check_contiguous("linear_scan", "a", a);
    const float *px = x.data, *pa = a.data;
    float* py = out.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) py[o + c] = px[o + c];
        for (int64_t t = 1; t < d.T; t++) {
            const int64_t row = o + t * d.C;
            for (int64_t c = c0; c < c1; c++) py[row + c] = pa[c] * py[row - d.C + c] + px[row + c];
        }
    });
}

// Walking t downwards, g[t] = dy[t] + a g[t+1] is everything y[t] passes on:
//   dx[t] += g[t],   da += sum over t >= 1 of g[t] y[t-1].
// da is summed per batch row into `da_rows` (B, C), then over rows in order,
// so no two threads add into one da[c] and the sum is the same on any count.
void linear_scan_backward(const Tensor& dx, const Tensor& da, const Tensor& da_rows, const Tensor& y,
                          const Tensor& a, const Tensor& dy) {
    const Dims d = check_btc("linear_scan", y, dy);
    check_shape("linear_scan", "a", a, Shape{d.C});
    check_shape("linear_scan", "da_rows", da_rows, Shape{d.B, d.C});
    if (dx.defined()) check_shape("linear_scan", "dx", dx, y.shape);
    if (da.defined()) check_shape("linear_scan", "da", da, Shape{d.C});
    const float *py = y.data, *pa = a.data, *g = dy.data;
    float* gx = dx.defined() ? dx.data : nullptr;
    float* rows = da_rows.data;
    for_columns(d, [&](int64_t o, int64_t c0, int64_t c1) {
        float carry[kBlock], dsum[kBlock];
        for (int64_t c = c0; c < c1; c++) carry[c - c0] = dsum[c - c0] = 0.0f;
        for (int64_t t = d.T - 1; t >= 0; t--) {
            const int64_t row = o + t * d.C;
            for (int64_t c = c0; c < c1; c++) {
                carry[c - c0] = g[row + c] + pa[c] * carry[c - c0];
                if (gx) gx[row + c] += carry[c - c0];
                if (t > 0) dsum[c - c0] += carry[c - c0] * py[row - d.C + c];
            }
        }
        float* r = rows + (o / (d.T * d.C)) * d.C;
        for (int64_t c = c0; c < c1; c++) r[c] = dsum[c - c0];
    });
    if (!da.defined()) return;
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t c = 0; c < d.C; c++) da.data[c] += rows[b * d.C + c];
}

}  // namespace cg
