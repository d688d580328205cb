package teamrules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/teamrules"
)

const good = `rules:
  - id: team.db-password-rejected
    severity: error
    summary: 'Container {{.Container}} cannot log in as {{.User}}'
    explanation: The password was rotated.
    match:
      previousLog: 'password authentication failed for user "(?P<User>[^"]+)"'
`

// TestBadFiles: each broken file is one error line naming the file, the
// line and the field, and no rule set.
func TestBadFiles(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - id: team.x\n    severity: error\n    summary: s\n    explanation: e\n" + body
	}
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"not YAML", "rules: [\n", []string{"rules.yaml:1: not valid YAML"}},
		{"top-level typo", "rule:\n  - id: team.x\n", []string{"rules.yaml:1:1: rule: unknown field \"rule\""}},
		{"rules not a list", "rules: {id: team.x}\n", []string{"rules.yaml:1:8: rules: want a list of rules"}},
		{"unknown rule field", rule("    match: {exitCode: 1}\n    sumary: x\n"), []string{"rules.yaml:7:5: rules[0].sumary: unknown field \"sumary\""}},
		{"unknown matcher", rule("    match:\n      waitReason: CrashLoopBackOff\n"), []string{"rules.yaml:7:7: rules[0].match.waitReason: unknown field"}},
		{"field given twice", rule("    match: {exitCode: 1}\n    severity: info\n"), []string{"rules.yaml:7:5: rules[0].severity: given twice (first at line 3)"}},
		{"no match", rule(""), []string{"rules.yaml:2:5: rules[0].match: required"}},
		{"empty match", rule("    match: {}\n"), []string{"rules.yaml:6:12: rules[0].match: give at least one matcher"}},
		{"missing summary", "rules:\n  - id: team.x\n    severity: error\n    explanation: e\n    match: {exitCode: 1}\n", []string{"rules.yaml:2:5: rules[0].summary: required"}},
		{"bad severity", strings.Replace(rule("    match: {exitCode: 1}\n"), "severity: error", "severity: fatal", 1), []string{"rules.yaml:3:15: rules[0].severity: \"fatal\" is not a severity"}},
		{"exit code not a number", rule("    match: {exitCode: one}\n"), []string{"rules.yaml:6:23: rules[0].match.exitCode: want a whole number"}},
		{"bad regexp", rule("    match:\n      previousLog: 'failed (for'\n"), []string{"rules.yaml:7:20: rules[0].match.previousLog: bad regexp: error parsing regexp: missing closing )"}},
		{"bad event regexp", rule("    match:\n      event: {reason: FailedMount, message: '*nfs'}\n"), []string{"rules.yaml:7:45: rules[0].match.event.message: bad regexp"}},
		{"reason with spaces", rule("    match: {waitingReason: crash loop}\n"), []string{"rules.yaml:6:28: rules[0].match.waitingReason: \"crash loop\" is not a reason"}},
		{"node condition without status", rule("    match: {nodeCondition: KernelDeadlock}\n"), []string{"rules.yaml:6:28: rules[0].match.nodeCondition: \"KernelDeadlock\": want Type=Status"}},
		{"template syntax", strings.Replace(rule("    match: {exitCode: 1}\n"), "summary: s", "summary: 'exit {{.ExitCode'", 1), []string{"rules.yaml:4:14: rules[0].summary: template:", "unclosed action"}},
		{"template variable the rule cannot fill", rule("    match: {exitCode: 1}\n    commands:\n      - kubectl logs {{.Pod}} | grep {{.LogLine}}\n"),
			[]string{"rules.yaml:8:9: rules[0].commands[0]:", "{{.LogLine}} is not a variable this rule fills"}},
		{"group shadowing a variable", rule("    match:\n      previousLog: 'pod (?P<Pod>\\S+)'\n"), []string{"rules.yaml:7:20: rules[0].match.previousLog: group name \"Pod\" is a variable kdoctor fills itself"}},
		{"built-in id", strings.Replace(rule("    match: {exitCode: 1}\n"), "team.x", "crash.oom-killed", 1), []string{"rules.yaml:2:9: rules[0].id: \"crash.oom-killed\" is a built-in rule"}},
		{"built-in family", strings.Replace(rule("    match: {exitCode: 1}\n"), "team.x", "crash.db-auth", 1), []string{"rules.yaml:2:9: rules[0].id: prefix \"crash.\" is a built-in family"}},
		{"id without prefix", strings.Replace(rule("    match: {exitCode: 1}\n"), "team.x", "dbauth", 1), []string{"rules.yaml:2:9: rules[0].id: \"dbauth\" is not <prefix>.<name>"}},
		{"duplicate id", rule("    match: {exitCode: 1}\n") + "  - id: team.x\n    severity: info\n    summary: s\n    explanation: e\n    match: {exitCode: 2}\n",
			[]string{"rules.yaml:7:9: rules[1].id: \"team.x\" is defined twice"}},
		{"unknown rank", rule("    rank: crashes\n    match: {exitCode: 1}\n"), []string{"rules.yaml:6:11: rules[0].rank: \"crashes\" is neither a built-in family"}},
		{"unknown step", rule("    step: log\n    match: {exitCode: 1}\n"), []string{"rules.yaml:6:11: rules[0].step: unknown step \"log\""}},
		{"second document", good + "---\nrules: []\n", []string{"rules.yaml:8:1: a second YAML document"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := teamrules.Parse("rules.yaml", []byte(c.file))
			if err == nil || rs != nil {
				t.Fatalf("got rules %v, err %v; want an error and no rules", rs, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "rules file rules.yaml") {
				t.Errorf("error is not one line about the file: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			var te *teamrules.Error
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *teamrules.Error", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if rs, err := teamrules.Load(filepath.Join(dir, "absent.yaml"), false); err != nil || rs.TeamCount() != 0 {
		t.Errorf("absent default file: %v, %v; want the built-ins", rs, err)
	}
	if _, err := teamrules.Load(filepath.Join(dir, "absent.yaml"), true); err == nil || !strings.Contains(err.Error(), "absent.yaml: no such file") {
		t.Errorf("absent named file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", teamrules.MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := teamrules.Load(big, true); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
	for _, empty := range []string{"", "# nothing yet\n", "rules:\n", "rules: []\n"} {
		rs, err := teamrules.Parse("rules.yaml", []byte(empty))
		if err != nil || rs.TeamCount() != 0 {
			t.Errorf("%q: %v, %v; want the built-ins", empty, rs, err)
		}
	}
}

// TestMatchers checks each matcher and the all-must-match semantics on a
// crash-looping pod, without the fixture machinery.
func TestMatchers(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u1"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", RestartCount: 5,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container=app"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 3, StartedAt: ago(3 * time.Minute), FinishedAt: ago(2 * time.Minute)}}},
			{Name: "sidecar", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}},
		}},
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: "Ready", Status: "True"}, {Type: "KernelDeadlock", Status: "True", Reason: "DockerHung", Message: "kernel: INFO: task docker:20744 blocked for more than 120 seconds."},
	}}}
	ev := corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e1", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "shop", UID: "u1", FieldPath: "spec.containers{app}"},
		Reason:         "BackOff", Type: "Warning", Message: "Back-off restarting failed container app in pod web-1_shop(u1)",
		LastTimestamp: ago(time.Minute), Count: 9,
	}
	facts := diag.Facts{
		Target: diag.Target{Kind: "pod", Namespace: "shop", Name: "web-1"}, Now: now, Pod: pod,
		Node:   diag.FoundRef("n1", node),
		Events: diag.List[corev1.Event]{State: diag.Found, Items: []corev1.Event{ev}},
		Logs: []diag.ContainerLog{{Container: "app", Previous: true, State: diag.Found,
			Text: "starting\nERROR: tenant acme-eu has no license key (LIC-404)\nexiting\n"}},
	}
	for _, c := range []struct {
		name, match string
		want        bool
	}{
		{"waiting reason", "waitingReason: CrashLoopBackOff", true},
		{"other waiting reason", "waitingReason: ImagePullBackOff", false},
		{"terminated reason and exit code", "{terminatedReason: Error, exitCode: 3}", true},
		{"exit code differs", "{terminatedReason: Error, exitCode: 1}", false},
		{"event reason and message", "event: {reason: BackOff, message: 'restarting failed container app\\b'}", true},
		{"event message does not match", "event: {reason: BackOff, message: 'pulling image'}", false},
		{"event of the same container", "{waitingReason: CrashLoopBackOff, event: {reason: BackOff}}", true},
		{"node condition", "nodeCondition: KernelDeadlock=True", true},
		{"node condition status differs", "nodeCondition: KernelDeadlock=False", false},
		{"previous log", "previousLog: 'no license key \\((?P<Code>LIC-\\d+)\\)'", true},
		{"previous log does not match", "previousLog: 'license expired'", false},
		{"all match", "{waitingReason: CrashLoopBackOff, exitCode: 3, previousLog: license, nodeCondition: KernelDeadlock=True}", true},
		{"one of several fails", "{waitingReason: CrashLoopBackOff, exitCode: 3, previousLog: license, nodeCondition: Ready=False}", false},
		{"container matchers must hold for one container", "{waitingReason: CrashLoopBackOff, previousLog: license, exitCode: 0}", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			match := c.match
			if !strings.HasPrefix(match, "{") {
				match = "{" + match + "}"
			}
			file := "rules:\n  - id: acme.rule\n    severity: warning\n    summary: 'matched {{.Container}}'\n    explanation: e\n    match: " + match + "\n"
			rs, err := teamrules.Parse("rules.yaml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			d := rs.Diagnose(&facts)
			if d.Has("acme.rule") != c.want {
				t.Errorf("matched %t, want %t; findings %v", d.Has("acme.rule"), c.want, d.Findings)
			}
		})
	}

	t.Run("ranking", func(t *testing.T) {
		// Placed with the crash family (the default), the team rule comes
		// before crash.exit-error; placed with the node family, after it.
		for rank, first := range map[string]bool{"": true, "crash": true, "crash.exit-error": true, "node": false, "sched": true} {
			file := "rules:\n  - id: acme.license\n    severity: error\n    summary: s\n    explanation: e\n    match: {previousLog: license}\n"
			if rank != "" {
				file += "    rank: " + rank + "\n"
			}
			rs, err := teamrules.Parse("rules.yaml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			d := rs.Diagnose(&facts)
			if got := d.RootCause.Rule == "acme.license"; got != first || !d.Has("crash.exit-error") {
				t.Errorf("rank %q: root cause %s, want the team rule first: %t", rank, d.RootCause.Rule, first)
			}
		}
		// An info team rule never outranks a problem.
		rs, err := teamrules.Parse("rules.yaml", []byte("rules:\n  - id: acme.note\n    severity: info\n    rank: sched\n    summary: s\n    explanation: e\n    match: {exitCode: 3}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if d := rs.Diagnose(&facts); d.RootCause.Rule != "crash.exit-error" || !d.Has("acme.note") {
			t.Errorf("info team rule: root cause %s", d.RootCause.Rule)
		}
	})

	t.Run("variables", func(t *testing.T) {
		file := "rules:\n  - id: acme.license\n    severity: error\n    explanation: e\n    match: {exitCode: 3, previousLog: 'no license key \\((?P<Code>[^)]+)\\)', nodeCondition: KernelDeadlock=True}\n" +
			"    summary: '{{.Pod}}/{{.Container}} on {{.Node}}: {{.Code}} exit {{.ExitCode}} ({{.TerminatedReason}}), {{.ConditionType}}={{.ConditionStatus}}'\n"
		rs, err := teamrules.Parse("rules.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		d := rs.Diagnose(&facts)
		if want := "web-1/app on n1: LIC-404 exit 3 (Error), KernelDeadlock=True"; d.RootCause.Summary != want {
			t.Errorf("summary %q, want %q", d.RootCause.Summary, want)
		}
	})

	t.Run("a healthy container's old termination does not match", func(t *testing.T) {
		healthy := facts
		p := pod.DeepCopy()
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(30 * time.Minute)}}
		p.Status.ContainerStatuses[0].Ready = true
		// One restart, two days ago: history, not the cause.
		p.Status.ContainerStatuses[0].RestartCount = 1
		p.Status.ContainerStatuses[0].LastTerminationState.Terminated.FinishedAt = ago(48 * time.Hour)
		healthy.Pod = p
		rs, err := teamrules.Parse("rules.yaml", []byte("rules:\n  - id: acme.license\n    severity: error\n    summary: s\n    explanation: e\n    match: {previousLog: license}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if d := rs.Diagnose(&healthy); d.Has("acme.license") {
			t.Errorf("matched a container that is running and ready: %v", d.RootCause)
		}
	})
}

// TestTemplatesThatRunAway: a rules file is configuration; a template
// that would loop or allocate without bound is refused when it is read.
func TestTemplatesThatRunAway(t *testing.T) {
	for summary, want := range map[string]string{
		`{{range 1000000000}}{{end}}`:                 "{{range}} is not supported",
		`{{printf "%999999999d" 1}}`:                  `printf width or precision "999999999" is too large`,
		`{{printf "%.99999f" 1.0}}`:                   `printf width or precision ".99999" is too large`,
		`{{printf "%*d" 999999999 1}}`:                `printf width or precision "*" is too large`,
		`{{if .Pod}}{{printf "%0100000s" ""}}{{end}}`: "too large",
	} {
		file := "rules:\n  - id: team.x\n    severity: info\n    summary: '" + summary + "'\n    explanation: e\n    match: {exitCode: 1}\n"
		_, err := teamrules.Parse("rules.yaml", []byte(file))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rules.yaml:4:14: rules[0].summary") {
			t.Errorf("%s: %v, want an error at the summary with %q", summary, err, want)
		}
	}
	if _, err := teamrules.Parse("rules.yaml", []byte("rules:\n  - id: team.x\n    severity: info\n    summary: '{{printf \"%-12s|%3d\" .Pod 7}}'\n    explanation: e\n    match: {exitCode: 1}\n")); err != nil {
		t.Errorf("a modest printf: %v", err)
	}
}
