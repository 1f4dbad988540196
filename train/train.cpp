#include "train/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "nn/adamw.h"
#include "tensor/kernels.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/runtime_setup.h"
#include "train/sample.h"

namespace cg {

float learning_rate_at(const TrainConfig& c, int64_t step) {
    if (!c.decay_lr) return c.learning_rate;
    if (step < c.warmup_iters)
        return c.learning_rate * static_cast<float>(step + 1) / static_cast<float>(c.warmup_iters + 1);
    if (step > c.lr_decay_iters) return c.min_lr;
    const double ratio = static_cast<double>(step - c.warmup_iters) /
                         static_cast<double>(std::max<int64_t>(1, c.lr_decay_iters - c.warmup_iters));
    const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
    return static_cast<float>(c.min_lr + coeff * (c.learning_rate - c.min_lr));
}

namespace {

constexpr uint64_t kEvalSeed = 0x5EED0E7A1ull;  // fixed: every evaluation sees the same batches
constexpr int64_t kWarmupSteps = 3;            // left out of the timing median

void check_train_config(const TrainConfig& c) {
    auto need = [](bool ok, const std::string& msg) {
        if (!ok) fail("config", msg);
    };
    need(c.init_from == "scratch" || c.init_from == "resume",
         "init_from must be 'scratch' or 'resume', got '" + c.init_from + "'");
    need(c.batch_size >= 1, "batch_size must be at least 1");
    need(c.max_iters >= 0, "max_iters must be 0 or more");
    need(c.eval_interval >= 1 && c.eval_iters >= 1 && c.log_interval >= 1,
         "eval_interval, eval_iters and log_interval must be at least 1");
    need(c.learning_rate > 0.0f && c.min_lr >= 0.0f, "learning_rate must be positive and min_lr not negative");
    need(c.beta1 >= 0.0f && c.beta1 < 1.0f && c.beta2 >= 0.0f && c.beta2 < 1.0f, "beta1 and beta2 must be in [0, 1)");
    validate_config(c.model);  // before loading data, so a typo fails at once
}

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

// log.csv: one row per logged step or evaluation; empty cells where a value
// does not apply. On resume, rows past the checkpoint's step are dropped.
struct CsvLog {
    std::ofstream out;

    CsvLog(const std::string& path, int64_t resume_step) {
        std::vector<std::string> kept;
        if (resume_step >= 0) {
            std::ifstream in(path);
            for (std::string line; std::getline(in, line);) {
                if (kept.empty()) { kept.push_back(line); continue; }
                if (std::stoll(line.substr(0, line.find(','))) <= resume_step) kept.push_back(line);
            }
        }
        out.open(path, std::ios::trunc);
        if (!out) fail("train", "cannot write '" + path + "'");
        if (kept.empty()) kept.push_back("step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s");
        for (const std::string& l : kept) out << l << "\n";
        out.flush();
    }
    void step(int64_t step, float loss, float lr, float norm, double ms, double tok_s) {
        out << step << "," << loss << ",," << lr << "," << norm << "," << fmt("%.2f", ms) << ","
            << fmt("%.0f", tok_s) << "\n";
        out.flush();
    }
    void eval(int64_t step, float train_loss, float val_loss) {
        out << step << "," << train_loss << "," << val_loss << ",,,,\n";
        out.flush();
    }
};

}  // namespace

std::string with_commas(int64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
}

TrainReport train(TrainConfig config, std::ostream& log) {
    check_train_config(config);
    const int threads = set_num_threads(config.threads);
    const std::string ckpt_path = config.out_dir + "/ckpt.bin";
    Dataset data = load_dataset(config.data_dir);

    // The model, optimizer and random streams: fresh, or as the checkpoint left them.
    GPT model;
    RunState state;
    Checkpoint ckpt;
    const bool resume = config.init_from == "resume";
    if (resume) {
        ckpt = load_checkpoint(ckpt_path);
        // The architecture and seed come from the checkpoint; the schedule,
        // logging and paths from the command line (so a run can be extended).
        config.model = ckpt.config.model;
        config.seed = ckpt.config.seed;
        model = std::move(ckpt.model);
        state = ckpt.state;
        if (data.vocab != ckpt.vocab)
            fail("train", "the vocabulary of '" + config.data_dir + "' differs from the checkpoint's");
    } else {
        config.model.vocab_size = static_cast<int64_t>(data.vocab.size());
        model = make_gpt(config.model, config.seed);
        state = fresh_run_state(config.seed);
    }
    std::vector<Parameter*> params = gpt_parameters(model);
    AdamW opt = make_adamw(params, AdamWConfig{config.beta1, config.beta2, 1e-8f, config.weight_decay});
    if (resume) restore_optimizer(ckpt, opt);
    ckpt = Checkpoint{};

    std::filesystem::create_directories(config.out_dir);
    CsvLog csv(config.out_dir + "/log.csv", resume ? state.step : -1);

    const GPTConfig& mc = model.config;
    const int64_t B = config.batch_size, T = mc.block_size;
    log << "causalgrad train: " << (resume ? "resuming at step " + std::to_string(state.step) : std::string("from scratch"))
        << "\n";
    for (const auto& [k, v] : config_pairs(config)) log << "  " << k << " = " << v << "\n";
    log << "  parameters: " << fmt("%.2fM", count_parameters(model, false) / 1e6) << " ("
        << with_commas(count_parameters(model, true)) << " without position embeddings)\n";
    log << "  threads: " << (config.threads > 0 ? std::to_string(threads) : "1 or " + std::to_string(threads) + ", chosen by measuring")
        << " (OpenBLAS " << blas_num_threads() << " inside each, core " << blas_core_name() << "; idle threads: "
        << omp_wait_setting() << ")\n";
    log << "  data: vocab " << data.vocab.size() << ", train " << with_commas(static_cast<int64_t>(data.train.size()))
        << " tokens, val " << with_commas(static_cast<int64_t>(data.val.size())) << " tokens\n";
    log << "  tokens per step: " << with_commas(B * T) << "\n";
    if (!config_is_causal(mc))
        log << "warning: mixer '" << mc.mixer << "' averages over the whole sequence, so every "
            << "position sees future tokens: its losses are not honest next-token losses\n";
    log.flush();

    TrainReport report;
    report.best_val_loss = state.best_val_loss;
    std::vector<double> step_ms;
    ThreadGovernor governor = make_thread_governor();
    for (int64_t step = state.step;; step++) {
        const bool last = step >= config.max_iters;
        // Evaluate (and checkpoint) the state after `step` updates; the state a
        // resumed run starts from was evaluated before it was saved.
        if ((step % config.eval_interval == 0 || last) && !(resume && step == state.step && step > 0)) {
            const float train_loss = estimate_loss(model, data.train, B, T, config.eval_iters, kEvalSeed);
            const float val_loss = estimate_loss(model, data.val, B, T, config.eval_iters, kEvalSeed + 1);
            log << "step " << step << ": train loss " << fmt("%.4f", train_loss) << ", val loss "
                << fmt("%.4f", val_loss) << "\n";
            csv.eval(step, train_loss, val_loss);
            report.last_val_loss = val_loss;
            if (val_loss < state.best_val_loss || config.always_save_checkpoint) {
                state.best_val_loss = std::min(state.best_val_loss, val_loss);
                report.best_val_loss = state.best_val_loss;
                if (step > 0) {
                    state.step = step;
                    save_checkpoint(ckpt_path, config, data.vocab, model, opt, state);
                    log << "saved checkpoint to " << ckpt_path << "\n";
                }
            }
            log.flush();
        }
        if (last) {
            report.final_step = step;
            break;
        }

        governor_begin(governor);
        const auto t0 = std::chrono::steady_clock::now();
        const float lr = learning_rate_at(config, step);
        Batch batch = get_batch(data.train, B, T, state.data_rng);
        Var logits = gpt_forward(model, batch.x, true, state.dropout_rng);  // (B, T, V)
        Var loss = cross_entropy(logits, batch.y);
        backward(loss);
        const float norm = clip_grad_norm(params, config.grad_clip);
        adamw_step(opt, lr);
        zero_grad(params);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        governor_end(governor, ms);

        const float loss_value = loss.value.item();
        report.step_losses.push_back(loss_value);
        if (static_cast<int64_t>(report.step_losses.size()) > kWarmupSteps) step_ms.push_back(ms);
        if (!std::isfinite(loss_value))
            fail("train", "loss became " + std::to_string(loss_value) + " at step " + std::to_string(step) +
                              "; lower --learning_rate or check the data");
        if (step % config.log_interval == 0) {
            const double tok_s = static_cast<double>(B * T) / (ms / 1000.0);
            log << "step " << std::setw(5) << step << "/" << config.max_iters << " | loss "
                << fmt("%.4f", loss_value) << " | lr " << fmt("%.2e", lr) << " | norm "
                << fmt("%.4f", norm) << " | " << fmt("%.1f", ms) << " ms | " << fmt("%.0f", tok_s)
                << " tok/s\n";
            log.flush();
            csv.step(step, loss_value, lr, norm, ms, tok_s);
        }
    }
    if (!step_ms.empty()) {
        std::sort(step_ms.begin(), step_ms.end());
        report.median_ms = step_ms[step_ms.size() / 2];
        log << "median " << fmt("%.1f", report.median_ms) << " ms/step over " << step_ms.size()
            << " steps (" << fmt("%.0f", static_cast<double>(B * T) / (report.median_ms / 1000.0)) << " tok/s)\n";
    }
    return report;
}

}  // namespace cg
