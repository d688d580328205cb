// Package scale measures kdoctor against a real kube-apiserver at cluster
// sizes where terminal Kubernetes UIs usually crawl, and compares it, in
// the same run, with what no client can beat (a bare client-go informer)
// and with what users run today (kubectl get pods -A).
//
// The suite is BenchmarkScale (in scale_test.go); `make bench` runs it with
// the other benchmarks. It needs the etcd and kube-apiserver binaries
// (`make bin`, or KDOCTOR_TEST_BIN) and kubectl on PATH (or KDOCTOR_KUBECTL).
// Sizes come from KDOCTOR_SCALE_PODS, a comma list (default 10000):
//
//	make bench                                        # 10k pods, ~2 minutes of the suite
//	KDOCTOR_SCALE_PODS=10000,50000,100000 \
//	  KDOCTOR_TEST_BIN=$PWD/bin go test -run '^$' -bench Scale -benchtime 1x -timeout 60m ./kube/kubetest/scale
//
// Every kdoctor and floor measurement runs in a fresh child process (the
// test binary re-executed), so start-up, heap, RSS and CPU figures belong to
// that client alone, as they would for a user launching it. kdoctor runs as
// its real bubbletea program with its real model; a Probe wraps the model
// and a Recorder is the program's output, which together say when the
// frame showing a given state reached the terminal.
//
// Results are printed as Markdown tables and written as JSON to
// KDOCTOR_BENCH_OUT, else to $TMPDIR/kdoctor-scale/bench-results.json.
// docs/performance.md records a run and explains the figures.
package scale
