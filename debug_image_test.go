package main

import (
	"strings"
	"testing"
)

// TestDebugImageFromFlagAndConfig: the debug containers' image is
// --debug-image, else the config's debug.image, else busybox:1.37; one that
// is not an image reference, from either, stops kdoctor at once with one
// line naming where it came from and exit code 2.
func TestDebugImageFromFlagAndConfig(t *testing.T) {
	image := func(args ...string) string { t.Helper(); return settledApp(t, args...).debugImage }
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if got := image(); got != "busybox:1.37" {
		t.Errorf("default: %q", got)
	}
	if got := image("--debug-image", "nicolaka/netshoot:v0.13"); got != "nicolaka/netshoot:v0.13" {
		t.Errorf("flag: %q", got)
	}
	writeConfig(t, "debug:\n  image: registry.example.com/mirror/busybox:1.37\n")
	if got := image(); got != "registry.example.com/mirror/busybox:1.37" {
		t.Errorf("config: %q", got)
	}
	if got := image("--debug-image=nicolaka/netshoot:v0.13"); got != "nicolaka/netshoot:v0.13" {
		t.Errorf("the flag did not win over the config: %q", got)
	}

	// A bad image in the config names the file and the key.
	writeConfig(t, "debug:\n  image: Busybox:1.37\n")
	path := configPath()
	code, out, errOut := runCLI(t, "tui", "--demo")
	line := errorLine(t, code, errOut)
	if code != exitUsage || out != "" || line != `kdoctor: config `+path+`: debug.image: "Busybox:1.37" is not an image reference: invalid reference format: repository name (library/Busybox) must be lowercase` {
		t.Errorf("bad config image: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A good flag stands in for a bad config value.
	if got := image("--debug-image", "busybox:1.36"); got != "busybox:1.36" {
		t.Errorf("flag over a bad config: %q", got)
	}
	// An unknown key under debug is refused as every config typo is.
	writeConfig(t, "debug:\n  img: busybox\n")
	if code, _, errOut := runCLI(t, "version"); code == exitOK || !strings.Contains(errOut, `unknown field "img"`) {
		t.Errorf("typo in the debug section: exit %d, %q", code, errOut)
	}
}

// TestDebugImageInHelp: --help says what --debug-image is and its default.
func TestDebugImageInHelp(t *testing.T) {
	_, out, _ := runCLI(t, "--help")
	if !strings.Contains(out, "--debug-image string") || !strings.Contains(out, "(default: the config's debug.image, else busybox:1.37)") {
		t.Errorf("--help:\n%s", out)
	}
}
