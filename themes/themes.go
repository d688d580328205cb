// Package themes turns a small palette into every style kdoctor draws with,
// so no other package ever names a colour.
package themes

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"sigs.k8s.io/yaml"
)

// Palette is the handful of colours a theme chooses; nil means "terminal default".
type Palette struct {
	Name    string `json:"name"`
	Fg      string `json:"fg"`
	Muted   string `json:"muted"`
	Accent  string `json:"accent"`
	OK      string `json:"ok"`
	Warn    string `json:"warn"`
	Bad     string `json:"bad"`
	Pending string `json:"pending"`
	SelBg   string `json:"selectionBg"`
	SelFg   string `json:"selectionFg"`
	BadgeBg string `json:"badgeBg"`
	BadgeFg string `json:"badgeFg"`
	Match   string `json:"match"`
}

// Styles is every style the UI uses, built once from a palette.
type Styles struct {
	Name string

	App, Header, HeaderKey, Badge, Muted, Title lipgloss.Style

	Selected, Namespace, Workload, Pod, Container, Match lipgloss.Style

	// Health styles, indexed like kube.Health: ok, pending, warning, failing.
	Health [4]lipgloss.Style

	StatusLine, Error, Border lipgloss.Style

	Help help.Styles
}

// Builtin palettes. Colour is never the only signal: rows also carry words
// and symbols, so mono loses nothing but colour.
var builtin = map[string]Palette{
	"dark": {
		Name: "dark", Fg: "#D0D0D0", Muted: "#7A7A7A", Accent: "#5FAFFF", OK: "#5FD75F", Warn: "#FFAF00",
		Bad: "#FF5F5F", Pending: "#87AFD7", SelBg: "#303A4A", SelFg: "#FFFFFF", BadgeBg: "#D75F00", BadgeFg: "#FFFFFF", Match: "#FFD75F",
	},
	"light": {
		Name: "light", Fg: "#262626", Muted: "#6C6C6C", Accent: "#005FAF", OK: "#008700", Warn: "#AF5F00",
		Bad: "#D70000", Pending: "#005F87", SelBg: "#D7E4F2", SelFg: "#000000", BadgeBg: "#D75F00", BadgeFg: "#FFFFFF", Match: "#AF00AF",
	},
	"high-contrast": {
		Name: "high-contrast", Fg: "#FFFFFF", Muted: "#C0C0C0", Accent: "#00FFFF", OK: "#00FF00", Warn: "#FFFF00",
		Bad: "#FF0000", Pending: "#00FFFF", SelBg: "#FFFFFF", SelFg: "#000000", BadgeBg: "#FFFF00", BadgeFg: "#000000", Match: "#FF00FF",
	},
	"mono": {Name: "mono"},
}

// Names lists the built-in theme names.
func Names() []string {
	out := make([]string, 0, len(builtin))
	for n := range builtin {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Default picks the theme for a terminal background, honouring NO_COLOR.
func Default(darkBackground bool) Styles {
	if os.Getenv("NO_COLOR") != "" {
		return Build(builtin["mono"])
	}
	if darkBackground {
		return Build(builtin["dark"])
	}
	return Build(builtin["light"])
}

// Load resolves --theme: a built-in name, a name of a file in
// $XDG_CONFIG_HOME/kdoctor/themes/ (NAME.yaml), or a path to a YAML file.
func Load(name string) (Styles, error) {
	if p, ok := builtin[name]; ok {
		return Build(p), nil
	}
	path := name
	if !strings.ContainsAny(name, `/\`) && !strings.HasSuffix(name, ".yaml") {
		path = filepath.Join(ConfigDir(), name+".yaml")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return Styles{}, fmt.Errorf("unknown theme %q: use one of %s, or put %s.yaml in %s", name, strings.Join(Names(), ", "), name, ConfigDir())
		}
		return Styles{}, fmt.Errorf("theme %s: %w", path, err)
	}
	var p Palette
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return Styles{}, fmt.Errorf("theme file %s: %s", path, err)
	}
	for field, v := range map[string]string{"fg": p.Fg, "muted": p.Muted, "accent": p.Accent, "ok": p.OK, "warn": p.Warn, "bad": p.Bad, "pending": p.Pending, "selectionBg": p.SelBg, "selectionFg": p.SelFg, "badgeBg": p.BadgeBg, "badgeFg": p.BadgeFg, "match": p.Match} {
		if v != "" && !validColor(v) {
			return Styles{}, fmt.Errorf("theme file %s: %s: %q is not a colour (use #RRGGBB or an ANSI number 0-255)", path, field, v)
		}
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), ".yaml")
	}
	return Build(p), nil
}

// ConfigDir is where custom theme files live.
func ConfigDir() string {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".config")
		}
	}
	return filepath.Join(base, "kdoctor", "themes")
}

func validColor(s string) bool {
	if strings.HasPrefix(s, "#") {
		if len(s) != 7 && len(s) != 4 {
			return false
		}
		for _, c := range strings.ToLower(s[1:]) {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	return err == nil && n >= 0 && n <= 255 && fmt.Sprint(n) == s
}

func col(s string) color.Color {
	if s == "" {
		return nil
	}
	return lipgloss.Color(s)
}

func fg(s string) lipgloss.Style {
	st := lipgloss.NewStyle()
	if c := col(s); c != nil {
		st = st.Foreground(c)
	}
	return st
}

// Build makes the styles of a palette.
func Build(p Palette) Styles {
	mono := p.Fg == "" && p.Accent == ""
	s := Styles{Name: p.Name}
	s.App = fg(p.Fg)
	s.Muted = fg(p.Muted)
	s.Title = fg(p.Accent).Bold(true)
	s.Header = fg(p.Fg)
	s.HeaderKey = fg(p.Muted)
	s.Namespace = fg(p.Accent).Bold(true)
	s.Workload = fg(p.Fg).Bold(true)
	s.Pod = fg(p.Fg)
	s.Container = fg(p.Muted)
	s.Match = fg(p.Match).Underline(true)
	s.Health = [4]lipgloss.Style{fg(p.OK), fg(p.Pending), fg(p.Warn).Bold(true), fg(p.Bad).Bold(true)}
	s.StatusLine = fg(p.Muted)
	s.Error = fg(p.Bad).Bold(true)
	s.Border = fg(p.Muted)
	if mono {
		s.Selected = lipgloss.NewStyle().Reverse(true)
		s.Badge = lipgloss.NewStyle().Reverse(true).Bold(true)
	} else {
		s.Selected = lipgloss.NewStyle().Background(col(p.SelBg)).Foreground(col(p.SelFg))
		s.Badge = lipgloss.NewStyle().Background(col(p.BadgeBg)).Foreground(col(p.BadgeFg)).Bold(true)
	}
	s.Help = help.Styles{
		ShortKey: fg(p.Accent), ShortDesc: fg(p.Muted), ShortSeparator: fg(p.Muted),
		FullKey: fg(p.Accent), FullDesc: fg(p.Fg), FullSeparator: fg(p.Muted), Ellipsis: fg(p.Muted),
	}
	return s
}
