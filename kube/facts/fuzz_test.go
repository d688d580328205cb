package facts_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// FuzzDecodeObjects feeds arbitrary bytes to the parser behind --from-file,
// scenarios and the demo: it must answer with objects or an error, never a
// panic, and every object it returns must carry its kind.
// Seeds live in testdata/fuzz/FuzzDecodeObjects; run with
// go test ./kube/facts -run '^$' -fuzz FuzzDecodeObjects -fuzztime 30s.
func FuzzDecodeObjects(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := facts.DecodeObjects(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		for _, o := range objs {
			if o.GetObjectKind().GroupVersionKind().Kind == "" || facts.KindOf(o) == "" {
				t.Fatalf("object %T without a kind", o)
			}
		}
		// What the callers do next must not panic either.
		set := facts.NewObjectSet(objs...)
		_ = facts.UnhealthyTargets(set, "")
		if newest := facts.NewestTimestamp(objs); !newest.IsZero() {
			for _, o := range objs {
				_ = facts.ShiftTimestamps(o, time.Hour)
			}
		}
	})
}

// FuzzLoadDump feeds arbitrary bytes to --from-file - (standard input),
// which also cuts `kubectl cluster-info dump` log sections out of the
// stream and lends typed lists' kinds to their items.
// Run with go test ./kube/facts -run '^$' -fuzz FuzzLoadDump -fuzztime 30s.
func FuzzLoadDump(f *testing.F) {
	f.Add([]byte(`{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"a","namespace":"ns"}}]}
==== START logs for container app of pod ns/a ====
boom
==== END logs for container app of pod ns/a ====
`))
	f.Add([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := facts.LoadDump([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		for _, w := range res.Warnings {
			if strings.Contains(w, "\n") {
				t.Fatalf("warning of more than one line: %q", w)
			}
		}
		_ = facts.UnhealthyTargets(res.Set, "")
	})
}
