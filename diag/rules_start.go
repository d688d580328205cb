package diag

import (
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Start failures happen after the image is there and before the app runs:
// the runtime cannot create or exec the container. They show as waiting
// CreateContainerError/RunContainerError, as terminated StartError
// (containerd, exit code 128) or ContainerCannotRun (docker), and as
// exit codes 126/127 when a shell could not run the command.
var startRules = []*rule{
	{
		ID: "container.command-not-found", Severity: Error, Step: StepDescribe, Rank: rankStart,
		Match:   startMatcher(startNotFound),
		Summary: "{{.KindTitle}} {{.Container}} cannot start: command {{.Command}} was not found in the image",
		Explanation: "The container's command (from the pod's command/args or the image's ENTRYPOINT/CMD) does " +
			"not exist in the image or is not on $PATH: a typo, a binary built into another path, a script " +
			"the Dockerfile never copied, or a shell script whose first line names a missing interpreter. " +
			"{{.Detail}}",
		NextSteps: []string{
			"Run the image with a shell to look inside: kubectl run -it --rm debug --image={{.Image}} --command -- sh (then ls the path, echo $PATH).",
			"Fix command/args in the pod spec or the Dockerfile's ENTRYPOINT/CMD.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].command}'",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
	{
		ID: "container.command-not-executable", Severity: Error, Step: StepDescribe, Rank: rankStart,
		Match:   startMatcher(startNotExecutable),
		Summary: "{{.KindTitle}} {{.Container}} cannot start: command {{.Command}} is not executable (permission denied)",
		Explanation: "The command exists but cannot be executed: the file lacks the execute bit (a script " +
			"copied without chmod +x), it is a directory, the filesystem is mounted noexec, or the container " +
			"user may not read it. {{.Detail}}",
		NextSteps: []string{
			"In the Dockerfile, COPY --chmod=755 the entrypoint (or RUN chmod +x), and make sure the user the container runs as can read it.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].command}'",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "container.create-error", Severity: Error, Step: StepDescribe, Rank: rankStart,
		Match:   startMatcher(startOther),
		Summary: "{{.KindTitle}} {{.Container}} cannot be created: {{.Short}}",
		Explanation: "The kubelet or container runtime refused to create or start the container. {{.Detail}} " +
			"The runtime's message: {{.Message}}",
		NextSteps: []string{
			"Read the runtime's message: it names the field or the runtime problem; fix the pod spec or the image accordingly.",
		},
		Commands: []string{"kubectl describe pod -n {{.Namespace}} {{.Pod}}"},
	},
}

type startClass int

const (
	startNone startClass = iota
	startMount
	startNotFound
	startNotExecutable
	startOther
)

// classifyStart reads a start failure message and exit code.
func classifyStart(msg string, exitCode int32) startClass {
	switch {
	case containsAny(msg, "to rootfs at", "mount destination", "cannot be mounted because", "invalid mount", "mount into /proc",
		"Are you trying to mount a directory onto a file", "not a directory", "failed to prepare subPath", "mounting \"",
		"read-only file system"):
		return startMount
	case containsAny(msg, "executable file not found", "no such file or directory", "The system cannot find the file specified",
		"command not found") || (msg == "" && exitCode == 127):
		return startNotFound
	case containsAny(msg, "permission denied", "Access is denied") || (msg == "" && exitCode == 126):
		return startNotExecutable
	case exitCode == 127:
		return startNotFound
	case exitCode == 126:
		return startNotExecutable
	}
	return startOther
}

// startFailure is what went wrong creating or starting one container.
type startFailure struct {
	class    startClass
	message  string
	evidence []string
	exitCode int32
	previous bool // the failure is the previous instance's (the container restarted since)
	// runtime is set when the runtime could not start the process at all;
	// otherwise a shell started and exited 126/127, which is a crash too.
	runtime bool
}

var startTerminationReasons = []string{"StartError", "ContainerCannotRun"}

// startFailureOf returns the container's start failure, if its current
// trouble is one.
func (w *walk) startFailureOf(c *container) *startFailure {
	if c.Status == nil {
		return nil
	}
	if wt := c.waiting(); wt != nil && oneOf(wt.Reason, "CreateContainerError", "RunContainerError", "CreateContainerConfigError") {
		msg := wt.Message
		if wt.Reason == "CreateContainerConfigError" && (objectNotFound.MatchString(msg) || keyNotFound.MatchString(msg) || volumeKey.MatchString(msg)) {
			return nil // the config rules explain it
		}
		if wt.Reason == "RunContainerError" && objectNotFound.MatchString(msg) {
			return nil
		}
		if wt.Reason == "CreateContainerConfigError" && nonRootCheck(msg) != "" {
			return nil // config.run-as-non-root explains it
		}
		f := &startFailure{message: msg, evidence: []string{w.formatState(c)}, runtime: true}
		if e, ok := newest(w.containerEvents(c.Name, "Failed")); ok {
			f.evidence = append(f.evidence, w.formatEvent(e))
			if msg == "" {
				f.message = e.Message
			}
		}
		f.class = classifyStart(f.message, 0)
		return f
	}
	t, current := c.lastTermination()
	if t == nil {
		return nil
	}
	crashLooping := c.waitingReason() == "CrashLoopBackOff"
	if !current && !crashLooping {
		return nil // running again: the last start worked
	}
	if !oneOf(t.Reason, startTerminationReasons...) && t.ExitCode != 126 && t.ExitCode != 127 {
		return nil
	}
	f := &startFailure{message: t.Message, exitCode: t.ExitCode, previous: !current, runtime: oneOf(t.Reason, startTerminationReasons...)}
	f.evidence = append(f.evidence, w.formatState(c))
	if !current {
		f.evidence = append(f.evidence, w.formatTermination(c, t, false))
	}
	f.class = classifyStart(t.Message, t.ExitCode)
	return f
}

// execName finds the command in runc's and docker's start errors. Windows'
// hcs::System::CreateProcess names the container id, not the command.
var execName = regexp.MustCompile(`exec: \\?"([^"\\]+)\\?"|exec ([^\s:]+): `)

// shellComplaint is how sh, dash, bash and busybox report a command they
// could not run: "/bin/sh: 1: /opt/run.sh: Permission denied",
// "sh: 1: exec: start-worker: not found", "bash: foo: command not found".
var shellComplaint = regexp.MustCompile(`(?:sh|bash|ash|dash)(?:: line \d+|: \d+)?: (?:exec: )?([^:\s]+): (?:not found|Permission denied|No such file or directory|command not found)`)

func startMatcher(class startClass) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.cs {
			f := w.startFailureOf(c)
			if f == nil || f.class != class {
				continue
			}
			vars := w.imageVars(c, f.message)
			vars["Command"] = commandOf(c, f.message)
			if !f.runtime {
				// A shell ran and could not run the real command: its
				// complaint in the log names it.
				if l := w.f.Log(c.Name, f.previous); l != nil {
					if m := shellComplaint.FindAllStringSubmatch(l.Text, -1); m != nil {
						vars["Command"] = quote(m[len(m)-1][1])
					}
				}
			}
			vars["PreviousFlag"] = ""
			if f.previous {
				vars["PreviousFlag"] = " --previous"
			}
			vars["Detail"] = ""
			vars["Short"] = shortMessage(f.message)
			if f.exitCode != 0 {
				vars["Detail"] = "Exit code " + itoa(f.exitCode) + ": " + ExitCodeMeaning(f.exitCode) + "."
			}
			if class == startOther && containsAny(f.message, "no command specified") {
				vars["Detail"] = "Neither the pod spec (command) nor the image (ENTRYPOINT/CMD) says what to run: set command in the pod spec or fix the image."
				vars["Short"] = "no command specified"
			}
			h := hit{Container: c.Name, Evidence: f.evidence, Vars: vars}
			if class == startMount {
				h.Evidence = append(h.Evidence, volumeMountsLine(c))
			}
			if class == startNotFound || class == startNotExecutable {
				if cmd := specCommand(c.Spec); cmd != "" {
					h.Evidence = append(h.Evidence, c.kind()+" command: "+cmd)
				}
				// With a shell in between, the previous log holds the shell's complaint.
				if lines, _ := w.crashLog(c, f.previous); len(lines) > 0 {
					h.Evidence = append(h.Evidence, lines...)
				}
			}
			hits = append(hits, h)
		}
		return hits
	}
}

func specCommand(c *corev1.Container) string {
	parts := append(append([]string{}, c.Command...), c.Args...)
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " ")
}

// commandOf names the command that failed: from the runtime's message, else
// the spec's first command word, else the image's entrypoint.
func commandOf(c *container, msg string) string {
	if m := execName.FindStringSubmatch(msg); m != nil {
		for _, g := range m[1:] {
			if g != "" {
				return quote(strings.TrimSpace(g))
			}
		}
	}
	if c.Spec != nil && len(c.Spec.Command) > 0 {
		return quote(c.Spec.Command[0])
	}
	return "(the image's entrypoint)"
}

// shortMessage keeps the informative tail of a long runtime message: the
// OCI wrappers repeat "failed to create shim task: OCI runtime create
// failed: runc create failed: unable to start container process:".
func shortMessage(msg string) string {
	msg = oneLine(msg)
	for _, prefix := range []string{"unable to start container process: ", "starting container process caused: ", "Error response from daemon: "} {
		if i := strings.LastIndex(msg, prefix); i >= 0 {
			msg = msg[i+len(prefix):]
		}
	}
	msg = strings.TrimSuffix(msg, ": unknown")
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	return msg
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
