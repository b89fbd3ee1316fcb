# frozen — build and test entry points. `make test` is what CI runs.

GO          ?= go
PKGS        := ./...
# Every supported GOOS/GOARCH is cross-compiled and vetted (library and tests).
PLATFORMS   := linux/amd64 linux/arm64 linux/386 linux/arm darwin/amd64 darwin/arm64 freebsd/amd64 openbsd/amd64 netbsd/amd64 \
               solaris/amd64 illumos/amd64 windows/amd64 aix/ppc64 js/wasm wasip1/wasm plan9/amd64
EXAMPLES    := $(notdir $(wildcard examples/*))
BENCHTIME   ?= 1x

.PHONY: test fmt vet race cgocheck2 fallback linux386 emulated nobackend cross examples bench-compile bench bench-quick report report-quick clean

## test: everything CI checks (gofmt, vet, -race, cgocheck2, fallback backend, 32-bit, other CPUs under emulation, a platform without a backend, cross-compile, examples)
test: fmt vet race cgocheck2 fallback linux386 emulated nobackend cross bench-compile examples
	@echo "make test: all checks passed"

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags invariants $(PKGS)

## race: the suite under the race detector (which also turns on checkptr
## and the invariants build). The race detector needs cgo, and cgo a C
## compiler: where none is found, gcc is installed with apt-get (as root);
## where it cannot be, the step fails and says so. GORACE's
## atexit_sleep_ms=0 ends each test binary, and each child process a test
## starts, without the race runtime's second of sleep at exit.
race:
	@set -e; \
	if [ "$$($(GO) env CGO_ENABLED)" != 1 ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "race: installing gcc (the race detector needs cgo, and cgo a C compiler)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc >/dev/null 2>&1; } || true; \
	fi; \
	if [ "$$($(GO) env CGO_ENABLED)" != 1 ]; then \
		echo "race: the race detector needs cgo, which needs a C compiler: install gcc (or set CC and CGO_ENABLED=1)"; exit 1; \
	fi; \
	echo "GORACE=\"atexit_sleep_ms=0 $${GORACE:-}\" $(GO) test -race -count=1 -timeout 20m $(PKGS)"; \
	GORACE="atexit_sleep_ms=0 $${GORACE:-}" $(GO) test -race -count=1 -timeout 20m $(PKGS)

## cgocheck2: the suite again; the runtime aborts if a Go pointer is ever stored in arena memory
cgocheck2:
	GOEXPERIMENT=cgocheck2 $(GO) test -tags invariants -count=1 -timeout 20m $(PKGS)

## fallback: the portable (temporary file) backend, exercised on Linux
fallback:
	$(GO) test -tags frozen_fallback -count=1 -short -timeout 20m $(PKGS)

## linux386: the suite and the examples built for linux/386 and run natively
## (x86-64 Linux runs 32-bit programs): 32-bit pointers, sizes and
## alignments, a 4 GiB address space, and xxhash's Go code instead of its
## amd64 assembly. (No step builds with -tags purego: the library has no
## code of its own for it, and xxhash's Go code runs here and in the
## emulated runs.) On another host, or a kernel built without IA-32
## emulation, the step says it skipped instead of failing.
linux386:
	@set -e; \
	if [ "$$($(GO) env GOHOSTOS)/$$($(GO) env GOHOSTARCH)" != linux/amd64 ]; then \
		echo "linux386: SKIPPED: needs a linux/amd64 host"; exit 0; \
	fi; \
	probe=$$(mktemp -d); trap 'rm -rf "$$probe"' EXIT; \
	printf 'package main\n\nfunc main() {}\n' > "$$probe/main.go"; \
	GOARCH=386 $(GO) build -o "$$probe/probe" "$$probe/main.go"; \
	if ! "$$probe/probe" 2>/dev/null; then \
		echo "linux386: SKIPPED: this kernel does not run 32-bit programs"; exit 0; \
	fi; \
	GOARCH=386 $(GO) test -count=1 -timeout 20m $(PKGS); \
	echo "linux386: the examples"; \
	GOARCH=386 $(MAKE) --no-print-directory examples

## emulated: the suite built for other CPUs and run under qemu-user:
##  - linux/s390x: big-endian (lookup tags, checksums), and a kernel that
##    reports fault addresses only to the page; examples are left out, as
##    their output names exact fields;
##  - linux/arm64 with 64 KiB pages, as on many arm64 servers;
##  - linux/arm (32-bit ARM): the packages whose tests need neither a
##    fault's address nor /proc of the guest (arena, internal/offheap,
##    internal/layout, internal/lookup): qemu-arm writes 0 where the kernel
##    writes a fault's address into the signal context, which Go reads on
##    32-bit ARM, and it runs a 32-bit guest inside one reservation of its
##    own address space, whose /proc/self/maps, status and mem do not
##    describe the guest's memory as a kernel's would;
##  - linux/mips, a CPU that faults on unaligned word loads: the lookup
##    tables only, which read words at any byte offset (under qemu-user the
##    other packages' tests of mappings and faults see the emulator, not a
##    MIPS kernel). Little-endian mipsle adds nothing to it: linux/arm
##    runs the same byte-at-a-time loads little-endian, and a load that
##    is not aligned faults on mips whatever the byte order.
## qemu-user-static is installed with apt-get when missing (as root); where
## it cannot be, the step says it skipped instead of failing. The two
## whole-suite runs test four packages at once (-p 4), not two: once only
## the longest package's tests are left, which run one after another, a
## core sat idle (169 s against 147 s for the step, warm).
QEMU_S390X ?= qemu-s390x-static
QEMU_ARM64 ?= qemu-aarch64-static -p 65536
QEMU_ARM ?= qemu-arm-static
QEMU_MIPS ?= qemu-mips-static
emulated:
	@set -e; \
	if ! command -v $(firstword $(QEMU_S390X)) >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "emulated: installing qemu-user-static"; \
		apt-get install -y -q qemu-user-static >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q qemu-user-static >/dev/null 2>&1; } || true; \
	fi; \
	if ! command -v $(firstword $(QEMU_S390X)) >/dev/null 2>&1 || ! command -v $(firstword $(QEMU_ARM64)) >/dev/null 2>&1 || \
		! command -v $(firstword $(QEMU_ARM)) >/dev/null 2>&1 || ! command -v $(firstword $(QEMU_MIPS)) >/dev/null 2>&1; then \
		echo "emulated: SKIPPED: qemu-user-static is missing and could not be installed (needs root, apt-get and the network)"; \
		exit 0; \
	fi; \
	echo "emulated: linux/s390x (big-endian)"; \
	FROZEN_TEST_EXEC_WRAPPER="$(QEMU_S390X)" GOARCH=s390x $(GO) test -exec "$(QEMU_S390X)" -p 4 -count=1 -short -timeout 20m -run '^(Test|Fuzz)' $(PKGS); \
	echo "emulated: linux/arm64, 64 KiB pages"; \
	FROZEN_EXPECT_PAGESIZE=65536 FROZEN_TEST_EXEC_WRAPPER="$(QEMU_ARM64)" GOARCH=arm64 $(GO) test -exec "$(QEMU_ARM64)" -p 4 -count=1 -short -timeout 20m $(PKGS); \
	echo "emulated: linux/arm (32-bit ARM), the packages that need no fault address or /proc"; \
	FROZEN_TEST_EXEC_WRAPPER="$(QEMU_ARM)" GOARCH=arm $(GO) test -exec "$(QEMU_ARM)" -count=1 -short -timeout 20m \
		./arena ./internal/offheap ./internal/layout ./internal/lookup; \
	echo "emulated: linux/mips (strict alignment), lookup tables"; \
	GOARCH=mips $(GO) test -exec "$(QEMU_MIPS)" -count=1 -short -timeout 20m ./internal/lookup

## nobackend: the suite built for js/wasm and run under Node.js, a
## platform without a backend: NewArena fails there with
## ErrUnsupportedPlatform, the tests that need arena memory are left out
## by their build constraints (unix && !aix), and the others must pass.
## Where Node.js is not installed, the step says it skipped.
nobackend:
	@set -e; \
	if ! command -v node >/dev/null 2>&1; then \
		echo "nobackend: SKIPPED: Node.js is not installed (it runs the js/wasm tests)"; exit 0; \
	fi; \
	echo "nobackend: js/wasm under Node.js"; \
	PATH="$$PATH:$$($(GO) env GOROOT)/lib/wasm" GOOS=js GOARCH=wasm $(GO) test -count=1 -short -timeout 20m $(PKGS)

## cross: every platform builds and vets (library and tests). The standard
## library of each system that no other step compiles is compiled without
## optimizations (-N -l): the same errors, a fifth less time on a fresh
## machine, where compiling it is most of this step. The Linux targets and
## js/wasm keep the optimized builds that the suite's steps compiled (and
## cached) before (js/wasm's where Node.js ran them).
cross:
	@set -e; for p in $(PLATFORMS); do \
		echo "cross-compile $$p"; \
		case $$p in linux/*|js/wasm) gc=;; *) gc='all=-N -l';; esac; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -gcflags="$$gc" $(PKGS); \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet -gcflags="$$gc" $(PKGS); \
	done

## examples: run every example program; each checks its own results and ends with a line "ok ..."
examples:
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; for e in $(EXAMPLES); do \
		echo "example $$e"; \
		$(GO) run ./examples/$$e > "$$out" 2>&1 || { cat "$$out"; exit 1; }; \
		tail -n 1 "$$out" | grep -q '^ok ' || { cat "$$out"; echo "example $$e did not end with ok"; exit 1; }; \
		if [ "$$e" = tour ] && [ "$$($(GO) env GOOS)" = linux ] && grep -Eq '^skipped|unsupported|not available' "$$out"; then \
			cat "$$out"; echo "example tour skipped a step: on Linux each runs, in Seal mode by default"; exit 1; \
		fi; \
	done; \
	echo "example tour, portable backend (as on macOS and the BSDs)"; \
	$(GO) run -tags frozen_fallback ./examples/tour > "$$out" 2>&1 || { cat "$$out"; exit 1; }; \
	tail -n 1 "$$out" | grep -q '^ok ' || { cat "$$out"; echo "the tour did not end with ok"; exit 1; }; \
	grep -q '^skipped: this platform has no memfd seals' "$$out" || { cat "$$out"; echo "the tour used seals on the portable backend"; exit 1; }

## bench-compile: the benchmark module builds and its benchmarks run once,
## the allocation benchmarks also with Go's experimental arenas (as
## bench/run runs them: alloc_arenas_test.go is built only then), and the
## report generator's tests pass
bench-compile:
	cd bench && $(GO) vet ./... && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -short ./... > /dev/null
	cd bench && GOEXPERIMENT=arenas $(GO) vet ./... && \
		GOEXPERIMENT=arenas $(GO) test -run '^$$' -bench Alloc -benchtime $(BENCHTIME) -short . > /dev/null
	cd bench && $(GO) test ./cmd/report/

## bench: the full benchmark suite (12–25 minutes on 2 cores), results in bench/results/bench.txt
bench:
	@if [ -n "$${QUICK:-}" ]; then echo "QUICK is set: make bench-quick runs the quick suite, into results/quick.txt, and leaves the full run's results alone"; exit 2; fi
	GO=$(GO) bench/run results/bench.txt

## bench-quick: the suite at smaller sizes and fewer repetitions (a few minutes), in bench/results/quick.txt
bench-quick:
	QUICK=1 GO=$(GO) bench/run results/quick.txt
	@echo "bench-quick: make report-quick renders this run into bench/results/quick/REPORT.md (bench/REPORT.md stays the full run's)"

## report-quick: bench/results/quick/REPORT.md and its plots from the last quick run (not committed)
report-quick:
	cd bench && $(GO) run ./cmd/report -in results/quick.txt -out results/quick/REPORT.md -plots plots

## report: bench/REPORT.md and its plots from the last full run (REPORT_IN= to use another file)
REPORT_IN ?= results/bench.txt
report:
	cd bench && $(GO) run ./cmd/report -in $(REPORT_IN) -out REPORT.md -plots plots

clean:
	rm -rf bench/results/quick.txt bench/results/quick
