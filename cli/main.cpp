// causalgrad: the command line. main() finds the command in the table
// (cli/commands.cpp) and turns any error into one line on stderr: exit 1 for
// a failure, 2 for a bad option, 128 + signal when a signal stopped the work.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "tensor/runtime_setup.h"

using namespace cg;

int main(int argc, char** argv) {
    restart_with_runtime_settings(argv);
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::cout << usage();
        return argc < 2 ? 1 : 0;
    }
    const std::string command = argv[1];
    const std::string report_hint = " (this is a bug in causalgrad; please report it with the command line that caused it)";
    try {
        for (const Command& c : commands())
            if (command == c.name) return c.run(argc, argv);
        std::cerr << "causalgrad: unknown command '" << command << "'; `causalgrad --help` lists the commands\n";
        return 2;
    } catch (const cxxopts::exceptions::exception& e) {
        std::cerr << "causalgrad " << command << ": " << e.what() << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const OptionError& e) {
        std::cerr << "causalgrad " << command << ": " << e.what() << " (see causalgrad " << command << " --help)\n";
        return 2;
    } catch (const Error& e) {
        std::cerr << "causalgrad " << command << ": " << e.what() << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "causalgrad " << command << ": out of memory; try a smaller model, batch or context\n";
        return 1;
    } catch (const std::filesystem::filesystem_error& e) {
        std::cerr << "causalgrad " << command << ": file system error on '" << e.path1().string()
                  << "': " << e.code().message() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "causalgrad " << command << ": unexpected error: " << e.what() << report_hint << "\n";
        return 1;
    } catch (...) {
        std::cerr << "causalgrad " << command << ": unexpected error" << report_hint << "\n";
        return 1;
    }
}
