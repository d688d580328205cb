package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// diagnosisMsg carries a finished diagnosis of the pane's subject.
type diagnosisMsg struct {
	seq  int
	d    *diag.Diagnosis
	err  error
	took time.Duration
}

// writtenMsg reports a diagnosis written to a file.
type writtenMsg struct {
	path string
	err  error
}

// stepTitles say what each step of the walk reads, for the progress view.
var stepTitles = []struct{ name, what string }{
	{"describe", "pod status, containers, spec, owners"},
	{"events", "the pod's and its owners' events"},
	{"logs", "logs --previous of restarted containers"},
	{"node", "node conditions, taints and events"},
}

// openDiagnosis walks the decision tree for the selected pod (or workload).
func (m *Model) openDiagnosis(s subject, t diag.Target) tea.Cmd {
	m.seq++
	m.detail.Open(paneDiagnosis, s, m.seq, "walking describe → events → logs --previous → node…")
	m.focus = focusDetail
	m.diagTarget = t
	m.layout()
	m.showDiagnosisProgress()
	return m.runDiagnosis()
}

// runDiagnosis gathers facts and diagnoses in a command: the UI loop never
// waits on the API server.
func (m *Model) runDiagnosis() tea.Cmd {
	m.diagLoading = true
	seq, src, t, parent := m.seq, m.src, m.diagTarget, m.opts.Ctx
	now, rules := m.opts.Now, m.opts.Rules
	return func() tea.Msg {
		start := time.Now()
		ctx, cancel := context.WithTimeout(parent, 30*time.Second)
		defer cancel()
		facts, err := facts.Gather(ctx, src.Client(), t, facts.GatherOptions{Now: now(), Logs: src.PodLogs})
		if err != nil {
			return diagnosisMsg{seq: seq, err: err}
		}
		return diagnosisMsg{seq: seq, d: rules.Diagnose(&facts), took: time.Since(start)}
	}
}

func (m *Model) showDiagnosisProgress() {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Muted.Render("Walking the decision tree, as a senior engineer would by hand:") + "\n\n")
	for i, s := range stepTitles {
		fmt.Fprintf(&b, "  %s %d. %-8s %s\n", st.Health[live.Pending].Render("…"), i+1, s.name, st.Muted.Render(s.what))
	}
	m.detail.SetContent(b.String(), "", false)
}

func (m *Model) showDiagnosis(msg diagnosisMsg) {
	m.diagLoading = false
	if msg.err != nil {
		m.detail.status = "diagnosis failed"
		text := "Could not read the target: " + kube.Explain(msg.err)
		m.detail.SetContent(m.styles.Error.Render(clean(text)), text, false)
		return
	}
	d := cleanDiagnosis(msg.d)
	m.diag = d
	m.detail.status = fmt.Sprintf("diagnosed in %s · y copy as markdown · w write to file", msg.took.Round(time.Millisecond))
	top := m.detail.vp.YOffset()
	m.detail.SetContent(renderDiagnosis(m.styles, d, m.detail.vp.Width()), diag.Markdown(d), false)
	m.detail.vp.SetYOffset(top) // a refresh must not lose the reader's place
}

// cleanDiagnosis copies d with every API-derived string made safe for the
// terminal and the clipboard: event messages and log lines are cluster data.
func cleanDiagnosis(d *diag.Diagnosis) *diag.Diagnosis {
	c := *d
	c.RootCause.Summary = clean(c.RootCause.Summary)
	c.Target.Name, c.Target.Namespace = clean(c.Target.Name), clean(c.Target.Namespace)
	c.Findings = make([]diag.Finding, len(d.Findings))
	for i, f := range d.Findings {
		f.Summary, f.Explanation, f.Container = clean(f.Summary), clean(f.Explanation), clean(f.Container)
		f.Evidence, f.NextSteps, f.Commands = cleanAll(f.Evidence), cleanAll(f.NextSteps), cleanAll(f.Commands)
		c.Findings[i] = f
	}
	c.Steps = make([]diag.Step, len(d.Steps))
	for i, s := range d.Steps {
		s.Evidence = cleanAll(s.Evidence)
		c.Steps[i] = s
	}
	return &c
}

func cleanAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		// One evidence line stays one line on screen.
		out[i] = strings.ReplaceAll(clean(s), "\n", " ⏎ ")
	}
	return out
}

// renderDiagnosis lays a diagnosis out for the pane: the root cause first,
// then every finding with its evidence, next steps and commands, then the
// walk with what each step looked at.
func renderDiagnosis(st themes.Styles, d *diag.Diagnosis, width int) string {
	width = max(width, 30)
	var b strings.Builder
	sev := func(s diag.Severity) string {
		h := live.SeverityHealth(s)
		return st.Health[h].Render(healthSymbol[h] + " " + s.String())
	}
	wrap := func(indent, text string) {
		for _, l := range strings.Split(ansi.Wordwrap(text, width-len(indent), ""), "\n") {
			b.WriteString(indent + l + "\n")
		}
	}
	// hang wraps evidence and commands, which may hold long unbroken
	// tokens (a pod name with its UID), under a hanging indent: left to
	// the pane they would continue at its left edge, mid-word. Copying
	// takes the unwrapped text (y, w).
	hang := func(indent, text string) {
		const more = "  "
		w := max(10, width-len(indent)-len(more))
		for i, l := range strings.Split(ansi.Wrap(text, w, ""), "\n") {
			if i == 0 {
				b.WriteString(indent + l + "\n")
			} else {
				b.WriteString(indent + more + l + "\n")
			}
		}
	}
	rc := d.RootCause
	b.WriteString(st.Title.Render("Root cause") + "  " + sev(rc.Severity) + "  " + st.Workload.Render(rc.Rule) + "\n")
	wrap("  ", rc.Summary)
	for i, f := range d.Findings {
		b.WriteString("\n")
		head := fmt.Sprintf("%d. %s", i+1, f.Rule)
		if f.Container != "" {
			head += " · container " + f.Container
		}
		b.WriteString(st.Workload.Render(head) + "  " + sev(f.Severity) + "\n")
		wrap("   ", f.Summary)
		if f.Explanation != "" {
			wrap("   ", st.Muted.Render("Why: ")+f.Explanation)
		}
		if len(f.Evidence) > 0 {
			b.WriteString(st.Muted.Render("   Evidence") + "\n")
			for _, e := range f.Evidence {
				hang("     ", st.App.Render(e))
			}
		}
		if len(f.NextSteps) > 0 {
			b.WriteString(st.Muted.Render("   Next steps") + "\n")
			for _, n := range f.NextSteps {
				// A step that wraps continues under its text, not under
				// a second bullet that reads as another step.
				for i, l := range strings.Split(ansi.Wordwrap(n, max(10, width-7), ""), "\n") {
					if i == 0 {
						b.WriteString("     • " + l + "\n")
					} else {
						b.WriteString("       " + l + "\n")
					}
				}
			}
		}
		if len(f.Commands) > 0 {
			b.WriteString(st.Muted.Render("   Confirm with") + "\n")
			for _, c := range f.Commands {
				hang("     ", st.Title.Render("$ "+c))
			}
		}
	}
	b.WriteString("\n" + st.Title.Render("The walk") + "\n")
	for i, s := range d.Steps {
		h := map[diag.StepStatus]live.Health{diag.StatusOK: live.Healthy, diag.StatusProblem: live.Failing,
			diag.StatusIncomplete: live.Warning, diag.StatusSkipped: live.Pending}[s.Status]
		line := fmt.Sprintf("  %s %d. %-8s %s", st.Health[h].Render(healthSymbol[h]), i+1, s.Name, st.Health[h].Render(string(s.Status)))
		if len(s.Findings) > 0 {
			line += st.Muted.Render("  → " + strings.Join(s.Findings, ", "))
		}
		b.WriteString(line + "\n")
		for _, e := range s.Evidence {
			hang("       ", st.Muted.Render("· ")+e)
		}
	}
	return b.String()
}

// copyDiagnosis puts the diagnosis on the clipboard as markdown through
// OSC 52, which works over SSH too.
func (m *Model) copyDiagnosis() tea.Cmd {
	if m.detail.kind != paneDiagnosis || m.diag == nil {
		return m.say("nothing to copy: open a diagnosis with enter first")
	}
	m.status = "copied the diagnosis of " + m.detail.subject.String() + " as markdown (via the terminal clipboard, OSC 52)"
	return tea.SetClipboard(diag.Markdown(m.diag))
}

// writeDiagnosis saves the diagnosis as a markdown file in the working
// directory, never overwriting an existing one.
func (m *Model) writeDiagnosis() tea.Cmd {
	if m.detail.kind != paneDiagnosis || m.diag == nil {
		return m.say("nothing to write: open a diagnosis with enter first")
	}
	d, now := m.diag, m.opts.Now()
	return func() tea.Msg {
		name := fmt.Sprintf("kdoctor-%s-%s-%s.md", d.Target.Namespace, d.Target.Name, now.Format("20060102-150405"))
		name = strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r < 0x20 {
				return '_'
			}
			return r
		}, name)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return writtenMsg{err: err}
		}
		_, err = f.WriteString(diag.Markdown(d))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		abs, _ := filepath.Abs(name)
		return writtenMsg{path: abs, err: err}
	}
}
