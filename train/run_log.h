// log.csv of a run: a header, then one row per logged training step and one
// per evaluation (empty cells where a value does not apply):
//   step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s
// The file is only ever appended to, one whole row per write: a row that
// cannot be written whole (a full disk) is cut off again and stops the run.
// Starting a run writes a fresh file (or, on resume, the rows up to the
// checkpoint) to log.csv.tmp and renames it over log.csv, so a kill at any
// moment leaves either the old log or the new one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cg {

extern const char* const kLogHeader;

struct LogRow {
    int64_t step = 0;
    bool is_eval = false;  // an evaluation row (val_loss set) or a training step row
    double loss = 0;       // the row's loss: val_loss on an evaluation row, train_loss on a step row
    std::string line;      // the row as written, without the newline
};

struct LogFile {
    std::vector<LogRow> rows;
    bool torn_last_line = false;  // the last line had no newline (a write cut short): left out
    std::string damaged_last_line;  // with tolerate_damaged_tail: why the last line was left out
};

// Which logs a reader takes.
enum class LogRows {
    // A log to continue (resume): the header above, and rows as this build
    // writes them: a step in digits, a training loss, every cell empty or a number.
    as_written,
    // A log to draw (plot): a header that begins with step,train_loss,val_loss
    // (other tools write just those columns), a step that is a whole number
    // from 0 to 1e15, and a loss on every row; the cells after the losses are not read.
    losses,
};

// The one reader of log.csv text, for resume and plot. Throws naming `path`
// and the line for a wrong or (for a log to draw) missing header, a number of
// cells other than the header's, a step or cell that is not a number (the
// rules of `rows`), or a step that does not come after the one of the row of
// the same kind (training or evaluation) before it. A last line without its
// newline is left out and torn_last_line set.
// With tolerate_damaged_tail a malformed last line is left out instead of
// refused (a crash or a full disk under an earlier build), and
// damaged_last_line says why.
LogFile parse_run_log(const std::string& text, const std::string& path, LogRows rows = LogRows::as_written,
                      bool tolerate_damaged_tail = false);

struct RunLog {
    int fd = -1;
    std::string path;
    int64_t size = 0;                // bytes of whole rows in the file
    bool has_eval_at_start = false;  // the kept rows already hold the evaluation of the first step
    std::string warning;             // set when a torn or damaged last line was dropped

    RunLog() = default;
    RunLog(RunLog&& other) noexcept;
    RunLog& operator=(RunLog&& other) noexcept;
    RunLog(const RunLog&) = delete;
    RunLog& operator=(const RunLog&) = delete;
    ~RunLog();

    // Each appends its row in one write; a failed or short write is cut off and
    // throws. A RunLog that was never opened (a rank other than 0) writes nothing.
    void step(int64_t step, float loss, float lr, float norm, double ms, double tok_s);
    void eval(int64_t step, float train_loss, float val_loss);

  private:
    void append(const char* row, size_t bytes);
};

// What the log of a starting run begins with, read and checked before anything is written.
struct RunLogStart {
    std::string path, text;
    bool has_eval_at_start = false;
    std::string warning;
};

// From scratch (resume_step < 0): a log with only the header. On resume: the
// training rows of steps before resume_step and the evaluations up to it,
// which are exactly the rows of the state the checkpoint holds.
RunLogStart plan_run_log(const std::string& path, int64_t resume_step);

// Writes the planned start over the log (temp file and rename), then opens it for appending.
RunLog open_run_log(const RunLogStart& start);

}  // namespace cg
