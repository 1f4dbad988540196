// libFuzzer target: the config-file reader and the strict option parser it feeds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const std::vector<std::string> args = cg::read_config_text(text, "fuzz.conf");
        cg::TrainConfig config;
        cxxopts::Options options("fuzz", "");
        cg::add_train_options(options, config);
        cg::parse_strict(options, args);
    } catch (const cg::Error&) {
    } catch (const cxxopts::exceptions::exception&) {
    }
    return 0;
}
