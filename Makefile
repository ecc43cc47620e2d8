# devbg: the two commands. Each installs what it needs (scripts/install-deps.sh),
# configures with meson and builds.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan

.PHONY: all deps build demo check bench soak clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=/usr

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@sh scripts/demo.sh $(BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --prefix=/usr -Db_sanitize=address,undefined -Db_lundef=false

# Every test: unit and integration tests on the normal build and again on
# an AddressSanitizer + UndefinedBehaviorSanitizer build, and each fuzz
# target for a short run. The last line is "N passed, N failed".
check: build $(FUZZ_BUILD)/build.ninja $(ASAN_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	ninja -C $(ASAN_BUILD)
	@sh scripts/run-tests.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

bench: build
	@sh scripts/run-bench.sh $(BUILD)

# Crash safety: devbgd SIGKILLed at random points over 1000 task lifecycles.
soak: build
	/usr/bin/python3 bench/soak_crash.py $(BUILD) 1000

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
