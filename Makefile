# sinchnumbers: build, test and install the Lua client for the Sinch Numbers API.
#
#   make                      build the C core for Lua 5.4 (build/5.4/sinchnumbers/core.so)
#   make LUA_VERSION=luajit   ... for LuaJIT/OpenResty (also 5.1, 5.2, 5.3)
#   make test                 install what is missing, build for every Lua, run everything
#   make demo                 the quickstart against the bundled fake server
#   make install              PREFIX=/usr/local DESTDIR=

LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc

# Where each Lua keeps its headers and what its interpreter is called.
LUA_INCDIR_5.1    := /usr/include/lua5.1
LUA_INCDIR_5.2    := /usr/include/lua5.2
LUA_INCDIR_5.3    := /usr/include/lua5.3
LUA_INCDIR_5.4    := /usr/include/lua5.4
LUA_INCDIR_luajit := /usr/include/luajit-2.1
LUA_BIN_5.1       := lua5.1
LUA_BIN_5.2       := lua5.2
LUA_BIN_5.3       := lua5.3
LUA_BIN_5.4       := lua5.4
LUA_BIN_luajit    := luajit
# LuaJIT loads modules built for the 5.1 ABI and looks for them in 5.1's folders.
LUA_ABI_luajit    := 5.1
LUA_ABI            = $(or $(LUA_ABI_$(LUA_VERSION)),$(LUA_VERSION))

LUA_INCDIR ?= $(LUA_INCDIR_$(LUA_VERSION))
LUA        ?= $(LUA_BIN_$(LUA_VERSION))
ALL_LUAS   := 5.1 5.2 5.3 5.4 luajit

WARNINGS  := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS    ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) $(WARNINGS) -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC \
             -fvisibility=hidden -I$(LUA_INCDIR) $(shell pkg-config --cflags libcurl 2>/dev/null)
LIBS      := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -lcrypto

SOURCES   := csrc/core.c csrc/transport.c csrc/codec.c
HEADERS   := $(wildcard csrc/*.h)
BUILD     ?= build/$(LUA_VERSION)
CORE      := $(BUILD)/sinchnumbers/core.so

.PHONY: all build build-all deps test check-compilers check-memory check-symbols check-rockspec lint demo docs examples fuzz bench \
        install uninstall clean
all: build
build: $(CORE)

$(CORE): $(SOURCES) $(HEADERS) Makefile
	@test -f $(LUA_INCDIR)/lua.h || { echo "no Lua $(LUA_VERSION) headers in $(LUA_INCDIR): run 'make deps'" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $(SOURCES) $(LDFLAGS) $(LIBS)

# Every Lua that is installed here, with LuaJIT's interpreter called luajit.
INSTALLED_LUAS = $(foreach v,$(ALL_LUAS),$(if $(shell command -v $(LUA_BIN_$(v)) 2>/dev/null),$(v)))

deps:
	@sh tools/deps.sh

build-all:
	@for v in $(INSTALLED_LUAS); do $(MAKE) --no-print-directory -s LUA_VERSION=$$v build || exit 1; done

# Both compilers must take the source with every warning an error.
check-compilers:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang-5.4 build
	@$(MAKE) --no-print-directory CC=gcc BUILD=build/gcc-5.4 build

# Only luaopen_* may leave the shared object.
check-symbols: build
	@bad=$$(nm -D --defined-only $(CORE) | awk '$$2 ~ /^[A-Z]$$/ && $$3 !~ /^luaopen_/ {print $$3}'); \
	 if [ -n "$$bad" ]; then echo "exported beyond luaopen_*: $$bad"; exit 1; fi; \
	 echo "exports: $$(nm -D --defined-only $(CORE) | awk '$$2 ~ /^[A-Z]$$/ {print $$3}' | tr '\n' ' ')"

lint:
	luacheck --no-color -q lua spec examples bin bench

test: deps
	@$(MAKE) --no-print-directory build-all check-compilers check-symbols
	@LUAS="$(INSTALLED_LUAS)" FUZZ_SECONDS=$(FUZZ_SECONDS_CI) sh tools/run-tests.sh

# The client's cost on top of the network, next to raw libcurl and a
# hand-written luacurl client: prints the table, writes bench/RESULTS.md.
bench: deps
	@$(MAKE) --no-print-directory -s LUA_VERSION=5.4 build
	@$(MAKE) --no-print-directory -s LUA_VERSION=luajit build
	@$(MAKE) --no-print-directory -s LUA_VERSION=5.1 build
	@sh bench/run.sh

# libFuzzer harnesses in fuzz/ (clang; ASan, UBSan, LeakSanitizer) and the Lua
# one for the cosocket reader, each for FUZZ_SECONDS; new inputs go to
# build/fuzz/, the committed corpus is only read.
# make test runs the short pass: 12 s for each of the 6 harnesses.
FUZZ_SECONDS ?= 60
FUZZ_SECONDS_CI ?= 12
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/fuzz.sh

check-memory: build
	@sh tools/check-memory.sh

# What the specs and examples find: this tree's Lua modules and the core just built.
RUN_PATHS = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;'

demo: deps build
	@$(RUN_PATHS) $(LUA) examples/quickstart.lua

# The API reference as HTML in docs/ (generated, not committed), from
# config.ld, doc/api/*.luadoc and the doc comments; an LDoc warning fails it.
docs: deps
	@mkdir -p build && ldoc --fatalwarnings . > build/ldoc.log 2>&1 || { cat build/ldoc.log; exit 1; }
	@echo "docs: API reference in docs/index.html"

# Every example against a fake server of its own; see tools/run-examples.sh.
examples: deps build
	@LUA=$(LUA) BUILD=$(BUILD) sh tools/run-examples.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers
	install -m 0755 $(CORE) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers/core.so
	cd lua && find sinchnumbers -name '*.lua' -exec install -D -m 0644 {} $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/{} \;
	install -d $(DESTDIR)$(PREFIX)/bin
	sed '1s|.*|#!/usr/bin/env $(LUA)|' bin/sinchnumbers-fake > $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/sinchnumbers
	rm -f $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake

clean:
	rm -rf build docs

# The rockspec must list every Lua module, and `luarocks make` must give a
# tree that loads under 5.4 and under LuaJIT (LuaRocks' 5.1).
check-rockspec:
	@sh tools/check-rockspec.sh
