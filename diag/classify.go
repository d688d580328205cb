package diag

import (
	"strings"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Verdict is the diagnosis in one line, for a row of the tree: the root
// cause's rule, its severity, and a short phrase naming it. The tree and the
// diagnosis pane judge a pod with the same rules, so the tree can never say
// one thing and the pane another; the tree only sees less (no logs, and the
// events and node the watch holds).
type Verdict struct {
	Rule     string
	Severity Severity
	// Short names the cause in a few words ("OOMKilled ×4", "image not
	// found"); empty for ok.
	Short string
}

// Classify judges the facts with the whole rule table and keeps the root
// cause. Callers on a hot path check Quiet first: a pod that is plainly fine
// needs no walk.
func Classify(f *Facts) Verdict { return builtinRules.Classify(f) }

// Classify is Classify with this rule set (the team's rules included).
func (rs *Rules) Classify(f *Facts) Verdict {
	if rs == nil {
		rs = builtinRules
	}
	d := rs.Diagnose(f)
	v := Verdict{Rule: d.RootCause.Rule, Severity: d.RootCause.Severity}
	if v.Rule != RuleOK && len(d.Findings) > 0 {
		v.Short = d.Findings[0].Short
	}
	return v
}

// NodeVerdict is what the rules say of a quiet pod (see Quiet) on node n:
// a quiet pod's own status holds nothing to judge, so only its node can
// make it worth a look (pressure, a cordon, a lost kubelet). The tree
// judges each node once this way instead of every pod on it.
func NodeVerdict(n *corev1.Node, now time.Time) Verdict {
	p := &corev1.Pod{
		Spec: corev1.PodSpec{NodeName: n.Name},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
	return Classify(&Facts{Target: Target{Kind: "pod"}, Now: now, Pod: p, Node: FoundRef(n.Name, n)})
}

// Quiet reports whether a pod is plainly healthy from its status alone:
// running with every container started, ready and never restarted (or
// completed successfully), not being deleted. Such a pod needs no walk;
// anything else is judged by the rules. It is deliberately strict: a false
// "not quiet" costs a walk, a false "quiet" would hide a problem.
func Quiet(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
				return false
			}
		}
		return true
	case corev1.PodRunning:
	default:
		return false
	}
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready || cs.State.Running == nil || cs.RestartCount != 0 {
			return false
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.RestartCount != 0:
			return false
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
		case cs.State.Running != nil && cs.Started != nil && *cs.Started: // a sidecar
		default:
			return false
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			return false
		}
	}
	return true
}

// shortTexts name each rule's cause in a few words for the tree's STATUS /
// PROBABLE CAUSE column. They are templates over the same names as the
// rule's summary; a rule without one is named by its id.
var shortTexts = map[string]string{
	"sched.insufficient-resources": "{{.Nodes}} node(s) lack {{.Resources}}",
	"sched.node-selector-mismatch": "no node matches selector/affinity",
	"sched.untolerated-taint":      "taint {{.Taint}} not tolerated",
	"sched.no-nodes":               "no schedulable nodes",
	"sched.host-port-conflict":     "host port {{.Ports}} in use",
	"sched.pvc-unbound":            "PVC {{.Claims}} unbound",
	"sched.other":                  "unschedulable",

	"create.quota-exceeded":         "quota exceeded",
	"create.limitrange":             "LimitRange rejects pods",
	"create.admission-denied":       "admission denied",
	"create.serviceaccount-missing": "service account missing",

	"image.not-found":            "image not found",
	"image.unauthorized":         "pull access denied",
	"image.registry-unreachable": "registry unreachable",
	"image.pull-timeout":         "pull timed out",
	"image.invalid-name":         "invalid image name",
	"image.never-pull":           "image absent, pull policy Never",

	"config.configmap-missing": "ConfigMap missing",
	"config.secret-missing":    "Secret missing",
	"config.key-missing":       "key missing",
	"volume.mount-failed":      "volume {{.Volume}} not mounted",
	"volume.invalid-mount":     "invalid volume mount",
	"sandbox.cni-failed":       "pod network (CNI) failing",
	"sandbox.disk":             "sandbox: node disk{{.Plugin}}",

	"container.command-not-found":      "command not found",
	"container.command-not-executable": "command not executable",
	"container.create-error":           "container create error",

	"crash.oom-killed":           "OOMKilled ×{{.Restarts}}",
	"crash.exit-error":           "exit {{.ExitCode}}",
	"crash.sigkill":              "killed (SIGKILL)",
	"crash.sigterm":              "stopped (SIGTERM)",
	"crash.segfault":             "segfault",
	"crash.completed-restarting": "exits 0, restarted",
	"crash.restarting":           "restarted ×{{.Restarts}} · exit {{.ExitCode}}",
	"probe.liveness-failing":     "liveness probe failing",
	"probe.readiness-failing":    "readiness probe failing",
	"probe.startup-failing":      "startup probe failing",
	"init.failed":                "init {{.Container}} failing",
	"hook.poststart-failed":      "postStart hook failing",
	"hook.prestop-failed":        "preStop hook failing",

	"app.rbac-forbidden":         "app: RBAC forbidden",
	"app.java-oom":               "app: Java heap exhausted",
	"app.disk-full":              "app: disk full",
	"app.port-in-use":            "app: port in use",
	"app.dependency-unreachable": "app: dependency unreachable",

	"pod.evicted":           "{{.Cause}}",
	"pod.node-lost":         "node {{.Node}} lost",
	"pod.stuck-terminating": "{{.Overdue}} past grace{{.Because}}",

	"node.not-ready":           "node {{.Node}} NotReady",
	"node.disk-pressure":       "node {{.Node}} DiskPressure",
	"node.memory-pressure":     "node {{.Node}} MemoryPressure",
	"node.pid-pressure":        "node {{.Node}} PIDPressure",
	"node.network-unavailable": "node {{.Node}} network unavailable",
	"node.cordoned":            "node {{.Node}} cordoned",

	"sched.topology-spread":           "topology spread unsatisfiable",
	"image.rate-limited":              "registry rate limit",
	"image.platform-mismatch":         "image for another platform",
	"config.run-as-non-root":          "runAsNonRoot: image runs as root",
	"volume.provisioning-failed":      "volume provisioning failed",
	"volume.waiting-first-consumer":   "volume waits for scheduling",
	"volume.attach-failed":            "volume attach failed",
	"volume.mount-timeout":            "volume mount timed out",
	"sandbox.runtime-handler-missing": "runtime handler missing on node",
	"init.never-finishes":             "init {{.Container}} never finishes",
	"pod.node-shutdown":               "node shut down",
	"pod.admission-rejected":          "rejected by kubelet",
	"job.backoff-limit-exceeded":      "Job backoff limit reached",
	"job.deadline-exceeded":           "Job deadline exceeded",
	"pod.deadline-exceeded":           "activeDeadlineSeconds reached",
	"cronjob.concurrency-blocked":     "runs skipped (concurrency Forbid)",
	"usage.memory-near-limit":         "memory {{.Percent}} of limit",
	"usage.cpu-at-limit":              "CPU {{.Percent}} of limit",
	"cronjob.missed-schedule":         "missed schedules",

	"service.no-endpoints": "Service without endpoints",
	"rollout.stuck":        "rollout stuck",
}

var shortTemplates = func() map[string]*template.Template {
	out := make(map[string]*template.Template, len(shortTexts))
	for id, text := range shortTexts {
		out[id] = template.Must(template.New(id + "/short").Option("missingkey=error").Parse(text))
	}
	return out
}()

// shortText names a finding of rule id in a few words. A template that
// cannot be filled (a name this hit does not set) falls back to the rule's
// id made readable rather than showing a template error in the tree.
func shortText(id string, vars map[string]string) string {
	if t := shortTemplates[id]; t != nil {
		var b strings.Builder
		if err := t.Execute(&b, vars); err == nil {
			if s := strings.TrimSpace(b.String()); s != "" {
				return s
			}
		}
	}
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ReplaceAll(id, "-", " ")
}

// HasShortText reports whether rule id has its own short text.
func HasShortText(id string) bool { return shortTexts[id] != "" }
