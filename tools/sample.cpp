#include "tools/sample.h"

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/thread_governor.h"
#include "io/safe_file.h"

namespace cg {

int sample_token(const float* logits, int64_t V, float temperature, int64_t top_k, Rng& rng) {
    if (temperature <= 0.0f) return static_cast<int>(std::max_element(logits, logits + V) - logits);
    std::vector<float> p(logits, logits + V);
    float cutoff = -INFINITY;
    if (top_k > 0 && top_k < V) {
        std::vector<float> sorted(p);
        std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<float>());
        cutoff = sorted[top_k - 1];
    }
    const float mx = *std::max_element(p.begin(), p.end());
    double total = 0.0;
    for (float& v : p) {
        v = v < cutoff ? 0.0f : std::exp((v - mx) / temperature);
        total += v;
    }
    double r = rng_uniform(rng) * total;
    for (int64_t i = 0; i < V; i++) {
        r -= p[i];
        if (r < 0.0) return static_cast<int>(i);
    }
    for (int64_t i = V - 1; i >= 0; i--)
        if (p[i] > 0.0f) return static_cast<int>(i);
    return 0;
}

std::string start_text(const std::string& option) {
    if (option.rfind("FILE:", 0) == 0) return read_regular_file(option.substr(5), "sample");
    std::string text;
    for (size_t i = 0; i < option.size(); i++) {
        if (option[i] != '\\') {
            text += option[i];
            continue;
        }
        const char next = i + 1 < option.size() ? option[++i] : '\0';
        if (next == 'n') text += '\n';
        else if (next == 't') text += '\t';
        else if (next == 'r') text += '\r';
        else if (next == '\\') text += '\\';
        else
            fail("sample", std::string("--start has an unknown escape '\\") + (next ? std::string(1, next) : "") +
                               "'; use \\n, \\t, \\r or \\\\, or --start=FILE:prompt.txt");
    }
    return text;
}

namespace {

// Hands sample 0's newest token to the sink; false when the sink wants no more.
bool emit(const TextSink& sink, const Vocab& vocab, int token) { return !sink || sink(decode(vocab, {token})); }

// nanoGPT's way: for every new token, a forward over the last block_size
// tokens of each sequence (they all have the same length), keeping the
// logits of the last position.
void extend_full_sequence(GPT& model, std::vector<std::vector<int>>& seqs, const SampleOptions& o, Rng& rng,
                          const Vocab& vocab, const TextSink& sink) {
    NoGrad no_grad;
    Rng unused{0, 0};
    const int64_t N = static_cast<int64_t>(seqs.size()), V = model.config.vocab_size;
    ThreadGovernor governor = make_thread_governor();
    for (int64_t i = 0; i < o.max_new_tokens; i++) {
        GovernedRepeat timed(governor);
        const int64_t T = std::min<int64_t>(static_cast<int64_t>(seqs[0].size()), model.config.block_size);
        std::vector<int> context;  // (N, T)
        for (const std::vector<int>& s : seqs) context.insert(context.end(), s.end() - T, s.end());
        Var logits = gpt_forward(model, make_ids({N, T}, std::move(context)), false, unused);  // (N, T, V)
        for (int64_t n = 0; n < N; n++)
            seqs[n].push_back(sample_token(logits.value.data + (n * T + T - 1) * V, V, o.temperature, o.top_k, rng));
        if (!emit(sink, vocab, seqs[0].back())) break;
    }
}

// The incremental path: one gpt_step per token through the key/value cache
// and the mixers' running state.
void extend_step_by_step(const GPT& model, std::vector<std::vector<int>>& seqs, const SampleOptions& o, Rng& rng,
                         const Vocab& vocab, const TextSink& sink) {
    const GPTConfig& c = model.config;
    const int64_t N = static_cast<int64_t>(seqs.size()), V = c.vocab_size;
    std::vector<int> column(static_cast<size_t>(N));

    // Feeds seqs[.][from..] into a fresh state; returns the logits of the last position.
    GPTState state;
    auto prime = [&](size_t from) {
        state = make_gpt_state(model, N);
        Tensor logits;
        for (size_t t = from; t < seqs[0].size(); t++) {
            for (int64_t n = 0; n < N; n++) column[n] = seqs[n][t];
            logits = gpt_step(model, state, column.data());
        }
        return logits;
    };
    // A context longer than block_size keeps its last block_size tokens.
    const size_t keep = static_cast<size_t>(c.block_size);
    const size_t prompt = seqs[0].size();
    Tensor logits = prime(prompt > keep ? prompt - keep : 0);
    ThreadGovernor governor = make_thread_governor();  // one token of a small model may be faster on one thread
    for (int64_t i = 0; i < o.max_new_tokens; i++) {
        GovernedRepeat timed(governor);
        for (int64_t n = 0; n < N; n++) {
            column[n] = sample_token(logits.data + n * V, V, o.temperature, o.top_k, rng);  // (N, V)
            seqs[n].push_back(column[n]);
        }
        if (!emit(sink, vocab, column[0])) break;
        if (i + 1 == o.max_new_tokens) break;
        if (state.pos < c.block_size) {
            logits = gpt_step(model, state, column.data());
        } else {
            // Positions are learned only up to block_size: start again from the
            // last half of the context (one O(T) refill every block_size/2 tokens).
            logits = prime(seqs[0].size() - std::max<size_t>(1, keep / 2));
        }
    }
}

}  // namespace

std::vector<std::string> generate(GPT& model, const Vocab& vocab, const SampleOptions& o, const TextSink& sink) {
    const GPTConfig& c = model.config;
    if (!config_is_causal(c) && !o.allow_leak)
        fail("sample", "mixer '" + c.mixer + "' averages over the whole sequence, future tokens "
                       "included; such a model cannot generate text (train a causal mixer, e.g. pair_max+avg, "
                       "or pass --allow_leak to see what it writes anyway)");
    if (o.num_samples < 1 || o.max_new_tokens < 0 || o.temperature < 0.0f || o.top_k < 0)
        fail("sample", "need num_samples >= 1, max_new_tokens >= 0, temperature >= 0, top_k >= 0");
    if (o.path != "step" && o.path != "full") fail("sample", "path must be 'step' or 'full', got '" + o.path + "'");
    const std::vector<int> prompt = encode(vocab, o.start);
    if (prompt.empty()) fail("sample", "the start text is empty; give at least one character, e.g. --start=$'\\n'");
    std::vector<std::vector<int>> seqs(static_cast<size_t>(o.num_samples), prompt);
    Rng rng{o.seed, 0};
    if (!sink || sink(decode(vocab, prompt))) {
        if (o.path == "full") extend_full_sequence(model, seqs, o, rng, vocab, sink);
        else extend_step_by_step(model, seqs, o, rng, vocab, sink);
    }
    std::vector<std::string> out;
    for (const auto& s : seqs) out.push_back(decode(vocab, s));
    return out;
}

}  // namespace cg
