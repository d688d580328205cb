package ui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/themes"
)

// dialog asks before a mutating action. It shows exactly what will happen;
// when typed is set (drain), the user must type it (the node name) to confirm.
type dialog struct {
	title string
	body  []string
	typed string
	input textinput.Model
	// onConfirm performs the action on the live model (a closure over an
	// older copy of the model would update a model nobody draws).
	onConfirm func(m *Model) tea.Cmd
}

func newDialog(title string, body []string, typed string, onConfirm func(m *Model) tea.Cmd) dialog {
	d := dialog{title: title, body: body, typed: typed, onConfirm: onConfirm}
	if typed != "" {
		d.input = textinput.New()
		d.input.Prompt = "type " + typed + " to confirm: "
		d.input.Focus()
	}
	return d
}

func (d *dialog) update(msg tea.Msg) tea.Cmd {
	if d.typed == "" {
		return nil
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(msg)
	return cmd
}

func (d *dialog) ready() bool { return d.typed == "" || d.input.Value() == d.typed }

func (d *dialog) view(st themes.Styles, width, height int) string {
	var b strings.Builder
	b.WriteString(st.Title.Render(d.title) + "\n\n")
	for _, l := range d.body {
		b.WriteString(ansi.Wrap(l, width, " ") + "\n")
	}
	b.WriteByte('\n')
	if d.typed != "" {
		b.WriteString(d.input.View() + "\n")
	}
	hint := "enter confirm · esc cancel"
	if !d.ready() {
		hint = "esc cancel"
	}
	b.WriteString(st.Muted.Render(hint))
	return b.String()
}

func (m Model) dialogKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		m.focus = focusTree
		m.status = m.dlg.title + ": cancelled, nothing was sent"
		return m, nil
	case "enter":
		if !m.dlg.ready() {
			return m, nil
		}
		m.focus = focusTree
		return m, m.dlg.onConfirm(&m)
	}
	return m, m.dlg.update(msg)
}
