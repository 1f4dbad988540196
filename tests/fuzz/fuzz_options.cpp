// libFuzzer target: the strict option parser on a command line. The input is
// the arguments separated by NUL bytes (as the kernel hands them over, so an
// argument holds any byte but NUL); its first byte chooses whether arguments
// that are not options are kept (plot's runs) or refused. Any cg::Error or
// cxxopts error is a correct answer; a crash, hang or leak is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool positional = data[0] & 1;
    std::vector<std::string> args(1);
    for (size_t i = 1; i < size; i++) {
        if (data[i] == 0) args.emplace_back();
        else args.back() += static_cast<char>(data[i]);
    }
    try {
        cg::TrainConfig config;
        std::string text;
        cxxopts::Options options("fuzz", "");
        cg::add_train_options(options, config);
        options.add_options()("h,help", "help")("start", "a text option", cxxopts::value(text));
        cg::parse_strict(options, args, positional);
    } catch (const cg::Error&) {
    } catch (const cxxopts::exceptions::exception&) {
    }
    return 0;
}
