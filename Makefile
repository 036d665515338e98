# sinchnumbers: build, test and install the Lua client for the Sinch Numbers API.
#
#   make                      build the C modules for Lua 5.4 (build/5.4/sinchnumbers/codec.so
#                             and build/5.4/sinchnumbers/transport/libcurl.so)
#   make LUA_VERSION=luajit   ... for LuaJIT/OpenResty (also 5.1, 5.2, 5.3)
#   make test                 install what is missing, build for every Lua, run everything
#   make demo                 the quickstart against the bundled fake server
#   make install              the library, the sinchnumbers command and its man page: PREFIX=/usr/local DESTDIR=
#   make install-fake         the fake server, beside it (for test machines)
#   make dist                 the release tarball, and the rockspec and .src.rock of both rocks, in build/dist/

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
             -fvisibility=hidden -I$(LUA_INCDIR)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

# Two modules: the byte codecs every layer needs (libcrypto only), and the
# libcurl transport, which a process that uses cosockets never loads.
HEADERS   := $(wildcard csrc/*.h)
BUILD     ?= build/$(LUA_VERSION)
CODEC     := $(BUILD)/sinchnumbers/codec.so
LIBCURL   := $(BUILD)/sinchnumbers/transport/libcurl.so
MODULES   := $(CODEC) $(LIBCURL)

.PHONY: all build build-all deps test check-compilers check-memory check-symbols check-rockspec lint demo docs dist examples fuzz bench \
        install install-fake uninstall uninstall-fake clean
all: build
build: $(MODULES)

LUA_HEADERS_THERE = test -f $(LUA_INCDIR)/lua.h || { echo "no Lua $(LUA_VERSION) headers in $(LUA_INCDIR): run 'make deps'" >&2; exit 1; }

$(CODEC): csrc/codec_lua.c csrc/codec.c $(HEADERS) Makefile
	@$(LUA_HEADERS_THERE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ csrc/codec_lua.c csrc/codec.c $(LDFLAGS) -lcrypto

# One file per object, as luasocket has it: the sequential Transport, the
# Multi, and the request on one easy handle that both make.
LIBCURL_SOURCES := csrc/transport.c csrc/multi.c csrc/request.c
$(LIBCURL): $(LIBCURL_SOURCES) $(HEADERS) Makefile
	@$(LUA_HEADERS_THERE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -shared -o $@ $(LIBCURL_SOURCES) $(LDFLAGS) $(CURL_LIBS) -lm

# Every Lua that is installed here, with LuaJIT's interpreter called luajit.
INSTALLED_LUAS = $(foreach v,$(ALL_LUAS),$(if $(shell command -v $(LUA_BIN_$(v)) 2>/dev/null),$(v)))

# The Debian packages each target needs (tools/deps.sh has the lists); a plain
# `make deps` installs everything make test needs.
deps:
	@sh tools/deps.sh test
deps-%:
	@sh tools/deps.sh $*

build-all:
	@for v in $(INSTALLED_LUAS); do $(MAKE) --no-print-directory -s LUA_VERSION=$$v build || exit 1; done

# Both compilers must take the source with every warning an error.
check-compilers:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang-5.4 build
	@$(MAKE) --no-print-directory CC=gcc BUILD=build/gcc-5.4 build

# Only luaopen_* may leave each shared object, and only the transport links libcurl.
check-symbols: build
	@for so in $(MODULES); do \
	   bad=$$(nm -D --defined-only $$so | awk '$$2 ~ /^[A-Z]$$/ && $$3 !~ /^luaopen_/ {print $$3}'); \
	   if [ -n "$$bad" ]; then echo "$$so exports beyond luaopen_*: $$bad"; exit 1; fi; \
	   echo "$$so exports: $$(nm -D --defined-only $$so | awk '$$2 ~ /^[A-Z]$$/ {print $$3}' | tr '\n' ' ')"; \
	 done
	@! ldd $(CODEC) | grep -q libcurl || { echo "$(CODEC) links libcurl"; exit 1; }

lint:
	luacheck --no-color -q lua fake spec examples bench tools

test: deps-test
	@$(MAKE) --no-print-directory build-all check-compilers check-symbols
	@LUAS="$(INSTALLED_LUAS)" FUZZ_SECONDS=$(FUZZ_SECONDS_CI) sh tools/run-tests.sh

# The client's cost on top of the network, next to raw libcurl and a
# hand-written luacurl client, then many calls at once (client:map) next to
# libcurl's multi interface and the Sinch Node SDK: prints the tables, writes
# bench/RESULTS.md. SECTION=calls or SECTION=many runs one of the two and
# writes build/bench/RESULTS-<section>.md instead.
SECTION ?= all
bench: deps-bench
	@$(MAKE) --no-print-directory -s LUA_VERSION=5.4 build
	@$(MAKE) --no-print-directory -s LUA_VERSION=luajit build
	@$(MAKE) --no-print-directory -s LUA_VERSION=5.1 build
	@BENCH_SECTION=$(SECTION) sh bench/run.sh

# libFuzzer harnesses in fuzz/ (clang; ASan, UBSan, LeakSanitizer) and the Lua
# one for the cosocket reader (which loads the codec built for LuaJIT), each for FUZZ_SECONDS; new inputs go to
# build/fuzz/, the committed corpus is only read.
# make test runs the short pass: 12 s for each of the 6 harnesses.
FUZZ_SECONDS ?= 60
FUZZ_SECONDS_CI ?= 12
fuzz:
	@$(MAKE) --no-print-directory -s LUA_VERSION=luajit build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/fuzz.sh

check-memory: build
	@sh tools/check-memory.sh

# What the specs and examples find: this tree's Lua modules (the library's and
# the fake's) and the C modules just built.
RUN_PATHS = LUA_PATH='lua/?.lua;lua/?/init.lua;fake/lua/?.lua;fake/lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;'

demo: deps-demo build
	@$(RUN_PATHS) $(LUA) examples/quickstart.lua

# The API reference and the guide as HTML in docs/ (generated, not
# committed), from config.ld, doc/api/*.luadoc, the doc comments and the
# Markdown pages; an LDoc warning or a broken link between the pages fails it.
docs: deps-docs
	@rm -rf docs && mkdir -p build
	@LUA_PATH='tools/?.lua;;' ldoc --fatalwarnings . > build/ldoc.log 2>&1 || { cat build/ldoc.log; exit 1; }
	@! grep '^format: ' build/ldoc.log || { echo "docs: no Markdown processor (lua-discount): make deps"; exit 1; }
	@lua5.4 tools/check-links.lua $$(find docs -name '*.html' | sort)
	@echo "docs: API reference and guide in docs/index.html"

# Every example against a fake server of its own; see tools/run-examples.sh.
examples: deps-demo build
	@LUA=$(LUA) BUILD=$(BUILD) sh tools/run-examples.sh

# The two rocks, without LuaRocks: `make install` the library (sinchnumbers-scm-1),
# `make install-fake` the fake server (sinchnumbers-fake-scm-1), which needs
# luasocket and has no place on a production machine. The fake's modules go
# inside the library's folder, so `make uninstall` removes both.
LUA_SHARE = $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers/transport
	install -m 0755 $(CODEC) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers/codec.so
	install -m 0755 $(LIBCURL) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers/transport/libcurl.so
	cd lua && find sinchnumbers -name '*.lua' -exec install -D -m 0644 {} $(LUA_SHARE)/{} \;
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	sed '1s|.*|#!/usr/bin/env $(LUA)|' bin/sinchnumbers > $(DESTDIR)$(PREFIX)/bin/sinchnumbers
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/sinchnumbers
	install -m 0644 doc/sinchnumbers.1 $(DESTDIR)$(PREFIX)/share/man/man1/sinchnumbers.1

install-fake:
	cd fake/lua && find sinchnumbers -name '*.lua' -exec install -D -m 0644 {} $(LUA_SHARE)/{} \;
	install -d $(DESTDIR)$(PREFIX)/bin
	sed '1s|.*|#!/usr/bin/env $(LUA)|' fake/bin/sinchnumbers-fake > $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake

uninstall: uninstall-fake
	rm -rf $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/sinchnumbers $(LUA_SHARE)/sinchnumbers
	rm -f $(DESTDIR)$(PREFIX)/bin/sinchnumbers $(DESTDIR)$(PREFIX)/share/man/man1/sinchnumbers.1

uninstall-fake:
	rm -rf $(LUA_SHARE)/sinchnumbers/fake
	rm -f $(DESTDIR)$(PREFIX)/bin/sinchnumbers-fake

clean:
	rm -rf build docs

# The release of the version in lua/sinchnumbers/version.lua, in build/dist/: the
# tarball, and the release rockspec and .src.rock of the library and of the
# fake (see tools/dist.sh).
dist:
	@sh tools/dist.sh

# Every way to install (luarocks make, make install, make dist and the .src.rocks)
# gives a tree where the library alone loads without the fake or luasocket, and
# with the fake installed beside it fake.spawn works, under 5.4 and LuaJIT.
check-rockspec:
	@sh tools/check-rockspec.sh
