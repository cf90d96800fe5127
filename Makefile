# cairn: `make run` builds and starts cairnd with embedded defaults; `make test` runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
SECONDS ?= 60

.PHONY: all deps build run test test-unit test-api clean asan docs fuzz fuzz-build

all: build

deps:
	@sh tools/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD) cairnd >/dev/null || ninja -C $(ASAN_BUILD) cairnd

# The libFuzzer harnesses (tests/fuzz/, docs/fuzzing.md): clang with ASan+UBSan in a build dir
# of their own; the gcc builds above are untouched. Clang's extra warnings do not fail it (the gcc
# build is the -Werror gate).
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dwerror=false >/dev/null

fuzz-build: deps
	@sh tools/deps.sh test
	@$(MAKE) -s --no-print-directory $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) fuzzers >/dev/null || ninja -C $(FUZZ_BUILD) fuzzers

# `make fuzz SECONDS=N`: every harness N seconds, one at a time at the lowest priority; the
# executions are added to docs/fuzzing.md.
fuzz: fuzz-build
	nice -n 19 sh tests/fuzz/run.sh long $(FUZZ_BUILD) $(SECONDS)

run: build
	./$(BUILD)/cairnd serve

test: build asan fuzz-build
	@sh tools/deps.sh test
	@sh tests/run.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# docs/api.md's route reference and docs/access.md's matrix, regenerated from the code.
docs: build
	./$(BUILD)/cairnd openapi | python3 tools/apiref.py - docs/api.md
	python3 tools/accessdoc.py ./$(BUILD)/cairnd docs/access.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
