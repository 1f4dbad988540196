#include "train/run_log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

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

bool is_number(const std::string& cell) {
    if (cell.empty()) return false;
    char* end = nullptr;
    std::strtod(cell.c_str(), &end);
    return end == cell.c_str() + cell.size();
}

bool is_whole_number(const std::string& cell) {
    if (cell.empty() || cell.size() > 18) return false;
    for (char ch : cell)
        if (ch < '0' || ch > '9') return false;
    return true;
}

}  // namespace

LogFile parse_run_log(const std::string& text, const std::string& path) {
    LogFile log;
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
            if (line != kLogHeader) fail("log", where + "expected the header '" + kLogHeader + "'; is this a causalgrad log.csv?");
            continue;
        }
        const std::vector<std::string> cells = split_cells(line);
        if (cells.size() != 7)
            fail("log", where + "has " + std::to_string(cells.size()) + " cells, expected 7; fix or remove the line");
        if (!is_whole_number(cells[0])) fail("log", where + "step '" + cells[0] + "' is not a whole number");
        if (!is_number(cells[1])) fail("log", where + "train_loss '" + cells[1] + "' is not a number");
        for (size_t i = 2; i < 7; i++)
            if (!cells[i].empty() && !is_number(cells[i]))
                fail("log", where + "cell " + std::to_string(i + 1) + " '" + cells[i] + "' is not a number");
        LogRow row;
        row.step = std::strtoll(cells[0].c_str(), nullptr, 10);
        row.is_eval = !cells[2].empty();
        row.line = line;
        log.rows.push_back(row);
    }
    return log;
}

void RunLog::step(int64_t step, float loss, float lr, float norm, double ms, double tok_s) {
    out << step << "," << loss << ",," << lr << "," << norm << "," << fmt("%.2f", ms) << "," << fmt("%.0f", tok_s)
        << "\n";
    out.flush();  // one row, one write: a kill never leaves half of one behind a later row
}

void RunLog::eval(int64_t step, float train_loss, float val_loss) {
    out << step << "," << train_loss << "," << val_loss << ",,,,\n";
    out.flush();
}

RunLogStart plan_run_log(const std::string& path, int64_t resume_step) {
    RunLogStart start;
    start.path = path;
    start.text = std::string(kLogHeader) + "\n";
    if (resume_step >= 0 && ::access(path.c_str(), F_OK) == 0) {
        const LogFile old = parse_run_log(read_regular_file(path, "log"), path);
        if (old.torn_last_line) start.warning = "dropped a cut-short last line of '" + path + "'";
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
    log.out.open(start.path, std::ios::app);
    if (!log.out) fail("log", "cannot append to '" + start.path + "'");
    return log;
}

}  // namespace cg
