// The precision of matrix products, nanoGPT's `dtype` and PyTorch's autocast
// on the CPU: with bfloat16, every product (linear layers forward and
// backward, the attention's products, any matmul) reads its operands rounded
// to bf16 and adds in fp32; everything else (weights, gradients, AdamW state,
// layer norm, softmax, the mixers, the loss) stays fp32. float32 is the
// default and changes nothing.
//
// Why only the products: they are nearly all of a step's FLOPs, and a CPU
// with AVX512_BF16 (vdpbf16ps) does twice the multiply-adds per instruction
// in bf16 that it does in fp32. The sums stay fp32, so the error is that of
// the rounded operands alone (8 bits of mantissa).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace cg {

enum class Dtype { float32, bfloat16 };

const char* dtype_name(Dtype d);
// "float32" or "bfloat16"; throws a one-line error naming `who` for float16
// (fp16 is for GPUs), for an unknown name, and for bfloat16 on a CPU or build
// without the bf16 product kernel (naming the missing feature).
Dtype parse_dtype(const std::string& name, const char* who);
// Why this machine cannot run bfloat16 products, or "" when it can.
std::string bf16_unsupported_reason();

// The precision products run in now (float32 unless an Autocast says otherwise).
Dtype product_dtype();
void set_product_dtype(Dtype d);

// While alive, products run in `d`. With bfloat16, a weight's bf16 copy is
// made once, at its first product, and kept until the outermost Autocast
// ends: wrap the forward and backward of a step, never an optimizer step
// (the copies would go stale).
struct Autocast {
    Dtype previous;
    explicit Autocast(Dtype d);
    ~Autocast();
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;
};

// The bf16 copy of a weight (w's elements in w's memory order), made at the
// first call inside the outermost Autocast and reused until it ends. Outside
// one, converted afresh into scratch that the next call may reuse.
const uint16_t* bf16_copy(const Tensor& w);

}  // namespace cg
