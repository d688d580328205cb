package demo

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

func TestDemoComesAliveFromScenarios(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	d, err := NewDemo(os.DirFS("../../testdata/scenarios"), ".", now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Info().Demo {
		t.Fatal("demo source must say it is the demo")
	}
	pods, err := d.Client().CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) < 10 {
		t.Fatalf("demo has only %d pods", len(pods.Items))
	}
	// Ages are as the stories tell them, ending now: nothing in the future.
	for _, p := range pods.Items {
		if p.CreationTimestamp.After(now.Add(time.Second)) {
			t.Errorf("pod %s/%s created in the future: %v", p.Namespace, p.Name, p.CreationTimestamp)
		}
	}

	restarts := func() int32 {
		var n int32
		list, _ := d.Client().CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		for _, p := range list.Items {
			for _, cs := range p.Status.ContainerStatuses {
				n += cs.RestartCount
			}
		}
		return n
	}
	before := restarts()
	var sawExtra bool
	for i := 1; i <= 12; i++ {
		d.Step(ctx, now.Add(time.Duration(i)*2*time.Second))
		if list, _ := d.Client().CoreV1().Pods("demo-rollout").List(ctx, metav1.ListOptions{}); len(list.Items) > 0 {
			sawExtra = true
		}
	}
	if after := restarts(); after <= before {
		t.Errorf("restart counts did not climb: %d → %d", before, after)
	}
	if !sawExtra {
		t.Error("no new failing pod appeared")
	}
	list, _ := d.Client().CoreV1().Pods("demo-rollout").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Error("the added failing pod was never removed")
	}
}

func TestDemoLogsComeFromScenarioFiles(t *testing.T) {
	ctx := context.Background()
	scenarios, err := facts.LoadScenarios("../../testdata/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDemo(os.DirFS("../../testdata/scenarios"), ".", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range scenarios {
		for k, want := range s.Logs {
			rc, err := d.PodLogs(ctx, k.Namespace, k.Pod, &corev1.PodLogOptions{Container: k.Container, Previous: k.Previous})
			if err != nil {
				t.Fatalf("%v: %v", k, err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != string(want) {
				t.Errorf("%v: log differs", k)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no scenario has logs")
	}
	// Tail like the kubelet.
	for _, s := range scenarios {
		for k, want := range s.Logs {
			lines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			if len(lines) < 3 {
				continue
			}
			two := int64(2)
			rc, err := d.PodLogs(ctx, k.Namespace, k.Pod, &corev1.PodLogOptions{Container: k.Container, Previous: k.Previous, TailLines: &two})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			if wantTail := strings.Join(lines[len(lines)-2:], "\n") + "\n"; string(got) != wantTail {
				t.Fatalf("tail 2 of %v = %q, want %q", k, got, wantTail)
			}
			return
		}
	}
}

func TestDemoPreviousLogMissing(t *testing.T) {
	d, err := NewDemo(os.DirFS("../../testdata/scenarios"), ".", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.PodLogs(context.Background(), "nope", "nope", &corev1.PodLogOptions{Container: "app", Previous: true})
	if err == nil || !strings.Contains(err.Error(), "previous terminated container") {
		t.Fatalf("got %v", err)
	}
}
