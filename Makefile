# causalgrad's front door: `make` builds, `make test` runs the tests, `make help` lists the rest.
# Everything goes through CMake; these targets only pick the build dir and the options.
#
#   make test ARGS='-tc="grad*"'              pass doctest filters/options to the test binary
#   make build CMAKE_FLAGS=-DCAUSALGRAD_NATIVE=OFF   a portable build
#   make train MIXER=pair_max TRAIN_ARGS='--max_iters=500'   options for `causalgrad train`

.DEFAULT_GOAL := build
# Also reaches the make that CMake runs, which would otherwise print "Entering directory" lines.
MAKEFLAGS += --no-print-directory

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
ARGS ?=
TRAIN_ARGS ?=
CLANGXX ?= clang++

NATIVE := $(if $(findstring CAUSALGRAD_NATIVE=OFF,$(CMAKE_FLAGS)),portable,native)
# Leak checking is on: it works as root in a container (LeakSanitizer only fails under ptrace).
SANITIZERS := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: help deps build build-mpi test test-mpi ctest test-sanitize test-clang test-aarch64 test-kill fuzz examples train data bench bench-gemm study study-report clean

help:
	@echo "make build          install missing deps, configure and build build/ (Release, -march=native)"
	@echo "make test           build, check the layer order, then run build/causalgrad_tests (ARGS='...' for doctest options), and the MPI test if build-mpi/ exists"
	@echo "make build-mpi      install Open MPI, build build-mpi/ with -DCAUSALGRAD_MPI=ON (mpirun -np N causalgrad train)"
	@echo "make test-mpi       build build-mpi/, check 2 processes against 1 (tests/mpi_test.sh)"
	@echo "make ctest          build, then run the suite through CTest"
	@echo "make test-sanitize  build build-asan/ (Debug, ASan + UBSan) and run the tests there"
	@echo "make test-clang     build build-clang/ with clang++ and -Werror, and run the tests there"
	@echo "make test-aarch64   cross-build build-aarch64/ for 64-bit ARM, run the suite's subset and 50 training steps under qemu"
	@echo "make test-kill      kill -9 a tiny training run 20 times at random moments, 20 more keeping best and latest apart, 4 full disks; check checkpoints and log"
	@echo "make fuzz           build build-fuzz/ (clang, libFuzzer) and fuzz each reader FUZZ_SECONDS (60) seconds"
	@echo "make examples       install build/ to a temporary prefix, build examples/ against it with find_package, run them"
	@echo "make train          prepare the data, train the CPU config (MIXER=attn), print a sample"
	@echo "make data           fetch tiny Shakespeare and write data/shakespeare_char/"
	@echo "make bench          time training steps, long contexts and generation on this machine"
	@echo "make bench-gemm     GFLOP/s of OpenBLAS sgemm and of the bf16 product at the model's shapes (x86-64, AVX512_BF16)"
	@echo "make study          run the study's grid (study/grid.conf; hours, resumable), then write study/README.md"
	@echo "make study QUICK=1  the same cut to a few steps per run (minutes), into study/runs-quick/"
	@echo "make study-report   write study/README.md and its plots again from the logs in study/runs/"
	@echo "make deps           install missing system packages (scripts/install-deps.sh)"
	@echo "make clean          remove build/, build-asan/, build-clang/, build-fuzz/, build-mpi/ and build-aarch64/"

deps:
	@bash scripts/install-deps.sh

# Configuring every time is cheap, and picks up new CMAKE_FLAGS.
build: deps
	@echo "==> configuring build/ (Release, $(NATIVE))"
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	@echo "==> building build/ ($(JOBS) jobs)"
	@cmake --build build -j$(JOBS)

test: build
	@echo "==> layer order (tests/layer_check.sh)"
	@bash tests/layer_check.sh
	@echo "==> running $(strip build/causalgrad_tests $(ARGS))"
	@t0=$$(date +%s%N); ./build/causalgrad_tests $(ARGS); status=$$?; \
		echo "==> test suite: $$(( ($$(date +%s%N) - t0) / 1000000 )) ms"; exit $$status
	@echo "==> scripts/load_nanogpt.py against PyTorch (skipped in the suite above: Python with torch starts slowly)"
	@./build/causalgrad_tests -tc='interop: scripts/load_nanogpt.py*' --no-skip=true
	@bash study/test.sh build/causalgrad
	@if [ -x build-mpi/causalgrad ] && command -v mpirun >/dev/null; then \
		cmake --build build-mpi -j$(JOBS) --target causalgrad && bash tests/mpi_test.sh build-mpi/causalgrad; \
		else echo "==> MPI tests skipped (no build-mpi/; make test-mpi builds it and runs them)"; fi

# The MPI build lives in its own dir, so the default build never needs MPI.
build-mpi: deps
	@bash scripts/install-deps.sh --mpi
	@echo "==> configuring build-mpi/ (Release, $(NATIVE), MPI)"
	@cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DCAUSALGRAD_MPI=ON $(CMAKE_FLAGS)
	@echo "==> building build-mpi/ ($(JOBS) jobs)"
	@cmake --build build-mpi -j$(JOBS) --target causalgrad

test-mpi: build-mpi
	@bash tests/mpi_test.sh build-mpi/causalgrad

# `cd build && ctest` rather than `ctest --test-dir build`, which needs CMake 3.20.
ctest: build
	@echo "==> running ctest in build/"
	@cd build && ctest --output-on-failure

test-sanitize: deps
	@echo "==> configuring build-asan/ (Debug, ASan + UBSan, portable)"
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCAUSALGRAD_SANITIZE=ON -DCAUSALGRAD_NATIVE=OFF
	@echo "==> building build-asan/ ($(JOBS) jobs)"
	@cmake --build build-asan -j$(JOBS)
	@echo "==> running $(strip build-asan/causalgrad_tests $(ARGS)) ($(SANITIZERS))"
	@$(SANITIZERS) ./build-asan/causalgrad_tests $(ARGS)

test-clang: deps
	@echo "==> configuring build-clang/ (Release, $(CLANGXX), -Werror)"
	@cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=$(CLANGXX) \
		-DCAUSALGRAD_WERROR=ON $(CMAKE_FLAGS)
	@echo "==> building build-clang/ ($(JOBS) jobs)"
	@cmake --build build-clang -j$(JOBS)
	@echo "==> running $(strip build-clang/causalgrad_tests $(ARGS))"
	@./build-clang/causalgrad_tests $(ARGS)

# The aarch64 build under qemu-aarch64 (tests/aarch64.sh, docs/arm.md): installs the cross
# compiler, arm64 OpenBLAS and qemu-user where missing; 50 training steps are compared with build/.
test-aarch64: build
	@JOBS=$(JOBS) bash tests/aarch64.sh build/causalgrad

# 20 kill -9s across training and resumes, 20 kills and SIGTERMs of runs that keep the best and the
# latest state apart, and 4 runs stopped by a full disk (a tmpfs, as root) (tests/kill_test.sh); about 30 s.
test-kill: build
	@echo "==> kill test (tests/kill_test.sh)"
	@bash tests/kill_test.sh build/causalgrad 20

# The checkpoint, config, option, log.csv and safetensors readers under libFuzzer, ASan and UBSan,
# each for FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := checkpoint config log options safetensors
fuzz: deps
	@echo "==> configuring build-fuzz/ ($(CLANGXX), libFuzzer, ASan + UBSan, portable)"
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=$(CLANGXX) \
		-DCAUSALGRAD_FUZZ=ON -DCAUSALGRAD_NATIVE=OFF
	@cmake --build build-fuzz -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		echo "==> fuzz_$$t for $(FUZZ_SECONDS) s"; \
		mkdir -p build-fuzz/corpus-$$t && \
		$(SANITIZERS) ./build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/fuzz_$$t- \
			-print_final_stats=1 build-fuzz/corpus-$$t tests/fuzz/corpus/$$t > build-fuzz/fuzz_$$t.log 2>&1; \
		status=$$?; \
		grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" build-fuzz/fuzz_$$t.log; \
		if [ $$status -ne 0 ]; then tail -n 40 build-fuzz/fuzz_$$t.log; echo "fuzz_$$t failed (exit $$status)"; exit 1; fi; \
	done

# causalgrad as an installed package (examples/check.sh): install build/ into a temporary
# prefix, build examples/ against it, run the MLP, sample a tiny checkpoint of the installed binary.
examples: build
	@JOBS=$(JOBS) bash examples/check.sh build

# The main job: nanoGPT's CPU run of tiny Shakespeare (the train defaults), then a sample.
#   make train MIXER=pair_max     a replacement mixer (or a comma list, one per block)
MIXER ?= attn
comma := ,
OUT_DIR ?= out-$(subst $(comma),-,$(MIXER))
train: data
	@echo "==> training ($(MIXER)) into $(OUT_DIR)/"
	@./build/causalgrad train --mixer=$(MIXER) --out_dir=$(OUT_DIR) $(TRAIN_ARGS)
	@echo "==> a sample from $(OUT_DIR)/ckpt.bin"
	@./build/causalgrad sample --out_dir=$(OUT_DIR) --max_new_tokens=300

# Speed on this machine: training steps of the CPU config with attention and
# with pair_max, quiet and next to a busy process, the cost from context 256 to
# 4096 (batch 4), and generation.
BENCH := ./build/causalgrad bench
bench: build
	@echo "==> training step, CPU config"
	@$(BENCH) --mixer=attn --ops
	@$(BENCH) --mixer=pair_max | grep '^bench:'
	@echo "==> nanoGPT's shakespeare_char model 6/6/384, T 256, B 16: float32, and bfloat16 where the CPU has bf16 products"
	@$(BENCH) --steps=1 --warmup=0 --n_layer=1 | grep 'bf16 products'
	@for m in attn pair_max; do for d in float32 bfloat16; do \
		if [ $$d = bfloat16 ] && ! $(BENCH) --steps=1 --warmup=0 --n_layer=1 | grep -q 'bf16 products: yes'; then continue; fi; \
		printf "%-9s %-9s " $$m $$d; \
		$(BENCH) --mixer=$$m --dtype=$$d --n_layer=6 --n_head=6 --n_embd=384 --block_size=256 --batch_size=16 --steps=8 --warmup=3 | grep '^bench:'; \
	done; done
	@echo "==> CPU config next to a CPU-bound process (bench starts and stops it): threads chosen by measuring, and 1"
	@for m in attn pair_max; do for load in none busy busy-nice; do for t in 0 1; do \
		printf "%-9s load %-9s threads %s: " $$m $$load $$( [ $$t = 0 ] && echo chosen || echo 1 ); \
		$(BENCH) --mixer=$$m --load=$$load --threads=$$t --steps=30 | awk '/^bench:/ {print $$2 " ms/step"}'; \
	done; done; done
	@echo "==> context 256 -> 4096 (batch 4, 4 layers of 128)"
	@for m in attn pair_max scan_max; do for t in 256 4096; do \
		printf "%-9s block %4s: " $$m $$t; \
		$(BENCH) --mixer=$$m --block_size=$$t --batch_size=4 --steps=3 --warmup=1 | \
			awk '/peak memory/ {mem = $$3} /^bench:/ {print $$2 " ms/step, peak " mem " MiB"}'; \
	done; done
	@echo "==> generation"
	@$(BENCH) --what=generate --mixer=attn | tail -n 5
	@$(BENCH) --what=generate --mixer=scan_max | tail -n 5

# The bf16 product (tensor/matmul_bf16.cpp) against sgemm at the CPU config's
# shapes, 1 and 2 threads, and both instructions' peaks (bench/gemm_bf16.cpp).
bench-gemm: build
	@./build/bench_gemm_bf16

# The study (study/README.md): every run of study/grid.conf, niced, STUDY_JOBS at a
# time with one thread each; finished runs are skipped, interrupted ones resume.
STUDY_JOBS ?= 2
QUICK ?=
STUDY_RUNS := $(if $(QUICK),study/runs-quick,study/runs)
study: data
	@status=0; nice -n 19 bash study/run.sh $(if $(QUICK),--quick) --jobs=$(STUDY_JOBS) || status=$$?; \
		bash study/report.sh --runs=$(STUDY_RUNS) && exit $$status

study-report: build
	@bash study/report.sh --runs=$(STUDY_RUNS)

data: build
	@bash data/prepare.sh build/causalgrad

clean:
	@echo "==> removing build/ build-asan/ build-clang/ build-fuzz/ build-mpi/ build-aarch64/"
	@rm -rf build build-asan build-clang build-fuzz build-mpi build-aarch64
