package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/themes"
)

// paneKind is what the detail pane shows.
type paneKind uint8

const (
	paneNone paneKind = iota
	paneDiagnosis
	paneDescribe
	paneEvents
	paneLogs
	paneDrain
)

func (k paneKind) String() string {
	return [...]string{"", "Diagnosis", "Describe", "Events", "Logs", "Drain"}[k]
}

// subject is the object a pane is about.
type subject struct {
	namespace, pod, container, node string
}

func (s subject) String() string {
	if s.pod == "" {
		return s.node
	}
	return s.namespace + "/" + s.pod
}

// DetailPane is the right (or lower) pane: a titled, scrollable text view
// whose content is computed elsewhere and handed in whole.
type DetailPane struct {
	kind    paneKind
	subject subject
	title   string
	// status is a line under the title (progress, "following", errors).
	status string
	// plain is the unstyled content, for copying and writing to a file.
	plain string
	vp    viewport.Model
	// seq identifies the request whose result the pane waits for; results of
	// older requests (the user moved on) are dropped.
	seq int
}

func newDetailPane() DetailPane {
	vp := viewport.New()
	vp.SoftWrap = true
	return DetailPane{vp: vp}
}

// Open switches the pane to a kind and subject, clearing old content.
func (d *DetailPane) Open(kind paneKind, s subject, seq int, status string) {
	d.kind, d.subject, d.seq, d.status = kind, s, seq, status
	d.title = kind.String() + " · " + s.String()
	if s.container != "" && kind == paneLogs {
		d.title += " · " + s.container
	}
	d.plain = ""
	d.vp.SetContent("")
	d.vp.GotoTop()
}

// SetContent replaces the content; keepBottom keeps following the end.
func (d *DetailPane) SetContent(styled, plain string, keepBottom bool) {
	atBottom := d.vp.AtBottom()
	d.plain = plain
	d.vp.SetContent(styled)
	if keepBottom && atBottom {
		d.vp.GotoBottom()
	}
}

// SetSize sets the pane's outer size; the title takes two lines.
func (d *DetailPane) SetSize(w, h int) {
	d.vp.SetWidth(max(1, w))
	d.vp.SetHeight(max(1, h-2))
}

// Update scrolls.
func (d *DetailPane) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	d.vp, cmd = d.vp.Update(msg)
	return cmd
}

// View renders title, status and the visible content.
func (d *DetailPane) View(st themes.Styles, width int) string {
	title := st.Title.Render(ansi.Truncate(d.title, width, "…"))
	status := d.status
	if d.vp.TotalLineCount() > d.vp.Height() {
		pct := fmt.Sprintf(" %3.0f%%", d.vp.ScrollPercent()*100)
		status = ansi.Truncate(status, max(0, width-len(pct)), "…") + strings.Repeat(" ", max(0, width-len(pct)-ansi.StringWidth(ansi.Truncate(status, max(0, width-len(pct)), "…")))) + pct
	}
	return title + "\n" + st.Muted.Render(ansi.Truncate(status, width, "…")) + "\n" + d.vp.View()
}
