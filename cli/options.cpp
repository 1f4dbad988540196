#include "cli/options.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "tensor/tensor.h"
#include "io/safe_file.h"

namespace cg {

namespace {
// Each option's value goes straight into the setting's field; its default is
// the field's value in a default-made config, so defaults are written once.
void add_setting_options(cxxopts::Options& o, std::vector<Setting>& rows, const std::vector<Setting>& defaults) {
    for (size_t i = 0; i < rows.size(); i++) {
        const Setting& s = rows[i];
        if (!s.option) continue;
        const std::string group = s.group == SettingGroup::model ? "model" : "training";
        const std::string default_text = setting_text(defaults[i]);
        std::visit([&](auto* field) { o.add_options(group)(s.key, s.help, cxxopts::value(*field)->default_value(default_text)); },
                   s.field);
    }
}
}  // namespace

void add_model_options(cxxopts::Options& o, GPTConfig& m) {
    GPTConfig defaults;
    std::vector<Setting> rows = model_settings(m);
    add_setting_options(o, rows, model_settings(defaults));
}

void add_train_options(cxxopts::Options& o, TrainConfig& c) {
    TrainConfig defaults;
    std::vector<Setting> rows = settings(c);
    add_setting_options(o, rows, settings(defaults));
}

namespace {
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<ConfigArgument> read_config_arguments(const std::string& text, const std::string& path) {
    std::vector<ConfigArgument> args;
    std::map<std::string, int> line_of_key;
    // Editors on Windows start UTF-8 files with a byte order mark; it is not part of the first key.
    const std::string bom = "\xEF\xBB\xBF";
    std::istringstream in(text.compare(0, bom.size(), bom) == 0 ? text.substr(bom.size()) : text);
    std::string line;
    for (int number = 1; std::getline(in, line); number++) {
        const std::string where = path + ":" + std::to_string(number);
        if (line.find('\0') != std::string::npos)
            fail("config", where + ": the line holds a NUL byte; is this a text file?");
        char quote = 0;  // a '#' inside quotes is part of the value
        for (size_t i = 0; i < line.size(); i++) {
            if (quote) {
                if (line[i] == quote) quote = 0;
            } else if (line[i] == '\'' || line[i] == '"') {
                quote = line[i];
            } else if (line[i] == '#') {
                line.resize(i);
                break;
            }
        }
        line = trim(line);
        if (line.empty()) continue;
        size_t eq = line.find('=');
        if (eq == std::string::npos) fail("config", where + ": expected 'key = value', got '" + shown_value(line) + "'");
        std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        if (key.empty()) fail("config", where + ": the line has no key before '='");
        if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        if (value == "True") value = "true";  // Python's spelling
        if (value == "False") value = "false";
        if (key == "config") fail("config", where + ": a config file cannot include another");
        const auto [seen, fresh] = line_of_key.emplace(key, number);
        if (!fresh)
            fail("config", where + ": " + shown_value(key) + " is already set on line " + std::to_string(seen->second) +
                               "; keep one of the two");
        args.push_back({"--" + key + "=" + value, number});
    }
    return args;
}

std::vector<std::string> read_config_text(const std::string& text, const std::string& path) {
    std::vector<std::string> args;
    for (ConfigArgument& a : read_config_arguments(text, path)) args.push_back(std::move(a.arg));
    return args;
}

std::vector<std::string> read_config_file(const std::string& path) {
    return read_config_text(read_regular_file(path, "config"), path);
}

namespace {

// The whole text is one number (strtod's syntax: 12, -3, 1e-3, 0x10, inf, nan).
bool is_whole_number_text(const std::string& s) {
    if (s.empty()) return false;
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size();
}

// Long names of the options that take true/false, and of those whose default
// is a number (cxxopts reads "1e-3x" as 1e-3; we refuse it).
void classify_options(const cxxopts::Options& options, std::set<std::string>& booleans, std::set<std::string>& numbers) {
    for (const std::string& group : options.groups())
        for (const cxxopts::HelpOptionDetails& o : options.group_help(group).options)
            for (const std::string& l : o.l) {
                if (o.is_boolean) booleans.insert(l);
                else if (o.has_default && is_whole_number_text(o.default_value)) numbers.insert(l);
            }
}

std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

bool is_boolean_word(const std::string& s) {
    const std::string l = lower(s);
    return l == "true" || l == "false" || l == "yes" || l == "no" || l == "1" || l == "0";
}

// A boolean word as cxxopts reads it.
std::string boolean_text(const std::string& s) {
    const std::string l = lower(s);
    return l == "true" || l == "yes" || l == "1" ? "true" : "false";
}

cxxopts::ParseResult parse_args(cxxopts::Options& options, std::vector<std::string> args) {
    std::vector<char*> ptrs{const_cast<char*>("causalgrad")};
    for (std::string& s : args) ptrs.push_back(s.data());
    return options.parse(static_cast<int>(ptrs.size()), ptrs.data());
}

}  // namespace

std::string shown_value(const std::string& value) {
    constexpr size_t kLongest = 80;  // bytes of a value shown before it is cut
    std::string out;
    size_t i = 0;
    for (; i < value.size() && i < kLongest;) {
        const auto c = static_cast<unsigned char>(value[i]);
        const int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool valid = len > 0 && i + len <= value.size();
        for (int k = 1; valid && k < len; k++) valid = (static_cast<unsigned char>(value[i + k]) >> 6) == 0x2;
        if (valid && len > 1) {
            out.append(value, i, static_cast<size_t>(len));
            i += static_cast<size_t>(len);
            continue;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c >= 0x7F) {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "\\x%02X", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
        i++;
    }
    if (i < value.size()) out += "... (" + std::to_string(value.size()) + " bytes)";
    return out;
}

namespace {

// Long option names are letters, digits, '_' and '-', starting with a letter or digit.
bool is_option_name(const std::string& name) {
    if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    for (char ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
    return true;
}

std::set<std::string> long_names(const cxxopts::Options& options) {
    std::set<std::string> names;
    for (const std::string& group : options.groups())
        for (const cxxopts::HelpOptionDetails& o : options.group_help(group).options)
            for (const std::string& l : o.l) names.insert(l);
    return names;
}

}  // namespace

cxxopts::ParseResult parse_strict(cxxopts::Options& options, const std::vector<std::string>& args, bool positional,
                                  const std::vector<std::string>& origins) {
    std::set<std::string> booleans, numbers;
    classify_options(options, booleans, numbers);
    const std::set<std::string> names = long_names(options);
    // "file:line: " for an argument read from a config file.
    auto from = [&](size_t i) { return i < origins.size() && !origins[i].empty() ? origins[i] + ": " : std::string(); };
    std::vector<std::string> fixed, fixed_from;  // fixed_from: each fixed argument's from()
    for (size_t i = 0; i < args.size(); i++) {
        const std::string origin = from(i);
        auto keep = [&](const std::string& arg) {
            fixed.push_back(arg);
            fixed_from.push_back(origin);
        };
        const std::string& a = args[i];
        if (a.find('\0') != std::string::npos) fail("options", origin + "an argument holds a NUL byte");
        if (a == "-h" || a == "-" || a == "--") {
            keep(a);
            continue;
        }
        if (a.rfind("--", 0) != 0) {
            if (a.rfind("-", 0) == 0 || !positional)
                fail("options", origin + "unexpected argument '" + shown_value(a) + "'; options are written --name=value");
            keep(a);
            continue;
        }
        const size_t eq = a.find('=');
        const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        if (!is_option_name(name))
            fail("options", origin + "'" + shown_value(a) + "' is not an option; options are written --name=value");
        if (!names.count(name)) fail("options", origin + "option '" + shown_value(name) + "' does not exist");
        if (numbers.count(name)) {
            const bool inline_value = eq != std::string::npos;
            if (inline_value || i + 1 < args.size()) {
                const std::string value = inline_value ? a.substr(eq + 1) : args[i + 1];
                if (!is_whole_number_text(value))
                    fail("options", origin + "--" + name + ": '" + shown_value(value) +
                                        "' is not a valid value: a number is expected");
            }
        }
        if (!booleans.count(name)) {
            // "--name value" as "--name=value", so the value is never taken for an option.
            if (eq == std::string::npos && i + 1 < args.size()) keep(a + "=" + args[++i]);
            else keep(a);
            continue;
        }
        if (eq != std::string::npos) {
            const std::string value = a.substr(eq + 1);
            if (!is_boolean_word(value))
                fail("options", origin + "--" + name + " takes true or false, got '" + shown_value(value) + "'");
            keep("--" + name + "=" + boolean_text(value));
        } else if (i + 1 < args.size() && is_boolean_word(args[i + 1])) {
            keep("--" + name + "=" + boolean_text(args[++i]));  // --bias false
        } else {
            keep(a);  // --bias alone means true
        }
    }
    cxxopts::ParseResult result;
    try {
        result = parse_args(options, fixed);
    } catch (const cxxopts::exceptions::incorrect_argument_type&) {
        // cxxopts names the value, not the option: find the argument that fails alone.
        for (size_t k = 0; k < fixed.size(); k++) {
            const std::string& a = fixed[k];
            try {
                parse_args(options, {a});
            } catch (const cxxopts::exceptions::incorrect_argument_type&) {
                const size_t eq = a.find('=');
                if (eq != std::string::npos)
                    fail("options", fixed_from[k] + a.substr(0, eq) + ": '" + shown_value(a.substr(eq + 1)) +
                                        "' is not a valid value");
                fail("options", fixed_from[k] + shown_value(a) + ": its value is not valid");
            } catch (const std::exception&) {
            }
        }
        throw;
    }
    for (const std::string& a : result.unmatched())
        if (!positional || a.rfind("-", 0) == 0)
            fail("options", "unexpected argument '" + shown_value(a) + "'; options are written --name=value");
    return result;
}

cxxopts::ParseResult parse_with_config(cxxopts::Options& options, int argc, char** argv, int first) {
    std::vector<std::string> args;
    std::string config_path;
    int configs = 0;
    for (int i = first; i < argc; i++) {
        std::string a = argv[i];
        if (a.rfind("--config=", 0) == 0) {
            config_path = a.substr(9);
            configs++;
        } else if (a == "--config") {
            if (i + 1 >= argc) fail("options", "--config needs a file: --config=FILE");
            config_path = argv[++i];
            configs++;
        } else {
            args.push_back(a);
        }
    }
    if (configs > 1) fail("options", "--config is given " + std::to_string(configs) + " times; give one file");
    if (configs == 1 && config_path.empty()) fail("options", "--config is empty; give a file: --config=FILE");
    std::vector<std::string> merged, origins;
    if (configs == 1)
        for (ConfigArgument& c : read_config_arguments(read_regular_file(config_path, "config"), config_path)) {
            merged.push_back(std::move(c.arg));
            origins.push_back(config_path + ":" + std::to_string(c.line));
        }
    merged.insert(merged.end(), args.begin(), args.end());  // the command line wins
    return parse_strict(options, merged, false, origins);
}

}  // namespace cg
