package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// kubectl finds plugins by file name: an executable kubectl-kdoctor on PATH
// is run for `kubectl kdoctor …`, and (kubectl ≥ 1.26) an executable
// kubectl_complete-kdoctor is run with the words typed after `kubectl
// kdoctor` to complete them, printing cobra's __complete output
// (k8s.io/kubectl/pkg/cmd/plugin/plugin_completion.go). One binary serves
// all three names; what it was called decides how it introduces itself.
const (
	pluginName         = "kubectl-kdoctor"
	pluginCompleteName = "kubectl_complete-kdoctor"
	pluginDisplayName  = "kubectl kdoctor"
)

// invocation is how the binary was called.
type invocation struct {
	// display is the command name help and usage show ("kdoctor" or
	// "kubectl kdoctor").
	display string
	// complete is true for kubectl_complete-kdoctor: the arguments are the
	// words to complete, answered as cobra's __complete command does.
	complete bool
}

// invokedAs reads argv[0]: its base name, without .exe (Windows), tells a
// kubectl plugin from a plain kdoctor. Any other name (kdoctor, a renamed
// copy, a test binary) is plain kdoctor.
func invokedAs(argv0 string) invocation {
	// Both separators: kubectl on Windows passes a path with backslashes.
	base := argv0[strings.LastIndexAny(argv0, `/\`)+1:]
	if strings.HasSuffix(strings.ToLower(base), ".exe") {
		base = base[:len(base)-len(".exe")]
	}
	switch base {
	case pluginName:
		return invocation{display: pluginDisplayName}
	case pluginCompleteName:
		return invocation{display: pluginDisplayName, complete: true}
	}
	return invocation{display: "kdoctor"}
}

// apply names the root command as it was invoked (cobra shows the display
// name in every usage line and help) and turns completion-helper arguments
// into a __complete request.
func (inv invocation) apply(root *cobra.Command, args []string) []string {
	if inv.display != root.Name() {
		if root.Annotations == nil {
			root.Annotations = map[string]string{}
		}
		root.Annotations[cobra.CommandDisplayNameAnnotation] = inv.display
		// Examples are written for a plain kdoctor; as a plugin they must
		// read as the user types them.
		for _, c := range append([]*cobra.Command{root}, allCommands(root)...) {
			c.Example = renameInExamples(c.Example, root.Name(), inv.display)
		}
	}
	if inv.complete {
		return append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	return args
}

func allCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		out = append(out, sub)
		out = append(out, allCommands(sub)...)
	}
	return out
}

// renameInExamples rewrites example lines that start with the command name
// (after indentation or a pipe), leaving other mentions alone.
func renameInExamples(example, from, to string) string {
	if example == "" {
		return example
	}
	lines := strings.Split(example, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " \t")
		if strings.HasPrefix(trimmed, from+" ") || trimmed == from {
			lines[i] = l[:len(l)-len(trimmed)] + to + trimmed[len(from):]
		}
		lines[i] = strings.ReplaceAll(lines[i], "| "+from+" ", "| "+to+" ")
	}
	return strings.Join(lines, "\n")
}
