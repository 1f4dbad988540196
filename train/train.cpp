#include "train/train.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <ostream>

#include "tensor/kernels.h"
#include "tensor/runtime_setup.h"
#include "tensor/thread_governor.h"
#include "io/run_lock.h"
#include "io/safe_file.h"
#include "io/text.h"
#include "nn/adamw.h"
#include "data/dataset.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/resources.h"
#include "train/run_log.h"
#include "train/stop_signal.h"

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
    need(c.attention == "fused" || c.attention == "composed",
         "attention must be 'fused' or 'composed', got '" + c.attention + "'");
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
    parse_dtype(c.dtype, "config");
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

// Two spellings of one folder (data, ./data, an absolute path) are the same data.
bool same_folder(const std::string& a, const std::string& b) {
    std::error_code ec;
    if (std::filesystem::equivalent(a, b, ec)) return true;
    return a == b;
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

StepGradient compute_step_gradient(GPT& model, const std::vector<uint16_t>& tokens, int64_t batch_size,
                                   int grad_accum, RunState& state, GradientAllReduce& all_reduce,
                                   const ProcessGroup& group) {
    const int64_t B = batch_size, T = model.config.block_size;
    const uint64_t dropout_start = state.dropout_rng.counter;
    uint64_t dropout_end = dropout_start;
    float loss_sum = 0;
    for (int k = 0; k < grad_accum; k++) {
        const int64_t micro = static_cast<int64_t>(group.rank) * grad_accum + k;  // index in the global step
        Rng rows{state.data_rng.seed, state.data_rng.counter + static_cast<uint64_t>(micro * B)};
        Rng dropout{micro == 0 ? state.dropout_rng.seed : rng_bits(state.dropout_rng.seed, static_cast<uint64_t>(micro)),
                    dropout_start};
        Batch batch = get_batch(tokens, B, T, rows);
        Var logits = gpt_forward(model, batch.x, true, dropout);  // (B, T, V)
        Var loss = cross_entropy(logits, batch.y);
        backward(loss);  // adds into the grads
        loss_sum += loss.value.item();
        dropout_end = dropout.counter;  // the same for every micro-batch: the draws depend on shapes only
    }
    const int64_t parts = static_cast<int64_t>(group.size) * grad_accum;
    state.data_rng.counter += static_cast<uint64_t>(parts * B);
    state.dropout_rng.counter = dropout_end;

    StepGradient step;
    float stop = stop_requested() ? 1.0f : 0.0f;
    if (group.size > 1) {
        all_reduce_gradients(all_reduce, 1.0f / static_cast<float>(parts), loss_sum, stop);
    } else if (grad_accum > 1) {
        for (const Parameter* p : all_reduce.params) scale_forward(p->grad(), p->grad(), 1.0f / static_cast<float>(parts));
    }
    step.loss = loss_sum / static_cast<float>(parts);
    // A signal on any process stops all of them after this step; its own name when it has one.
    if (stop > 0) step.stop_signal = stop_requested() ? stop_requested() : SIGTERM;
    return step;
}

StepResult train_step(GPT& model, AdamW& opt, const TrainConfig& config, const std::vector<uint16_t>& tokens,
                      int64_t step, RunState& state, GradientAllReduce& all_reduce, const ProcessGroup& group) {
    StepResult r;
    r.lr = learning_rate_at(config, step);
    // batch -> forward -> cross-entropy -> backward, for every micro-batch, summed over processes;
    // with --dtype=bfloat16 their products read bf16 copies, the weights' made once here
    StepGradient gradient;
    {
        Autocast autocast(dtype_of(config));
        gradient = compute_step_gradient(model, tokens, config.batch_size, config.grad_accum, state, all_reduce, group);
    }
    r.loss = gradient.loss;
    r.stop_signal = gradient.stop_signal;
    r.grad_norm = clip_grad_norm(opt.params, config.grad_clip);
    // A non-finite step is not taken: the weights stay those of the last finite one.
    if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) return r;
    adamw_step(opt, r.lr);
    zero_grad(opt.params);  // the one place gradients are cleared
    r.updated = true;
    return r;
}

std::string with_commas(int64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
}

namespace {

// Everything a run holds while it trains. It is made in place and never moved:
// the optimizer and the gradient all-reduce point into the model.
struct Run {
    TrainConfig config;
    std::string ckpt_path, last_path;  // the best state, and the latest when it is not the best
    bool resume = false;
    std::string resumed_from;          // the file a resumed run started from
    std::string data_note;             // resuming on other data than the checkpoint's
    int64_t evals_after_start = 0;     // evaluations of states this run trained
    bool improved = false;             // one of them lowered the best val loss
    const ProcessGroup* group = nullptr;
    bool lead = false;  // rank 0: prints, evaluates, owns out_dir
    Dataset data;
    GPT model;
    RunState state;
    AdamW opt;
    GradientAllReduce all_reduce;
    int thread_request = 0, threads = 0;
    RunLogStart log_start;
    RunLock lock;
    RunLog csv;
    int64_t first_step = 0;
    int64_t tokens_per_step = 0;
    int64_t eval_batches = 0;
};

// Checks everything (settings, data, checkpoint, out_dir, memory, threads)
// and builds the model, optimizer and random streams, fresh or as the
// checkpoint left them. Writes nothing.
void open_run(Run& run, TrainConfig config) {
    check_train_config(config);
    run.ckpt_path = best_checkpoint_path(config.out_dir);
    run.last_path = last_checkpoint_path(config.out_dir);
    run.data = load_dataset(config.data_dir);
    run.resume = config.init_from == "resume";
    // Every process loads the data and the checkpoint; rank 0 alone owns out_dir.
    run.group = &process_group();
    run.lead = run.group->rank == 0;
    Checkpoint ckpt;
    if (run.resume) {
        // The newer of last.bin and ckpt.bin: the run continues from its latest state.
        RunCheckpoint from = load_run_checkpoint(config.out_dir, "last", "train");
        ckpt = std::move(from.ckpt);
        run.resumed_from = from.path;
        check_resume_settings(config, ckpt.config);
        if (!same_folder(config.data_dir, ckpt.config.data_dir) && from.best_exists)
            run.data_note = "the checkpoint trained on '" + ckpt.config.data_dir + "' and this run trains on '" +
                            config.data_dir + "': the best val loss so far, " + fmt("%.4f", from.best_val_loss) +
                            ", was measured on that data, and '" + run.ckpt_path +
                            "' keeps it unless val goes below it; every other evaluation saves the state to '" +
                            run.last_path + "'";
        // The architecture and seed come from the checkpoint; the schedule,
        // logging and paths from the command line (so a run can be extended).
        config.model = ckpt.config.model;
        config.seed = ckpt.config.seed;
        if (run.data.vocab != ckpt.vocab)
            fail("train", "the vocabulary of '" + config.data_dir + "' differs from the checkpoint's");
    } else {
        for (const std::string& path : {run.ckpt_path, run.last_path})
            if (run.lead && !config.overwrite && ::access(path.c_str(), F_OK) == 0)
                fail("train", "'" + path + "' holds an earlier run; continue it with --init_from=resume, "
                              "or replace it with --overwrite");
        const std::string log_path = config.out_dir + "/log.csv";
        if (run.lead && !config.overwrite && ::access(log_path.c_str(), F_OK) == 0)
            fail("train", "'" + log_path + "' holds the log of an earlier run (with no checkpoint to resume); "
                          "train into another --out_dir, or replace it with --overwrite");
        config.model.vocab_size = static_cast<int64_t>(run.data.vocab.size());
    }
    check_splits(run.data, config.data_dir, config.model.block_size);
    check_fits_in_memory(training_bytes(config.model, config.batch_size), "train");
    if (run.lead) {
        check_writable_dir(config.out_dir, "train");
        run.log_start = plan_run_log(config.out_dir + "/log.csv", run.resume ? ckpt.state.step : -1);
    }
    run.thread_request = threads_per_process(config.threads, *run.group);
    run.threads = set_num_threads(run.thread_request);
    if (run.resume) {
        run.model = std::move(ckpt.model);
        run.state = ckpt.state;
    } else {
        run.model = make_gpt(config.model, config.seed);
        run.state = fresh_run_state(config.seed);
    }
    run.model.composed_attention = config.attention == "composed";
    const std::vector<Parameter*> params = gpt_parameters(run.model);
    run.opt = make_adamw(params, adamw_config(config));
    if (run.resume) restore_optimizer(ckpt, run.opt);
    run.all_reduce = make_gradient_all_reduce(params);
    run.first_step = run.state.step;
    run.tokens_per_step = run.group->size * config.grad_accum * config.batch_size * config.model.block_size;
    // eval_iters batches of the step's global rows, read B rows at a time (the same rows; see compute_step_gradient).
    run.eval_batches = config.eval_iters * run.group->size * config.grad_accum;
    run.config = std::move(config);
}

// From here on the run owns out_dir: the lock, the log.
void claim_out_dir(Run& run) {
    if (!run.lead) return;
    std::filesystem::create_directories(run.config.out_dir);
    run.lock = lock_out_dir(run.config.out_dir);
    // --overwrite replaces the earlier run as a whole: its checkpoint must not
    // outlive its log, or a later resume would pair it with this run's rows.
    for (const std::string& path : {run.ckpt_path, run.last_path})
        if (!run.resume && ::unlink(path.c_str()) != 0 && errno != ENOENT)
            fail("train", "cannot remove the earlier '" + path + "' (" + std::strerror(errno) + ")");
    run.csv = open_run_log(run.log_start);
}

// The start-up table: every resolved setting, the sizes, the threads.
void print_start(Run& run, std::ostream& log) {
    const TrainConfig& config = run.config;
    const ProcessGroup& group = *run.group;
    if (!run.csv.warning.empty()) log << "warning: " << run.csv.warning << "\n";
    log << "causalgrad train: "
        << (run.resume ? "resuming at step " + std::to_string(run.state.step) + " from " + run.resumed_from
                       : std::string("from scratch"))
        << "\n";
    if (!run.data_note.empty()) log << "note: " << run.data_note << "\n";
    for (const auto& [k, v] : config_pairs(config)) log << "  " << k << " = " << v << "\n";
    log << "  parameters: " << fmt("%.2fM", count_parameters(run.model, false) / 1e6) << " ("
        << with_commas(count_parameters(run.model, true)) << " without position embeddings)\n";
    log << "  threads: "
        << (run.thread_request > 0 ? std::to_string(run.threads) : "1 or " + std::to_string(run.threads) + ", chosen by measuring")
        << " (OpenBLAS " << blas_num_threads() << " inside each, core " << blas_core_name() << "; idle threads: "
        << omp_wait_setting() << ")\n";
    log << "  processes: " << group.size << " x " << run.threads << " threads (" << group.local_size
        << " on this machine; MPI: " << process_group_library() << "), all-reduce "
        << with_commas(all_reduce_bytes_per_step(run.all_reduce, group)) << " bytes per step\n";
    log << "  data: vocab " << run.data.vocab.size() << ", train "
        << with_commas(static_cast<int64_t>(run.data.train.size())) << " tokens, val "
        << with_commas(static_cast<int64_t>(run.data.val.size())) << " tokens\n";
    log << "  tokens per step: " << with_commas(run.tokens_per_step)
        << " (processes x grad_accum x batch_size x block_size = " << group.size << " x " << config.grad_accum << " x "
        << config.batch_size << " x " << config.model.block_size << ")\n";
    if (!config_is_causal(run.model.config))
        log << "warning: mixer '" << run.model.config.mixer << "' averages over the whole sequence, so every "
            << "position sees future tokens: its losses are not honest next-token losses\n";
    log.flush();
}

// What a failure after `step` says: where the checkpoint stands, and the fix.
std::string stopped_at(const Run& run, int64_t step, const std::string& what) {
    std::string kept;
    for (const std::string& path : {run.ckpt_path, run.last_path})
        if (::access(path.c_str(), F_OK) == 0) kept += (kept.empty() ? "'" : " and '") + path + "'";
    return what + " at step " + std::to_string(step) + "; stopped. " +
           (kept.empty() ? std::string("no checkpoint was saved") : kept + (kept.find(" and ") != std::string::npos ? " are" : " is") + " untouched") +
           "; lower --learning_rate or --weight_decay, or set --grad_clip";
}

// Train and val loss of the weights after `step` updates, logged; ckpt.bin
// when val improves (or always, with always_save_checkpoint), else last.bin,
// so the state every evaluation sees is kept.
void evaluate_and_save(Run& run, int64_t step, TrainReport& report, std::ostream& log) {
    const int64_t B = run.config.batch_size, T = run.model.config.block_size;
    Autocast autocast(dtype_of(run.config));  // evaluated as trained, as nanoGPT does
    const float train_loss = estimate_loss(run.model, run.data.train, B, T, run.eval_batches, kEvalSeed);
    const LossEstimate val = estimate_loss_with_error(run.model, run.data.val, B, T, run.eval_batches, kEvalSeed + 1);
    const float val_loss = val.mean;
    if (!std::isfinite(train_loss) || !std::isfinite(val_loss))
        fail("train", stopped_at(run, step, "the evaluated loss became " + fmt("%g", train_loss) + " (train), " +
                                                fmt("%g", val_loss) + " (val)"));
    log << "step " << step << ": train loss " << fmt("%.4f", train_loss) << ", val loss " << fmt("%.4f", val_loss);
    if (std::isfinite(val.standard_error)) log << " ± " << fmt("%.4f", val.standard_error);
    log << "\n";
    run.csv.eval(step, train_loss, val_loss);
    report.last_val_loss = val_loss;
    const bool trained = step > run.first_step;  // a state this run made, not the one it started from
    const bool improved = val_loss < run.state.best_val_loss;
    if (trained) {
        run.evals_after_start++;
        run.improved = run.improved || improved;
    }
    if (improved || run.config.always_save_checkpoint) {
        run.state.best_val_loss = std::min(run.state.best_val_loss, val_loss);
        report.best_val_loss = run.state.best_val_loss;
        if (step > 0) {
            run.state.step = step;
            save_checkpoint(run.ckpt_path, run.config, run.data.vocab, run.model, run.opt, run.state);
            log << "saved checkpoint to " << run.ckpt_path << "\n";
            // last.bin is now older than ckpt.bin: resume would not read it, so it goes.
            ::unlink(run.last_path.c_str());
        }
    } else if (trained) {
        run.state.step = step;
        save_checkpoint(run.last_path, run.config, run.data.vocab, run.model, run.opt, run.state);
        log << "saved the state to " << run.last_path << " (val did not improve on the best, "
            << fmt("%.4f", run.state.best_val_loss) << ")\n";
    }
    log.flush();
}

// The fixed-width progress line, and its row in log.csv.
void print_progress(Run& run, int64_t step, const StepResult& r, double ms, const TimeSpent& spent, std::ostream& log) {
    const double tok_s = static_cast<double>(run.tokens_per_step) / (ms / 1000.0);
    const double left = time_left(run.first_step, step, run.config.max_iters, run.config.eval_interval, spent);
    log << "step " << std::setw(5) << step << "/" << run.config.max_iters << " | loss " << fmt("%.4f", r.loss)
        << " | lr " << fmt("%.2e", r.lr) << " | norm " << fmt("%.4f", r.grad_norm) << " | " << fmt("%.1f", ms)
        << " ms | " << fmt("%.0f", tok_s) << " tok/s | ETA " << duration_text(left) << "\n";
    log.flush();
    run.csv.step(step, r.loss, r.lr, r.grad_norm, ms, tok_s);
}

// A stop signal arrived during `step`: the step is done, so save it and say
// how to continue.
void save_after_signal(Run& run, int64_t step, int signal, std::ostream& log) {
    run.state.step = step + 1;
    if (!run.lead) return;
    const char* name = stop_signal_name(signal);
    // ckpt.bin keeps the best state; with always_save_checkpoint it is the latest anyway.
    const std::string& path = run.config.always_save_checkpoint ? run.ckpt_path : run.last_path;
    try {
        save_checkpoint(path, run.config, run.data.vocab, run.model, run.opt, run.state);
        log << "stopped by " << name << " after step " << step << ": saved checkpoint to " << path
            << "; continue with: causalgrad train --out_dir=" << run.config.out_dir << " --init_from=resume\n";
    } catch (const Error& e) {
        log << "stopped by " << name << " after step " << step << ", without saving: " << e.what() << "\n";
    }
    log.flush();
}

// The median step time (warm-up left out) and, over MPI, the all-reduce's.
void print_summary(const Run& run, TrainReport& report, const std::vector<double>& step_ms, std::ostream& log) {
    if (step_ms.empty()) return;
    report.median_ms = median(step_ms);
    log << "median " << fmt("%.1f", report.median_ms) << " ms/step over " << step_ms.size() << " steps ("
        << fmt("%.0f", static_cast<double>(run.tokens_per_step) / (report.median_ms / 1000.0)) << " tok/s)\n";
    const std::vector<double>& ar = run.all_reduce.all_reduce_ms;
    if (ar.empty()) return;
    log << "all-reduce: median " << fmt("%.2f", median(ar)) << " ms per step, mean "
        << fmt("%.2f", std::accumulate(ar.begin(), ar.end(), 0.0) / static_cast<double>(ar.size()))
        << " ms with the waits for rank 0's evaluations (" << with_commas(all_reduce_bytes_per_step(run.all_reduce, *run.group))
        << " bytes)\n";
}

// The last lines of a run whose evaluations never lowered the best val loss:
// where its work is, since ckpt.bin does not hold it.
void print_never_improved(const Run& run, std::ostream& log) {
    if (run.evals_after_start == 0 || run.improved) return;
    const bool has_best = ::access(run.ckpt_path.c_str(), F_OK) == 0;
    log << "val loss never improved on " << fmt("%.4f", run.state.best_val_loss) << " in this run's "
        << run.evals_after_start << " evaluations: ";
    if (run.config.always_save_checkpoint) {
        log << run.ckpt_path << " holds the final state anyway (--always_save_checkpoint)\n";
        return;
    }
    log << (has_best ? run.ckpt_path + " keeps that best" : std::string("no best checkpoint was saved"))
        << "; the final state is in " << run.last_path
        << " (sample, eval and export read it with --checkpoint=last; --init_from=resume continues from it)\n";
}

}  // namespace

TrainReport train(TrainConfig config, std::ostream& log) {
    Run run;
    open_run(run, std::move(config));  // everything is checked before anything is written
    if (run.resume && run.state.step >= run.config.max_iters) {
        const std::string at = "'" + run.resumed_from + "' is at step " + std::to_string(run.state.step);
        if (run.state.step > run.config.max_iters)
            fail("train", at + ", past --max_iters=" + std::to_string(run.config.max_iters) +
                              ": nothing to do (a run does not go back); give a --max_iters above " +
                              std::to_string(run.state.step) + " to train further, or sample or eval it as it is");
        // At max_iters already: only the final evaluation may be missing (a signal in the last step).
        if (!run.lead || run.log_start.has_eval_at_start) {
            log << "causalgrad train: " << at << " and --max_iters is " << run.config.max_iters
                << ": nothing to do; give a larger --max_iters to train further\n";
            log.flush();
            TrainReport done;
            done.final_step = run.state.step;
            done.best_val_loss = done.last_val_loss = run.state.best_val_loss;
            return done;
        }
    }
    claim_out_dir(run);
    const StopSignals stop_signals;  // from here a signal ends the run after its step, saved
    print_start(run, log);
    TrainReport report;
    report.best_val_loss = run.state.best_val_loss;
    std::vector<double> step_ms;
    ThreadGovernor governor = make_thread_governor();
    TimeSpent spent;
    using Clock = std::chrono::steady_clock;
    auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    for (int64_t step = run.state.step;; step++) {
        const bool last = step >= run.config.max_iters;
        // The weights after `step` updates; the state a resumed run starts from
        // was evaluated before it was saved.
        const bool evaluated_at_start = step == run.first_step && run.csv.has_eval_at_start;
        if (run.lead && (step % run.config.eval_interval == 0 || last) && !evaluated_at_start) {
            const auto e0 = Clock::now();
            evaluate_and_save(run, step, report, log);
            spent.evals_s += seconds_since(e0);
            spent.evals++;
        }
        if (last) {
            report.final_step = step;
            break;
        }

        governor_begin(governor);
        const auto t0 = Clock::now();
        const StepResult result =
            train_step(run.model, run.opt, run.config, run.data.train, step, run.state, run.all_reduce, *run.group);
        const double ms = seconds_since(t0) * 1000.0;
        spent.steps_s += ms / 1000.0;
        governor_end(governor, ms);
        if (!result.updated)
            fail("train", stopped_at(run, step, "the loss became " + fmt("%g", result.loss) + " and the gradient norm " +
                                                    fmt("%g", result.grad_norm)));

        report.step_losses.push_back(result.loss);
        if (static_cast<int64_t>(report.step_losses.size()) > kWarmupSteps) step_ms.push_back(ms);
        if (step % run.config.log_interval == 0)
            print_progress(run, step, result, ms, spent, log);
        if (result.stop_signal) {
            save_after_signal(run, step, result.stop_signal, log);
            report.final_step = run.state.step;
            report.stopped_by_signal = result.stop_signal;
            return report;
        }
    }
    print_summary(run, report, step_ms, log);
    print_never_improved(run, log);
    log.flush();
    return report;
}

double time_left(int64_t first_step, int64_t step, int64_t max_iters, int64_t eval_interval, const TimeSpent& spent) {
    const int64_t steps_done = step + 1 - first_step;
    int64_t evals_left = max_iters / eval_interval - step / eval_interval;  // the multiples of eval_interval in (step, max]
    if (max_iters % eval_interval != 0) evals_left++;                          // and the final one
    const double per_eval = spent.evals > 0 ? spent.evals_s / static_cast<double>(spent.evals) : 0.0;
    return spent.steps_s / static_cast<double>(steps_done) * static_cast<double>(max_iters - step - 1) +
           per_eval * static_cast<double>(evals_left);
}

}  // namespace cg
