package ui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/teamrules"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// storySource serves a story's objects through a fake clientset and its
// logs as the kubelet would.
type storySource struct {
	client *fake.Clientset
	logs   map[facts.LogKey][]byte
}

func (s storySource) Client() k8s.Interface { return s.client }
func (s storySource) Info() kube.SourceInfo { return kube.SourceInfo{Context: "test", Server: "fake"} }
func (s storySource) PodLogs(_ context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.logs[facts.LogKey{Namespace: ns, Pod: pod, Container: o.Container, Previous: o.Previous}])), nil
}

// TestDiagnosisPaneUsesTeamRules: the TUI's diagnosis pane diagnoses with
// the rule set it was given, so a team rule names the cause on screen.
func TestDiagnosisPaneUsesTeamRules(t *testing.T) {
	sc, err := facts.LoadScenario("../testdata/teamrules/db-password-rejected")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := teamrules.Load("../testdata/teamrules/db-password-rejected/rules.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, o := range sc.Objects {
		objs = append(objs, o)
	}
	src := storySource{client: fake.NewClientset(objs...), logs: sc.Logs}
	m := New(Options{Source: src, Styles: themes.Build(themes.Palette{Name: "mono"}), ThemeFixed: true,
		Now: sc.Newest, Rules: rs})
	next, _ := m.Update(tea.WindowSizeMsg{Width: 180, Height: 60})
	m = next.(Model)
	p, cmd := newDiagnosisPane(m.env, m.nextPane(), podSubject(sc.Target.Namespace, sc.Target.Name, "", ""))
	m.openPane(p)
	msg := findDiagnosis(t, cmd)
	if msg.err != nil {
		t.Fatal(msg.err)
	}
	if msg.d.RootCause.Rule != sc.Rule {
		t.Fatalf("root cause %s, want %s", msg.d.RootCause.Rule, sc.Rule)
	}
	m = send(m, msg)
	if s := screen(m); !strings.Contains(s, "team.db-password-rejected") || !strings.Contains(s, "cannot log in to PostgreSQL") {
		t.Errorf("the team rule is not on screen:\n%s", s)
	}
}

// findDiagnosis runs a command (and the commands of a batch) until one
// returns the diagnosis.
func findDiagnosis(t *testing.T, cmd tea.Cmd) diagnosisMsg {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	switch msg := cmd().(type) {
	case diagnosisMsg:
		return msg
	case tea.BatchMsg:
		for _, c := range msg {
			if c == nil {
				continue
			}
			if d, ok := c().(diagnosisMsg); ok {
				return d
			}
		}
	}
	t.Fatal("the command did not diagnose")
	return diagnosisMsg{}
}
