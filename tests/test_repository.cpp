// The repository's own order: every relative link of the documentation points
// at a file that exists, and the layer check (tests/layer_check.sh) passes on
// this tree and fails, naming file and line, on a tree that breaks the order.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/helpers.h"

namespace cg {
namespace {

namespace fs = std::filesystem;

// The folder above tests/, found from this file's path (CMake compiles it by absolute path).
fs::path repository_root() {
    const fs::path root = fs::path(__FILE__).parent_path().parent_path();
    REQUIRE_MESSAGE(fs::exists(root / "README.md"), "no README.md in " << root.string());
    return root;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The relative link targets of a Markdown text ([text](target), ![alt](target))
// that name no existing file or folder, resolved against `dir`. Web addresses
// and links within the page (#...) are not files; a target's #anchor is dropped.
std::vector<std::string> broken_links(const std::string& markdown, const fs::path& dir) {
    std::vector<std::string> broken;
    for (size_t at = markdown.find("]("); at != std::string::npos; at = markdown.find("](", at + 2)) {
        const size_t end = markdown.find_first_of(") \n", at + 2);
        if (end == std::string::npos || markdown[end] != ')' || end == at + 2) continue;
        std::string target = markdown.substr(at + 2, end - at - 2);
        if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 || target.rfind("mailto:", 0) == 0 ||
            target[0] == '#')
            continue;
        target = target.substr(0, target.find('#'));
        if (!fs::exists(dir / target)) broken.push_back(target);
    }
    return broken;
}

// Runs a shell command; its exit status, and its standard output and error in `output`.
int run(const std::string& command, std::string& output) {
    output.clear();
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) output.append(buf, n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("repository: a broken link is found, a good one and a web address are not") {
    TempDir dir;
    std::ofstream(dir.path / "there.md") << "x";
    const std::string text = "[a](there.md) [b](missing.md#part) ![c](img/none.svg) [d](https://example.org/x) [e](#top)";
    CHECK(broken_links(text, dir.path) == std::vector<std::string>{"missing.md", "img/none.svg"});
}

TEST_CASE("repository: every relative link in README.md, docs/ and the READMEs of folders points at a file") {
    const fs::path root = repository_root();
    std::vector<fs::path> pages = {root / "README.md", root / "tests" / "README.md", root / "examples" / "README.md"};
    for (const auto& entry : fs::directory_iterator(root / "docs"))
        if (entry.path().extension() == ".md") pages.push_back(entry.path());
    CHECK(pages.size() > 5);
    for (const fs::path& page : pages) {
        CAPTURE(page.string());
        REQUIRE(fs::exists(page));
        std::string broken;
        for (const std::string& target : broken_links(read_text(page), page.parent_path())) broken += " " + target;
        CHECK_MESSAGE(broken.empty(), "links to files that do not exist:" << broken);
    }
}

TEST_CASE("repository: the layer check passes on this tree") {
    const fs::path root = repository_root();
    std::string output;
    const int status = run("bash '" + (root / "tests" / "layer_check.sh").string() + "' '" + root.string() + "'", output);
    CAPTURE(output);
    CHECK(status == 0);
    CHECK(contains(output, "layer check:"));
}

TEST_CASE("repository: the layer check names file and line of an upward include and of a mixer name compared") {
    const fs::path root = repository_root();
    TempDir tree;
    for (const char* folder : {"tensor", "autograd", "nn", "tools", "tests"}) fs::create_directories(tree.path / folder);
    std::ofstream(tree.path / "tensor" / "low.h") << "#pragma once\n\n#include \"nn/high.h\"\n";
    std::ofstream(tree.path / "nn" / "high.h") << "#pragma once\n#include \"tensor/low.h\"\n";
    std::ofstream(tree.path / "nn" / "mixers.cpp") << "    {\"attn\", \"help\", kMixer},\n    {\"gelu\", \"help\", kBoth},\n";
    // An activation that is a row of the unary table, written over two lines; exp is no activation.
    std::ofstream(tree.path / "autograd" / "unary.cpp")
        << "constexpr UnaryOp kUnaryOps[] = {\n    row<exp_f, exp_df>(\"exp\", \"y = e^x\", exp_ref, Domain::real),\n"
           "    row_with_slope<swish_f, swish_df, swish_fdf>(\"swish\", \"y = x sigmoid(x)\", swish_ref, Domain::real,\n"
           "                                              swish_composed, Activation{\"x sigmoid(x)\"}),\n};\n";
    std::ofstream(tree.path / "tools" / "use.cpp") << "int f(const std::string& m) {\n  return m == \"attn\"\n"
                                                      "    || m == \"swish\"\n    || m == \"exp\";\n}\n";
    std::ofstream(tree.path / "tests" / "t.cpp") << "// a list\nconst char* names = \"attn, gelu\";\n";
    std::string output;
    const int status = run("bash '" + (root / "tests" / "layer_check.sh").string() + "' '" + tree.path.string() + "'", output);
    CAPTURE(output);
    CHECK(status == 1);
    CHECK(contains(output, "tensor/low.h:3: includes \"nn/high.h\""));
    CHECK_FALSE(contains(output, "nn/high.h:"));  // a lower include is fine
    CHECK(contains(output, "tools/use.cpp:2:"));
    CHECK(contains(output, "tools/use.cpp:3:"));        // swish: an activation of the unary table
    CHECK_FALSE(contains(output, "tools/use.cpp:4:"));  // exp: a row that is no activation
    CHECK(contains(output, "tests/t.cpp:2:"));
}

}  // namespace
}  // namespace cg
