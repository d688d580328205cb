package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by the Makefile with -ldflags when building from a checkout; a `go
// install`ed binary takes them from the module build info instead.
var (
	version = ""
	commit  = ""
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kdoctor's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, c, goVersion := buildInfo()
			fmt.Fprintf(a.stdout, "kdoctor %s (commit %s, %s)\n", v, c, goVersion)
			return nil
		},
	}
}

func buildInfo() (ver, rev, goVersion string) {
	ver, rev, goVersion = version, commit, "unknown Go"
	bi, ok := debug.ReadBuildInfo()
	if ok {
		goVersion = bi.GoVersion
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return ver, rev, goVersion
}
