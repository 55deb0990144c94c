# Thin wrapper over CMake. `make demo` and `make test` install what is missing, build, run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Debian packages the project needs (build, tests, demo data). python3-h5py/pandas let the
# tests check that h5py and pandas read our files; python3-pip fetches LightGBM's wheel.
DEB_PKGS = build-essential cmake pkg-config libopenblas-dev libhdf5-dev hdf5-tools \
           libopenmpi-dev openmpi-bin zlib1g-dev gnuplot-nox dataset-fashion-mnist \
           libxgboost-dev liblinear-dev libcjson-dev python3-h5py python3-pandas python3-numpy \
           python3-pip

# LightGBM (the lgbm and extra_tree learners) has no Debian package and its sources take too
# long to build on a 2-core machine: `make deps` unpacks lib_lightgbm.so from the PyPI wheel
# (3.5 MB) into .whl/, where CMake finds it; learners/lightgbm.c loads it with dlopen, so
# without it everything builds and the two learners say they are unavailable.
LIGHTGBM_VERSION = 4.7.0
WHL_DIR = .whl

.PHONY: all deps build test test-sanitize demo gpu-check gpu-deps bench clean help data fuzz fuzz-deps \
        fuzz-build fuzz-replay paper paper-deps

all: build

help:
	@echo "make deps       install the Debian packages gpuhours needs (as root) and fetch"
	@echo "                LightGBM's library from its PyPI wheel into $(WHL_DIR)/"
	@echo "make            configure and build into $(BUILD)/"
	@echo "make test       deps + build + every test (ctest)"
	@echo "make test-sanitize  every test in an AddressSanitizer + UBSan Debug build ($(BUILD)-asan)"
	@echo "make demo       deps + the gpuhours binary + the main job on the embedded default data:"
	@echo "                methods side by side on one budget each, figures and report"
	@echo "make gpu-check  on a GPU machine: CUDA build, all tests, kernel benchmark"
	@echo "make gpu-deps   compute-sanitizer for gpu-check, fetched here (GPU machines may be offline)"
	@echo "make bench      kernel benchmark on this machine"
	@echo "make data       the weka ARFF sets into .data/weka (or \$$GH_DATA_DIR)"
	@echo "make fuzz       every parser harness under libFuzzer for FUZZ_SECONDS (60) each"
	@echo "                (clang, ASan + UBSan, $(FUZZ_BUILD)); crashes in $(FUZZ_BUILD)/findings/"
	@echo "make fuzz-replay  every harness once over its corpus and regression inputs (CI)"
	@echo "make paper      paper/gpuhours.pdf from the runs in results/ (installs TeX Live and"
	@echo "                latexmk as root for this target only: make paper-deps)"

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi
	@if [ -f $(WHL_DIR)/lib_lightgbm.so ]; then echo "deps: $(WHL_DIR)/lib_lightgbm.so present"; \
	else $(MAKE) --no-print-directory $(WHL_DIR)/lib_lightgbm.so; fi
	@if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then :; \
	elif command -v cuobjdump >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/cuobjdump ] || \
	  [ -x $(WHL_DIR)/bin/cuobjdump ]; then echo "deps: cuobjdump present"; \
	else $(MAKE) --no-print-directory $(WHL_DIR)/bin/cuobjdump; fi

# pip downloads the wheel only (no install, so Debian's externally-managed Python is left
# alone); Python's zipfile takes the one file out of it (unzip may not be installed).
$(WHL_DIR)/lib_lightgbm.so:
	@if python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"; \
	elif command -v pip3 >/dev/null 2>&1; then pip=pip3; \
	else echo "deps: no pip (python3 -m pip or pip3): the lgbm and extra_tree learners will be"; \
	  echo "  unavailable. To get them: apt-get install python3-pip, then make deps again; or put"; \
	  echo "  lib_lightgbm.so of LightGBM $(LIGHTGBM_VERSION) (the PyPI wheel's lightgbm/lib/) in"; \
	  echo "  $(WHL_DIR)/, or set GH_LIGHTGBM_LIB=/path/to/lib_lightgbm.so when running"; exit 0; fi; \
	tmp=$$(mktemp -d) && echo "deps: fetching LightGBM $(LIGHTGBM_VERSION)'s wheel with $$pip" && \
	$$pip download -q --no-deps --only-binary=:all: lightgbm==$(LIGHTGBM_VERSION) -d $$tmp && \
	mkdir -p $(WHL_DIR) && \
	python3 -c 'import glob, sys, zipfile; w = glob.glob(sys.argv[1] + "/lightgbm-*.whl")[0]; \
	  open(sys.argv[2] + ".tmp", "wb").write(zipfile.ZipFile(w).read("lightgbm/lib/lib_lightgbm.so"))' \
	  $$tmp $@ && mv $@.tmp $@ && rm -rf $$tmp && echo "deps: $@ (LightGBM $(LIGHTGBM_VERSION))" || \
	{ rm -rf $$tmp $@.tmp; echo "deps: could not fetch LightGBM's wheel (above); the lgbm and"; \
	  echo "  extra_tree learners stay unavailable until $@ exists"; exit 1; }

# cuobjdump and the nvdisasm it runs for SASS (bench/cuda_resources.sh, the ctest
# cuda_resources: registers, spills, occupancy and tensor-core instructions of the built
# kernels, no GPU needed) are not in every CUDA toolkit install: taken out of NVIDIA's PyPI
# wheels of nvcc's CUDA major version into $(WHL_DIR)/bin. Without them the test is skipped.
$(WHL_DIR)/bin/cuobjdump:
	@nvcc=$$(command -v nvcc || echo /usr/local/cuda/bin/nvcc); \
	major=$$($$nvcc --version | sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p'); \
	if ! python3 -m pip --version >/dev/null 2>&1 || [ -z "$$major" ]; then \
	  echo "deps: no pip or no nvcc version: cuobjdump stays missing (cuda_resources skips)"; exit 0; fi; \
	tmp=$$(mktemp -d) && echo "deps: fetching cuobjdump and nvdisasm (CUDA $$major) from NVIDIA's wheels" && \
	python3 -m pip download -q --no-deps --only-binary=:all: -d $$tmp \
	  "nvidia-cuda-cuobjdump>=$$major,<$$((major + 1))" "nvidia-cuda-nvdisasm>=$$major,<$$((major + 1))" && \
	mkdir -p $(WHL_DIR)/bin && \
	python3 -c 'import glob, os, sys, zipfile; \
	  [open(os.path.join(sys.argv[2], os.path.basename(n)), "wb").write(z.read(n)) \
	   for w in glob.glob(sys.argv[1] + "/*.whl") for z in [zipfile.ZipFile(w)] \
	   for n in z.namelist() if n.endswith(("/bin/cuobjdump", "/bin/nvdisasm"))]' $$tmp $(WHL_DIR)/bin && \
	chmod +x $(WHL_DIR)/bin/cuobjdump $(WHL_DIR)/bin/nvdisasm && rm -rf $$tmp && \
	echo "deps: $(WHL_DIR)/bin/cuobjdump, $(WHL_DIR)/bin/nvdisasm" || \
	{ rm -rf $$tmp $(WHL_DIR)/bin/cuobjdump $(WHL_DIR)/bin/nvdisasm; \
	  echo "deps: could not fetch cuobjdump; the cuda_resources test skips"; exit 0; }

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: deps
	$(MAKE) data
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every test again in a Debug build with AddressSanitizer and UBSan. CUDA is left out: its tests
# skip without a GPU, and the sanitizers do not see into device code (compute-sanitizer does).
test-sanitize: deps
	$(MAKE) data
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON -DGH_CUDA=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS)

# The main job (reproductions/demo.sh): DARTS beside random sampling and random search with
# weight sharing on the seconds DARTS's search took, regularized evolution, NASNet's RL and
# random sampling on the NASNet space (2 seeds, one seconds budget), CFO beside random search
# and TPE on a Weka set (2 seeds, one budget), then the figures and tables of every run under
# results/. Only the gpuhours binary is built (the tests and benchmarks are `make test`'s): on a
# fresh clone with nvcc (CUDA on), load 7-13, 201 s, and 93 s more for every other target.
# Timings of the whole target: reproductions/README.md.
demo: deps
	$(MAKE) data
	$(MAKE) $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target gpuhours
	./reproductions/demo.sh ./$(BUILD)/gpuhours

gpu-check:
	./bench/gpu_check.sh $(BUILD)-gpu

# compute-sanitizer (gpu_check.sh's memcheck of the CUDA tests) from NVIDIA's PyPI wheel of
# nvcc's CUDA version, into $(WHL_DIR)/sanitizer (the wheel's layout less its headers: the
# tool finds its libraries by it), for CUDA installs without it. Run here, before a tree goes to a GPU
# machine without network access (carry $(WHL_DIR)); gpu_check.sh skips the stage without it.
gpu-deps: $(WHL_DIR)/sanitizer/bin/compute-sanitizer
$(WHL_DIR)/sanitizer/bin/compute-sanitizer:
	@nvcc=$$(command -v nvcc || echo /usr/local/cuda/bin/nvcc); \
	ver=$$($$nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'); \
	if ! python3 -m pip --version >/dev/null 2>&1 || [ -z "$$ver" ]; then \
	  echo "gpu-deps: no pip or no nvcc version: compute-sanitizer stays missing"; exit 1; fi; \
	tmp=$$(mktemp -d) && echo "gpu-deps: fetching compute-sanitizer $$ver.* from NVIDIA's wheel" && \
	python3 -m pip download -q --no-deps --only-binary=:all: -d $$tmp \
	  "nvidia-cuda-sanitizer-api==$$ver.*" && \
	python3 -c 'import glob, os, re, sys, zipfile; \
	  [(os.makedirs(os.path.dirname(d), exist_ok=True), open(d, "wb").write(z.read(n)), \
	    os.chmod(d, 0o755)) \
	   for w in glob.glob(sys.argv[1] + "/*.whl") for z in [zipfile.ZipFile(w)] \
	   for n in z.namelist() for m in [re.match(r"nvidia/[^/]+/(.+)$$", n)] \
	   if m and not n.endswith("/") and not m.group(1).startswith("include/") \
	   for d in [os.path.join(sys.argv[2], m.group(1))]]' $$tmp $(WHL_DIR)/sanitizer && \
	rm -rf $$tmp && $@ --version >/dev/null && echo "gpu-deps: $@" || \
	{ rm -rf $$tmp $(WHL_DIR)/sanitizer; echo "gpu-deps: could not fetch compute-sanitizer"; exit 1; }

bench: build
	./$(BUILD)/bench/bench_kernels

# CPU kernels beside PyTorch (Debian's python3-torch) at the same thread count; CSVs in
# $(BUILD)/bench/. BENCH_ARGS=--quick for a shorter run.
BENCH_THREADS ?= $(shell nproc)
BENCH_ARGS ?=
.PHONY: bench-cpu
bench-cpu: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target bench_kernels
	./$(BUILD)/bench/bench_kernels --threads $(BENCH_THREADS) $(BENCH_ARGS) --csv $(BUILD)/bench/kernels_cpu.csv
	/usr/bin/python3 bench/peer_torch_kernels.py --threads $(BENCH_THREADS) $(BENCH_ARGS) --csv $(BUILD)/bench/kernels_torch.csv
	python3 bench/compare_kernels.py $(BUILD)/bench/kernels_cpu.csv $(BUILD)/bench/kernels_torch.csv

clean:
	rm -rf $(BUILD)

data:
	./data/weka.sh

# ---- fuzzing (tests/fuzz): clang, libFuzzer, AddressSanitizer + UBSan ----------------------
# The libraries are built again with clang in $(FUZZ_BUILD) (coverage-instrumented,
# sanitized); each harness fuzzes a copy of its seed corpus, so tests/fuzz/corpus stays as
# committed, with tests/fuzz/NAME.dict (the format's words) where there is one. A crash is
# written to $(FUZZ_BUILD)/findings/NAME/ and fails the target at the end; once fixed, the
# input goes to tests/fuzz/regressions/NAME/.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_HARNESSES = csv arff idx cifar genotype arc config space model
# libomp-dev: clang's OpenMP runtime (gcc's libgomp does not serve clang's -fopenmp)
FUZZ_PKGS = clang libclang-rt-14-dev libomp-dev
FUZZ_FLAGS = -timeout=10 -rss_limit_mb=2048

fuzz-deps:
	@missing=$$(for p in $(FUZZ_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "fuzz-deps: clang and libFuzzer present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "fuzz-deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "fuzz-deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=$(FUZZ_CC) cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1" \
	  -DGH_SANITIZE=ON -DGH_CUDA=OFF -DGH_FUZZ=ON $(CMAKE_FLAGS)

fuzz-build: deps fuzz-deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_harnesses

fuzz: fuzz-build
	@failed=""; for h in $(FUZZ_HARNESSES); do \
	  rm -rf $(FUZZ_BUILD)/corpus/$$h; mkdir -p $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/findings/$$h; \
	  cp tests/fuzz/corpus/$$h/* $(FUZZ_BUILD)/corpus/$$h/; \
	  regs=""; [ -d tests/fuzz/regressions/$$h ] && regs=tests/fuzz/regressions/$$h; \
	  echo "fuzz: $$h for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/fuzz-$$h.log)"; \
	  dict=""; [ -f tests/fuzz/$$h.dict ] && dict=-dict=tests/fuzz/$$h.dict; \
	  ./$(FUZZ_BUILD)/tests/fuzz/fuzz_$$h $(FUZZ_FLAGS) $$dict -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(FUZZ_BUILD)/findings/$$h/ $(FUZZ_BUILD)/corpus/$$h $$regs \
	    > $(FUZZ_BUILD)/fuzz-$$h.log 2>&1 || failed="$$failed $$h"; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_BUILD)/fuzz-$$h.log || tail -n 30 $(FUZZ_BUILD)/fuzz-$$h.log; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (inputs in $(FUZZ_BUILD)/findings/)"; exit 1; fi

# Every harness once over its corpus and regression inputs, no fuzzing: the sanitized
# libFuzzer binaries with -runs=0 (for CI; `make test` replays the same inputs in $(BUILD)).
fuzz-replay: fuzz-build
	@for h in $(FUZZ_HARNESSES); do \
	  regs=""; [ -d tests/fuzz/regressions/$$h ] && regs=tests/fuzz/regressions/$$h; \
	  ./$(FUZZ_BUILD)/tests/fuzz/fuzz_$$h $(FUZZ_FLAGS) -runs=0 tests/fuzz/corpus/$$h $$regs \
	    > $(FUZZ_BUILD)/replay-$$h.log 2>&1 || { tail -n 40 $(FUZZ_BUILD)/replay-$$h.log; \
	    echo "fuzz-replay: $$h failed (log: $(FUZZ_BUILD)/replay-$$h.log)"; exit 1; }; \
	  echo "fuzz-replay: $$h: $$(grep -oE 'INITED.*|DONE.*' $(FUZZ_BUILD)/replay-$$h.log | tail -n 1)"; \
	done

# ---- the paper (paper/README.md): figures, tables and every number from results/ -----------
# TeX Live is large, so only this target installs it (`make test` and `make demo` stay light).
# poppler-utils: pdftoppm, to look at the pages.
PAPER_PKGS = latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra \
             texlive-fonts-recommended poppler-utils

paper-deps:
	@missing=$$(for p in $(PAPER_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "paper-deps: TeX Live and latexmk present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "paper-deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "paper-deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi

paper: deps paper-deps
	$(MAKE) build
	./paper/build.sh ./$(BUILD)/gpuhours results paper
