package ui

import (
	"charm.land/bubbles/v2/key"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// KeyMap is every binding kdoctor has, declared once; help is built from it.
type KeyMap struct {
	// Navigation (tree and panes).
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Expand, Collapse, Toggle                key.Binding

	// Actions on the selection.
	Diagnose, Describe, Logs, Previous, Shell, Events key.Binding
	Cordon, Uncordon, Drain, Copy, Write              key.Binding

	// View.
	Filter, Command, ProblemsOnly, ByNode, Back, Help, Quit key.Binding

	// Logs pane.
	Follow, Wrap, Timestamps, NextContainer, Search, NextMatch key.Binding

	// Dialogs.
	Confirm, Cancel key.Binding
}

// DefaultKeyMap returns kdoctor's bindings (k9s and vim habits where they exist).
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		Top:      b([]string{"home", "g"}, "g", "top"),
		Bottom:   b([]string{"end", "G"}, "G", "bottom"),
		Expand:   b([]string{"right"}, "→", "expand"),
		Collapse: b([]string{"left", "h"}, "←", "collapse"),
		Toggle:   b([]string{"space"}, "space", "expand/collapse"),

		Diagnose: b([]string{"enter"}, "enter", "diagnose"),
		Describe: b([]string{"d"}, "d", "describe"),
		Logs:     b([]string{"l"}, "l", "logs"),
		Previous: b([]string{"p"}, "p", "previous logs"),
		Shell:    b([]string{"s"}, "s", "shell"),
		Events:   b([]string{"e"}, "e", "events"),
		Cordon:   b([]string{"c"}, "c", "cordon node"),
		Uncordon: b([]string{"u"}, "u", "uncordon node"),
		Drain:    b([]string{"r"}, "r", "drain node"),
		Copy:     b([]string{"y"}, "y", "copy diagnosis"),
		Write:    b([]string{"w"}, "w", "write diagnosis to file"),

		Filter:       b([]string{"/"}, "/", "filter"),
		Command:      b([]string{":"}, ":", "command"),
		ProblemsOnly: b([]string{"!"}, "!", "problems only"),
		ByNode:       b([]string{"n"}, "n", "group by node"),
		Back:         b([]string{"esc"}, "esc", "back"),
		Help:         b([]string{"?"}, "?", "help"),
		Quit:         b([]string{"q", "ctrl+c"}, "q", "quit"),

		Follow:        b([]string{"f"}, "f", "follow"),
		Wrap:          b([]string{"W"}, "W", "wrap"),
		Timestamps:    b([]string{"t"}, "t", "timestamps"),
		NextContainer: b([]string{"tab"}, "tab", "next container"),
		Search:        b([]string{"/"}, "/", "search"),
		NextMatch:     b([]string{"N"}, "N", "next match"),

		Confirm: b([]string{"enter"}, "enter", "confirm"),
		Cancel:  b([]string{"esc"}, "esc", "cancel"),
	}
}

// paneKeys adapts the key map to bubbles/help for one focus, so `?` shows
// exactly the bindings that work where the user is.
type paneKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (p paneKeys) ShortHelp() []key.Binding  { return p.short }
func (p paneKeys) FullHelp() [][]key.Binding { return p.full }

func (k KeyMap) treeHelp() paneKeys {
	return paneKeys{
		short: []key.Binding{k.Diagnose, k.Logs, k.Describe, k.Filter, k.ProblemsOnly, k.Help, k.Quit},
		full: [][]key.Binding{
			{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Expand, k.Collapse, k.Toggle},
			{k.Diagnose, k.Describe, k.Logs, k.Previous, k.Shell, k.Events},
			{k.Cordon, k.Uncordon, k.Drain, k.Copy, k.Write},
			{k.Filter, k.Command, k.ProblemsOnly, k.ByNode, k.Back, k.Help, k.Quit},
		},
	}
}

func (k KeyMap) detailHelp() paneKeys {
	return paneKeys{
		short: []key.Binding{k.Up, k.Down, k.Copy, k.Write, k.Back, k.Help, k.Quit},
		full: [][]key.Binding{
			{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
			{k.Diagnose, k.Describe, k.Logs, k.Previous, k.Shell, k.Events},
			{k.Copy, k.Write, k.Cordon, k.Uncordon, k.Drain},
			{k.Back, k.Help, k.Quit},
		},
	}
}

func (k KeyMap) logsHelp() paneKeys {
	return paneKeys{
		short: []key.Binding{k.Previous, k.Follow, k.Wrap, k.NextContainer, k.Search, k.Back, k.Help},
		full: [][]key.Binding{
			{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
			{k.Previous, k.Follow, k.Wrap, k.Timestamps, k.NextContainer},
			{k.Search, k.NextMatch, k.Back, k.Help, k.Quit},
		},
	}
}

func (k KeyMap) dialogHelp() paneKeys {
	return paneKeys{short: []key.Binding{k.Confirm, k.Cancel}, full: [][]key.Binding{{k.Confirm, k.Cancel}}}
}

// offReadOnly ends the help of a key that read-only mode turns off; help
// draws such keys greyed.
const offReadOnly = " (off: read-only)"

// forSource marks the keys of actions that change the cluster or reach into
// a container when the source is read-only: they stay (pressing one says
// why it does nothing), and help shows them as off. Real clusters and the
// demo get the same keys, since both only say Info().ReadOnly.
func (k KeyMap) forSource(info kube.SourceInfo) KeyMap {
	if !info.ReadOnly {
		return k
	}
	for _, b := range []*key.Binding{&k.Shell, &k.Cordon, &k.Uncordon, &k.Drain} {
		h := b.Help()
		b.SetHelp(h.Key, h.Desc+offReadOnly)
	}
	return k
}
