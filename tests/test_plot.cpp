// causalgrad plot: reading log.csv strictly (through train/run_log.h's reader),
// the mean of runs with its band, the axes, and writing the SVG without ever
// clobbering another file.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tensor/tensor.h"
#include "tests/helpers.h"
#include "data/dataset.h"
#include "tools/plot.h"
#include "train/run_log.h"

namespace cg {
namespace {

namespace fs = std::filesystem;

const char* kHeader = "step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s\n";

TEST_CASE("plot: a malformed log.csv line is an error naming the file and the line") {
    TempDir d("plot");
    const std::string bad_loss = d.write("a.csv", std::string(kHeader) + "0,4.1,4.2,,,,\n10,abc,,0.001,1,2,3\n");
    const std::string msg = error_of([&] { read_log_csv(bad_loss, "a"); });
    CHECK(msg.find("a.csv' line 3: train_loss 'abc' is not a number") != std::string::npos);
    CHECK(msg.find("stod") == std::string::npos);
    const std::string bad_step = d.write("b.csv", std::string(kHeader) + "1x,4.1,,,,,\n");
    CHECK(error_of([&] { read_log_csv(bad_step, "b"); }).find("b.csv' line 2: step '1x' is not a whole number") != std::string::npos);
    const std::string short_row = d.write("c.csv", std::string(kHeader) + "5\n");
    CHECK(error_of([&] { read_log_csv(short_row, "c"); }).find("c.csv' line 2: has 1 cells, expected 7") != std::string::npos);
    CHECK(error_of([&] { read_log_csv(d.path.string(), "dir"); }).find("is not a file") != std::string::npos);
    const std::string not_log = d.write("ckpt.bin", "CGCKPT\x01\x02");
    CHECK(error_of([&] { read_log_csv(not_log, "x"); }).find("is this a causalgrad log.csv?") != std::string::npos);
}

TEST_CASE("plot: a damaged log.csv is never read silently: rows run together or going back are errors, a cut-short last line is left out") {
    TempDir d("plot");
    const std::string rows = "0,4.1,4.2,,,,\n0,4.1,,0.001,1,2,3\n5,4.0,,0.001,1,2,3\n";
    // A row written twice into one line (a full disk under an earlier build).
    const std::string twice = d.write("twice.csv", std::string(kHeader) + rows + "10,3.9,,0.001,1,2.0010,3.9,,0.001,1,2,3\n");
    CHECK(error_of([&] { read_log_csv(twice, "a"); }).find("twice.csv' line 5: has 12 cells, expected 7") != std::string::npos);
    const std::string back = d.write("back.csv", std::string(kHeader) + rows + "3,3.9,,0.001,1,2,3\n");
    CHECK(error_of([&] { read_log_csv(back, "a"); }).find("back.csv' line 5: training step 3 comes after step 5") != std::string::npos);
    const std::string torn = d.write("torn.csv", std::string(kHeader) + rows + "10,3.9,,0.0");
    const RunCurves r = read_log_csv(torn, "t");
    CHECK(r.torn_last_line);
    CHECK(r.train.size() == 2);
    CHECK(r.val.size() == 1);
    CHECK_FALSE(read_log_csv(d.write("whole.csv", std::string(kHeader) + rows), "w").torn_last_line);
    // The three-column logs of other tools still read.
    CHECK(read_log_csv(d.write("three.csv", "step,train_loss,val_loss\n0,,4.1\n10,,3.5\n"), "3").val.size() == 2);
}

TEST_CASE("plot: log.csv has one reader; a log to draw may be one a resume refuses, a damaged one is refused by both") {
    TempDir d("plot");
    // Other tools' logs: three columns, steps written as decimals, CRLF line
    // ends, cells after the losses that are not numbers.
    const std::string drawable[] = {"step,train_loss,val_loss\n0,4.2,\n0,,4.1\n10.0,3.9,\n",
                                    "step,train_loss,val_loss\r\n0,4.2,\r\n0,,4.1\r\n10,3.9,\r\n",
                                    std::string(kHeader) + "0,4.2,,n/a,,,\n0,,4.1,,,,\n1e1,3.9,,,,,\n"};
    for (const std::string& text : drawable) {
        CAPTURE(text);
        const RunCurves r = read_log_csv(d.write("other.csv", text), "o");
        CHECK(r.train == std::vector<std::pair<double, double>>{{0, 4.2}, {10, 3.9}});
        CHECK(r.val == std::vector<std::pair<double, double>>{{0, 4.1}});
        CHECK_THROWS_AS(parse_run_log(text, "other.csv"), Error);  // not rows this build writes: no resume from it
        CHECK(parse_run_log(text, "other.csv", LogRows::losses).rows.size() == 3);
    }
    // Damaged either way: the same message from resume and plot.
    const std::string twice = std::string(kHeader) + "0,4.1,,0.001,1,2,3\n5,4.0,,0.001,1,2.005,4.0,,0.001,1,2,3\n6,3,,1,1,1,1\n";
    const std::string path = d.write("twice.csv", twice);
    const std::string from_plot = error_of([&] { read_log_csv(path, "t"); });
    CHECK(contains(from_plot, "line 3: has 12 cells, expected 7"));
    CHECK(from_plot == error_of([&] { parse_run_log(twice, path); }));
    CHECK(contains(error_of([&] { read_log_csv(d.write("none.csv", std::string(kHeader) + "5,,,,,,\n"), "n"); }),
                   "line 2: the row holds no loss"));
    CHECK(contains(error_of([&] { read_log_csv(d.write("empty.csv", ""), "e"); }), "has no header line"));
}

TEST_CASE("plot: inf and nan losses are counted and left out, and the picture is finite") {
    TempDir d("plot");
    const std::string log = d.write("log.csv", std::string(kHeader) +
                                                   "0,4.0,4.1,,,,\n0,4.0,,1,1,1,1\n10,nan,,1,1,1,1\n"
                                                   "20,inf,,1,1,1,1\n20,3.0,-nan,,,,\n30,2.5,2.6,,,,\n");
    RunCurves r = read_log_csv(log, "diverged");
    CHECK(r.non_finite == 3);
    CHECK(r.train.size() == 1);
    CHECK(r.val.size() == 2);
    const std::string svg = plot_svg({r}, "t");
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
    // A huge range still gives a handful of ticks (the old loop stepped by 0.5 over it).
    RunCurves huge{"huge", {{0, 1.0}, {10, 1e30}}, {}, 0};
    const std::string big = plot_svg({huge}, "t");
    CHECK(std::count(big.begin(), big.end(), '\n') < 60);
}

TEST_CASE("plot: the SVG is well-formed XML: huge losses left out, labels escaped, bytes that are not UTF-8 replaced") {
    TempDir d("plot");
    const std::string log = d.write("log.csv", std::string(kHeader) + "0,4.0,4.1,,,,\n10,1e308,,1,1,1,1\n20,3.0,-1e300,,,,\n"
                                                                       "30,2.5,2.6,,,,\n40,2e6,,1,1,1,1\n");
    RunCurves r = read_log_csv(log, "a<b & \"c\"\xFF\x01\xED\xA0\x80\xEF\xBF\xBE");
    CHECK(r.non_finite == 3);
    PlotOptions options;
    options.title = "t\xC3\x28 <&>";
    const std::string svg = plot_svg({PlotGroup{r.label, {r}}}, options);
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK_NOTHROW(utf8_to_code_points(svg));
    for (char c : svg) CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
    CHECK(svg.find("\xEF\xBF\xBE") == std::string::npos);  // U+FFFE is no XML character
    CHECK(contains(svg, "a&lt;b &amp; \"c\"&#xFFFD;&#xFFFD;"));
    CHECK(contains(svg, "t&#xFFFD;( &lt;&amp;&gt;"));
    // Every '&' starts an entity.
    for (size_t at = svg.find('&'); at != std::string::npos; at = svg.find('&', at + 1)) {
        const std::string rest = svg.substr(at, 8);
        CHECK((starts_with(rest, "&lt;") || starts_with(rest, "&gt;") || starts_with(rest, "&amp;") ||
               starts_with(rest, "&#xFFFD;")));
    }
    // Values past what an axis holds, given directly, are left out too.
    RunCurves direct{"direct", {{0, 4.0}, {10, 1e308}, {20, 3.0}}, {{0, 4.1}, {20, 2.9}}, 0};
    const std::string svg2 = plot_svg({direct}, "t");
    CHECK(svg2.find("inf") == std::string::npos);
    CHECK(svg2.find("nan") == std::string::npos);
}

TEST_CASE("plot: --from_step past the last logged step says so") {
    RunCurves r{"r", {{0, 4.0}, {10, 3.0}}, {{0, 4.1}, {10, 3.1}}, 0};
    PlotOptions options;
    options.from_step = 500;
    CHECK(contains(error_of([&] { plot_svg({PlotGroup{"r", {r}}}, options); }),
                   "no loss to draw at or after step 500: the logs end at step 10"));
    RunCurves empty{"e", {}, {}, 0};
    CHECK(contains(error_of([&] { plot_svg({empty}, "t"); }), "the logs hold no losses yet"));
}

TEST_CASE("plot: the mean of runs at the steps they all have, with min and max") {
    std::vector<std::pair<double, double>> a{{0, 4.0}, {10, 3.0}, {20, 2.0}}, b{{0, 4.2}, {10, 2.0}}, c{{0, 3.8}, {10, 2.5}};
    const std::vector<BandPoint> band = mean_with_band({&a, &b, &c});
    REQUIRE(band.size() == 2);  // step 20 is only in a
    CHECK(band[0].step == 0);
    CHECK(band[0].mean == doctest::Approx(4.0));
    CHECK(band[0].lo == doctest::Approx(3.8));
    CHECK(band[0].hi == doctest::Approx(4.2));
    CHECK(band[1].mean == doctest::Approx(2.5));
    CHECK(band[1].lo == doctest::Approx(2.0));
    CHECK(band[1].hi == doctest::Approx(3.0));

    PlotGroup seeds{"seeds", {{"a", {}, a, 0}, {"b", {}, b, 0}}};
    PlotOptions o;
    o.train = false;
    const std::string svg = plot_svg({seeds}, o);
    CHECK(svg.find("<polygon") != std::string::npos);  // the band
    CHECK(svg.find("mean of 2") != std::string::npos);
    CHECK(plot_svg({PlotGroup{"one", {{"a", {}, a, 0}}}}, o).find("<polygon") == std::string::npos);
}

TEST_CASE("plot: a log-scale step axis has a tick per decade and leaves step 0 out") {
    std::vector<std::pair<double, double>> v{{0, 4.0}, {10, 3.0}, {100, 2.5}, {1000, 2.0}};
    PlotOptions o;
    o.log_steps = true;
    const std::string svg = plot_svg({PlotGroup{"r", {{"r", {}, v, 0}}}}, o);
    for (const char* tick : {">10</text>", ">100</text>", ">1000</text>"}) CHECK(svg.find(tick) != std::string::npos);
    CHECK(svg.find("step (log scale)") != std::string::npos);
    size_t dots = 0;
    for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) dots++;
    CHECK(dots == 3);  // steps 10, 100, 1000

    o.from_step = 100;
    const std::string later = plot_svg({PlotGroup{"r", {{"r", {}, v, 0}}}}, o);
    dots = 0;
    for (size_t at = later.find("<circle"); at != std::string::npos; at = later.find("<circle", at + 1)) dots++;
    CHECK(dots == 2);  // steps 100, 1000

    o.to_step = 999;
    const std::string middle = plot_svg({PlotGroup{"r", {{"r", {}, v, 0}}}}, o);
    dots = 0;
    for (size_t at = middle.find("<circle"); at != std::string::npos; at = middle.find("<circle", at + 1)) dots++;
    CHECK(dots == 1);  // step 100
    o.to_step = 50;
    CHECK(contains(error_of([&] { plot_svg({PlotGroup{"r", {{"r", {}, v, 0}}}}, o); }), "--to_step 50 comes before --from_step 100"));
}

TEST_CASE("plot: the SVG replaces only an .svg file, through a temporary file") {
    TempDir d("plot");
    const std::string log = d.write("log.csv", std::string(kHeader) + "0,4.0,4.1,,,,\n");
    const std::string data = d.write("train.bin", "\x01\x02");
    const std::string ckpt = d.write("ckpt.bin", "keep");
    for (const std::string& target : {log, data, ckpt, std::string("/dev/null"), d.path.string()}) {
        const std::string before = fs::is_regular_file(target) ? read_file(target) : "";
        CHECK(!error_of([&] { write_svg(target, "<svg/>\n"); }).empty());
        if (fs::is_regular_file(target)) CHECK(read_file(target) == before);
    }
    fs::create_directories(d.path / "folder.svg");
    CHECK(error_of([&] { write_svg((d.path / "folder.svg").string(), "<svg/>\n"); }).find("not a regular file") !=
          std::string::npos);
    CHECK(fs::is_directory(d.path / "folder.svg"));

    const std::string out = d.write("old.svg", "old picture");
    write_svg(out, "<svg>new</svg>\n");
    CHECK(read_file(out) == "<svg>new</svg>\n");
    CHECK(!error_of([&] { write_svg((d.path / "missing/x.svg").string(), "<svg/>\n"); }).empty());
    for (const auto& entry : fs::directory_iterator(d.path))  // no temporary file left behind
        CHECK(entry.path().string().find(".tmp") == std::string::npos);
}

}  // namespace
}  // namespace cg
