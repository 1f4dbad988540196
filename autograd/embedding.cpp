// Embedding lookup: rows of a table selected by token ids.
#include "autograd/ops.h"
#include "tensor/kernels.h"

namespace cg {

Ids make_ids(Shape shape, std::vector<int> values) {
    if (static_cast<int64_t>(values.size()) != shape.numel())
        fail("ids", std::to_string(values.size()) + " ids for shape " + shape.str());
    return Ids{std::make_shared<const std::vector<int>>(std::move(values)), shape};
}

// y (..., C) = table (V, C)[ids (...)]; keeps the ids
Var embedding(const Var& table, const Ids& ids) {
    if (table.value.ndim() != 2) fail("embedding", "table must be (V, C), got " + table.shape().str());
    if (ids.shape.ndim >= kMaxDims) fail("embedding", "ids have too many dims: " + ids.shape.str());
    Shape out_shape = ids.shape;
    out_shape.dims[out_shape.ndim++] = table.value.shape[1];
    Tensor y = empty(out_shape);
    embedding_forward(y, table.value.contiguous(), ids.data());
    // dtable[ids[n]] += dy[n]
    Node* n = record(Op::embedding, y.shape, {&table}, [](Node& n) {
        embedding_backward(grad_of(n.inputs[0]), n.grad, n.ids->data());
    });
    if (n) n->ids = ids.values;
    return {y, n};
}

}  // namespace cg
