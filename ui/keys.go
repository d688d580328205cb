package ui

import (
	"charm.land/bubbles/v2/key"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// KeyMap is every binding kdoctor has, declared once; help is built from it.
// Keys follow k9s where k9s has a habit (d describe, y YAML, l logs,
// p previous, s shell, c/u/r cordon/uncordon/drain on nodes, x decode a
// Secret) and less/vim in the text panes (/ n N, ctrl+f ctrl+b, g G).
type KeyMap struct {
	// Navigation (tree and panes).
	Up, Down, PageUp, PageDown, HalfPageUp, HalfPageDown, Top, Bottom key.Binding
	Expand, Collapse, Toggle                                          key.Binding

	// Actions on the selection.
	Diagnose, Describe, YAML, Logs, Previous, Shell, Events key.Binding
	Cordon, Uncordon, Drain                                 key.Binding

	// View.
	Filter, Command, ProblemsOnly, ByNode, Usage, Back, Close, Help, Quit key.Binding

	// Diagnosis pane.
	Copy, Write key.Binding

	// Text panes (logs, describe, YAML, events).
	Search, NextMatch, PrevMatch key.Binding

	// Logs pane.
	Follow, Wrap, Timestamps, NextContainer key.Binding

	// Events pane.
	AllEvents key.Binding

	// YAML pane of a Secret.
	Reveal key.Binding

	// Dialogs.
	Confirm, Cancel key.Binding
	// DrainDialog are the drain dialog's option keys.
	DrainDialog DrainDialogKeys
}

// DrainDialogKeys move between the drain dialog's options and change them.
// None can be part of the node name typed to confirm (a DNS subdomain).
// Grace documents typing a grace period on its row: what is typed there
// goes to the grace period rather than the node name; it is enabled (so
// shown) only while that row is highlighted.
type DrainDialogKeys struct {
	Next, Prev, Change, Grace key.Binding
}

// DefaultKeyMap returns kdoctor's bindings.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:           b([]string{"up", "k"}, "↑/k", "up"),
		Down:         b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:       b([]string{"pgup", "ctrl+b"}, "pgup/ctrl+b", "page up"),
		PageDown:     b([]string{"pgdown", "ctrl+f"}, "pgdn/ctrl+f", "page down"),
		HalfPageUp:   b([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		HalfPageDown: b([]string{"ctrl+d"}, "ctrl+d", "half page down"),
		Top:          b([]string{"home", "g"}, "g", "top"),
		Bottom:       b([]string{"end", "G"}, "G", "bottom"),
		Expand:       b([]string{"right"}, "→", "expand"),
		Collapse:     b([]string{"left", "h"}, "←", "collapse"),
		Toggle:       b([]string{"space"}, "space", "expand/collapse"),

		Diagnose: b([]string{"enter"}, "enter", "diagnose"),
		Describe: b([]string{"d"}, "d", "describe"),
		YAML:     b([]string{"y"}, "y", "YAML"),
		Logs:     b([]string{"l"}, "l", "logs"),
		Previous: b([]string{"p"}, "p", "previous logs"),
		Shell:    b([]string{"s"}, "s", "shell / debug container"),
		Events:   b([]string{"e"}, "e", "events"),
		Cordon:   b([]string{"c"}, "c", "cordon node"),
		Uncordon: b([]string{"u"}, "u", "uncordon node"),
		Drain:    b([]string{"r"}, "r", "drain node"),

		Filter:       b([]string{"/"}, "/", "filter"),
		Command:      b([]string{":"}, ":", "command"),
		ProblemsOnly: b([]string{"!"}, "!", "problems only"),
		ByNode:       b([]string{"n"}, "n", "group by node"),
		Usage:        b([]string{"m"}, "m", "usage columns (metrics)"),
		Back:         b([]string{"esc"}, "esc", "back"),
		Close:        b([]string{"q"}, "q", "close pane"),
		Help:         b([]string{"?"}, "?", "help"),
		Quit:         b([]string{"q", "ctrl+c"}, "q", "quit"),

		Copy:  b([]string{"Y"}, "Y", "copy diagnosis"),
		Write: b([]string{"w"}, "w", "write diagnosis to file"),

		Search:    b([]string{"/"}, "/", "search"),
		NextMatch: b([]string{"n"}, "n", "next match"),
		PrevMatch: b([]string{"N"}, "N", "previous match"),

		Follow:        b([]string{"s", "f"}, "s/f", "follow (autoscroll)"),
		Wrap:          b([]string{"w"}, "w", "wrap"),
		Timestamps:    b([]string{"t"}, "t", "timestamps"),
		NextContainer: b([]string{"tab"}, "tab", "next container"),

		AllEvents: b([]string{"a"}, "a", "all events / warnings"),
		Reveal:    b([]string{"x"}, "x", "reveal secret values"),

		Confirm: b([]string{"enter"}, "enter", "confirm"),
		Cancel:  b([]string{"esc"}, "esc", "cancel"),
		// Keys that cannot be part of the node name typed to confirm.
		DrainDialog: DrainDialogKeys{
			Next:   b([]string{"tab", "down"}, "tab/↓", "next option"),
			Prev:   b([]string{"shift+tab", "up"}, "shift+tab/↑", "previous option"),
			Change: b([]string{"space"}, "space", "change option (re-plans)"),
			Grace:  b([]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "-"}, "type 45s", "grace period, enter sets it (-1 pods' own)"),
		},
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

// actionKeys are the one-key actions, which work from the tree and from
// any pane whose own keys do not take the letter.
func (k KeyMap) actionKeys() []key.Binding {
	return []key.Binding{k.Diagnose, k.Describe, k.YAML, k.Logs, k.Previous, k.Events, k.Shell}
}

func (k KeyMap) treeHelp() paneKeys {
	return paneKeys{
		short: []key.Binding{k.Diagnose, k.Logs, k.Describe, k.YAML, k.Filter, k.ProblemsOnly, k.Help, k.Quit},
		full: [][]key.Binding{
			{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Expand, k.Collapse, k.Toggle},
			k.actionKeys(),
			{k.Cordon, k.Uncordon, k.Drain},
			{k.Filter, k.Command, k.ProblemsOnly, k.ByNode, k.Usage, k.Back, k.Help, k.Quit},
		},
	}
}

// paneHelp is the help of a pane: its own keys first, then navigation and
// the actions that still work from it.
func (k KeyMap) paneHelp(own ...key.Binding) paneKeys {
	short := append(append([]key.Binding{}, own...), k.Back, k.Help)
	return paneKeys{
		short: short,
		full: [][]key.Binding{
			own,
			k.scrollKeys(),
			k.actionKeys(),
			{k.Cordon, k.Uncordon, k.Drain, k.Back, k.Close, k.Help},
		},
	}
}

// dialogHelp: the drain option keys show only while enabled (in the drain
// dialog: see withDrainOptions).
func (k KeyMap) dialogHelp() paneKeys {
	dk := k.DrainDialog
	return paneKeys{
		short: []key.Binding{dk.Grace, k.Confirm, k.Cancel, dk.Next, dk.Change},
		full:  [][]key.Binding{{k.Confirm, k.Cancel, k.Help}, {dk.Next, dk.Prev, dk.Change, dk.Grace}},
	}
}

// withDrainOptions enables the drain option keys, or disables them for
// other dialogs.
func (k KeyMap) withDrainOptions(on bool) KeyMap {
	for _, b := range []*key.Binding{&k.DrainDialog.Next, &k.DrainDialog.Prev, &k.DrainDialog.Change} {
		b.SetEnabled(on)
	}
	return k.withGraceTyping(false)
}

// withGraceTyping shows the grace period's typing in help while the drain
// dialog's grace row is highlighted.
func (k KeyMap) withGraceTyping(on bool) KeyMap {
	k.DrainDialog.Grace.SetEnabled(on)
	return k
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
	for _, b := range []*key.Binding{&k.Shell, &k.Cordon, &k.Uncordon, &k.Drain, &k.Reveal} {
		h := b.Help()
		b.SetHelp(h.Key, h.Desc+offReadOnly)
	}
	return k
}
