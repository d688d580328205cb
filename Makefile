# kdoctor — see README.md. `make demo` runs the product, `make test` runs every test.

GO        ?= go
BIN       := bin
K8S_VER   := v1.37.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
APISERVER_MOD := kube/kubetest/apiserver
K8S_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VER) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37

.PHONY: all build demo test test-short bench sandbox lint bin clean dist

# Release artifacts (make dist): for each platform an archive with the
# binary, README.md and LICENSE (tar.gz; zip for windows), a sha256 checksum
# file, and the krew plugin manifest generated from those archives.
# PLATFORMS=linux/amd64 builds one; RELEASE_URL is where the archives will
# be published (the manifest's download URIs).
PLATFORMS   ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST        ?= dist
RELEASE_URL ?= https://github.com/kdoctor-dev/kdoctor/releases/download/$(VERSION)
SHA256SUM   ?= $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum || echo shasum -a 256)
DIST_DIR    := $(abspath $(DIST))

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kdoctor .

demo: build
	./$(BIN)/kdoctor tui --demo

# The real API server the tests run: kube-apiserver and etcd built from Go
# modules in their own module (it needs replace directives the root module
# must not have). ~4 minutes the first time on 2 cores, then cached.
bin: $(BIN)/kube-apiserver $(BIN)/etcd

$(BIN)/kube-apiserver: $(APISERVER_MOD)/go.mod $(APISERVER_MOD)/go.sum
	@echo "building kube-apiserver $(K8S_VER) (first time ~4 min)…"
	cd $(APISERVER_MOD) && $(GO) build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $(CURDIR)/$(BIN)/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/etcd: $(APISERVER_MOD)/go.mod $(APISERVER_MOD)/go.sum
	cd $(APISERVER_MOD) && $(GO) build -trimpath -ldflags "-s -w" -o $(CURDIR)/$(BIN)/etcd go.etcd.io/etcd/server/v3

# Every test, including those against the real API server.
test: bin
	KDOCTOR_TEST_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./...

# Unit tests only (no API server).
test-short:
	$(GO) test -short ./...

bench: bin
	KDOCTOR_TEST_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

# A long-running real API server with every scenario loaded; Ctrl-C stops it.
sandbox: bin
	KDOCTOR_TEST_BIN=$(CURDIR)/$(BIN) $(GO) run ./kube/kubetest/sandbox

lint:
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

dist:
	rm -rf $(DIST_DIR) && mkdir -p $(DIST_DIR)/.stage
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
		name=kdoctor_$(VERSION)_$${os}_$${arch}; stage=$(DIST_DIR)/.stage/$$name; \
		echo "building $$name"; mkdir -p $$stage; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$stage/kdoctor$$ext . ; \
		cp README.md LICENSE $$stage/; \
		if [ "$$os" = windows ]; then \
			(cd $$stage && zip -q -X $(DIST_DIR)/$$name.zip kdoctor$$ext README.md LICENSE); \
		else \
			tar -C $$stage -czf $(DIST_DIR)/$$name.tar.gz kdoctor README.md LICENSE; \
		fi; \
	done
	rm -rf $(DIST_DIR)/.stage
	cd $(DIST_DIR) && $(SHA256SUM) $$(ls | grep -E '\.(tar\.gz|zip)$$') > kdoctor_$(VERSION)_checksums.txt
	$(GO) run ./hack/krew-manifest -version $(VERSION) -url $(RELEASE_URL) -dir $(DIST_DIR) -o $(DIST_DIR)/kdoctor.yaml

clean:
	rm -rf $(BIN) .sandbox $(DIST)
