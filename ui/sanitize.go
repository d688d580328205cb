package ui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// clean makes cluster-supplied text safe to draw: pod names, event messages
// and log lines can carry escape sequences (colours, OSC 52 clipboard writes,
// window titles) that would otherwise control the user's terminal. Escape
// sequences are removed, other control characters are shown as their Unicode
// pictures, invalid UTF-8 is replaced and tabs are expanded so the layout
// holds. Newlines are kept; callers split lines.
func clean(s string) string {
	if isPlain(s) {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			r = '�'
		case r == '\n':
			b.WriteByte('\n')
			col = 0
			continue
		case r == '\t':
			n := 4 - col%4
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		case r < 0x20:
			r = 0x2400 + r // ␀…␟: visible, inert
		case r == 0x7f:
			r = '␡'
		case r >= 0x80 && r < 0xa0:
			r = '�' // C1 controls (8-bit CSI/OSC) must never reach the terminal
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}
