package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// config is $XDG_CONFIG_HOME/kdoctor/config.yaml: defaults a team sets once.
//
//	theme: dark            # dark, light, high-contrast, mono or a theme file name
//	readOnly: false        # true: every context read-only; --read-only=false cannot undo it
//	contexts:
//	  prod-eu:
//	    readOnly: true     # juniors on call cannot change prod by accident
//	  "prod-*":            # a glob: * any run of characters, ? one character
//	    readOnly: true
//	servers:
//	  "https://*.prod.example.com*":
//	    readOnly: true     # this API server, whatever the context is called
//	logs:
//	  tail: 500            # lines fetched when a logs pane opens
//	  bufferLines: 10000   # lines kept in memory per logs pane
//	debug:
//	  image: busybox:1.37  # image of the debug containers s offers (--debug-image overrides)
type config struct {
	Theme    string `json:"theme,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Contexts are keyed by context name or glob pattern.
	Contexts map[string]contextConfig `json:"contexts,omitempty"`
	// Servers are keyed by API server URL glob pattern.
	Servers map[string]contextConfig `json:"servers,omitempty"`
	Logs    logsConfig               `json:"logs,omitempty"`
	// Mouse false leaves the mouse to the terminal, so text can be
	// selected and copied (a pod name) as in any terminal program.
	Mouse *bool `json:"mouse,omitempty"`
	// Debug is about the debug containers the TUI offers.
	Debug debugConfig `json:"debug,omitempty"`
}

type debugConfig struct {
	// Image is the image of the debug containers the TUI adds to a pod
	// (a registry mirror's busybox, or a toolbox such as netshoot).
	Image string `json:"image,omitempty"`
}

type contextConfig struct {
	ReadOnly bool `json:"readOnly,omitempty"`
}

type logsConfig struct {
	Tail        int64 `json:"tail,omitempty"`
	BufferLines int   `json:"bufferLines,omitempty"`
}

func configPath() string {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "kdoctor", "config.yaml")
}

// loadConfig reads the config file; a missing file is an empty config, a
// broken one an error naming the file (never silently ignored: a team that
// set readOnly for prod must not lose it to a typo).
func loadConfig() (config, error) {
	var c config
	path := configPath()
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return c, fmt.Errorf("config %s: %s", path, err)
	}
	for _, set := range []map[string]contextConfig{c.Contexts, c.Servers} {
		for pattern := range set {
			if strings.TrimSpace(pattern) == "" {
				return c, fmt.Errorf("config %s: an empty context or server pattern matches nothing; remove it", path)
			}
		}
	}
	if c.Logs.Tail < 0 || c.Logs.BufferLines < 0 {
		return c, fmt.Errorf("config %s: logs.tail and logs.bufferLines must be positive", path)
	}
	return c, nil
}

// readOnlyFor says whether the config makes a context read-only, and why
// (the words name the config entry, so a user knows what to edit). Read-only
// only ever adds up: any entry that matches with readOnly: true wins, and an
// entry saying false exempts nothing.
func (c config) readOnlyFor(context, server string) (bool, string) {
	if c.ReadOnly {
		return true, "the config file sets readOnly: true for every context"
	}
	if c.Contexts[context].ReadOnly {
		return true, fmt.Sprintf("the config file marks context %q read-only", context)
	}
	for _, pattern := range sortedKeys(c.Contexts) {
		if c.Contexts[pattern].ReadOnly && globMatch(pattern, context) {
			return true, fmt.Sprintf("the config file marks contexts matching %q read-only", pattern)
		}
	}
	srv := normalizeServer(server)
	for _, pattern := range sortedKeys(c.Servers) {
		if c.Servers[pattern].ReadOnly && globMatch(normalizeServer(pattern), srv) {
			return true, fmt.Sprintf("the config file marks servers matching %q read-only (server %s)", pattern, server)
		}
	}
	return false, ""
}

func sortedKeys(m map[string]contextConfig) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normalizeServer lowercases a server URL (scheme and host are
// case-insensitive; a path almost always is lowercase) and drops a trailing
// slash, so "https://API.prod:6443/" and "https://api.prod:6443" are one.
func normalizeServer(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "/")
}

// globMatch matches name against a pattern where * is any run of characters
// (slashes and dots included: it is used on URLs) and ? is one character;
// everything else is literal.
func globMatch(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	// Iterative wildcard matching with backtracking to the last star.
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]):
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
