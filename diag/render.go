package diag

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// TextStyle decorates parts of the text output. The zero value is plain:
// golden files and pipes get no escape codes.
type TextStyle struct {
	// Bold, Red, Yellow, Green and Dim wrap a string; nil means unstyled.
	Bold, Red, Yellow, Green, Dim func(string) string
}

// ANSIStyle returns a style using plain ANSI escape codes.
func ANSIStyle() TextStyle {
	wrap := func(code string) func(string) string {
		return func(s string) string { return "\x1b[" + code + "m" + s + "\x1b[0m" }
	}
	return TextStyle{Bold: wrap("1"), Red: wrap("31"), Yellow: wrap("33"), Green: wrap("32"), Dim: wrap("2")}
}

func apply(f func(string) string, s string) string {
	if f == nil {
		return s
	}
	return f(s)
}

func (st TextStyle) severity(s Severity, text string) string {
	switch s {
	case Critical, Error:
		return apply(st.Red, text)
	case Warning:
		return apply(st.Yellow, text)
	}
	return apply(st.Green, text)
}

func (st TextStyle) status(s StepStatus) string {
	switch s {
	case StatusProblem:
		return apply(st.Red, string(s))
	case StatusIncomplete:
		return apply(st.Yellow, string(s))
	case StatusSkipped:
		return apply(st.Dim, string(s))
	}
	return apply(st.Green, string(s))
}

// textWidth is where prose is wrapped; evidence and commands never are, so
// they can be copied.
const textWidth = 100

// Text renders a diagnosis for a terminal or a plain-text report.
func Text(d *Diagnosis, st TextStyle) string {
	d = inert(d)
	var b strings.Builder
	t := d.Target
	fmt.Fprintf(&b, "%s %s/%s\n\n", apply(st.Bold, "Diagnosis of"), t.Kind, path(t))
	fmt.Fprintf(&b, "%s %s %s\n", apply(st.Bold, "Root cause:"), st.severity(d.RootCause.Severity, "["+d.RootCause.Severity.String()+"]"), d.RootCause.Rule)
	fmt.Fprintf(&b, "  %s\n", d.RootCause.Summary)

	b.WriteString("\n" + apply(st.Bold, "Steps") + "\n")
	for i, s := range d.Steps {
		fmt.Fprintf(&b, "  %d. %-8s  %s", i+1, s.Name, st.status(s.Status))
		if len(s.Findings) > 0 {
			fmt.Fprintf(&b, "  (%s)", strings.Join(s.Findings, ", "))
		}
		b.WriteString("\n")
		for _, e := range s.Evidence {
			fmt.Fprintf(&b, "       %s %s\n", apply(st.Dim, "·"), e)
		}
	}

	b.WriteString("\n" + apply(st.Bold, "Findings") + "\n")
	for i, f := range d.Findings {
		head := fmt.Sprintf("  %d. %s %s", i+1, st.severity(f.Severity, "["+f.Severity.String()+"]"), apply(st.Bold, f.Rule))
		if f.Container != "" {
			head += " (container " + f.Container + ")"
		}
		b.WriteString(head + "\n")
		writeWrapped(&b, "     ", f.Summary)
		if f.Explanation != "" {
			writeWrapped(&b, "     ", "Why: "+f.Explanation)
		}
		if len(f.Evidence) > 0 {
			b.WriteString("     Evidence:\n")
			for _, e := range f.Evidence {
				fmt.Fprintf(&b, "       - %s\n", e)
			}
		}
		if len(f.NextSteps) > 0 {
			b.WriteString("     Next steps:\n")
			for _, n := range f.NextSteps {
				writeWrappedBullet(&b, "       - ", "         ", n)
			}
		}
		if len(f.Commands) > 0 {
			b.WriteString("     Confirm with:\n")
			for _, c := range f.Commands {
				fmt.Fprintf(&b, "       $ %s\n", c)
			}
		}
		if i < len(d.Findings)-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func path(t Target) string {
	if t.Namespace == "" {
		return t.Name
	}
	return t.Namespace + "/" + t.Name
}

func writeWrapped(b *strings.Builder, indent, text string) {
	writeWrappedBullet(b, indent, indent, text)
}

// writeWrappedBullet wraps text at textWidth, first line after first, the
// rest after rest.
func writeWrappedBullet(b *strings.Builder, first, rest, text string) {
	line := first
	width := len(first)
	for i, word := range strings.Fields(text) {
		if i > 0 && width+1+len(word) > textWidth {
			b.WriteString(line + "\n")
			line, width = rest+word, len(rest)+len(word)
			continue
		}
		if i > 0 {
			line += " "
			width++
		}
		line += word
		width += len(word)
	}
	b.WriteString(line + "\n")
}

// Markdown renders a diagnosis for an incident channel or a ticket.
func Markdown(d *Diagnosis) string {
	d = inert(d)
	var b strings.Builder
	t := d.Target
	fmt.Fprintf(&b, "## kdoctor: %s `%s`\n\n", t.Kind, path(t))
	fmt.Fprintf(&b, "**Root cause** (%s): `%s` — %s\n\n", d.RootCause.Severity, d.RootCause.Rule, mdEscape(d.RootCause.Summary))
	b.WriteString("| Step | Status | Findings |\n|---|---|---|\n")
	for _, s := range d.Steps {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.Name, s.Status, strings.Join(s.Findings, ", "))
	}
	for i, f := range d.Findings {
		fmt.Fprintf(&b, "\n### %d. `%s` (%s)", i+1, f.Rule, f.Severity)
		if f.Container != "" {
			fmt.Fprintf(&b, " — container `%s`", f.Container)
		}
		fmt.Fprintf(&b, "\n\n%s\n\n", mdEscape(f.Summary))
		if f.Explanation != "" {
			fmt.Fprintf(&b, "%s\n\n", mdEscape(f.Explanation))
		}
		if len(f.Evidence) > 0 {
			b.WriteString("**Evidence**\n\n```text\n")
			for _, e := range f.Evidence {
				b.WriteString(strings.ReplaceAll(e, "```", "'''") + "\n")
			}
			b.WriteString("```\n\n")
		}
		if len(f.NextSteps) > 0 {
			b.WriteString("**Next steps**\n\n")
			for _, n := range f.NextSteps {
				fmt.Fprintf(&b, "- %s\n", mdEscape(n))
			}
			b.WriteString("\n")
		}
		if len(f.Commands) > 0 {
			b.WriteString("**Confirm with**\n\n```sh\n")
			for _, c := range f.Commands {
				b.WriteString(c + "\n")
			}
			b.WriteString("```\n")
		}
	}
	b.WriteString("\n<details><summary>Evidence gathered by each step</summary>\n\n")
	for _, s := range d.Steps {
		fmt.Fprintf(&b, "**%s** (%s)\n\n```text\n", s.Name, s.Status)
		for _, e := range s.Evidence {
			b.WriteString(strings.ReplaceAll(e, "```", "'''") + "\n")
		}
		b.WriteString("```\n\n")
	}
	b.WriteString("</details>\n")
	return b.String()
}

// inert returns a copy of d with every string made Printable: event
// messages, log lines and (in offline dumps) even object names can carry
// escape sequences that would recolour the screen, set the window title or
// write the clipboard (OSC 52).
func inert(d *Diagnosis) *Diagnosis {
	c := *d
	c.Target = Target{Kind: Printable(d.Target.Kind), Namespace: Printable(d.Target.Namespace), Name: Printable(d.Target.Name)}
	c.RootCause.Rule, c.RootCause.Summary = Printable(d.RootCause.Rule), Printable(d.RootCause.Summary)
	c.Findings = make([]Finding, len(d.Findings))
	for i, f := range d.Findings {
		f.Rule, f.Summary, f.Explanation, f.Container = Printable(f.Rule), Printable(f.Summary), Printable(f.Explanation), Printable(f.Container)
		f.Evidence, f.NextSteps, f.Commands = inertAll(f.Evidence), inertAll(f.NextSteps), inertAll(f.Commands)
		c.Findings[i] = f
	}
	c.Steps = make([]Step, len(d.Steps))
	for i, s := range d.Steps {
		s.Evidence, s.Findings = inertAll(s.Evidence), inertAll(s.Findings)
		c.Steps[i] = s
	}
	return &c
}

func inertAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Printable(s)
	}
	return out
}

// Printable is kdoctor's one policy for cluster text (names, event
// messages, log lines) on its way to a terminal, a file or the clipboard,
// shared by the TUI, text, markdown and JSON: colour codes (SGR, common in
// logs and meaningless outside the program that wrote them) are dropped;
// every other control character becomes its visible Unicode picture, so an
// escape sequence (OSC 52 clipboard writes, window titles) prints as inert
// text a reader can see (ESC shows as ␛); C1 controls and invalid UTF-8
// become U+FFFD. Newlines and tabs are kept. Plain text comes back
// unchanged.
func Printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	s = sgr.ReplaceAllString(s, "")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\n' || r == '\t':
		case r == utf8.RuneError && size == 1, r >= 0x80 && r < 0xa0:
			r = utf8.RuneError
		case r < 0x20:
			r += 0x2400 // ␀…␟
		case r == 0x7f:
			r = '␡'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sgr matches a colour or attribute sequence: ESC [ parameters m.
var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0)
}

// mdEscape keeps API text from turning into markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "|", `\|`)
	return r.Replace(s)
}

// JSON renders one diagnosis as indented JSON; the field names are stable.
func JSON(d *Diagnosis) ([]byte, error) {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// JSONList renders several diagnoses as a JSON array.
func JSONList(ds []*Diagnosis) ([]byte, error) {
	if ds == nil {
		ds = []*Diagnosis{}
	}
	out, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
