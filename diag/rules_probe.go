package diag

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// notReadyFor is how long a container may stay unready, with no readiness
// events to read, before kdoctor reports it: apps take a moment to warm up.
const notReadyFor = 2 * time.Minute

var probeRules = []*rule{
	{
		ID: "probe.liveness-failing", Severity: Error, Step: StepEvents, Rank: rankProbeKill,
		Match:   probeMatcher("liveness"),
		Summary: "The liveness probe of container {{.Container}} fails{{.Killed}}: {{.Failure}}",
		Explanation: "When the liveness probe fails failureThreshold times in a row the kubelet kills the " +
			"container and restarts it, so a wrong probe turns a working app into a CrashLoopBackOff. The probe " +
			"is wrong (path or port), too aggressive for the app (timeoutSeconds 1, failureThreshold 1), started " +
			"before the app is up (slow start), or the app really hangs, sometimes only because the node is " +
			"overloaded. Probe: {{.Probe}}",
		NextSteps: []string{
			"Try the probe yourself from inside the pod (kubectl exec … -- wget -qO- http://localhost:PORT/PATH) while the app runs.",
			"For a slow start, add a startupProbe whose failureThreshold × periodSeconds exceeds the start time, instead of a long initialDelaySeconds.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].livenessProbe}'",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} --previous",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}},reason=Unhealthy",
		},
	},
	{
		ID: "probe.readiness-failing", Severity: Error, Step: StepEvents, Rank: rankReadiness,
		Match:   probeMatcher("readiness"),
		Summary: "Container {{.Container}} runs but is not ready: its readiness probe fails{{.FailureSuffix}}",
		Explanation: "A pod whose readiness probe fails stays Running but is removed from the endpoints of its " +
			"Services, so it gets no traffic, and a rollout waiting for it stalls. The probe is wrong, too " +
			"strict for the app, or the app is not ready: still warming up, or waiting for a dependency. " +
			"Probe: {{.Probe}}",
		NextSteps: []string{
			"Try the probe yourself from inside the pod and read the app's log for why it does not report ready.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].readinessProbe}'",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}",
			"kubectl get endpoints -n {{.Namespace}}",
		},
	},
	{
		ID: "probe.startup-failing", Severity: Error, Step: StepEvents, Rank: rankProbeKill,
		Match:   probeMatcher("startup"),
		Summary: "The startup probe of container {{.Container}} fails{{.Killed}}: {{.Failure}}",
		Explanation: "Until the startup probe succeeds, the other probes wait; if it keeps failing for " +
			"failureThreshold × periodSeconds the container is killed and restarted. Either the app needs " +
			"longer to start than the probe allows, or the probe checks the wrong thing. Probe: {{.Probe}}",
		NextSteps: []string{
			"Time the app's start (its log) and set failureThreshold × periodSeconds above it, with a margin.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].startupProbe}'",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} --previous",
		},
	},
}

var probeFailed = map[string]*regexp.Regexp{
	"liveness":  regexp.MustCompile(`(?i)^Liveness probe (failed|errored)`),
	"readiness": regexp.MustCompile(`(?i)^Readiness probe (failed|errored)`),
	"startup":   regexp.MustCompile(`(?i)^Startup probe (failed|errored)`),
}

// probeKillWords are how kubelets over the years announced a probe kill:
// "Container app failed liveness probe, will be restarted" (current),
// "Container failed liveness probe.. Container will be killed and
// recreated." (1.1x), `container "app" is unhealthy, it will be killed and
// re-created.` (≤1.5).
var probeKillWords = map[string][]string{
	"liveness": {"failed liveness probe", "is unhealthy, it will be killed"},
	"startup":  {"failed startup probe"},
}

// probeEvents returns the recent Unhealthy events of one probe kind and the
// Killing events it caused, for container c.
func (w *walk) probeEvents(c *container, kind string) (failed, killed []event) {
	for _, e := range w.containerEventsOrOnly(c, "Unhealthy") {
		if probeFailed[kind].MatchString(e.Message) {
			failed = append(failed, e)
		}
	}
	if words := probeKillWords[kind]; len(words) > 0 {
		for _, e := range w.containerEventsOrOnly(c, "Killing") {
			if containsAny(e.Message, words...) {
				killed = append(killed, e)
			}
		}
	}
	return failed, killed
}

// containerEventsOrOnly is containerEvents, plus the pod's unattributed
// events when the pod has a single app container (old kubelets did not
// always set the fieldPath).
func (w *walk) containerEventsOrOnly(c *container, reasons ...string) []event {
	evs := w.containerEvents(c.Name, reasons...)
	if mains := w.mainContainers(); len(mains) == 1 && mains[0] == c {
		for _, e := range w.podEvents(reasons...) {
			if e.Container == "" && !mentionsContainer(e.Message, c.Name) {
				evs = append(evs, e)
			}
		}
	}
	return evs
}

// probeKill says which probe, if any, is killing container c.
func (w *walk) probeKill(c *container) string {
	for _, kind := range []string{"liveness", "startup"} {
		if failed, killed := w.probeEvents(c, kind); len(killed) > 0 || len(failed) > 0 {
			return kind
		}
	}
	return ""
}

func probeOf(c *corev1.Container, kind string) *corev1.Probe {
	switch kind {
	case "liveness":
		return c.LivenessProbe
	case "readiness":
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

func probeMatcher(kind string) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.cs {
			if c.Spec == nil || (c.Init && !isSidecar(c)) || c.Status == nil {
				continue
			}
			failed, killed := w.probeEvents(c, kind)
			probe := probeOf(c.Spec, kind)
			h := hit{Container: c.Name, Vars: map[string]string{"Probe": formatProbe(probe), "Killed": "", "Failure": "", "FailureSuffix": ""}}
			switch kind {
			case "readiness":
				running := c.Status.State.Running != nil
				if !running || c.ready() || w.pod.DeletionTimestamp != nil {
					continue
				}
				if len(failed) == 0 {
					// Unhealthy events are refreshed while the probe fails, so
					// their absence means the probe is fine, unless events are
					// unreadable or the probe is not the reason.
					since := w.now.Sub(c.Status.State.Running.StartedAt.Time)
					if probe == nil || w.f.Events.State == Found || since < notReadyFor {
						continue
					}
					h.Evidence = append(h.Evidence, fmt.Sprintf("%s: running for %s but not ready", c.kind(), duration.HumanDuration(since)))
				}
			default:
				if len(failed) == 0 && len(killed) == 0 {
					continue
				}
				if len(killed) > 0 || c.restarts() > 0 {
					h.Vars["Killed"] = fmt.Sprintf(" and restarts it (%d restarts)", c.restarts())
				} else {
					h.Severity = sev(Warning) // failing, but not yet failureThreshold times in a row
				}
			}
			msg := ""
			if e, ok := newest(failed); ok {
				msg = e.Message
				h.Evidence = append(h.Evidence, w.formatEvent(e))
			}
			if e, ok := newest(killed); ok {
				h.Evidence = append(h.Evidence, w.formatEvent(e))
			}
			h.Evidence = append(h.Evidence, c.kind()+" "+kind+"Probe: "+formatProbe(probe))
			if kind != "readiness" {
				if t, _ := c.lastTermination(); t != nil {
					h.Evidence = append(h.Evidence, w.formatTermination(c, t, c.Status.State.Terminated != nil))
				}
			}
			failure := probeFailure(msg)
			h.Vars["Failure"] = failure
			if failure != "" {
				h.Vars["FailureSuffix"] = " (" + failure + ")"
			} else {
				h.Vars["Failure"] = "see the events"
			}
			h.Next = probeHints(msg, probe, c.Spec.StartupProbe != nil, kind)
			if hint := portMismatch(c.Spec, probe); hint != "" {
				h.Evidence = append(h.Evidence, hint)
				h.Next = append([]string{"The probe and the app disagree on the port: " + hint + "."}, h.Next...)
			}
			hits = append(hits, h)
		}
		return hits
	}
}

var statusCode = regexp.MustCompile(`status ?code:? (\d{3})`)

// probeFailure shortens a probe failure message to its cause.
func probeFailure(msg string) string {
	switch {
	case msg == "":
		return ""
	case containsAny(msg, "connection refused"):
		return "connection refused"
	case statusCode.MatchString(msg):
		return "HTTP " + statusCode.FindStringSubmatch(msg)[1]
	case containsAny(msg, "Client.Timeout exceeded", "context deadline exceeded", "timeout", "timed out"):
		return "timed out"
	case containsAny(msg, "no route to host"):
		return "no route to host"
	}
	_, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return oneLine(msg)
	}
	return shortMessage(rest)
}

// probeHints turns the failure and the probe's settings into advice.
func probeHints(msg string, p *corev1.Probe, hasStartup bool, kind string) []string {
	var out []string
	switch f := probeFailure(msg); {
	case f == "connection refused":
		out = append(out, "Nothing listens on the probed port"+probePort(p)+
			": check it matches the port the app listens on, that the app listens on 0.0.0.0 and not 127.0.0.1, and whether the app has finished starting.")
	case strings.HasPrefix(f, "HTTP 404"):
		out = append(out, "The probe path"+probePath(p)+" does not exist in the app (HTTP 404): fix the path.")
	case strings.HasPrefix(f, "HTTP 5"):
		out = append(out, "The app answers the probe with "+f+": its health endpoint reports a problem; the app's log says which.")
	case f == "timed out":
		out = append(out, "The app answers slower than timeoutSeconds: raise timeoutSeconds, and check CPU throttling (a low CPU limit) and the node's load.")
	}
	if p != nil {
		timeout, failure := max(p.TimeoutSeconds, 1), p.FailureThreshold
		if failure == 0 {
			failure = 3
		}
		if timeout <= 1 && failure <= 1 {
			out = append(out, "The probe is very strict (timeoutSeconds 1, failureThreshold 1): one slow answer fails it; allow 3 failures and a few seconds.")
		} else if failure == 1 {
			out = append(out, "failureThreshold 1 acts on a single failed probe; 3 is the default for a reason.")
		}
		if kind == "liveness" && !hasStartup && p.InitialDelaySeconds < 10 {
			out = append(out, "The probe starts checking early and there is no startupProbe: if the app needs time to start, add one.")
		}
	}
	return out
}

func probePort(p *corev1.Probe) string {
	switch {
	case p == nil:
		return ""
	case p.HTTPGet != nil:
		return " (" + p.HTTPGet.Port.String() + ")"
	case p.TCPSocket != nil:
		return " (" + p.TCPSocket.Port.String() + ")"
	case p.GRPC != nil:
		return fmt.Sprintf(" (%d)", p.GRPC.Port)
	}
	return ""
}

func probePath(p *corev1.Probe) string {
	if p == nil || p.HTTPGet == nil {
		return ""
	}
	return " " + p.HTTPGet.Path
}

// formatProbe renders a probe's handler and timing like kubectl describe.
func formatProbe(p *corev1.Probe) string {
	if p == nil {
		return "none defined"
	}
	var handler string
	switch {
	case p.HTTPGet != nil:
		scheme := strings.ToLower(string(p.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		handler = fmt.Sprintf("http-get %s://%s:%s%s", scheme, p.HTTPGet.Host, p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		handler = "tcp-socket :" + p.TCPSocket.Port.String()
	case p.Exec != nil:
		handler = "exec [" + strings.Join(p.Exec.Command, " ") + "]"
	case p.GRPC != nil:
		handler = fmt.Sprintf("grpc :%d", p.GRPC.Port)
	default:
		handler = "no handler"
	}
	// Zero values are the API defaults the server fills in.
	timeout, period, failure := p.TimeoutSeconds, p.PeriodSeconds, p.FailureThreshold
	if timeout == 0 {
		timeout = 1
	}
	if period == 0 {
		period = 10
	}
	if failure == 0 {
		failure = 3
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #failure=%d", handler, p.InitialDelaySeconds, timeout, period, failure)
}

// portMismatch notices the classic of an app told to listen on one port
// (a PORT variable) while its probe checks another.
func portMismatch(c *corev1.Container, p *corev1.Probe) string {
	if p == nil {
		return ""
	}
	var port string
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port.String()
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port.String()
	default:
		return ""
	}
	for _, cp := range c.Ports {
		if cp.Name == port {
			port = fmt.Sprint(cp.ContainerPort)
		}
	}
	for _, e := range c.Env {
		if (e.Name == "PORT" || e.Name == "SERVER_PORT" || e.Name == "HTTP_PORT") && e.Value != "" && e.Value != port {
			return fmt.Sprintf("env %s=%s but the probe checks port %s", e.Name, e.Value, port)
		}
	}
	return ""
}
