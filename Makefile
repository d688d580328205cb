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

.PHONY: all build demo test test-short bench sandbox lint bin clean

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

clean:
	rm -rf $(BIN) .sandbox
