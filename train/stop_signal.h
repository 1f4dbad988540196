// Ctrl-C and friends during long work (training, sampling): the first SIGINT,
// SIGTERM, SIGHUP or SIGUSR1 only raises a flag, which the loop checks between
// steps so it can finish the step and save; a second SIGINT ends the process at
// once. SIGUSR1 is there for mpirun, which passes it on to every process and
// waits for them, where on SIGTERM or SIGINT it kills them a second later.
#pragma once

namespace cg {

// Installs the handlers (until the StopSignals goes out of scope, when the
// previous ones come back), except for signals the process was started
// ignoring (nohup, background jobs). Clears any earlier request.
struct StopSignals {
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
};

// The signal that asked to stop (SIGINT, SIGTERM, SIGHUP, SIGUSR1), or 0.
int stop_requested();

// "SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", else "a signal".
const char* stop_signal_name(int signal);

// What a process ended by `signal` should exit with: 128 + signal (130 for SIGINT, 143 for SIGTERM, 138 for SIGUSR1).
int exit_status_for_signal(int signal);

}  // namespace cg
