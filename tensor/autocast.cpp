#include "tensor/autocast.h"

#include <vector>

#include "tensor/bf16.h"

namespace cg {

namespace {

Dtype g_dtype = Dtype::float32;
int g_depth = 0;  // Autocasts alive

// A weight's bf16 copy; `fresh` while the outermost Autocast that made it
// lives. Entries and their buffers stay for the next step (no allocation
// once every weight has one).
struct Copy {
    const float* data = nullptr;
    int64_t numel = 0;
    std::vector<uint16_t> bits;
    bool fresh = false;
};
std::vector<Copy>& copies() {
    static std::vector<Copy> c;
    return c;
}

}  // namespace

const char* dtype_name(Dtype d) { return d == Dtype::bfloat16 ? "bfloat16" : "float32"; }

std::string bf16_unsupported_reason() { return bf16_missing_cpu_feature(); }

Dtype parse_dtype(const std::string& name, const char* who) {
    if (name == "float32") return Dtype::float32;
    if (name == "float16")
        fail(who, "--dtype=float16 is for GPUs (fp16 needs loss scaling, and CPUs add fp16 no faster); use "
                  "--dtype=bfloat16 or float32");
    if (name != "bfloat16") fail(who, "--dtype must be float32 or bfloat16, got '" + name + "'");
    const std::string missing = bf16_unsupported_reason();
    if (!missing.empty())
        fail(who, "--dtype=bfloat16 needs a CPU with AVX512_BF16 (AMD Zen 4 or later, Intel Cooper Lake or Sapphire "
                  "Rapids or later); this one lacks " + missing + "; use --dtype=float32");
    return Dtype::bfloat16;
}

Dtype product_dtype() { return g_dtype; }
void set_product_dtype(Dtype d) { g_dtype = d; }

Autocast::Autocast(Dtype d) : previous(g_dtype) {
    g_dtype = d;
    g_depth++;
}

Autocast::~Autocast() {
    g_dtype = previous;
    if (--g_depth == 0)
        for (Copy& c : copies()) c.fresh = false;
}

const uint16_t* bf16_copy(const Tensor& w) {
    check_contiguous("bf16_copy", "weight", w);
    std::vector<Copy>& all = copies();
    Copy* slot = nullptr;
    if (g_depth > 0) {
        for (Copy& c : all)
            if (c.data == w.data && c.numel == w.numel()) {
                if (c.fresh) return c.bits.data();
                slot = &c;
                break;
            }
        if (!slot) slot = &all.emplace_back();
    } else {
        static Copy scratch;  // outside an Autocast nothing is kept
        slot = &scratch;
    }
    slot->data = w.data;
    slot->numel = w.numel();
    slot->bits.resize(static_cast<size_t>(w.numel()));
    floats_to_bf16(slot->bits.data(), w.data, w.numel());
    slot->fresh = g_depth > 0;
    return slot->bits.data();
}

}  // namespace cg
