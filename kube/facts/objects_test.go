package facts

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestDecodeObjects(t *testing.T) {
	list := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a, namespace: ns, creationTimestamp: "2026-11-20T09:00:00Z"}
  status:
    phase: Running
    startTime: "2026-11-20T09:00:05Z"
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d, namespace: ns}
---
{"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"ns"},"lastTimestamp":"2026-11-20T10:00:00Z"}
`
	objs, err := DecodeObjects([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, KindOf(o))
	}
	if got := strings.Join(kinds, ","); got != "Pod,Deployment,Event" {
		t.Fatalf("kinds = %s", got)
	}
	if p := objs[0].(*corev1.Pod); p.Status.Phase != corev1.PodRunning {
		t.Fatalf("status not decoded: %+v", p.Status)
	}
	newest := NewestTimestamp(objs)
	if want := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC); !newest.Equal(want) {
		t.Fatalf("newest = %v, want %v", newest, want)
	}
	shifted := ShiftTimestamps(objs[0], time.Hour).(*corev1.Pod)
	if got := shifted.Status.StartTime.UTC().Format(time.RFC3339); got != "2026-11-20T10:00:05Z" {
		t.Fatalf("shifted startTime = %s", got)
	}
	if objs[0].(*corev1.Pod).Status.StartTime.UTC().Hour() != 9 {
		t.Fatal("ShiftTimestamps modified its input")
	}
}

func TestDecodeObjectsErrors(t *testing.T) {
	cases := map[string]string{
		"garbage":      "{{{ not yaml",
		"no kind":      "apiVersion: v1\nmetadata: {name: x}\n",
		"unknown kind": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
		"bad field":    "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 3}\n",
	}
	for name, in := range cases {
		_, err := DecodeObjects([]byte(in))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
	_, err := DecodeObjects([]byte(cases["unknown kind"]))
	var uk *UnknownKindError
	if !errors.As(err, &uk) || uk.Kind != "Widget" {
		t.Fatalf("want UnknownKindError, got %v", err)
	}
}
