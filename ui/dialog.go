package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
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
	// drain holds the drain dialog's options and plan; its body is drawn
	// from them. nil for other dialogs.
	drain *drainChoice
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

// update gives what is typed to the field that has the focus: the drain
// dialog's grace period while its row is highlighted, else the
// confirmation text.
func (d *dialog) update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch {
	case d.drain != nil && d.drain.typingGrace():
		d.drain.graceInput, cmd = d.drain.graceInput.Update(msg)
	case d.typed != "":
		d.input, cmd = d.input.Update(msg)
	}
	return cmd
}

// focusTyping moves the cursor to the field typing goes to (see update).
func (d *dialog) focusTyping() {
	if d.typed == "" {
		return
	}
	if d.drain != nil && d.drain.typingGrace() {
		d.input.Blur()
	} else {
		d.input.Focus()
	}
}

// typedOK: the confirmation text, when one is asked for, is typed.
func (d *dialog) typedOK() bool { return d.typed == "" || d.input.Value() == d.typed }

// ready: enter would act now.
func (d *dialog) ready() bool { return d.typedOK() && (d.drain == nil || d.drain.runnable()) }

func (d *dialog) view(st themes.Styles, width, height int) string {
	var b strings.Builder
	b.WriteString(st.Title.Render(d.title) + "\n\n")
	body := d.body
	if d.drain != nil {
		body = d.drain.body()
	}
	for _, l := range body {
		b.WriteString(hangingWrap(l, width) + "\n")
	}
	b.WriteByte('\n')
	if d.typed != "" {
		b.WriteString(d.input.View() + "\n")
	}
	var hint []string
	dc := d.drain
	if dc != nil && dc.typingGrace() {
		// The grace row takes what is typed: say so, since the node name
		// typed so far stays below without a cursor.
		b.WriteString(st.Muted.Render(ansi.Wrap("typing goes to the grace period here, to the node name on the other rows", width, " ")) + "\n")
	}
	switch {
	case dc != nil && dc.typedGrace():
		hint = append(hint, "enter set it")
	case d.ready():
		hint = append(hint, "enter confirm")
	}
	switch {
	case dc != nil && dc.typingGrace():
		hint = append(hint, "space next step", "tab next option", "? keys")
	case dc != nil:
		hint = append(hint, "tab next option", "space change it", "? keys")
	}
	if dc != nil && dc.typedGrace() {
		hint = append(hint, "esc clear it")
	} else {
		hint = append(hint, "esc cancel")
	}
	b.WriteString(st.Muted.Render(strings.Join(hint, " · ")))
	return b.String()
}

// dialogKey: the option keys (tab, shift+tab, space) and ? cannot be part
// of a node name (a DNS subdomain), so they never take a letter from the
// confirmation text; every other key edits it.
func (m Model) dialogKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if m.showHelp {
		m.showHelp = false // any key closes the help, back to the dialog
		return m, nil
	}
	k := m.keys
	d := m.dlg.drain
	switch {
	case d != nil && d.typedGrace() && key.Matches(msg, k.Cancel):
		d.clearTypedGrace()
		return m, nil
	case d != nil && d.typedGrace() && key.Matches(msg, k.Confirm):
		return m, m.drainGraceEntered()
	case key.Matches(msg, k.Cancel):
		m.focus = focusTree
		m.status = m.dlg.title + ": cancelled, nothing was sent"
		return m, nil
	case key.Matches(msg, k.Confirm):
		if !m.dlg.ready() {
			if d != nil && m.dlg.typedOK() {
				m.status = "the drain cannot start with these options: change one (tab, space) or esc"
			}
			return m, nil
		}
		m.focus = focusTree
		return m, m.dlg.onConfirm(&m)
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return m, nil
	case d != nil && key.Matches(msg, k.DrainDialog.Next):
		m.moveDrainCursor(1)
		return m, nil
	case d != nil && key.Matches(msg, k.DrainDialog.Prev):
		m.moveDrainCursor(-1)
		return m, nil
	case d != nil && key.Matches(msg, k.DrainDialog.Change):
		return m, m.drainOption()
	}
	return m, m.dlg.update(msg)
}

// moveDrainCursor highlights another option of the drain dialog; typing
// follows it (the grace row takes a grace period, the others the node
// name), and so do the cursor and the help line.
func (m *Model) moveDrainCursor(delta int) {
	m.dlg.drain.move(delta)
	m.dlg.focusTyping()
	m.keys = m.keys.withGraceTyping(m.dlg.drain.typingGrace())
}

// hangingWrap wraps a dialog line to width, continuing under its text: a
// bullet's second line lines up with its first word, not with the margin,
// so it does not read as a new point.
func hangingWrap(l string, width int) string {
	text := strings.TrimLeft(l, " ")
	indent := len(l) - len(text)
	if strings.HasPrefix(text, "• ") || strings.HasPrefix(text, "✖ ") {
		indent += 2
	}
	if indent >= width/2 {
		return ansi.Wrap(l, width, " ")
	}
	lines := strings.Split(ansi.Wrap(l, width, " "), "\n")
	if len(lines) == 1 {
		return l
	}
	rest := strings.Join(lines[1:], " ")
	pad := strings.Repeat(" ", indent)
	wrapped := strings.Split(ansi.Wrap(rest, width-indent, " "), "\n")
	for i := range wrapped {
		wrapped[i] = pad + wrapped[i]
	}
	return lines[0] + "\n" + strings.Join(wrapped, "\n")
}
