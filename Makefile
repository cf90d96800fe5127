# cairn: `make run` builds and starts cairnd with embedded defaults; `make test` runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build run test test-unit test-api clean asan docs

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

run: build
	./$(BUILD)/cairnd serve

test: build asan
	@sh tools/deps.sh test
	@sh tests/run.sh $(BUILD) $(ASAN_BUILD)

# docs/api.md's route reference and docs/access.md's matrix, regenerated from the code.
docs: build
	./$(BUILD)/cairnd openapi | python3 tools/apiref.py - docs/api.md
	python3 tools/accessdoc.py ./$(BUILD)/cairnd docs/access.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
