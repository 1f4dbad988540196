// The element-wise ops of one input. Each op is a pair of scalar functions,
// y = f(x) and its derivative f'(x) (given x and y), then its row; the loops
// over the tensor are tensor/map.h's. To add an op: its two functions, its
// row in kUnaryOps, the function that applies it (which finds its row by
// name when the program is compiled) and the declaration in autograd/ops.h
// (docs/tutorial-add-an-op.md walks through it). unary_ops() and the tests
// read the table, so the row is tested without a test edit; a row that ends
// in Activation{...} is also the MLP's activation of that name.
#include "autograd/unary.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/fast_exp.h"
#include "tensor/kernels.h"
#include "tensor/map.h"

namespace cg {

Var unary(const UnaryOp& op, const Var& x) {
    Tensor xc = x.value.contiguous();
    Tensor y = empty(xc.shape);
    if (op.forward_with_slope && grad_enabled() && x.requires_grad()) {
        Tensor slope = empty(xc.shape);
        op.forward_with_slope(y, slope, xc);
        // dx = slope * dy. A fresh dx is dy's own buffer, overwritten in
        // place (nothing reads dy after this backward) and handed on: the
        // writes land on lines just read, where a fresh buffer's would be cold.
        Node* n = record(Op::unary, y.shape, {&x}, [](Node& n) {
            if (!n.inputs[0]->grad.defined() && n.grad.is_contiguous()) {
                slope_backward(n.grad, n.saved[0], n.grad, false);
                pass_grad(n.inputs[0], n.grad);
                return;
            }
            auto [dx, accumulate] = grad_target(n.inputs[0]);
            slope_backward(dx, n.saved[0], n.grad, accumulate);
        });
        n->unary = &op;
        n->saved[0] = slope;
        return {y, n};
    }
    op.forward(y, xc);
    Node* n = record(Op::unary, y.shape, {&x}, [](Node& n) {
        n.unary->backward(grad_of(n.inputs[0]), n.saved[0], n.saved[1], n.grad);
    });
    if (n) {
        n->unary = &op;
        n->saved[0] = xc;
        n->saved[1] = y;
    }
    return {y, n};
}

namespace {

Tensor ones_like(const Var& x) { return full(x.shape(), 1.0f); }

// ---- exp ----
float exp_f(float x) { return fast_exp(x); }
float exp_df(float, float y) { return y; }  // (e^x)' = e^x
double exp_ref(double x) { return std::exp(x); }

// ---- log ----
float log_f(float x) { return std::log(x); }
float log_df(float x, float) { return 1.0f / x; }
double log_ref(double x) { return std::log(x); }

// ---- sqrt ----
float sqrt_f(float x) { return std::sqrt(x); }
float sqrt_df(float, float y) { return 0.5f / y; }  // (x^1/2)' = 1 / (2 sqrt(x))
double sqrt_ref(double x) { return std::sqrt(x); }

// ---- sigmoid ----
float sigmoid_f(float x) { return 1.0f / (1.0f + fast_exp(-x)); }
float sigmoid_df(float, float y) { return y * (1.0f - y); }
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
Var sigmoid_composed(const Var& x) { return div(constant(ones_like(x)), add_scalar(exp(scale(x, -1.0f)), 1.0f)); }

// ---- tanh ---- (std::tanh: exact near 0, where 1 - 2 / (1 + e^2x) cancels)
float tanh_f(float x) { return std::tanh(x); }
float tanh_df(float, float y) { return 1.0f - y * y; }
double tanh_ref(double x) { return std::tanh(x); }
Var tanh_composed(const Var& x) { return add_scalar(scale(sigmoid(scale(x, 2.0f)), 2.0f), -1.0f); }  // 2 sigmoid(2x) - 1

// ---- relu ----
float relu_f(float x) { return x > 0.0f ? x : 0.0f; }
float relu_df(float x, float) { return x > 0.0f ? 1.0f : 0.0f; }
double relu_ref(double x) { return x > 0.0 ? x : 0.0; }
Var relu_composed(const Var& x) { return maximum(x, constant(zeros(x.shape()))); }

// ---- gelu ---- GPT-2's tanh form: y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
// 0.5 (1 + tanh(u)) = sigmoid(2u), so y = x / (1 + e^(-2u)): one exp, no tanh,
// and fast_exp lets the loop vectorise. With s = sigmoid(2u) the slope is
// y' = s + x 2 s (1 - s) u' = s ((1 - s) w + 1), w = 2 x u' = 2 sqrt(2/pi) x (1 + 3 0.044715 x^2).
// Written as -2u = x (c0 + c1 x^2) and w = x (c2 + c3 x^2): both share x^2
// (faster than with u written out: docs/performance.md), and every sum holds one
// product, so the compiler fuses the same
// multiply-add in the vector loop and in its scalar remainder (with two
// products in a sum it may fuse either, and a value would depend on where
// the thread's chunk boundary falls).
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;
constexpr float kExpArg0 = -2.0f * kGeluScale, kExpArg2 = -2.0f * kGeluScale * kGeluCubic;
constexpr float kSlope0 = 2.0f * kGeluScale, kSlope2 = 6.0f * kGeluScale * kGeluCubic;
// s = sigmoid(2u); x2 = x^2 is kept for the slope.
float gelu_sigmoid(float x, float& x2) {
    x2 = x * x;
    // 1 / (...) times x rather than x / (...): GCC schedules the first
    // faster (docs/performance.md).
    return 1.0f / (1.0f + fast_exp(x * (kExpArg2 * x2 + kExpArg0)));
}
float gelu_slope(float x, float s, float x2) { return s * ((1.0f - s) * (x * (kSlope2 * x2 + kSlope0)) + 1.0f); }
float gelu_f(float x) {
    float x2;
    return x * gelu_sigmoid(x, x2);
}
float gelu_df(float x, float) {
    float x2;
    const float s = gelu_sigmoid(x, x2);
    return gelu_slope(x, s, x2);
}
// Both at once, from one s: the same float operations as gelu_f and gelu_df.
float gelu_fdf(float x, float& slope) {
    float x2;
    const float s = gelu_sigmoid(x, x2);
    slope = gelu_slope(x, s, x2);
    return x * s;
}
double gelu_ref(double x) {
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
Var gelu_composed(const Var& x) {
    Var u = scale(add(x, scale(mul(mul(x, x), x), kGeluCubic)), kGeluScale);
    return mul(scale(x, 0.5f), add_scalar(tanh(u), 1.0f));
}

// ---- silu ---- y = x sigmoid(x)
float silu_f(float x) { return x * (1.0f / (1.0f + fast_exp(-x))); }
float silu_df(float x, float) {
    const float s = 1.0f / (1.0f + fast_exp(-x));
    return s + x * s * (1.0f - s);
}
float silu_fdf(float x, float& slope) {
    const float s = 1.0f / (1.0f + fast_exp(-x));
    slope = s + x * s * (1.0f - s);
    return x * s;
}
double silu_ref(double x) { return x / (1.0 + std::exp(-x)); }
Var silu_composed(const Var& x) { return mul(x, sigmoid(x)); }

// A row's last argument when the MLP may use its op as its activation: the line --help shows.
struct Activation {
    const char* help = nullptr;
};

// A row's kernels are the map templates instantiated with its two functions.
template <float (*f)(float), float (*df)(float, float)>
constexpr UnaryOp row(const char* name, const char* formula, double (*reference)(double), Domain domain,
                      Var (*composed)(const Var&) = nullptr, Activation activation = {}) {
    return UnaryOp{name, formula, map_forward<f>, map_backward<df>, nullptr, reference, domain, composed, activation.help};
}
// A row whose value and slope also come from one function, fdf.
template <float (*f)(float), float (*df)(float, float), float (*fdf)(float, float&)>
constexpr UnaryOp row_with_slope(const char* name, const char* formula, double (*reference)(double),
                                 Domain domain, Var (*composed)(const Var&), Activation activation = {}) {
    return UnaryOp{name, formula, map_forward<f>, map_backward<df>, map_forward_with_slope<fdf>, reference, domain,
                   composed, activation.help};
}

// The table: one row per op. The activations are listed (--help) in its order.
constexpr UnaryOp kUnaryOps[] = {
    row<exp_f, exp_df>("exp", "y = e^x", exp_ref, Domain::real),
    row<log_f, log_df>("log", "y = ln x", log_ref, Domain::positive),
    row<sqrt_f, sqrt_df>("sqrt", "y = x^(1/2)", sqrt_ref, Domain::positive),
    row<sigmoid_f, sigmoid_df>("sigmoid", "y = 1 / (1 + e^-x)", sigmoid_ref, Domain::real, sigmoid_composed),
    row<tanh_f, tanh_df>("tanh", "y = tanh x", tanh_ref, Domain::real, tanh_composed),
    row_with_slope<gelu_f, gelu_df, gelu_fdf>("gelu", "y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
                                              gelu_ref, Domain::real, gelu_composed, Activation{"GELU, GPT-2's tanh form"}),
    row_with_slope<silu_f, silu_df, silu_fdf>("silu", "y = x sigmoid(x)", silu_ref, Domain::real, silu_composed,
                                              Activation{"x sigmoid(x)"}),
    row<relu_f, relu_df>("relu", "y = max(x, 0)", relu_ref, Domain::nonzero, relu_composed, Activation{"max(x, 0)"}),
};
constexpr bool same_name(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}
// The row named `name`, looked up while compiling: a function below whose op
// has no row does not build.
constexpr size_t row_index(const char* name) {
    for (size_t i = 0; i < sizeof(kUnaryOps) / sizeof(kUnaryOps[0]); i++)
        if (same_name(kUnaryOps[i].name, name)) return i;
    throw "no row of kUnaryOps has this name";
}
constexpr bool names_unique() {
    for (const UnaryOp& op : kUnaryOps)
        if (&kUnaryOps[row_index(op.name)] != &op) return false;
    return true;
}
static_assert(names_unique(), "two rows of kUnaryOps share a name");
template <size_t index>
Var apply(const Var& x) {
    return unary(kUnaryOps[index], x);
}

}  // namespace

const std::vector<const UnaryOp*>& unary_ops() {
    static const std::vector<const UnaryOp*> ops = [] {
        std::vector<const UnaryOp*> all;
        for (const UnaryOp& op : kUnaryOps) all.push_back(&op);
        return all;
    }();
    return ops;
}

Var exp(const Var& x) { return apply<row_index("exp")>(x); }
Var log(const Var& x) { return apply<row_index("log")>(x); }
Var sqrt(const Var& x) { return apply<row_index("sqrt")>(x); }
Var sigmoid(const Var& x) { return apply<row_index("sigmoid")>(x); }
Var tanh(const Var& x) { return apply<row_index("tanh")>(x); }
Var relu(const Var& x) { return apply<row_index("relu")>(x); }
Var gelu(const Var& x) { return apply<row_index("gelu")>(x); }
Var silu(const Var& x) { return apply<row_index("silu")>(x); }

}  // namespace cg
