package action_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

const wlNS = "wlogs"

// startLabelledPod creates a running pod with labels on node (the harness's
// StartPod labels a pod with its own name), optionally restarted once.
func startLabelledPod(ctx context.Context, t *testing.T, srv *kubetest.Server, name string, lbls map[string]string, owner *metav1.OwnerReference, restarted bool, containers ...string) {
	t.Helper()
	now := metav1.Now()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: wlNS, Labels: lbls}, Spec: corev1.PodSpec{NodeName: "wl-node"}}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	status := corev1.PodStatus{Phase: corev1.PodRunning}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "example/" + c})
		st := corev1.ContainerStatus{Name: c, Image: "example/" + c, Ready: true, ContainerID: "containerd://" + name + "-" + c,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}
		if restarted {
			st.RestartCount = 1
			st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled",
				ContainerID: "containerd://" + name + "-" + c + "-0",
				StartedAt:   metav1.NewTime(now.Add(-time.Hour)), FinishedAt: metav1.NewTime(now.Add(-time.Minute))}
		}
		status.ContainerStatuses = append(status.ContainerStatuses, st)
	}
	created, err := srv.Client().CoreV1().Pods(wlNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status.QOSClass = created.Status.QOSClass
	created.Status = status
	if _, err := srv.Client().CoreV1().Pods(wlNS).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// streamReader collects a stream in the background, as the pane does.
type streamReader struct {
	mu    sync.Mutex
	lines []string
	ends  []action.LogEnd
	done  chan struct{}
}

func readInBackground(s *action.LogStream) *streamReader {
	r := &streamReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			c, err := s.Next(context.Background())
			if err != nil {
				return
			}
			r.mu.Lock()
			for _, l := range c.Lines {
				r.lines = append(r.lines, l.String())
			}
			r.ends = append(r.ends, c.Ended...)
			r.mu.Unlock()
			if c.Done {
				return
			}
		}
	}()
	return r
}

func (r *streamReader) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func (r *streamReader) waitFor(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		found := false
		for _, l := range r.lines {
			found = found || l == line
		}
		r.mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line %q; have:\n%s", line, r.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWorkloadLogsAgainstRealAPIServer follows a Deployment's pods through
// a real kube-apiserver (the fake kubelet serves the logs): lines of both
// pods arrive merged and prefixed, a line written later arrives, a pod
// created mid-stream joins, a deleted pod is marked, another app's pod is
// never read; --previous reads only the restarted containers; a CronJob's
// stream reads the pods of its Jobs only.
func TestWorkloadLogsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 90*time.Second)
	kubetest.CreateNamespace(t, srv, wlNS)
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "wl-node"}}); err != nil {
		t.Fatal(err)
	}
	web := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: wlNS},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: web},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: web},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app"}}}},
		},
	}
	if _, err := srv.Client().AppsV1().Deployments(wlNS).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kl := srv.Kubelet()
	key := func(pod, c string, previous bool) facts.LogKey {
		return facts.LogKey{Namespace: wlNS, Pod: pod, Container: c, Previous: previous}
	}
	kl.LoadLogs(map[facts.LogKey][]byte{
		key("web-a", "app", false):     []byte("a: listening on :8080\n"),
		key("web-a", "sidecar", false): []byte("proxy ready\n"),
		key("web-b", "app", false):     []byte("b: listening on :8080\n"),
		key("web-b", "app", true):      []byte("b: fatal error: out of memory\n"),
		key("api-x", "app", false):     []byte("api: not web\n"),
		key("web-c", "app", false):     []byte("c: listening on :8080\n"),
	})
	startLabelledPod(ctx, t, srv, "web-a", web, nil, false, "app", "sidecar")
	startLabelledPod(ctx, t, srv, "web-b", web, nil, true, "app")
	startLabelledPod(ctx, t, srv, "api-x", map[string]string{"app": "api"}, nil, false, "app")

	cl := kubetest.ConnectAs(t, srv, "", "")
	a := action.NewActions(cl, cl.Config, nil)

	t.Run("follow: pods join and leave", func(t *testing.T) {
		s, err := a.WorkloadLogs(ctx, "deployment", wlNS, "web", action.WorkloadLogOptions{LogOptions: action.LogOptions{Follow: true}})
		if err != nil {
			t.Fatal(err)
		}
		r := readInBackground(s)
		r.waitFor(t, "[web-a/app] a: listening on :8080")
		r.waitFor(t, "[web-a/sidecar] proxy ready")
		r.waitFor(t, "[web-b/app] b: listening on :8080")
		kl.AppendLog(key("web-b", "app", false), "b: GET /healthz 200")
		r.waitFor(t, "[web-b/app] b: GET /healthz 200")

		startLabelledPod(ctx, t, srv, "web-c", web, nil, false, "app")
		r.waitFor(t, "+ pod web-c joined")
		r.waitFor(t, "[web-c/app] c: listening on :8080")
		kl.AppendLog(key("web-c", "app", false), "c: GET / 200")
		r.waitFor(t, "[web-c/app] c: GET / 200")

		if err := srv.Client().CoreV1().Pods(wlNS).Delete(ctx, "web-a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r.waitFor(t, "— pod web-a deleted")
		if p := s.Pods(); p.Streaming != 2 || p.Selector != "app=web" {
			t.Errorf("Pods() = %+v, want web-b and web-c streaming", p)
		}
		kl.AppendLog(key("web-b", "app", false), "b: still serving")
		r.waitFor(t, "[web-b/app] b: still serving")
		if strings.Contains(r.text(), "api") {
			t.Errorf("another app's pod was read:\n%s", r.text())
		}
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end the workload's follow")
		}
		<-r.done
	})

	t.Run("previous", func(t *testing.T) {
		s, err := a.WorkloadLogs(ctx, "deployment", wlNS, "web", action.WorkloadLogOptions{LogOptions: action.LogOptions{Previous: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		r := readInBackground(s)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Fatal("a previous read did not end")
		}
		if got := r.text(); got != "[web-b/app] b: fatal error: out of memory" {
			t.Errorf("previous = %q, want web-b's crashed run only", got)
		}
	})

	t.Run("cronjob", func(t *testing.T) {
		cj := &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: wlNS},
			Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "report", Image: "example/report"}}}},
			}}},
		}
		cj, err := srv.Client().BatchV1().CronJobs(wlNS).Create(ctx, cj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		yes := true
		job := func(name string, owner *metav1.OwnerReference) *batchv1.Job {
			j := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: wlNS},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "report", Image: "example/report"}}}}},
			}
			if owner != nil {
				j.OwnerReferences = []metav1.OwnerReference{*owner}
			}
			created, err := srv.Client().BatchV1().Jobs(wlNS).Create(ctx, j, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return created
		}
		ours := job("nightly-29919000", &metav1.OwnerReference{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: cj.UID, Controller: &yes})
		theirs := job("manual-run", nil)
		podOf := func(j *batchv1.Job) *metav1.OwnerReference {
			return &metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: j.Name, UID: j.UID, Controller: &yes}
		}
		// The Job controller labels its pods with job-name (and, since 1.27,
		// batch.kubernetes.io/job-name); the API server's defaulting sets the
		// Job's selector to its controller-uid.
		kl.LoadLogs(map[facts.LogKey][]byte{
			key("nightly-29919000-abcde", "report", false): []byte("wrote report\n"),
			key("manual-run-fghij", "report", false):       []byte("manual\n"),
		})
		startLabelledPod(ctx, t, srv, "nightly-29919000-abcde", map[string]string{"job-name": ours.Name, "batch.kubernetes.io/job-name": ours.Name,
			"batch.kubernetes.io/controller-uid": string(ours.UID), "controller-uid": string(ours.UID)}, podOf(ours), false, "report")
		startLabelledPod(ctx, t, srv, "manual-run-fghij", map[string]string{"job-name": theirs.Name, "batch.kubernetes.io/job-name": theirs.Name,
			"batch.kubernetes.io/controller-uid": string(theirs.UID), "controller-uid": string(theirs.UID)}, podOf(theirs), false, "report")

		s, err := a.WorkloadLogs(ctx, "cronjob", wlNS, "nightly", action.WorkloadLogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		r := readInBackground(s)
		<-r.done
		if got := r.text(); got != "[nightly-29919000-abcde/report] wrote report" {
			t.Errorf("cronjob logs = %q, want its Job's pod only", got)
		}
		// And the Job itself, through the selector the API server defaulted.
		s2, err := a.WorkloadLogs(ctx, "job", wlNS, "manual-run", action.WorkloadLogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		r2 := readInBackground(s2)
		<-r2.done
		if got := r2.text(); got != "[manual-run-fghij/report] manual" {
			t.Errorf("job logs = %q", got)
		}
	})
}
