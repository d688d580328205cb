package ui

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
)

func jobPod(ns, job, name string, phase corev1.PodPhase) live.PodRow {
	yes := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job, Controller: &yes}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
		Status: corev1.PodStatus{Phase: phase},
	}
	if phase == corev1.PodFailed {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}
	}
	return live.NewPodRow(p)
}

// treeOutline renders the tree's lines as "depth label" for comparison.
func treeOutline(t *PodTree) string {
	var b strings.Builder
	for _, l := range t.lines {
		b.WriteString(strings.Repeat("  ", int(l.depth)) + l.label() + "\n")
	}
	return b.String()
}

// TestTreeShowsCronJobJobPod: a CronJob's pods sit under a line per Job
// (the failing run first), and the watched Job's owner overrides the guess
// from the Job's name in both directions.
func TestTreeShowsCronJobJobPod(t *testing.T) {
	tr := NewPodTree()
	tr.SetSize(160, 40)
	tr.Apply(live.Batch{Pods: []live.PodRow{
		jobPod("reporting", "nightly-report-29917560", "nightly-report-29917560-abcde", corev1.PodSucceeded),
		jobPod("reporting", "nightly-report-29919000", "nightly-report-29919000-8fk2x", corev1.PodFailed),
		jobPod("reporting", "nightly-report-29919000", "nightly-report-29919000-t6mnb", corev1.PodFailed),
		// Named like a CronJob run, but a Job of its own.
		jobPod("reporting", "export-20261120", "export-20261120-zz9qk", corev1.PodSucceeded),
		// A hand-named Job that a CronJob owns (adopted).
		jobPod("reporting", "rebuild-manual", "rebuild-manual-q2w3e", corev1.PodSucceeded),
	}})
	before := treeOutline(&tr)
	if !strings.Contains(before, "CronJob export\n") {
		t.Fatalf("before the Jobs are known, the name guess groups export-20261120 under CronJob export:\n%s", before)
	}
	tr.Apply(live.Batch{Workloads: []live.WorkloadRow{
		{UID: "j1", Kind: "Job", Namespace: "reporting", Name: "nightly-report-29919000", Owner: "nightly-report"},
		{UID: "j2", Kind: "Job", Namespace: "reporting", Name: "nightly-report-29917560", Owner: "nightly-report"},
		{UID: "j3", Kind: "Job", Namespace: "reporting", Name: "export-20261120"},
		{UID: "j4", Kind: "Job", Namespace: "reporting", Name: "rebuild-manual", Owner: "rebuild"},
	}})
	want := `reporting
  CronJob nightly-report
    Job nightly-report-29919000
      nightly-report-29919000-8fk2x
      nightly-report-29919000-t6mnb
    Job nightly-report-29917560
      nightly-report-29917560-abcde
  Job export-20261120
    export-20261120-zz9qk
  CronJob rebuild
    Job rebuild-manual
      rebuild-manual-q2w3e
`
	if got := treeOutline(&tr); got != want {
		t.Errorf("tree\n%s\nwant\n%s", got, want)
	}
	// A Job line is a workload line: enter diagnoses job/NAME.
	for _, l := range tr.lines {
		if l.kind == workloadNode && l.bkt.key.name == "nightly-report-29919000" {
			if l.bkt.key.kind != "Job" || l.health != live.Failing || l.count()[live.Failing] != 2 {
				t.Errorf("job line %+v, count %v", l.bkt.key, l.count())
			}
		}
	}
	// Collapsing the Job hides its pods only.
	tr.cursorID = lineID{kind: workloadNode, name: "reporting\x00Job\x00nightly-report-29919000"}
	tr.rebuild()
	tr.SetOpen(false)
	if got := treeOutline(&tr); strings.Contains(got, "8fk2x") || !strings.Contains(got, "nightly-report-29917560-abcde") {
		t.Errorf("after collapsing the Job:\n%s", got)
	}
	// Select reopens it.
	if !tr.Select("reporting", "nightly-report-29919000-t6mnb") || !strings.Contains(treeOutline(&tr), "t6mnb") {
		t.Errorf("Select did not show the pod:\n%s", treeOutline(&tr))
	}
}
