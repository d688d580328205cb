package diag

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Diagnose walks the facts through the four steps and ranks what they
// found. It never fails: missing facts make a step incomplete, and when no
// rule matches the diagnosis says so (rule "none") instead of guessing.
// A nil set diagnoses with the built-in catalogue.
func (rs *Rules) Diagnose(f *Facts) *Diagnosis {
	w := newWalk(f)
	d := &Diagnosis{Target: f.Target}

	type ranked struct {
		Finding
		rank, weight, order int
		refines             string
	}
	var all []ranked
	for _, name := range Steps {
		step := Step{Name: name}
		step.Evidence, step.Status = w.stepEvidence(name)
		for _, r := range rs.rules() {
			if r.Step != name {
				continue
			}
			for _, h := range r.Match(w) {
				f := r.finding(w, h)
				rank := r.Rank
				if h.Rank != 0 {
					rank = h.Rank
				}
				all = append(all, ranked{Finding: f, rank: rank, weight: h.Weight, order: len(all), refines: h.Refines})
				if !contains(step.Findings, r.ID) {
					step.Findings = append(step.Findings, r.ID)
				}
				// Context (info) is not a problem of the step.
				if f.Severity > Info {
					step.Status = StatusProblem
				}
			}
		}
		d.Steps = append(d.Steps, step)
	}

	// Findings that only refine another (what the crashed app's last log
	// lines say) are placed right after the finding they refine; the rest
	// rank by how much of the failure they explain, then by severity.
	var primary, refining []ranked
	for _, r := range all {
		if r.refines != "" {
			refining = append(refining, r)
		} else {
			primary = append(primary, r)
		}
	}
	sort.SliceStable(primary, func(i, j int) bool {
		a, b := primary[i], primary[j]
		if (a.Severity == Info) != (b.Severity == Info) {
			return b.Severity == Info
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.weight != b.weight {
			return a.weight > b.weight
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		return a.order < b.order
	})
	placed := make([]bool, len(refining))
	for _, p := range primary {
		d.Findings = append(d.Findings, p.Finding)
		if p.Container == "" {
			continue
		}
		for i, r := range refining {
			if !placed[i] && r.refines == p.Container {
				d.Findings = append(d.Findings, r.Finding)
				placed[i] = true
			}
		}
	}
	for i, r := range refining {
		if !placed[i] {
			d.Findings = append(d.Findings, r.Finding)
		}
	}

	// A healthy pod whose findings are all context (its Deployment's stuck
	// rollout) is ok; the context follows the verdict.
	if len(d.Findings) > 0 && w.f.Workload == nil && w.podHealthyNow() && allInfo(d.Findings) {
		d.Findings = append([]Finding{w.okFinding(d.Steps)}, d.Findings...)
	}
	if len(d.Findings) == 0 {
		if problems := w.unhealthySigns(); len(problems) > 0 {
			d.Findings = []Finding{w.noneFinding(problems)}
		} else {
			d.Findings = []Finding{w.okFinding(d.Steps)}
		}
	}
	first := d.Findings[0]
	d.RootCause = RootCause{Rule: first.Rule, Severity: first.Severity, Summary: first.Summary}
	return d
}

func allInfo(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity != Info {
			return false
		}
	}
	return true
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (w *walk) stepEvidence(name StepName) ([]string, StepStatus) {
	switch name {
	case StepDescribe:
		return w.describeEvidence(), StatusOK
	case StepEvents:
		st := StatusOK
		if w.f.Events.State == Unknown {
			st = StatusIncomplete
		}
		return w.eventsEvidence(), st
	case StepLogs:
		ev := w.logsEvidence()
		if len(w.f.Logs) == 0 {
			if w.pod == nil || !w.anyStarted() {
				return []string{"no container has started yet: there are no logs to read"}, StatusSkipped
			}
			return []string{"no logs were gathered"}, StatusIncomplete
		}
		for _, l := range w.f.Logs {
			if l.State == Unknown {
				return ev, StatusIncomplete
			}
		}
		return ev, StatusOK
	case StepNode:
		if w.pod == nil {
			return []string{"no pod to look at: the node step needs a pod bound to a node"}, StatusSkipped
		}
		if w.f.Node.Name == "" {
			return []string{"pod " + w.pod.Name + " is not scheduled to a node yet"}, StatusSkipped
		}
		st := StatusOK
		if w.f.Node.State == Unknown || w.f.NodeEvents.State == Unknown {
			st = StatusIncomplete
		}
		return w.nodeEvidence(), st
	}
	return nil, StatusSkipped
}

func (w *walk) anyStarted() bool {
	for _, c := range w.cs {
		if c.Status != nil && (c.Status.State.Running != nil || c.Status.State.Terminated != nil ||
			c.Status.LastTerminationState.Terminated != nil) {
			return true
		}
	}
	return false
}

// unhealthySigns lists what makes the target look unwell, for the honest
// "none" answer; empty when it looks healthy.
func (w *walk) unhealthySigns() []string {
	var out []string
	if wl := w.f.Workload; wl != nil {
		if s := workloadShortfall(wl, len(w.f.WorkloadPods)); s != "" {
			out = append(out, s)
		}
	}
	if w.pod != nil {
		out = append(out, PodProblems(w.pod)...)
	}
	healthy := w.podHealthyNow()
	for _, e := range w.evs {
		// A pod that is scheduled, running and ready (or done) has got past
		// whatever its own warnings were about: they are history, shown by
		// okFinding, not signs of a problem.
		if e.Type == corev1.EventTypeWarning && w.recent(e.Last) && !(healthy && e.OnPod) {
			out = append(out, "recent warning: "+w.formatEvent(e))
		}
	}
	return out
}

// podHealthyNow reports whether the examined pod is fine at this moment:
// Succeeded, or scheduled and Running with the Ready condition True and
// nothing in PodProblems.
func (w *walk) podHealthyNow() bool {
	p := w.pod
	if p == nil || len(PodProblems(p)) > 0 {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// history lists what once went wrong with a pod that is healthy now: its
// warning events of any age and its containers' past restarts.
func (w *walk) history() []string {
	if !w.podHealthyNow() {
		return nil
	}
	var out []string
	for _, e := range w.evs {
		if e.OnPod && e.Type == corev1.EventTypeWarning {
			out = append(out, "history (resolved: the pod is "+w.healthWord()+" now): "+w.formatEvent(e))
		}
	}
	for _, c := range w.cs {
		if c.Status == nil || c.Status.RestartCount == 0 {
			continue
		}
		line := fmt.Sprintf("history: %s restarted %d time(s)", c.kind(), c.Status.RestartCount)
		if t := c.Status.LastTerminationState.Terminated; t != nil {
			line += "; " + w.formatTermination(c, t, false)
		}
		out = append(out, line)
	}
	return out
}

func (w *walk) healthWord() string {
	if w.pod.Status.Phase == corev1.PodSucceeded {
		return "Succeeded"
	}
	return "Running and Ready"
}

func (w *walk) noneFinding(signs []string) Finding {
	ns, kind, name := w.vars["Namespace"], w.f.Target.Kind, w.f.Target.Name
	f := Finding{
		Rule:     RuleNone,
		Severity: Warning,
		Summary:  fmt.Sprintf("No known cause matched for %s/%s; the evidence gathered is shown below", kind, name),
		Explanation: "kdoctor checked every rule in its catalogue against the facts it could read and none " +
			"matched. It does not guess: read the evidence of each step, starting with the warnings below.",
		Evidence: signs,
		NextSteps: []string{
			"Read the events and the container states below for a message kdoctor does not know yet.",
			"If the cause turns out to be a common one, report it so a rule can be added.",
		},
		Commands: []string{
			fmt.Sprintf("kubectl describe %s -n %s %s", kind, ns, name),
			fmt.Sprintf("kubectl get events -n %s --field-selector involvedObject.name=%s", ns, name),
		},
		Step: StepDescribe,
	}
	if w.pod != nil && w.pod.Name != name {
		f.Commands = append(f.Commands, fmt.Sprintf("kubectl describe pod -n %s %s", ns, w.pod.Name))
	}
	return f
}

func (w *walk) okFinding(steps []Step) Finding {
	var passed []string
	for _, s := range steps {
		switch s.Status {
		case StatusOK:
			passed = append(passed, string(s.Name)+": "+okText[s.Name])
		case StatusIncomplete:
			passed = append(passed, string(s.Name)+": not fully checked (see the step's evidence)")
		case StatusSkipped:
			passed = append(passed, string(s.Name)+": skipped ("+strings.Join(s.Evidence, "; ")+")")
		}
	}
	passed = append(passed, w.history()...)
	ns, kind, name := w.vars["Namespace"], w.f.Target.Kind, w.f.Target.Name
	summary := fmt.Sprintf("Nothing wrong found with %s/%s", kind, name)
	if w.pod != nil && w.pod.Status.Phase == corev1.PodSucceeded {
		summary = fmt.Sprintf("%s/%s completed successfully", kind, name)
	}
	return Finding{
		Rule:        RuleOK,
		Severity:    Info,
		Summary:     summary,
		Explanation: "Every check of the walk passed; the checks are listed as evidence.",
		Evidence:    passed,
		NextSteps:   []string{"If users still see a problem, look beyond the pod: the Service, Ingress, DNS and the app's own metrics."},
		Commands:    []string{fmt.Sprintf("kubectl get %s -n %s %s -o wide", kind, ns, name)},
		Step:        StepDescribe,
	}
}

var okText = map[StepName]string{
	StepDescribe: "containers running and ready, no waiting or failing state",
	StepEvents:   "no current warning events",
	StepLogs:     "no crash in the logs",
	StepNode:     "node Ready, no pressure, schedulable",
}
