#include "train/train.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>

#include "nn/adamw.h"
#include "tensor/kernels.h"
#include "train/checkpoint.h"
#include "train/resources.h"
#include "train/run_lock.h"
#include "train/run_log.h"
#include "train/safe_file.h"
#include "train/stop_signal.h"
#include "train/dataset.h"
#include "train/distributed.h"
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
    need(!(c.overwrite && c.init_from == "resume"), "--overwrite is for runs from scratch; drop it to resume");
    need(c.batch_size >= 1, "batch_size must be at least 1");
    need(c.grad_accum >= 1, "grad_accum must be at least 1");
    need(c.max_iters >= 0, "max_iters must be 0 or more");
    need(c.eval_interval >= 1 && c.eval_iters >= 1 && c.log_interval >= 1,
         "eval_interval, eval_iters and log_interval must be at least 1");
    need(c.warmup_iters >= 0 && c.lr_decay_iters >= 0, "warmup_iters and lr_decay_iters must be 0 or more");
    for (float v : {c.learning_rate, c.min_lr, c.weight_decay, c.beta1, c.beta2, c.grad_clip, c.model.dropout})
        need(std::isfinite(v), "learning_rate, min_lr, weight_decay, beta1, beta2, grad_clip and dropout must be finite");
    need(c.learning_rate > 0.0f && c.min_lr >= 0.0f, "learning_rate must be positive and min_lr not negative");
    need(c.weight_decay >= 0.0f && c.grad_clip >= 0.0f, "weight_decay and grad_clip must not be negative");
    need(c.beta1 >= 0.0f && c.beta1 < 1.0f && c.beta2 >= 0.0f && c.beta2 < 1.0f, "beta1 and beta2 must be in [0, 1)");
    check_thread_count(c.threads, "config");
    validate_config(c.model);  // before loading data, so a typo fails at once
}

// Both splits must hold more than one window of block_size + 1 tokens.
void check_splits(const Dataset& data, const std::string& dir, int64_t T) {
    for (const auto& [name, tokens] : {std::pair<const char*, const std::vector<uint16_t>*>{"train.bin", &data.train},
                                       {"val.bin", &data.val}})
        if (static_cast<int64_t>(tokens->size()) <= T)
            fail("data", "'" + dir + "/" + name + "' holds " + std::to_string(tokens->size()) +
                             " tokens, too few for block_size " + std::to_string(T) +
                             "; lower --block_size or prepare a longer text");
}

// On resume the model comes from the checkpoint: a model setting given now must agree with it.
void check_resume_settings(const TrainConfig& given, const TrainConfig& saved) {
    const auto now = config_pairs(given), then = config_pairs(saved);
    for (const std::string& key : given.model_keys_given)
        for (size_t i = 0; i < now.size(); i++)
            if (now[i].first == key && now[i].second != then[i].second)
                fail("train", "on resume the model comes from the checkpoint, where " + key + " is " + then[i].second +
                                  ", not " + now[i].second + "; drop --" + key +
                                  ", or train from scratch into another out_dir");
}

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

// "42s", "7m05s", "2h13m": the time left, for the progress line.
std::string duration_text(double seconds) {
    const int64_t s = static_cast<int64_t>(seconds + 0.5);
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
    else if (s < 3600) std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
    else std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
    return buf;
}

}  // namespace

std::string with_commas(int64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
}

TrainReport train(TrainConfig config, std::ostream& log) {
    // ---- everything is checked before anything is written ----
    check_train_config(config);
    const std::string ckpt_path = config.out_dir + "/ckpt.bin";
    Dataset data = load_dataset(config.data_dir);

    // The model, optimizer and random streams: fresh, or as the checkpoint left them.
    GPT model;
    RunState state;
    Checkpoint ckpt;
    const bool resume = config.init_from == "resume";
    // Every process loads the data and the checkpoint; rank 0 alone owns out_dir.
    const ProcessGroup& group = process_group();
    const bool lead = group.rank == 0;
    if (resume) {
        ckpt = load_checkpoint(ckpt_path);
        check_resume_settings(config, ckpt.config);
        // The architecture and seed come from the checkpoint; the schedule,
        // logging and paths from the command line (so a run can be extended).
        config.model = ckpt.config.model;
        config.seed = ckpt.config.seed;
        if (data.vocab != ckpt.vocab)
            fail("train", "the vocabulary of '" + config.data_dir + "' differs from the checkpoint's");
    } else {
        if (lead && !config.overwrite && ::access(ckpt_path.c_str(), F_OK) == 0)
            fail("train", "'" + ckpt_path + "' holds an earlier run; continue it with --init_from=resume, "
                          "or replace it with --overwrite");
        config.model.vocab_size = static_cast<int64_t>(data.vocab.size());
    }
    check_splits(data, config.data_dir, config.model.block_size);
    check_fits_in_memory(training_bytes(config.model, config.batch_size), "train");
    RunLogStart log_start;
    if (lead) {
        check_writable_dir(config.out_dir, "train");
        log_start = plan_run_log(config.out_dir + "/log.csv", resume ? ckpt.state.step : -1);
    }
    const int thread_request = threads_per_process(config.threads, group);
    const int threads = set_num_threads(thread_request);
    if (resume) {
        model = std::move(ckpt.model);
        state = ckpt.state;
    } else {
        model = make_gpt(config.model, config.seed);
        state = fresh_run_state(config.seed);
    }
    std::vector<Parameter*> params = gpt_parameters(model);
    AdamW opt = make_adamw(params, AdamWConfig{config.beta1, config.beta2, 1e-8f, config.weight_decay});
    if (resume) restore_optimizer(ckpt, opt);
    ckpt = Checkpoint{};
    GradientExchange exchange = make_gradient_exchange(params);

    // ---- the run owns out_dir from here on ----
    RunLock lock;
    RunLog csv;
    if (lead) {
        std::filesystem::create_directories(config.out_dir);
        lock = lock_out_dir(config.out_dir);
        // --overwrite replaces the earlier run as a whole: its checkpoint must not
        // outlive its log, or a later resume would pair it with this run's rows.
        if (!resume && ::unlink(ckpt_path.c_str()) != 0 && errno != ENOENT)
            fail("train", "cannot remove the earlier '" + ckpt_path + "' (" + std::strerror(errno) + ")");
        csv = open_run_log(log_start);
    }
    if (!csv.warning.empty()) log << "warning: " << csv.warning << "\n";
    const StopSignals stop_signals;
    const int64_t first_step = state.step;
    auto stopped_at = [&](int64_t step, const std::string& what) {
        return what + " at step " + std::to_string(step) + "; stopped. " +
               (::access(ckpt_path.c_str(), F_OK) == 0 ? "'" + ckpt_path + "' is untouched"
                                                         : std::string("no checkpoint was saved")) +
               "; lower --learning_rate or --weight_decay, or set --grad_clip";
    };

    const GPTConfig& mc = model.config;
    const int64_t B = config.batch_size, T = mc.block_size;
    const int64_t tokens_per_step = group.size * config.grad_accum * B * T;
    // eval_iters batches of the step's global rows, read B rows at a time (the same rows; see distributed.h).
    const int64_t eval_batches = config.eval_iters * group.size * config.grad_accum;
    log << "causalgrad train: " << (resume ? "resuming at step " + std::to_string(state.step) : std::string("from scratch"))
        << "\n";
    for (const auto& [k, v] : config_pairs(config)) log << "  " << k << " = " << v << "\n";
    log << "  parameters: " << fmt("%.2fM", count_parameters(model, false) / 1e6) << " ("
        << with_commas(count_parameters(model, true)) << " without position embeddings)\n";
    log << "  threads: " << (thread_request > 0 ? std::to_string(threads) : "1 or " + std::to_string(threads) + ", chosen by measuring")
        << " (OpenBLAS " << blas_num_threads() << " inside each, core " << blas_core_name() << "; idle threads: "
        << omp_wait_setting() << ")\n";
    log << "  processes: " << group.size << " x " << threads << " threads (" << group.local_size
        << " on this machine; MPI: " << process_group_library() << "), all-reduce "
        << with_commas(allreduce_bytes_per_step(exchange, group)) << " bytes per step\n";
    log << "  data: vocab " << data.vocab.size() << ", train " << with_commas(static_cast<int64_t>(data.train.size()))
        << " tokens, val " << with_commas(static_cast<int64_t>(data.val.size())) << " tokens\n";
    log << "  tokens per step: " << with_commas(tokens_per_step) << " (processes x grad_accum x batch_size x block_size = "
        << group.size << " x " << config.grad_accum << " x " << B << " x " << T << ")\n";
    if (!config_is_causal(mc))
        log << "warning: mixer '" << mc.mixer << "' averages over the whole sequence, so every "
            << "position sees future tokens: its losses are not honest next-token losses\n";
    log.flush();

    TrainReport report;
    report.best_val_loss = state.best_val_loss;
    std::vector<double> step_ms;
    ThreadGovernor governor = make_thread_governor();
    const auto run_start = std::chrono::steady_clock::now();  // for the ETA: evaluations included
    for (int64_t step = state.step;; step++) {
        const bool last = step >= config.max_iters;
        // Evaluate (and checkpoint) the state after `step` updates; the state a
        // resumed run starts from was evaluated before it was saved.
        if (lead && (step % config.eval_interval == 0 || last) && !(step == first_step && csv.has_eval_at_start)) {
            const float train_loss = estimate_loss(model, data.train, B, T, eval_batches, kEvalSeed);
            const float val_loss = estimate_loss(model, data.val, B, T, eval_batches, kEvalSeed + 1);
            if (!std::isfinite(train_loss) || !std::isfinite(val_loss))
                fail("train", stopped_at(step, "the evaluated loss became " + fmt("%g", train_loss) + " (train), " +
                                                   fmt("%g", val_loss) + " (val)"));
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
        const StepGradient gradient =
            compute_step_gradient(model, data.train, B, config.grad_accum, state, exchange, group);
        const float loss_value = gradient.loss;
        const float norm = clip_grad_norm(params, config.grad_clip);
        // Before the update, so the weights in memory stay those of the last finite step.
        if (!std::isfinite(loss_value) || !std::isfinite(norm))
            fail("train", stopped_at(step, "the loss became " + fmt("%g", loss_value) + " and the gradient norm " +
                                               fmt("%g", norm)));
        adamw_step(opt, lr);
        zero_grad(params);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        governor_end(governor, ms);

        report.step_losses.push_back(loss_value);
        if (static_cast<int64_t>(report.step_losses.size()) > kWarmupSteps) step_ms.push_back(ms);
        if (step % config.log_interval == 0) {
            const double tok_s = static_cast<double>(tokens_per_step) / (ms / 1000.0);
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
            const double left = elapsed / static_cast<double>(step + 1 - first_step) *
                                static_cast<double>(config.max_iters - step - 1);
            log << "step " << std::setw(5) << step << "/" << config.max_iters << " | loss "
                << fmt("%.4f", loss_value) << " | lr " << fmt("%.2e", lr) << " | norm "
                << fmt("%.4f", norm) << " | " << fmt("%.1f", ms) << " ms | " << fmt("%.0f", tok_s)
                << " tok/s | ETA " << duration_text(left) << "\n";
            log.flush();
            csv.step(step, loss_value, lr, norm, ms, tok_s);
        }
        if (const int signal = gradient.stop_signal) {
            // The step is done: save it, so the run continues from here.
            state.step = step + 1;
            report.final_step = state.step;
            report.stopped_by_signal = signal;
            const char* name = stop_signal_name(signal);
            if (!lead) return report;
            try {
                save_checkpoint(ckpt_path, config, data.vocab, model, opt, state);
                log << "stopped by " << name << " after step " << step << ": saved checkpoint to " << ckpt_path
                    << "; continue with: causalgrad train --out_dir=" << config.out_dir << " --init_from=resume\n";
            } catch (const Error& e) {
                log << "stopped by " << name << " after step " << step << ", without saving: " << e.what() << "\n";
            }
            log.flush();
            return report;
        }
    }
    if (!step_ms.empty()) {
        std::sort(step_ms.begin(), step_ms.end());
        report.median_ms = step_ms[step_ms.size() / 2];
        log << "median " << fmt("%.1f", report.median_ms) << " ms/step over " << step_ms.size()
            << " steps (" << fmt("%.0f", static_cast<double>(tokens_per_step) / (report.median_ms / 1000.0)) << " tok/s)\n";
        if (!exchange.allreduce_ms.empty()) {
            std::vector<double>& ar = exchange.allreduce_ms;
            std::sort(ar.begin(), ar.end());
            log << "all-reduce: median " << fmt("%.2f", ar[ar.size() / 2]) << " ms per step, mean "
                << fmt("%.2f", std::accumulate(ar.begin(), ar.end(), 0.0) / static_cast<double>(ar.size()))
                << " ms with the waits for rank 0's evaluations (" << with_commas(allreduce_bytes_per_step(exchange, group))
                << " bytes)\n";
        }
    }
    return report;
}

}  // namespace cg
