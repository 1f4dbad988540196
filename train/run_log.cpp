#include "train/run_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "tensor/tensor.h"
#include "io/safe_file.h"
#include "io/text.h"

namespace cg {

const char* const kLogHeader = "step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s";

namespace {

std::vector<std::string> split_cells(const std::string& line) {
    std::vector<std::string> cells(1);
    for (char ch : line) {
        if (ch == ',') cells.emplace_back();
        else cells.back() += ch;
    }
    return cells;
}

// A cell that is a number from end to end ("1.5x" and "" are not); inf and nan are.
bool read_number(const std::string& cell, double& value) {
    if (cell.empty()) return false;
    char* end = nullptr;
    value = std::strtod(cell.c_str(), &end);
    return end == cell.c_str() + cell.size();
}

// A log to draw takes any whole number up to here; a larger step is no point of a readable axis.
constexpr double kLargestStep = 1e15;

// A step as this build writes it (digits), or for a log to draw any whole number from 0 to 1e15.
bool read_step(const std::string& cell, LogRows rows, int64_t& step) {
    if (rows == LogRows::as_written) {
        if (cell.empty() || cell.size() > 18) return false;
        for (char ch : cell)
            if (ch < '0' || ch > '9') return false;
        step = std::strtoll(cell.c_str(), nullptr, 10);
        return true;
    }
    double value = 0;
    if (!read_number(cell, value) || !(value >= 0 && value <= kLargestStep) || value != std::floor(value)) return false;
    step = static_cast<int64_t>(value);
    return true;
}

}  // namespace

LogFile parse_run_log(const std::string& text, const std::string& path, LogRows rows, bool tolerate_damaged_tail) {
    const std::vector<std::string> names = split_cells(kLogHeader);  // step, train_loss, val_loss, ...
    const std::string losses_header = names[0] + "," + names[1] + "," + names[2];
    std::vector<std::string> columns;  // this log's, from its header
    LogFile log;
    int64_t last_train = -1, last_eval = -1;
    size_t start = 0;
    for (int64_t number = 1; start < text.size(); number++) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) {  // no newline: a write cut short, not a row
            log.torn_last_line = true;
            break;
        }
        std::string line = text.substr(start, end - start);
        start = end + 1;
        const std::string where = "'" + path + "' line " + std::to_string(number) + ": ";
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (number == 1) {
            if (rows == LogRows::as_written && line != kLogHeader)
                fail("log", where + "expected the header '" + kLogHeader + "'; is this a causalgrad log.csv?");
            if (rows == LogRows::losses && line.rfind(losses_header, 0) != 0)
                fail("log", where + "expected a header beginning '" + losses_header + "'; is this a causalgrad log.csv?");
            columns = split_cells(line);
            continue;
        }
        // A malformed line: an error, or the damaged tail of a crash when it is the last.
        auto malformed = [&](const std::string& what) {
            if (!tolerate_damaged_tail || start < text.size()) fail("log", where + what);
            log.damaged_last_line = "line " + std::to_string(number) + ": " + what.substr(0, what.find(';'));
        };
        const std::vector<std::string> cells = split_cells(line);
        if (cells.size() != columns.size()) {
            malformed("has " + std::to_string(cells.size()) + " cells, expected " + std::to_string(columns.size()) +
                      "; fix or remove the line");
            break;
        }
        LogRow row;
        row.is_eval = !cells[2].empty();
        row.line = line;
        std::string bad;
        if (!read_step(cells[0], rows, row.step))
            bad = "step '" + cells[0] + "' is not a whole number" + (rows == LogRows::losses ? " from 0 to 1e15" : "");
        // Every row this build writes has a training loss; a row to draw needs its own loss.
        else if (cells[1].empty() && (rows == LogRows::as_written || !row.is_eval))
            bad = row.is_eval ? "train_loss is empty" : "the row holds no loss";
        // The cells after the step: empty or a number (of a log to draw only the losses are read).
        const size_t read = rows == LogRows::as_written ? cells.size() : 3;
        double value = 0;
        for (size_t i = 1; i < read && bad.empty(); i++)
            if (!cells[i].empty() && !read_number(cells[i], value)) bad = columns[i] + " '" + cells[i] + "' is not a number";
        if (!bad.empty()) {
            malformed(bad);
            break;
        }
        read_number(cells[row.is_eval ? 2 : 1], row.loss);
        // Rows of each kind go forward in steps; one that goes back is not this run's.
        int64_t& previous = row.is_eval ? last_eval : last_train;
        if (row.step <= previous) {
            malformed(std::string(row.is_eval ? "evaluation" : "training") + " step " + std::to_string(row.step) +
                      " comes after step " + std::to_string(previous) + "; the rows must go forward, fix or remove the line");
            break;
        }
        previous = row.step;
        log.rows.push_back(std::move(row));
    }
    if (rows == LogRows::losses && columns.empty())
        fail("log", "'" + path + "' has no header line; is this a causalgrad log.csv?");
    return log;
}

RunLog::RunLog(RunLog&& other) noexcept { *this = std::move(other); }

RunLog& RunLog::operator=(RunLog&& other) noexcept {
    if (this != &other) {
        if (fd >= 0) ::close(fd);
        fd = std::exchange(other.fd, -1);
        path = std::move(other.path);
        size = other.size;
        has_eval_at_start = other.has_eval_at_start;
        warning = std::move(other.warning);
    }
    return *this;
}

RunLog::~RunLog() {
    if (fd >= 0) ::close(fd);
}

void RunLog::append(const char* row, size_t bytes) {
    if (fd < 0) return;  // a process that keeps no log: the other ranks under MPI
    ssize_t written;
    do written = ::write(fd, row, bytes);
    while (written < 0 && errno == EINTR);
    if (written == static_cast<ssize_t>(bytes)) {
        size += static_cast<int64_t>(bytes);
        return;
    }
    const int err = written < 0 ? errno : ENOSPC;  // a short write: the disk filled up under it
    // Half a row would run into the next one: cut it off, so the log stays whole rows.
    const bool cut = written <= 0 || ::ftruncate(fd, size) == 0;
    fail("log", "cannot append to '" + path + "' (" + std::strerror(err) + "); stopped. " +
                    (cut ? "The log holds whole rows up to the last one written"
                         : "The last row is cut short (resume drops it)") +
                    ", the checkpoints are as last saved; free space and continue with --init_from=resume");
}

void RunLog::step(int64_t step, float loss, float lr, float norm, double ms, double tok_s) {
    char row[256];  // no allocation in the training loop
    const int n = std::snprintf(row, sizeof(row), "%lld,%g,,%g,%g,%.2f,%.0f\n", static_cast<long long>(step),
                                static_cast<double>(loss), static_cast<double>(lr), static_cast<double>(norm), ms, tok_s);
    append(row, static_cast<size_t>(std::min<int>(n, sizeof(row) - 1)));
}

void RunLog::eval(int64_t step, float train_loss, float val_loss) {
    char row[128];
    const int n = std::snprintf(row, sizeof(row), "%lld,%g,%g,,,,\n", static_cast<long long>(step),
                                static_cast<double>(train_loss), static_cast<double>(val_loss));
    append(row, static_cast<size_t>(std::min<int>(n, sizeof(row) - 1)));
}

RunLogStart plan_run_log(const std::string& path, int64_t resume_step) {
    RunLogStart start;
    start.path = path;
    start.text = std::string(kLogHeader) + "\n";
    if (resume_step >= 0 && ::access(path.c_str(), F_OK) == 0) {
        const LogFile old = parse_run_log(read_regular_file(path, "log"), path, LogRows::as_written, true);
        if (old.torn_last_line) start.warning = "dropped a cut-short last line of '" + path + "'";
        if (!old.damaged_last_line.empty())
            start.warning = "dropped the damaged last line of '" + path + "' (" + old.damaged_last_line +
                            "): a write cut short by a crash or a full disk; the log ends at its last whole row";
        for (const LogRow& row : old.rows) {
            // Training row s is the step from state s to s + 1; evaluation row s is state s.
            if (row.is_eval ? row.step > resume_step : row.step >= resume_step) continue;
            start.text += row.line + "\n";
            if (row.is_eval && row.step == resume_step) start.has_eval_at_start = true;
        }
    }
    return start;
}

RunLog open_run_log(const RunLogStart& start) {
    write_file_atomically(start.path, start.text, "log");
    RunLog log;
    log.has_eval_at_start = start.has_eval_at_start;
    log.warning = start.warning;
    log.path = start.path;
    log.fd = ::open(start.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    struct stat st;
    if (log.fd < 0 || ::fstat(log.fd, &st) != 0)
        fail("log", "cannot append to '" + start.path + "' (" + std::strerror(errno) + ")");
    log.size = st.st_size;
    return log;
}

}  // namespace cg
