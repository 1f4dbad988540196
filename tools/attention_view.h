// The `attention` command's output: each attention head's weights for a
// prompt as heat maps in one SVG picture, and a table of how far each head is
// from the patterns the paper's mixers hard-code (models/attention_maps.h).
#pragma once

#include <string>
#include <vector>

#include "models/attention_maps.h"

namespace cg {

// One row per head: layer, head, KL and total variation from uniform, mean
// weight on the token itself and on the previous one, the nearest pattern;
// then a line counting the heads near each pattern.
std::string attention_table(const std::vector<HeadWeights>& heads, const std::vector<HeadPattern>& patterns);

// A panel per head, a row of panels per layer: cell (t, j) is query t's
// weight on key j, darker for more (opacity sqrt(weight), so that uniform
// weight over a long context stays visible). Only the first `draw_tokens`
// tokens are drawn; the patterns are over the whole prompt. `tokens` holds
// each token's text, for the caption.
std::string attention_svg(const std::vector<HeadWeights>& heads, const std::vector<HeadPattern>& patterns,
                          const std::vector<std::string>& tokens, int64_t draw_tokens, const std::string& title);

}  // namespace cg
