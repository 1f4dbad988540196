#include "train/stop_signal.h"

#include <unistd.h>

#include <csignal>

namespace cg {

namespace {
volatile std::sig_atomic_t g_requested = 0;
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
constexpr int kCount = sizeof(kSignals) / sizeof(kSignals[0]);
struct sigaction g_previous[kCount];

void on_signal(int signal) {
    if (g_requested != 0 && signal == SIGINT) {
        // The second Ctrl-C: the user wants out now. Only async-signal-safe calls here;
        // a checkpoint being written stays a temporary file, the old one untouched.
        const char msg[] = "\ninterrupted again: exiting without saving\n";
        ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)ignored;
        ::_exit(130);
    }
    g_requested = signal;
}
}  // namespace

StopSignals::StopSignals() {
    g_requested = 0;
    struct sigaction action = {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < kCount; i++) {
        sigaction(kSignals[i], nullptr, &g_previous[i]);
        // A signal ignored from the start stays ignored: `nohup` (SIGHUP) and
        // background jobs of scripts (SIGINT) ask for exactly that.
        if (g_previous[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &action, nullptr);
    }
}

StopSignals::~StopSignals() {
    for (int i = 0; i < kCount; i++) sigaction(kSignals[i], &g_previous[i], nullptr);
}

int stop_requested() { return g_requested; }

const char* stop_signal_name(int signal) {
    switch (signal) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        case SIGHUP: return "SIGHUP";
        case SIGUSR1: return "SIGUSR1";
        default: return "a signal";
    }
}

int exit_status_for_signal(int signal) { return 128 + signal; }

}  // namespace cg
