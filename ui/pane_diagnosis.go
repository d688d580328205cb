package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// diagnosisPane walks the decision tree for a pod or a workload and shows
// the root cause, the findings and the walk. It walks again when its pod
// changes, keeping the reader's place.
type diagnosisPane struct {
	frame
	env     *paneEnv
	id, req int
	subj    subject
	loading bool
	d       *diag.Diagnosis // the diagnosis shown, for Y and w
}

// diagnosisMsg carries a finished diagnosis.
type diagnosisMsg struct {
	reply
	d    *diag.Diagnosis
	err  error
	took time.Duration
}

// stepTitles say what each step of the walk reads, for the progress view.
var stepTitles = []struct{ name, what string }{
	{"describe", "pod status, containers, spec, owners"},
	{"events", "the pod's and its owners' events"},
	{"logs", "logs --previous of restarted containers"},
	{"node", "node conditions, taints and events"},
}

func newDiagnosisPane(env *paneEnv, id int, s subject) (*diagnosisPane, tea.Cmd) {
	p := &diagnosisPane{env: env, id: id, subj: s}
	p.frame = newFrame(env, "Diagnosis · "+s.String())
	p.restyle()
	p.status = "walking describe → events → logs --previous → node…"
	p.showProgress()
	return p, p.walk()
}

func (p *diagnosisPane) Kind() paneKind   { return paneDiagnosis }
func (p *diagnosisPane) Subject() subject { return p.subj }
func (p *diagnosisPane) SetSize(w, h int) {
	p.setSize(w, h)
	p.render()
}
func (p *diagnosisPane) View() string { return p.view("") }

func (p *diagnosisPane) ShortHelp() []key.Binding  { return p.help().ShortHelp() }
func (p *diagnosisPane) FullHelp() [][]key.Binding { return p.help().FullHelp() }
func (p *diagnosisPane) help() paneKeys {
	k := p.env.keys
	return k.paneHelp(k.Copy, k.Write)
}

// walk gathers facts and diagnoses in a command: the UI loop never waits on
// the API server.
func (p *diagnosisPane) walk() tea.Cmd {
	p.req++
	p.loading = true
	r, src, t, parent := reply{p.id, p.req}, p.env.src, p.subj.target(), p.env.ctx
	now, rules := p.env.now, p.env.rules
	return func() tea.Msg {
		start := time.Now()
		ctx, cancel := context.WithTimeout(parent, 30*time.Second)
		defer cancel()
		facts, err := facts.Gather(ctx, src.Client(), t, facts.GatherOptions{Now: now(), Logs: src.PodLogs, Metrics: kube.MetricsOf(src)})
		if err != nil {
			return diagnosisMsg{reply: r, err: err}
		}
		return diagnosisMsg{reply: r, d: rules.Diagnose(&facts), took: time.Since(start)}
	}
}

func (p *diagnosisPane) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case diagnosisMsg:
		if msg.reply != (reply{p.id, p.req}) {
			return nil, msg.pane == p.id
		}
		p.loading = false
		if msg.err != nil {
			p.status = "diagnosis failed"
			text := "Could not read the target: " + kube.Explain(msg.err)
			p.setStyled(p.st.Error.Render(clean(text)), text)
			return nil, true
		}
		p.d = cleanDiagnosis(msg.d)
		p.status = fmt.Sprintf("diagnosed in %s · Y copy as markdown · w write to file", msg.took.Round(time.Millisecond))
		p.render()
		return nil, true
	case batchMsg:
		// The diagnosis follows its pod: a restart or a new status walks again.
		if p.loading || !p.subj.isPod() {
			return nil, false
		}
		for _, r := range msg.b.Pods {
			if r.Namespace == p.subj.namespace && r.Name == p.subj.name {
				p.status = "pod changed: walking again…"
				return p.walk(), true
			}
		}
	case restyleMsg:
		p.restyle()
		if p.d == nil {
			p.showProgress()
		}
		p.render()
		return nil, true
	}
	return nil, false
}

func (p *diagnosisPane) Key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := p.env.keys
	switch {
	case key.Matches(msg, k.Copy):
		return p.copy(), true
	case key.Matches(msg, k.Write):
		return p.write(), true
	}
	return nil, p.scroll(k, msg)
}

func (p *diagnosisPane) showProgress() {
	st := p.st
	var b strings.Builder
	b.WriteString(st.Muted.Render("Walking the decision tree, as a senior engineer would by hand:") + "\n\n")
	for i, s := range stepTitles {
		fmt.Fprintf(&b, "  %s %d. %-8s %s\n", st.Health[live.Pending].Render("…"), i+1, s.name, st.Muted.Render(s.what))
	}
	p.setStyled(b.String(), "")
}

// render lays the diagnosis out again at the pane's width; a refresh must
// not lose the reader's place.
func (p *diagnosisPane) render() {
	if p.d == nil {
		return
	}
	top := p.vp.YOffset()
	p.setStyled(renderDiagnosis(*p.st, p.d, p.vp.Width()), diag.Markdown(p.d))
	p.vp.SetYOffset(top)
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

// copy puts the diagnosis on the clipboard as markdown through OSC 52,
// which works over SSH too.
func (p *diagnosisPane) copy() tea.Cmd {
	if p.d == nil {
		return say("nothing to copy yet: the diagnosis is still walking")
	}
	return tea.Batch(tea.SetClipboard(diag.Markdown(p.d)),
		say("copied the diagnosis of "+p.subj.String()+" as markdown (via the terminal clipboard, OSC 52)"))
}

// write saves the diagnosis as a markdown file in the working directory,
// never overwriting an existing one.
func (p *diagnosisPane) write() tea.Cmd {
	if p.d == nil {
		return say("nothing to write yet: the diagnosis is still walking")
	}
	d, now := p.d, p.env.now()
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
			return statusMsg("could not write the diagnosis: " + err.Error())
		}
		_, err = f.WriteString(diag.Markdown(d))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return statusMsg("could not write the diagnosis: " + err.Error())
		}
		abs, _ := filepath.Abs(name)
		return statusMsg("diagnosis written to " + abs)
	}
}
