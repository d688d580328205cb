package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/kdoctor-dev/kdoctor/themes"
)

// helpView lays the focused pane's bindings out in columns that fit the
// width, wrapping whole columns to a new row rather than cutting any off:
// every binding must be visible on an 80×24 terminal.
func helpView(st themes.Styles, groups [][]key.Binding, width int) string {
	var cols []string
	for _, g := range groups {
		kw := 0
		for _, b := range g {
			if b.Enabled() {
				kw = max(kw, lipgloss.Width(b.Help().Key))
			}
		}
		var lines []string
		for _, b := range g {
			if !b.Enabled() {
				continue
			}
			h := b.Help()
			if strings.HasSuffix(h.Desc, offReadOnly) {
				// Greyed: the key exists and says why, but does nothing here.
				lines = append(lines, st.Muted.Render(pad(h.Key, kw)+" "+h.Desc))
				continue
			}
			lines = append(lines, st.Help.FullKey.Render(pad(h.Key, kw))+" "+st.Help.FullDesc.Render(h.Desc))
		}
		cols = append(cols, strings.Join(lines, "\n"))
	}
	var rows []string
	var row []string
	used := 0
	const gap = 3
	for _, c := range cols {
		w := lipgloss.Width(c)
		if len(row) > 0 && used+gap+w > width {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, used = nil, 0
		}
		if len(row) > 0 {
			row = append(row, strings.Repeat(" ", gap))
			used += gap
		}
		row = append(row, c)
		used += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	return strings.Join(rows, "\n\n")
}
