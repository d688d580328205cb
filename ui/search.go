package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// textSearch is the search of a text pane (logs, describe, YAML), as less
// and vim users expect it: / starts a new search, enter runs it, n and N go
// to the next and previous match, and the match is case-insensitive unless
// the term has a capital letter (smart case). The matches are highlighted
// by the pane's viewport, which also scrolls to them.
type textSearch struct {
	input  textinput.Model
	typing bool
	query  string
	count  int
	// lines are the content lines of the matches; cur is the current one.
	lines []int
	cur   int
}

func newTextSearch() textSearch {
	in := textinput.New()
	in.Prompt = "search: "
	in.Placeholder = "text (a capital letter makes it case-sensitive)"
	return textSearch{input: in}
}

// start begins a new search: the last term is not kept, so typing replaces
// it rather than appending to it.
func (s *textSearch) start() tea.Cmd {
	s.typing = true
	s.input.SetValue("")
	return s.input.Focus()
}

// key takes a key while the term is typed; run reports that enter ran the
// search (or esc cleared it) and the pane must highlight again.
func (s *textSearch) key(msg tea.KeyPressMsg) (cmd tea.Cmd, run bool) {
	switch msg.String() {
	case "esc":
		s.typing, s.query = false, ""
		s.input.Blur()
		return nil, true
	case "enter":
		s.typing, s.query = false, s.input.Value()
		s.input.Blur()
		return nil, true
	}
	s.input, cmd = s.input.Update(msg)
	return cmd, false
}

// update feeds other messages (the cursor's blink) to the input.
func (s *textSearch) update(msg tea.Msg) tea.Cmd {
	if !s.typing {
		return nil
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(msg)
	return cmd
}

// reset forgets the search: a new target starts without one.
func (s *textSearch) reset() {
	s.typing, s.query, s.count, s.lines, s.cur = false, "", 0, nil, 0
	s.input.Blur()
	s.input.SetValue("")
}

// highlight marks every match in the viewport, whose content must be the
// plain text, and makes the first match from the top of the view the
// current one — wrapping to the first of all, as less does, when none is
// below.
func (s *textSearch) highlight(vp *viewport.Model, plain string) {
	vp.ClearHighlights()
	s.count, s.lines, s.cur = 0, nil, 0
	if s.query == "" {
		return
	}
	text := strings.TrimSuffix(plain, "\n")
	ranges := findAll(text, s.query)
	s.count = len(ranges)
	if s.count == 0 {
		return
	}
	line, at := 0, 0
	for _, r := range ranges {
		line += strings.Count(text[at:r[0]], "\n")
		at = r[0]
		s.lines = append(s.lines, line)
	}
	top := contentLine(vp, vp.YOffset())
	for i, l := range s.lines {
		if l >= top {
			s.cur = i
			break
		}
	}
	// The viewport picks its current match from its offset; start it at the
	// first and step to ours, so both agree.
	vp.SetYOffset(0)
	vp.SetHighlights(ranges)
	for range s.cur {
		vp.HighlightNext()
	}
	s.show(vp)
}

// step moves to the next (+1) or previous (-1) match.
func (s *textSearch) step(vp *viewport.Model, dir int) {
	if s.count == 0 {
		return
	}
	s.cur = (s.cur + dir + s.count) % s.count
	if dir > 0 {
		vp.HighlightNext()
	} else {
		vp.HighlightPrevious()
	}
	s.show(vp)
}

// show scrolls the current match into view with a line of context above.
// The viewport's own scrolling to a match counts content lines, which is
// wrong once long lines wrap; this counts the rows they take.
func (s *textSearch) show(vp *viewport.Model) {
	row := visualRow(vp, s.lines[s.cur])
	if row < vp.YOffset() || row >= vp.YOffset()+vp.Height() {
		vp.SetYOffset(max(0, row-1))
	}
}

// visualRow is the screen row (from the top of the content) where content
// line i starts.
func visualRow(vp *viewport.Model, i int) int {
	if !vp.SoftWrap {
		return i
	}
	w := max(1, vp.Width())
	row := 0
	for n, l := range strings.Split(vp.GetContent(), "\n") {
		if n >= i {
			break
		}
		row += max(1, (ansi.StringWidth(l)+w-1)/w)
	}
	return row
}

// contentLine is the content line shown at screen row y.
func contentLine(vp *viewport.Model, y int) int {
	if !vp.SoftWrap {
		return y
	}
	w := max(1, vp.Width())
	row := 0
	for n, l := range strings.Split(vp.GetContent(), "\n") {
		row += max(1, (ansi.StringWidth(l)+w-1)/w)
		if row > y {
			return n
		}
	}
	return 0
}

// footer is the input while typing.
func (s *textSearch) footer() string {
	if s.typing {
		return s.input.View()
	}
	return ""
}

// summary names the search for the pane's status line.
func (s *textSearch) summary() string {
	switch {
	case s.query == "":
		return ""
	case s.count == 0:
		return fmt.Sprintf("%q not found", s.query)
	}
	return fmt.Sprintf("%q %d of %d (n/N)", s.query, s.cur+1, s.count)
}

// findAll returns the byte ranges of q in text, smart case: a term with a
// capital matches exactly, one without matches any case. Only ASCII letters
// fold, so byte offsets stay those of text.
func findAll(text, q string) [][]int {
	if q == "" {
		return nil
	}
	hay := text
	if q == asciiLower(q) {
		hay = asciiLower(text)
	}
	var out [][]int
	for i := 0; ; {
		j := strings.Index(hay[i:], q)
		if j < 0 {
			return out
		}
		out = append(out, []int{i + j, i + j + len(q)})
		i += j + len(q)
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
