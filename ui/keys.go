package ui

import "charm.land/bubbles/v2/key"

// KeyMap is every binding kdoctor has, declared once; help is built from it.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Expand, Collapse, Toggle                key.Binding
	Filter, ClearFilter, ProblemsOnly       key.Binding
	Help, Quit                              key.Binding
}

// DefaultKeyMap returns kdoctor's bindings (k9s and vim habits where they exist).
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:       key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown:     key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Top:          key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:       key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Expand:       key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→", "expand")),
		Collapse:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←", "collapse")),
		Toggle:       key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "expand/collapse")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		ProblemsOnly: key.NewBinding(key.WithKeys("!"), key.WithHelp("!", "problems only")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:         key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line help under the tree.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Toggle, k.Filter, k.ProblemsOnly, k.Help, k.Quit}
}

// FullHelp is every binding of the tree pane, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Expand, k.Collapse, k.Toggle},
		{k.Filter, k.ClearFilter, k.ProblemsOnly},
		{k.Help, k.Quit},
	}
}
