package main

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// config is $XDG_CONFIG_HOME/kdoctor/config.yaml: defaults a team sets once.
//
//	theme: dark            # dark, light, high-contrast, mono or a theme file name
//	readOnly: false        # default for every context
//	contexts:
//	  prod-eu:
//	    readOnly: true     # juniors on call cannot change prod by accident
//	logs:
//	  tail: 500            # lines fetched when a logs pane opens
//	  bufferLines: 10000   # lines kept in memory per logs pane
type config struct {
	Theme    string                   `json:"theme,omitempty"`
	ReadOnly bool                     `json:"readOnly,omitempty"`
	Contexts map[string]contextConfig `json:"contexts,omitempty"`
	Logs     logsConfig               `json:"logs,omitempty"`
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
	if c.Logs.Tail < 0 || c.Logs.BufferLines < 0 {
		return c, fmt.Errorf("config %s: logs.tail and logs.bufferLines must be positive", path)
	}
	return c, nil
}

// readOnlyFor says whether a context must be opened read-only.
func (c config) readOnlyFor(context string, flag bool) bool {
	return flag || c.ReadOnly || c.Contexts[context].ReadOnly
}
