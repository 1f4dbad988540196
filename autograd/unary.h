// Element-wise ops of one input, y = f(x). Each is one row of autograd/unary.cpp:
// its formula, the derivative written right under it, and what the tests need
// (a double-precision reference, the inputs where it is smooth), and whether
// the MLP may use it as its activation. The tests iterate over the rows, so a
// new row is gradient-checked, compared with its reference and, when it has
// one, with its composed form, without a test edit; the mixer table
// (nn/mixers.cpp) makes an activation of every row that offers itself as one.
#pragma once

#include <vector>

#include "autograd/graph.h"

namespace cg {

// Where the op is defined and smooth: the gradient test draws its inputs there.
enum class Domain {
    real,      // any x
    positive,  // x > 0 (log, sqrt)
    nonzero,   // away from a kink at 0 (relu)
};

struct UnaryOp {
    const char* name;
    const char* formula;  // "y = x * sigmoid(x)": for the docs and the tests' messages
    void (*forward)(const Tensor& y, const Tensor& x);
    // dx += f'(x) * dy, given x and y = f(x)
    void (*backward)(const Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy);
    // For ops whose derivative costs as much as the value (gelu, silu): y and
    // slope = f'(x) in one pass, used when a backward will follow, which then
    // only multiplies. nullptr: the backward recomputes from x and y.
    void (*forward_with_slope)(const Tensor& y, const Tensor& slope, const Tensor& x);
    double (*reference)(double x);  // f in double with <cmath>: what the kernel is checked against
    Domain domain;
    // The op written with other ops, when it exists: the fused row must agree with it.
    Var (*composed)(const Var& x);
    // Offered as the MLP's activation (--activation=NAME): its line for --help;
    // nullptr: not offered.
    const char* activation;
};

// y = op(x), recording op's backward (x and y are saved for it, or the slope).
Var unary(const UnaryOp& op, const Var& x);

// Every row of autograd/unary.cpp, in its order.
const std::vector<const UnaryOp*>& unary_ops();

}  // namespace cg
