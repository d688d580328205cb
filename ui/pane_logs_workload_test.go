package ui

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// goToRow puts the cursor on the first row whose selection satisfies ok.
func goToRow(r *run, what string, ok func(subject) bool) subject {
	r.t.Helper()
	var at int
	var sel subject
	r.until("a "+what+" row", func(m Model) bool {
		for i := range m.tree.lines {
			mm := m
			mm.tree.cursor = i
			if s := mm.selection(); ok(s) {
				at, sel = i, s
				return true
			}
		}
		return false
	})
	r.keys("g")
	for range at {
		r.keys("down")
	}
	r.until("the cursor on "+sel.String(), func(m Model) bool { return m.selection() == sel })
	return sel
}

// TestWorkloadLogsOnTheDemo: l on the storefront Deployment's row merges
// its three pods' logs, each line prefixed with pod/container; search finds
// a request in every pod; wrap and follow toggle; p shows that no container
// has a previous instance; tab says the containers are all merged; l on a
// namespace row still asks for a pod.
func TestWorkloadLogsOnTheDemo(t *testing.T) {
	r := startProgram(t, newDemo(t), 140, 40)
	r.waitLive()
	sel := goToRow(r, "storefront deployment", func(s subject) bool { return s.kind == "deployment" && s.name == "storefront" })
	r.keys("l")
	pods := []string{"storefront-7c5d8b9f6c-4jx2q", "storefront-7c5d8b9f6c-n8wzt", "storefront-7c5d8b9f6c-rk6dp"}
	m := r.until("the merged logs of the three pods", func(m Model) bool {
		if paneKindOf(m) != paneLogs || m.pane.Subject() != sel {
			return false
		}
		for _, p := range pods {
			if !strings.Contains(plainOf(m), "["+p+"/storefront] ") {
				return false
			}
		}
		return strings.Contains(m.pane.(*logsPane).status, "3 pods")
	})
	if s := screen(m); !strings.Contains(s, "Logs · deployment shop/storefront · all pods") {
		t.Errorf("title missing:\n%s", s)
	}
	for _, line := range strings.Split(strings.TrimSpace(plainOf(m)), "\n") {
		if !strings.HasPrefix(line, "[storefront-7c5d8b9f6c-") {
			t.Errorf("a line without its pod/container prefix: %q", line)
		}
	}
	// Each pod has a colour of its own (the palette has more than three).
	lp := m.pane.(*logsPane)
	if len(lp.podColour) != 3 {
		t.Errorf("pod colours = %v, want one for each of the 3 pods", lp.podColour)
	}

	r.keys("/")
	r.typeText("trail-runner-2")
	r.keys("enter")
	r.until("a match in each pod", func(m Model) bool {
		p, ok := m.pane.(*logsPane)
		return ok && p.search.count == strings.Count(p.plain, "trail-runner-2") && p.search.count >= 3 &&
			strings.Contains(p.status, "3 pods")
	})
	r.keys("w")
	r.until("wrap off", func(m Model) bool { p, ok := m.pane.(*logsPane); return ok && !p.wrap })
	r.keys("s")
	r.until("a snapshot, not following", func(m Model) bool {
		p, ok := m.pane.(*logsPane)
		return ok && p.noFollow && !p.opts.Follow && strings.Contains(p.plain, "["+pods[0]+"/storefront]")
	})
	r.keys("tab")
	r.until("tab explains", func(m Model) bool { return strings.Contains(m.status, "every container of every pod is merged") })

	r.keys("p")
	r.until("no previous instances", func(m Model) bool {
		p, ok := m.pane.(*logsPane)
		return ok && p.opts.Previous && strings.Contains(p.plain, "no container of the 3 pods has a previous instance")
	})
	r.keys("esc", "esc")
	r.until("the pane closed", func(m Model) bool { return m.pane == nil })

	goToRow(r, "namespace", func(s subject) bool { return s.kind == "namespace" })
	r.keys("l")
	r.until("logs need a pod", func(m Model) bool { return strings.Contains(m.status, "logs are read per pod") })
}

// TestWorkloadLogsPreviousOnTheDemo: p on the ledger Deployment (OOMKilled
// and restarted) shows the previous instance's last words, prefixed.
func TestWorkloadLogsPreviousOnTheDemo(t *testing.T) {
	r := startProgram(t, newDemo(t), 140, 40)
	r.waitLive()
	goToRow(r, "ledger deployment", func(s subject) bool { return s.kind == "deployment" && s.name == "ledger" })
	r.keys("p")
	r.until("the previous instance of ledger's pod", func(m Model) bool {
		p, ok := m.pane.(*logsPane)
		return ok && p.opts.Previous && strings.Contains(p.plain, "[ledger-7d9f8b6c5-qz4wn/ledger] ") &&
			strings.Contains(p.status, "previous instance")
	})
}

// TestWorkloadLogsAgainstRealAPIServer: l on the storefront Deployment of a
// real API server (the fake kubelet serving the scenario's logs) follows its
// three pods merged; a line written later arrives, a pod created mid-stream
// joins with its lines, and a deleted pod is marked.
func TestWorkloadLogsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "healthy")
	src := kubetest.ConnectAs(t, srv, "", "")
	ctx := kubetest.Timeout(t, 2*time.Minute)
	r := startProgramWith(t, Options{Source: src}, 160, 40)
	r.waitLive()
	goToRow(r, "storefront deployment", func(s subject) bool { return s.kind == "deployment" && s.name == "storefront" })
	r.keys("l")
	pods := []string{"storefront-7c5d8b9f6c-4jx2q", "storefront-7c5d8b9f6c-n8wzt", "storefront-7c5d8b9f6c-rk6dp"}
	r.until("the three pods followed", func(m Model) bool {
		p, ok := m.pane.(*logsPane)
		if !ok || !p.opts.Follow {
			return false
		}
		for _, pod := range pods {
			if !strings.Contains(p.plain, "["+pod+"/storefront] ") {
				return false
			}
		}
		return strings.Contains(p.status, "3 pods")
	})
	kl := srv.Kubelet()
	kl.AppendLog(facts.LogKey{Namespace: "shop", Pod: pods[1], Container: "storefront"}, "GET /late 200 3ms")
	r.until("a line written later", func(m Model) bool {
		return strings.Contains(plainOf(m), "["+pods[1]+"/storefront] GET /late 200 3ms")
	})

	// A fourth replica: a copy of a storefront pod under a new name.
	pc := srv.Client().CoreV1().Pods("shop")
	model, err := pc.Get(ctx, pods[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newPod := model.DeepCopy()
	newPod.Name, newPod.ResourceVersion, newPod.UID = "storefront-7c5d8b9f6c-zz9zz", "", ""
	kl.LoadLogs(map[facts.LogKey][]byte{{Namespace: "shop", Pod: newPod.Name, Container: "storefront"}: []byte("GET / 200 1ms from the new replica\n")})
	created, err := pc.Create(ctx, newPod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = model.Status
	if _, err := pc.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.until("the new pod joined", func(m Model) bool {
		p := plainOf(m)
		return strings.Contains(p, "+ pod "+newPod.Name+" joined") &&
			strings.Contains(p, "["+newPod.Name+"/storefront] GET / 200 1ms from the new replica") &&
			strings.Contains(m.pane.(*logsPane).status, "4 pods")
	})
	if err := pc.Delete(ctx, pods[2], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.until("the deleted pod marked", func(m Model) bool {
		return strings.Contains(plainOf(m), "— pod "+pods[2]+" deleted") && strings.Contains(m.pane.(*logsPane).status, "3 pods")
	})
}
