// Reverse-mode autograd on a tape.
//
// A Var is a value (a Tensor) plus, when it takes part in a gradient, the Node
// that made it. Each op computes its forward value and, unless gradients are
// off, appends a Node to the tape: which op, its inputs' nodes, the tensors its
// backward needs, and its backward function (a lambda written right under the
// forward, in the op's file). The tape is in creation order, which is a
// topological order, so backward() walks it in reverse: each node adds its
// gradient into its inputs' gradients. Parameters are leaf nodes that live
// outside the tape; their gradients accumulate across backward() calls until
// zero_grad. After backward() the tape is cleared: the step's graph and
// activations are released, node objects are kept for the next step.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/autocast.h"
#include "tensor/tensor.h"

namespace cg {

// Every differentiable op, in one list with its names: the gradient test
// holds one row per entry and a test fails if an op has none; a name missing
// here fails the build. The element-wise ops of one input (exp, gelu, ...) are
// all `unary`, each a row of autograd/unary.cpp.
enum class Op {
    add, sub, mul, div, scale, add_scalar, maximum, minimum, where, unary,
    matmul, linear, reshape, transpose, permute, slice, contiguous,
    sum, mean, row_sum, expand_last,
    embedding, layer_norm, dropout, causal_softmax, causal_attention, cross_entropy,
    shift, pair_max, pair_min, pair_mean, scan_max, scan_min, avg, gavg, linear_scan,
    count
};
inline constexpr const char* kOpNames[] = {
    "add", "sub", "mul", "div", "scale", "add_scalar", "maximum", "minimum", "where", "unary",
    "matmul", "linear", "reshape", "transpose", "permute", "slice", "contiguous",
    "sum", "mean", "row_sum", "expand_last",
    "embedding", "layer_norm", "dropout", "causal_softmax", "causal_attention", "cross_entropy",
    "shift", "pair_max", "pair_min", "pair_mean", "scan_max", "scan_min", "avg", "gavg", "linear_scan",
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<size_t>(Op::count),
              "every Op needs a name in kOpNames");
const char* op_name(Op op);
struct UnaryOp;  // autograd/unary.h

constexpr int kMaxInputs = 3;
constexpr int kMaxSaved = 4;

struct Node {
    Op op = Op::count;
    void (*backward)(Node& self) = nullptr;  // nullptr for a leaf
    Node* inputs[kMaxInputs] = {nullptr, nullptr, nullptr};  // nullptr: no gradient wanted
    Tensor saved[kMaxSaved];  // tensors the backward reads
    float scalar = 0.0f;      // op argument (scale factor, ...)
    int ints[kMaxDims] = {0, 0, 0, 0};  // op arguments (dims, permutation, ...)
    std::shared_ptr<const std::vector<int>> ids;  // token ids (embedding, cross-entropy)
    const UnaryOp* unary = nullptr;               // which one, for Op::unary
    Dtype dtype = Dtype::float32;  // the products' precision when it was recorded: its backward's too
    Shape shape;   // shape of the op's output
    Tensor grad;   // d loss / d output; allocated (zeroed) on first use, dropped after its backward
    // The values in grad are to be read as zeros: zero_grad marks a
    // parameter's gradient so instead of filling it, and the first backward
    // kernel to reach it then writes rather than adds (or it is zeroed when
    // read before that).
    bool grad_is_zero = false;
    // Which step's graph the node belongs to (0 for parameters). The tape
    // reuses nodes, so a Var compares this with its own copy to know whether
    // its node still describes it.
    uint64_t generation = 0;
};

struct Var {
    Tensor value;
    Node* node = nullptr;     // nullptr: a constant, no gradient flows into it
    uint64_t generation = 0;  // node->generation when this Var was made

    Var() = default;
    Var(Tensor v, Node* n) : value(std::move(v)), node(n), generation(n ? n->generation : 0) {}

    bool defined() const { return value.defined(); }
    const Shape& shape() const { return value.shape; }
    bool requires_grad() const { return node != nullptr; }
    // The gradient after backward(); undefined if none reached this value.
    const Tensor& grad() const;
};

Var constant(Tensor value);

// A trainable tensor: a leaf node that persists across steps. The optimizer
// updates `value` in place; `grad()` accumulates until zero_grad().
struct Parameter {
    std::string name;
    Tensor value;
    std::unique_ptr<Node> node;

    Var var() const { return Var{value, node.get()}; }
    Tensor& grad() const;  // zeroed here if zero_grad left it marked
};
Parameter make_parameter(std::string name, Tensor value);
void zero_grad(const std::vector<Parameter*>& params);

// Runs the tape backwards from a one-element loss (d loss / d loss = 1), then
// clears the tape. A Var made before that is then stale: using it in an op
// throws (use .value, or recompute it).
void backward(const Var& loss);
// Drops the recorded graph without running it (e.g. after an evaluation that
// forgot NoGrad).
void clear_tape();
int tape_size();  // nodes recorded since the last clear
// The nodes recorded since the last clear, in creation order (bench counts
// the memory their ops move).
std::vector<const Node*> tape_nodes();

// While a NoGrad is alive, ops record nothing (evaluation, sampling).
struct NoGrad {
    bool previous;
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;
};
bool grad_enabled();

// Where a step's time goes, op by op (causalgrad bench --ops). While a sink
// is set, record() adds the time since the previous record() (or since
// op_timing_mark()) to that op's forward: the op's kernel, and the little
// code between two ops. backward() times each node's backward. With no sink
// each op pays one branch.
struct OpTimes {
    double forward_ms[static_cast<int>(Op::count)] = {};
    double backward_ms[static_cast<int>(Op::count)] = {};
};
void set_op_times(OpTimes* sink);  // nullptr: stop timing
void op_timing_mark();             // the next recorded op's forward starts now

// For op implementations: appends a node for `op` when gradients are on and
// any input requires one; returns nullptr otherwise (then record nothing).
// `backward` is usually a captureless lambda written right under the forward.
Node* record(Op op, const Shape& out_shape, std::initializer_list<const Var*> inputs,
             void (*backward)(Node&));
// The gradient buffer of a node, allocated and zeroed on first use.
Tensor& grad_of(Node* node);
// For kernels that can write instead of add (sgemm's beta, the backward
// kernels' `accumulate` flag): the node's gradient buffer, allocated without
// zeroing on first use, and whether it already holds other consumers'
// contributions (then add to them) or is fresh (then write all of it).
struct GradTarget {
    Tensor& grad;
    bool accumulate;
};
GradTarget grad_target(Node* node);
// dx += g where g is the whole gradient an op passes on (add and reshape
// unchanged, GELU after scaling dy in place): the first contribution takes
// g's buffer itself instead of a zeroed copy. Call it after the op's backward has finished reading its own
// gradient, and for at most one input per op (two inputs must not share).
void pass_grad(Node* input, const Tensor& g);

}  // namespace cg
