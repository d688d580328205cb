package diag

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// restartWindow is how long after its last crash a running container
// still counts as crashing; older restarts are history.
const restartWindow = 24 * time.Hour

// restartsHigh is the restart count from which a running container counts
// as unstable even when its last crash is not recent.
const restartsHigh = 3

var crashRules = []*rule{
	{
		ID: "crash.oom-killed", Severity: Error, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashOOM),
		Summary: "Container {{.Container}} was OOMKilled: it hit its memory limit{{.Limit}} ({{.Restarts}} restarts)",
		Explanation: "The kernel killed the container because it used more memory than its limit (exit code 137, " +
			"reason OOMKilled). Either the limit is too low for the real working set, or the app leaks. A JVM " +
			"whose heap (-Xmx) is close to or above the limit is the classic case: the heap plus metaspace, " +
			"threads and buffers must fit under the limit. {{.Detail}}",
		NextSteps: []string{
			"Measure the container's real memory use (kubectl top pod, metrics) and raise the memory limit above its peak, keeping the request close to it.",
			"For a JVM, size the heap from the limit (-XX:MaxRAMPercentage=75) instead of a fixed -Xmx.",
			"If usage grows until the kill, look for a leak (heap dump, profiler).",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].resources}'",
			"kubectl top pod -n {{.Namespace}} {{.Pod}} --containers",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
	{
		ID: "crash.exit-error", Severity: Error, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashExitError),
		Summary: "Container {{.Container}} {{.Verb}} with code {{.ExitCode}} ({{.Meaning}}){{.LoopNote}}",
		Explanation: "The app itself stopped with an error: Kubernetes started it and it exited on its own. " +
			"The cause is inside the app: a missing setting or file, a dependency it could not reach, a bug. " +
			"The last lines it logged before dying usually say which. {{.LogNote}}",
		NextSteps: []string{
			"Read the log of the failed run: kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}.",
			"Check the environment, ConfigMaps, Secrets and volumes the app expects against what the pod provides.",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "crash.sigkill", Severity: Error, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashSigkill),
		Summary: "Container {{.Container}} was killed with SIGKILL (exit code 137) without being OOMKilled{{.LoopNote}}",
		Explanation: "Something outside the app killed it without a chance to clean up: the kubelet after a " +
			"liveness failure or when the grace period ran out, the node's OOM killer when the node (not the " +
			"container) ran out of memory, or a person or tool (kill -9, crictl stop). {{.Detail}}",
		NextSteps: []string{
			"Look at the pod's events around the kill time (Killing, Unhealthy) and at the node's events (SystemOOM, memory pressure).",
			"If the app ignores SIGTERM, it is killed after terminationGracePeriodSeconds: handle SIGTERM or raise the grace period.",
		},
		Commands: []string{
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}}",
			"{{if .Node}}kubectl describe node {{.Node}}{{end}}",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
	{
		ID: "crash.sigterm", Severity: Warning, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashSigterm),
		Summary: "Container {{.Container}} was stopped with SIGTERM (exit code 143){{.LoopNote}}",
		Explanation: "The container was asked to stop and did so gracefully: a scale-down, a rollout, an " +
			"eviction or drain, a liveness restart, or a stop from the runtime. Under restartPolicy Always a " +
			"container that keeps getting SIGTERM is being stopped on purpose by something. {{.Detail}}",
		NextSteps: []string{
			"Look at the events around the stop (Killing, Evicted, ScalingReplicaSet) to see who stopped it.",
		},
		Commands: []string{
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}}",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
	{
		ID: "crash.segfault", Severity: Error, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashSegfault),
		Summary: "Container {{.Container}} crashed with a segmentation fault (SIGSEGV, exit code 139){{.LoopNote}}",
		Explanation: "The process accessed memory it does not own: a bug in native code, a library built for " +
			"another platform (glibc vs musl/alpine), or a corrupt binary. {{.LogNote}}",
		NextSteps: []string{
			"Run the same image locally with the same arguments to reproduce; check the image's architecture matches the node's.",
			"Enable core dumps or run under a debugger to find the faulting code.",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
			"{{if .Node}}kubectl get node {{.Node}} -o jsonpath='{.status.nodeInfo.architecture}'{{end}}",
		},
	},
	{
		ID: "crash.completed-restarting", Severity: Error, Step: StepDescribe, Rank: rankCrash,
		Match:   crashMatcher(crashCompleted),
		Summary: "Container {{.Container}} exits successfully (code 0) and is restarted over and over{{.LoopNote}}",
		Explanation: "Under restartPolicy Always a container is expected to run forever; this one finishes its " +
			"work and exits 0, so the kubelet restarts it and backs off. Usually the main process is not " +
			"long-running: the server was started in the background (nohup, &, a startup.sh that returns), " +
			"or a one-off task was put in a Deployment.",
		NextSteps: []string{
			"Make the main process run in the foreground (e.g. exec the server in the entrypoint, catalina.sh run instead of startup.sh).",
			"For a task that should finish, use a Job (restartPolicy OnFailure or Never) instead of a Deployment.",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].command}'",
		},
	},
	{
		ID: "crash.restarting", Severity: Warning, Step: StepDescribe, Rank: rankRestarts,
		Match:   crashMatcher(crashRestarting),
		Summary: "Container {{.Container}} runs now but has restarted {{.Restarts}} times; the last run ended with exit code {{.ExitCode}} ({{.Meaning}})",
		Explanation: "The container is up, but it keeps dying and coming back: something kills it or it crashes " +
			"now and then. The last termination is the best clue. {{.LogNote}}",
		NextSteps: []string{
			"Read the log of the run that ended: kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} --previous.",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} --previous",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}}",
		},
	},
	{
		ID: "init.failed", Severity: Error, Step: StepDescribe, Rank: rankInit,
		Match:   matchInitFailed,
		Summary: "Init container {{.Container}} {{.Problem}}, so the app containers never start",
		Explanation: "Init containers run one after another before the app containers and must each exit 0. " +
			"While one fails or keeps running, the pod shows Init:Error, Init:CrashLoopBackOff or " +
			"PodInitializing. {{.Detail}} {{.LogNote}}",
		NextSteps: []string{
			"Read the init container's log: kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}.",
			"Init containers often wait for a dependency (a database, a Service) or run migrations: check that dependency.",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "hook.poststart-failed", Severity: Error, Step: StepEvents, Rank: rankHook,
		Match:   hookMatcher("FailedPostStartHook", "PostStartHookError"),
		Summary: "The postStart hook of container {{.Container}} fails, so the container is killed and restarted",
		Explanation: "A postStart hook runs right after the container starts; if it fails, the kubelet kills the " +
			"container and restarts it according to restartPolicy. The hook: {{.Hook}}",
		NextSteps: []string{
			"Run the hook's command by hand in the container (kubectl exec) to see it fail; it runs concurrently with the entrypoint, so it must not depend on the app being ready.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].lifecycle}'",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}},reason=FailedPostStartHook",
		},
	},
	{
		ID: "hook.prestop-failed", Severity: Warning, Step: StepEvents, Rank: rankPreStop,
		Match:   hookMatcher("FailedPreStopHook", ""),
		Summary: "The preStop hook of container {{.Container}} fails, so the container stops without its cleanup",
		Explanation: "A preStop hook runs before the container gets SIGTERM; when it fails or outlasts the " +
			"grace period, the container is stopped anyway, skipping the graceful shutdown it was meant to do " +
			"(draining connections, deregistering). The hook: {{.Hook}}",
		NextSteps: []string{
			"Run the hook's command by hand in the container; keep it well under terminationGracePeriodSeconds.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].lifecycle}'",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}},reason=FailedPreStopHook",
		},
	},
}

type crashClass int

const (
	crashNone crashClass = iota
	crashOOM
	crashExitError
	crashSigkill
	crashSigterm
	crashSegfault
	crashCompleted
	crashRestarting
)

// crash is the failure of one app container's last run.
type crash struct {
	class   crashClass
	term    *corev1.ContainerStateTerminated
	current bool // the terminated state is the current one (no restart since)
	looping bool
}

func restartPolicy(p *corev1.Pod, c *container) corev1.RestartPolicy {
	if c.Spec != nil && c.Spec.RestartPolicy != nil {
		return corev1.RestartPolicy(*c.Spec.RestartPolicy)
	}
	if p.Spec.RestartPolicy == "" {
		return corev1.RestartPolicyAlways
	}
	return p.Spec.RestartPolicy
}

// crashOf classifies the last run of app container c; nil when it is not a
// crash (still running fine, success of a Job, a start failure, or a pod
// going away on purpose).
func (w *walk) crashOf(c *container) *crash {
	p := w.pod
	// An evicted pod, one stopped for a node shutdown, or one the kubelet
	// stopped at its activeDeadlineSeconds (pod.deadline-exceeded) was
	// killed on purpose: not a crash.
	if c.Init || p == nil || p.DeletionTimestamp != nil || p.Status.Reason == "Evicted" || nodeShutdownReason(p) != "" ||
		(p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded") {
		return nil
	}
	t, current := c.lastTermination()
	if t == nil {
		return nil
	}
	if sf := w.startFailureOf(c); sf != nil && sf.runtime {
		return nil // the app never ran: the start rules explain it
	}
	if line, _ := w.execFormatFailure(c); line != "" {
		return nil // the binary never ran: image.platform-mismatch explains it
	}
	always := restartPolicy(p, c) == corev1.RestartPolicyAlways
	looping := c.waitingReason() == "CrashLoopBackOff"
	failing := looping || (current && (t.ExitCode != 0 || always))
	restarted := !current && c.Status.State.Running != nil && c.restarts() > 0 &&
		(c.restarts() >= restartsHigh || w.now.Sub(t.FinishedAt.Time) <= restartWindow)
	if !failing && !restarted {
		return nil
	}
	cr := &crash{term: t, current: current, looping: looping}
	probeKilled := w.probeKill(c) != ""
	switch {
	case t.Reason == "OOMKilled":
		cr.class = crashOOM
	case t.ExitCode == 0:
		if !always {
			return nil
		}
		cr.class = crashCompleted
	case t.ExitCode == 137:
		if probeKilled {
			return nil
		}
		cr.class = crashSigkill
	case t.ExitCode == 143:
		if probeKilled {
			return nil
		}
		cr.class = crashSigterm
	case t.ExitCode == 139:
		cr.class = crashSegfault
	case !failing:
		// Running again after an ordinary error exit (or a node reboot,
		// reason Unknown): the restarts are the finding.
		if probeKilled {
			return nil
		}
		cr.class = crashRestarting
	default:
		cr.class = crashExitError
	}
	return cr
}

func crashMatcher(class crashClass) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.mainContainers() {
			cr := w.crashOf(c)
			if cr == nil || cr.class != class {
				continue
			}
			hits = append(hits, w.crashHit(c, cr))
		}
		return hits
	}
}

func (w *walk) crashHit(c *container, cr *crash) hit {
	t := cr.term
	vars := map[string]string{
		"ExitCode": itoa(t.ExitCode), "Meaning": ExitCodeMeaning(t.ExitCode),
		"Restarts": itoa(c.restarts()), "PreviousFlag": "", "Verb": "exits", "LoopNote": "", "Limit": "", "Detail": "",
	}
	if !cr.current {
		vars["PreviousFlag"] = " --previous"
	}
	switch {
	case cr.looping:
		vars["LoopNote"] = fmt.Sprintf(": CrashLoopBackOff after %d restarts", c.restarts())
	case cr.current:
		vars["Verb"] = "exited"
		vars["LoopNote"] = "; the pod is " + string(w.pod.Status.Phase)
	}
	h := hit{Container: c.Name, Vars: vars, Evidence: []string{w.formatState(c)}}
	if !cr.current {
		h.Evidence = append(h.Evidence, w.formatTermination(c, t, false))
	}
	if e, ok := newest(w.backOffEvents(c)); ok {
		h.Evidence = append(h.Evidence, w.formatEvent(e))
	}
	lines, note := w.crashLog(c, !cr.current)
	h.Evidence = append(h.Evidence, lines...)
	vars["LogNote"] = note
	switch cr.class {
	case crashOOM:
		w.oomVars(&h, c)
	case crashSigkill:
		if ev := w.nodeMemoryEvidence(); len(ev) > 0 {
			h.Evidence = append(h.Evidence, ev...)
			vars["Detail"] = "The node reports memory trouble (see evidence): the node's OOM killer is the likely killer; see node.memory-pressure."
			// The node's memory shortage is the cause, the kill its symptom.
			h.Rank = rankNode + 2
		}
	case crashSigterm:
		if evs := w.containerEvents(c.Name, "Killing"); len(evs) > 0 {
			h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
		}
	}
	if (cr.class == crashSigterm || cr.class == crashSigkill) && c.Spec.LivenessProbe != nil {
		// The events that would show a liveness kill expire after an hour;
		// the probe's settings still say whether one is likely.
		h.Evidence = append(h.Evidence, c.kind()+" livenessProbe: "+formatProbe(c.Spec.LivenessProbe))
		h.Next = append(h.Next, "The container has a liveness probe; a failing one makes the kubelet stop it. "+
			"If Unhealthy events appear, the probe is the sender: "+strings.Join(probeHints("", c.Spec.LivenessProbe, c.Spec.StartupProbe != nil, "liveness"), " "))
	}
	return h
}

// crashLog returns the last lines of the failed instance's log as evidence
// and a note for the explanation; an empty log is evidence too.
func (w *walk) crashLog(c *container, previous bool) (lines []string, note string) {
	l := w.f.Log(c.Name, previous)
	label := "logs"
	if previous {
		label = "logs --previous"
	}
	label += " (" + c.Name + "): "
	switch {
	case l == nil:
		return nil, ""
	case l.State != Found:
		return []string{label + "not available (" + orUnknown(l.Reason) + ")"},
			"Its log could not be read (" + orUnknown(l.Reason) + ")."
	case strings.TrimSpace(l.Text) == "":
		return []string{label + "empty"},
			"Its log is empty: the app died before logging anything. Add startup logging, or run the image " +
				"locally with the same environment and volumes to watch it fail."
	}
	for _, line := range lastLines(l.Text, 5) {
		lines = append(lines, label+line)
	}
	return lines, ""
}

var (
	xmxFlag         = regexp.MustCompile(`-Xmx(\d+[kKmMgG]?)`)
	ramPercentage   = regexp.MustCompile(`-XX:MaxRAMPercentage=([\d.]+)`)
	javaHeapOptions = []string{"JAVA_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CATALINA_OPTS"}
)

func (w *walk) oomVars(h *hit, c *container) {
	res := c.Spec.Resources
	limit, hasLimit := res.Limits[corev1.ResourceMemory]
	request, hasRequest := res.Requests[corev1.ResourceMemory]
	line := c.kind() + " memory:"
	if hasRequest {
		line += " request " + request.String()
	}
	if hasLimit {
		line += " limit " + limit.String()
		h.Vars["Limit"] = " of " + limit.String()
	} else {
		line += " no limit"
		h.Vars["Detail"] = "The container has no memory limit, so this kill came from the node running out of memory: see the node step."
	}
	h.Evidence = append(h.Evidence, line)
	if heap := javaHeap(c.Spec); heap != "" {
		h.Evidence = append(h.Evidence, c.kind()+" JVM heap setting: "+heap)
		h.Vars["Detail"] = "The container sets the JVM heap to " + heap + "; compare it with the limit."
	}
}

// javaHeap returns the JVM heap flags found in a container's command, args
// or the usual environment variables.
func javaHeap(c *corev1.Container) string {
	texts := append(append([]string{}, c.Command...), c.Args...)
	for _, e := range c.Env {
		if oneOf(e.Name, javaHeapOptions...) {
			texts = append(texts, e.Value)
		}
	}
	all := strings.Join(texts, " ")
	var found []string
	if m := xmxFlag.FindString(all); m != "" {
		found = append(found, m)
	}
	if m := ramPercentage.FindString(all); m != "" {
		found = append(found, m)
	}
	return strings.Join(found, " ")
}

// nodeMemoryEvidence returns the node's signs of running out of memory.
func (w *walk) nodeMemoryEvidence() []string {
	var out []string
	if n := w.f.Node.Object; n != nil {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeMemoryPressure && c.Status == corev1.ConditionTrue {
				out = append(out, "node "+n.Name+": MemoryPressure=True ("+c.Reason+")")
			}
		}
	}
	for _, e := range w.nevs {
		if e.Reason == "SystemOOM" && w.recent(e.Last) {
			out = append(out, w.formatEvent(e))
		}
	}
	return out
}

func isSidecar(c *container) bool {
	return c.Init && c.Spec != nil && c.Spec.RestartPolicy != nil && *c.Spec.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func (w *walk) podInitialized() bool {
	for _, c := range w.pod.Status.Conditions {
		if c.Type == corev1.PodInitialized {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func matchInitFailed(w *walk) []hit {
	if w.pod == nil || w.pod.DeletionTimestamp != nil || w.pod.Status.Phase == corev1.PodSucceeded {
		return nil
	}
	var hits []hit
	for _, c := range w.cs {
		if !c.Init || isSidecar(c) || c.Status == nil {
			continue
		}
		if sf := w.startFailureOf(c); sf != nil && sf.runtime {
			continue
		}
		if line, _ := w.execFormatFailure(c); line != "" {
			continue // image.platform-mismatch explains it
		}
		t, current := c.lastTermination()
		looping := c.waitingReason() == "CrashLoopBackOff"
		vars := map[string]string{"PreviousFlag": "", "Detail": "", "LogNote": ""}
		h := hit{Container: c.Name, Vars: vars, Evidence: []string{w.formatState(c)}}
		switch {
		case t != nil && t.ExitCode != 0 && (current || looping):
			vars["Problem"] = fmt.Sprintf("fails with exit code %d (%s)", t.ExitCode, ExitCodeMeaning(t.ExitCode))
			if t.Reason == "OOMKilled" {
				vars["Problem"] = "was OOMKilled (exit code 137)"
				vars["Detail"] = "It ran out of its memory limit: init containers need their own resources."
			}
			if !current {
				vars["PreviousFlag"] = " --previous"
				h.Evidence = append(h.Evidence, w.formatTermination(c, t, false))
			}
			lines, note := w.crashLog(c, !current)
			h.Evidence = append(h.Evidence, lines...)
			vars["LogNote"] = note
		default:
			continue
		}
		hits = append(hits, h)
	}
	return hits
}

// hookMatcher matches failed lifecycle hooks by event reason, or by the
// container's waiting reason (PostStartHookError).
func hookMatcher(eventReason, waitingReason string) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.cs {
			evs := w.containerEvents(c.Name, eventReason)
			waiting := waitingReason != "" && c.waitingReason() == waitingReason
			if len(evs) == 0 && !waiting {
				continue
			}
			h := hit{Container: c.Name, Vars: map[string]string{"Hook": hookText(c.Spec, eventReason)}}
			if waiting {
				h.Evidence = append(h.Evidence, w.formatState(c))
			}
			h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
			hits = append(hits, h)
		}
		return hits
	}
}

func hookText(c *corev1.Container, eventReason string) string {
	if c == nil || c.Lifecycle == nil {
		return "(not in the spec)"
	}
	hk := c.Lifecycle.PostStart
	if eventReason == "FailedPreStopHook" {
		hk = c.Lifecycle.PreStop
	}
	if hk == nil {
		return "(not in the spec)"
	}
	switch {
	case hk.Exec != nil:
		return "exec " + strings.Join(hk.Exec.Command, " ")
	case hk.HTTPGet != nil:
		return fmt.Sprintf("httpGet %s port %s", hk.HTTPGet.Path, hk.HTTPGet.Port.String())
	case hk.Sleep != nil:
		return fmt.Sprintf("sleep %ds", hk.Sleep.Seconds)
	case hk.TCPSocket != nil:
		return "tcpSocket port " + hk.TCPSocket.Port.String()
	}
	return "(unknown handler)"
}

// backOffEvents are the kubelet's restart back-off events for container c.
// Kubelets before 1.27 wrote "Back-off restarting failed container" with
// no name (only the fieldPath says which container, if set); newer ones add
// "app in pod web-5d9_shop(uid)".
func (w *walk) backOffEvents(c *container) []event {
	var out []event
	for _, e := range w.containerEventsOrOnly(c, "BackOff") {
		if strings.HasPrefix(e.Message, "Back-off restarting failed container") {
			out = append(out, e)
		}
	}
	return out
}
