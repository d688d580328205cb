package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestReadOnlyEveryKeyAgainstRealAPIServer presses every binding in every
// pane in read-only mode against the real API server (with a context switch
// on the way) and reads the audit log: the server must have seen no
// mutating request and no exec, attach, port-forward or eviction.
func TestReadOnlyEveryKeyAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "healthy")
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	// A second context to switch to through the palette.
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	second := *cfg.Contexts[kubetest.ContextName]
	second.Namespace = "shop"
	cfg.Contexts["second"] = &second
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	connect := func(context string) (kube.Source, error) {
		f := genericclioptions.NewConfigFlags(true)
		f.KubeConfig, f.Context = &kubeconfig, &context
		return kube.Connect(f, kube.ConnectOptions{ReadOnly: true})
	}
	src, err := connect(kubetest.ContextName)
	if err != nil {
		t.Fatal(err)
	}
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}

	r := startProgramWith(t, Options{Source: src, Connect: connect, Contexts: []string{kubetest.ContextName, "second"}}, 120, 30)
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G")
	r.until("the ledger pod", func(m Model) bool { return m.tree.Selected() != nil })
	every := []string{"enter", "d", "y", "l", "p", "s", "e", "c", "u", "r", "Y", "w", "x", "a", "!", "n", "N", "space", "up", "down", "?", "x"}
	for _, pane := range []string{"enter", "d", "y", "l", "p", "e"} {
		r.keys(pane)
		for _, k := range every {
			r.keys(k)
			if k == "?" {
				r.keys("x") // close the help
			}
		}
		// Logs-pane keys, harmless elsewhere.
		r.keys("f", "s", "w", "t", "tab", "N")
		r.keys("esc", "esc", "esc")
		r.until("the pane closed", func(m Model) bool { return m.focus == focusTree })
	}
	r.keys(":")
	r.typeText("ctx second")
	r.keys("enter")
	r.until("the second context", func(m Model) bool {
		return m.src.Info().Context == "second" && m.state == live.Live && m.tree.Len() > 0
	})
	r.keys("G", "c", "r", "s", "u")
	r.until("a read-only refusal", func(m Model) bool { return strings.Contains(m.status, "read-only mode") })
	time.Sleep(500 * time.Millisecond) // let any request in flight reach the audit log

	after, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range after[len(before):] {
		if e.User != kubetest.AdminUser || !strings.HasPrefix(e.UserAgent, "kdoctor") {
			continue
		}
		switch {
		case e.Verb == "create" && e.Resource == "selfsubjectaccessreviews":
		case e.Verb == "create", e.Verb == "update", e.Verb == "patch", e.Verb == "delete", e.Verb == "deletecollection":
			t.Errorf("read-only kdoctor sent %s %s", e.Verb, e.RequestURI)
		case e.Subresource == "exec", e.Subresource == "attach", e.Subresource == "portforward", e.Subresource == "eviction", e.Subresource == "proxy":
			t.Errorf("read-only kdoctor reached %s %s", e.Subresource, e.RequestURI)
		default:
			reads++
		}
	}
	if reads == 0 {
		t.Fatal("the audit log saw no request from kdoctor at all: the test proves nothing")
	}
	t.Logf("%d read requests, no mutating or exec request", reads)
}
