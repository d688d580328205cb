package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// hostileText is what a compromised or careless workload can put into
// event messages, status messages and log lines: colours, a clipboard
// write (OSC 52), a window title, an 8-bit CSI, bells, carriage returns,
// wide characters and emoji.
const hostileText = "\x1b[31mred\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07 \x1b]0;pwned\x1b\\ \u009b2J bell\a cr\r del\x7f 表示 🔥👩‍👩‍👧"

// hostileLog adds what only raw bytes can carry: invalid UTF-8 and a C1
// byte on its own, and a 100 KB line.
var hostileLog = "starting\n" + hostileText + "\n\xff\xfe\x9b31m not UTF-8\n" + strings.Repeat("long ", 20_000) + "\npanic: " + hostileText + "\n"

// checkInert fails if out could control a terminal: any C0 control but
// newline and tab, DEL, a C1 control, or invalid UTF-8.
func checkInert(t *testing.T, what, out string) {
	t.Helper()
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		bad := ""
		switch {
		case r == utf8.RuneError && size == 1:
			bad = "invalid UTF-8"
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			bad = "control character"
		case r >= 0x80 && r < 0xa0:
			bad = "C1 control"
		}
		if bad != "" {
			t.Errorf("%s: %s %q at byte %d: …%q…", what, bad, r, i, out[max(0, i-20):min(len(out), i+20)])
			return
		}
		i += size
	}
}

// checkHostileOutputs runs diagnose with args in every format and checks
// the text and markdown are inert, the JSON valid, and the hostile text
// shown (made visible) rather than dropped.
func checkHostileOutputs(t *testing.T, args ...string) {
	t.Helper()
	for _, format := range []string{"text", "markdown", "json"} {
		code, out, errOut := runCLI(t, append(args, "-o", format)...)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		checkInert(t, format+" stderr", errOut)
		if format == "json" {
			if !json.Valid([]byte(out)) {
				t.Fatalf("JSON output is not valid JSON")
			}
			var ds []diag.Diagnosis
			if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) == 0 {
				t.Fatalf("JSON output: %v (%d diagnoses)", err, len(ds))
			}
			// Even coloured for a terminal, the only escapes are kdoctor's own.
			own := regexp.MustCompile(`\x1b\[[0-9]+m`)
			for _, d := range ds {
				checkInert(t, "coloured text", own.ReplaceAllString(diag.Text(&d, diag.ANSIStyle()), ""))
			}
			continue
		}
		checkInert(t, format, out)
		for _, shown := range []string{"␛]52;c;cm0gLXJmIH4=␇", "表示 🔥"} {
			if !strings.Contains(out, shown) {
				t.Errorf("%s output lacks %q: the hostile text was dropped instead of shown inert", format, shown)
			}
		}
	}
}

// TestHostileDataOffline diagnoses a dump whose very names (which the API
// would refuse, but a file can hold) carry escape sequences.
func TestHostileDataOffline(t *testing.T) {
	dir := t.TempDir()
	pod := "web-\x1b]0;owned\x07"
	q := strconv.QuoteToASCII // its escapes are YAML double-quoted escapes too
	objects := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, namespace: hostile, uid: u-web, creationTimestamp: "2026-11-20T09:00:00Z",
  labels: {app: %[2]s}, annotations: {note: %[2]s}}
spec:
  nodeName: %[3]s
  containers: [{name: app, image: %[2]s}]
status:
  phase: Running
  message: %[2]s
  containerStatuses:
  - name: app
    image: example/app
    restartCount: 9
    state: {waiting: {reason: CrashLoopBackOff, message: %[2]s}}
    lastState: {terminated: {exitCode: 1, reason: Error, message: %[2]s, startedAt: "2026-11-20T09:58:00Z", finishedAt: "2026-11-20T09:58:01Z"}}
---
apiVersion: v1
kind: Event
metadata: {name: e1, namespace: hostile}
involvedObject: {kind: Pod, name: %[1]s, namespace: hostile, uid: u-web, fieldPath: "spec.containers{app}"}
reason: %[2]s
type: Warning
message: %[2]s
count: 12
lastTimestamp: "2026-11-20T10:00:00Z"
---
apiVersion: v1
kind: Node
metadata: {name: %[3]s}
status:
  conditions:
  - {type: Ready, status: "False", reason: KubeletNotReady, message: %[2]s, lastTransitionTime: "2026-11-20T09:00:00Z"}
`, q(pod), q(hostileText), q("node-\x1b[2J"))
	writeFiles(t, dir, map[string]string{
		"objects.yaml": objects,
		"README.md":    "# hostile\n",
		filepath.Join("logs", "hostile", pod, "app.previous.log"): hostileLog,
	})
	checkHostileOutputs(t, "diagnose", "--from-file", dir, "-A")
}

// TestHostileDataAgainstRealAPIServer stores hostile text where the API
// lets anyone put it (event messages, status messages, node conditions)
// and serves hostile logs through the kubelet.
func TestHostileDataAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := srv.Client()
	const ns, node = "hostile", "hostile-node"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	if _, err := srv.CreateNode(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: hostileText, LastTransitionTime: now, LastHeartbeatTime: now},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	pod, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "evil", Annotations: map[string]string{"note": hostileText}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := metav1.NewTime(now.Add(-time.Minute))
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Message: hostileText, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "app", Image: "example/app", RestartCount: 9, ContainerID: "containerd://evil",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: hostileText}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", Message: hostileText, StartedAt: started, FinishedAt: now}},
	}}}
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, msg := range []string{hostileText, strings.Repeat("🔥", 2000), "Back-off restarting failed container app\r\x1b[1A\x1b[2Kall good"} {
		_, err := c.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("evil-%d", i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "evil", UID: pod.UID, APIVersion: "v1"},
			Reason:         "BackOff", Type: corev1.EventTypeWarning, Message: msg, Count: 3,
			FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "kubelet"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv.Kubelet().LoadLogs(map[facts.LogKey][]byte{
		{Namespace: ns, Pod: "evil", Container: "app", Previous: true}: []byte(hostileLog),
	})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	checkHostileOutputs(t, "diagnose", "--kubeconfig", kubeconfig, "-n", ns)
}
