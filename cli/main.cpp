// causalgrad: the command line. main() finds the command in the table
// (cli/commands.cpp) and turns any error into one line on stderr: exit 1 for
// a failure, 2 for a bad option, 128 + signal when a signal stopped the work.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "tensor/runtime_setup.h"

using namespace cg;

// A closed standard stream would hand its number to the next file opened, and
// progress lines would land in log.csv or a checkpoint: each closed one is
// held on /dev/null. Returns false when standard output was closed.
bool hold_standard_streams() {
    bool stdout_open = true;
    for (int fd = 0; fd <= 2; fd++) {
        if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        if (fd == 1) stdout_open = false;
        ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);  // the lowest free number: fd itself
    }
    return stdout_open;
}

int main(int argc, char** argv) {
    if (!hold_standard_streams()) {
        std::cerr << "causalgrad" << (argc > 1 ? std::string(" ") + argv[1] : std::string())
                  << ": standard output is closed; nothing was done (redirect it to a file, or to /dev/null)\n";
        return 1;
    }
    restart_with_runtime_settings(argv);
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::cout << usage();
        return argc < 2 ? 1 : 0;
    }
    const std::string command = argv[1];
    const std::string report_hint = " (this is a bug in causalgrad; please report it with the command line that caused it)";
    try {
        for (const Command& c : commands())
            if (command == c.name) {
                const int status = c.run(argc, argv);
                // Output that did not reach its file is a failure of every command, not a silent loss.
                if (status == 0) check_stdout(command.c_str());
                return status;
            }
        std::cerr << "causalgrad: unknown command '" << one_line(command.c_str()) << "'; `causalgrad --help` lists the commands\n";
        return 2;
    } catch (const cxxopts::exceptions::exception& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const OptionError& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const Error& e) {
        std::cerr << "causalgrad " << command << ": " << one_line(e.what()) << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "causalgrad " << command << ": out of memory; try a smaller model, batch or context\n";
        return 1;
    } catch (const std::filesystem::filesystem_error& e) {
        std::cerr << "causalgrad " << command << ": file system error on '" << one_line(e.path1().c_str())
                  << "': " << e.code().message() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "causalgrad " << command << ": unexpected error: " << one_line(e.what()) << report_hint << "\n";
        return 1;
    } catch (...) {
        std::cerr << "causalgrad " << command << ": unexpected error" << report_hint << "\n";
        return 1;
    }
}
