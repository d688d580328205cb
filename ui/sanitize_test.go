package ui

import (
	"strings"
	"testing"
)

func TestCleanNeutralisesTerminalControl(t *testing.T) {
	cases := map[string]string{
		"plain":          "web-5d9c7b6f4d-x2k8p",
		"colour":         "\x1b[31mred\x1b[0m",
		"osc52":          "a\x1b]52;c;ZXZpbA==\x07b",
		"title":          "\x1b]0;pwned\x1b\\x",
		"bell and cr":    "x\ry\a",
		"c1 csi":         "a\u009b31mb",
		"invalid utf8":   "a\xffb",
		"emoji and wide": "数据库 🚀",
	}
	for name, in := range cases {
		out := clean(in)
		for _, r := range out {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Errorf("%s: control character %U survived in %q", name, r, out)
			}
		}
		// The one policy (diag.Printable): an escape sequence is shown inert,
		// starting with the picture of ESC, so a reader sees it for what it is.
		if (strings.Contains(out, "ZXZpbA") || strings.Contains(out, "pwned")) && !strings.Contains(out, "␛]") {
			t.Errorf("%s: escape payload survived without being made inert: %q", name, out)
		}
	}
	if got := clean("\x1b[31mred\x1b[0m"); got != "red" {
		t.Errorf("colour codes are dropped: %q", got)
	}
	if got := clean("a\tb"); got != "a   b" {
		t.Errorf("tab: %q", got)
	}
	if got := clean("数据库 🚀"); got != "数据库 🚀" {
		t.Errorf("wide text changed: %q", got)
	}
}
