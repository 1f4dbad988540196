#include "autograd/graph.h"

#include <chrono>

#include "tensor/kernels.h"

namespace cg {

namespace {

// The tape: nodes in the order the ops ran. Node objects are kept when the
// tape is cleared and handed out again, so a steady-state step allocates none.
constexpr uint64_t kCleared = ~0ull;  // the generation of a node waiting for reuse

struct Tape {
    std::vector<std::unique_ptr<Node>> nodes;
    size_t used = 0;
    bool enabled = true;
    uint64_t generation = 1;  // of the graph being recorded

    Node* next() {
        if (used == nodes.size()) nodes.push_back(std::make_unique<Node>());
        Node* n = nodes[used++].get();
        n->generation = generation;
        return n;
    }

    void clear() {
        for (size_t i = 0; i < used; i++) {
            *nodes[i] = Node{};  // drops tensors (back to the pool)
            nodes[i]->generation = kCleared;
        }
        used = 0;
        generation++;
    }
};

void check_live(const char* op, const Var& v) {
    if (v.node && v.node->generation != v.generation)
        fail(op, "an input was made before the last backward() or clear_tape(), which freed its graph; "
                 "recompute it, or use its .value as a constant");
}

Tape& tape() {
    static Tape t;
    return t;
}

// Op timing (bench --ops): the sink, and when the last recorded op ended.
OpTimes* g_op_times = nullptr;
std::chrono::steady_clock::time_point g_last_mark;

double ms_since_mark(std::chrono::steady_clock::time_point now) {
    return std::chrono::duration<double, std::milli>(now - g_last_mark).count();
}

}  // namespace

void set_op_times(OpTimes* sink) {
    g_op_times = sink;
    op_timing_mark();
}

void op_timing_mark() { g_last_mark = std::chrono::steady_clock::now(); }

const char* op_name(Op op) {
    auto i = static_cast<size_t>(op);
    return i < static_cast<size_t>(Op::count) ? kOpNames[i] : "?";
}

namespace {
// A gradient to read: one that zero_grad marked becomes real zeros first.
Tensor& settled_grad(Node* node) {
    if (node->grad_is_zero) {
        fill(node->grad, 0.0f);
        node->grad_is_zero = false;
    }
    return node->grad;
}
}  // namespace

const Tensor& Var::grad() const {
    static const Tensor none;
    return node ? settled_grad(node) : none;
}

Tensor& Parameter::grad() const { return settled_grad(node.get()); }

Var constant(Tensor value) { return Var{std::move(value), nullptr}; }

Parameter make_parameter(std::string name, Tensor value) {
    Parameter p;
    p.name = std::move(name);
    p.value = value.contiguous();
    p.node = std::make_unique<Node>();
    p.node->shape = p.value.shape;
    p.node->grad = zeros(p.value.shape);
    return p;
}

// Marks instead of filling: the next backward writes these gradients (sgemm's
// beta = 0, the kernels' accumulate = false) and no pass over them is spent.
void zero_grad(const std::vector<Parameter*>& params) {
    for (Parameter* p : params) p->node->grad_is_zero = true;
}

Node* record(Op op, const Shape& out_shape, std::initializer_list<const Var*> inputs,
             void (*backward_fn)(Node&)) {
    Tape& t = tape();
    if (!t.enabled) return nullptr;
    bool any = false;
    for (const Var* v : inputs) {
        check_live(op_name(op), *v);
        any = any || v->node != nullptr;
    }
    if (!any) return nullptr;
    if (g_op_times) {
        const auto now = std::chrono::steady_clock::now();
        g_op_times->forward_ms[static_cast<int>(op)] += ms_since_mark(now);
        g_last_mark = now;
    }
    Node* n = t.next();
    n->op = op;
    n->backward = backward_fn;
    n->shape = out_shape;
    n->dtype = product_dtype();
    int i = 0;
    for (const Var* v : inputs) n->inputs[i++] = v->node;
    return n;
}

Tensor& grad_of(Node* node) {
    if (!node->grad.defined()) node->grad = zeros(node->shape);
    return settled_grad(node);
}

GradTarget grad_target(Node* node) {
    const bool started = node->grad.defined() && !node->grad_is_zero;
    if (!node->grad.defined()) node->grad = empty(node->shape);
    node->grad_is_zero = false;  // the caller writes all of it
    return {node->grad, started};
}

// Sharing is safe: a node's gradient is read only by its own backward, which
// has run by the time later contributions add into the shared buffer.
void pass_grad(Node* input, const Tensor& g) {
    if (!input) return;
    if (!input->grad.defined() && g.is_contiguous()) {
        input->grad = g.reshape(input->shape);
        return;
    }
    accumulate_into(grad_of(input), g.reshape(input->shape));
}

void backward(const Var& loss) {
    if (loss.value.numel() != 1)
        fail("backward", "needs a one-element loss, got shape " + loss.value.shape.str());
    if (!loss.node) fail("backward", "the loss does not depend on any parameter (or NoGrad was on)");
    check_live("backward", loss);
    Tape& t = tape();
    Autocast as_before(product_dtype());  // restores the caller's precision, which the nodes' set
    add_constant(grad_of(loss.node), 1.0f);  // d loss / d loss
    // Reverse creation order is a reverse topological order: every node's
    // consumers ran after it, so its gradient is complete when we reach it.
    // Nodes no gradient reached (not on a path to the loss) are skipped.
    for (size_t i = t.used; i-- > 0;) {
        Node* n = t.nodes[i].get();
        if (!n->grad.defined() || !n->backward) continue;
        const auto t0 = g_op_times ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        set_product_dtype(n->dtype);  // a product's backward runs in the precision of its forward, as in autocast
        n->backward(*n);
        if (g_op_times)
            g_op_times->backward_ms[static_cast<int>(n->op)] +=
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        // Its gradient is spent: back to the pool now (unless an input took
        // the buffer), so the next gradient of that size reuses memory still
        // in cache instead of a buffer last touched a step ago.
        n->grad = Tensor{};
    }
    t.clear();
}

void clear_tape() { tape().clear(); }

int tape_size() { return static_cast<int>(tape().used); }

std::vector<const Node*> tape_nodes() {
    std::vector<const Node*> nodes;
    for (size_t i = 0; i < tape().used; i++) nodes.push_back(tape().nodes[i].get());
    return nodes;
}

NoGrad::NoGrad() : previous(tape().enabled) { tape().enabled = false; }
NoGrad::~NoGrad() { tape().enabled = previous; }

bool grad_enabled() { return tape().enabled; }

}  // namespace cg
