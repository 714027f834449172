# login-release: every task a developer or CI needs. `make demo` and `make test` are the two
# commands of the README's quick start; both install what they need first.

CARGO    ?= cargo
PREFIX   ?= /usr/local
BIN      ?= target/release/login-release
DEBUG    := target/debug/login-release
VENV     := .venv
MOTO     := moto[server]==5.2.5

.PHONY: all build release test test-deps system-deps demo bench completions man install uninstall lint fmt clean-sandbox

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# System packages the build and the tests need (Debian). Skipped when already present.
system-deps:
	@missing=""; \
	for p in libgpgme-dev gnupg git python3-venv bash-completion man-db groff-base; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The AWS emulator (moto's server, pinned) in a project-local virtualenv.
$(VENV)/bin/moto_server: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
	@touch $@

test-deps: system-deps $(VENV)/bin/moto_server

test: test-deps
	LOGIN_RELEASE_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python $(CARGO) test --all-targets

# Rehearse a release against the local sandbox: no credentials, no network.
demo: test-deps build
	LOGIN_RELEASE_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python ./scripts/demo.sh $(DEBUG)

bench: test-deps release
	LOGIN_RELEASE_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python ./scripts/bench.sh $(BIN)

completions: build
	$(DEBUG) generate completions completions

man: build
	$(DEBUG) generate man man

lint: system-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# BIN=path installs a binary built elsewhere (the tests install the debug build).
install: $(if $(filter target/release/login-release,$(BIN)),release)
	install -Dm755 $(BIN) $(DESTDIR)$(PREFIX)/bin/login-release
	install -Dm644 completions/login-release.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/login-release
	install -Dm644 completions/_login-release $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_login-release
	install -Dm644 completions/login-release.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/login-release.fish
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/login-release
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/login-release
	rm -f $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_login-release
	rm -f $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/login-release.fish
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/login-release.1 $(DESTDIR)$(PREFIX)/share/man/man1/login-release-*.1
