package ui

import (
	"strings"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// clean makes cluster-supplied text safe to draw, by kdoctor's one policy
// for cluster text (diag.Printable: colour codes dropped, every other
// control shown inert), and expands tabs so the layout holds — a layout
// step, not a safety one. Newlines are kept; callers split lines.
func clean(s string) string {
	s = diag.Printable(s)
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		col := 0
		for _, r := range line {
			if r == '\t' {
				n := 4 - col%4
				b.WriteString(strings.Repeat(" ", n))
				col += n
				continue
			}
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}
