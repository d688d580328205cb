package diag

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// The job family: Jobs that gave up, pods stopped by their own deadline,
// and CronJobs that do not start their runs. The reasons and messages are
// those of the Job controller (pkg/controller/job/job_controller.go:
// "Job has reached the specified backoff limit", "Job was active longer
// than specified deadline"), the kubelet (pkg/kubelet/active_deadline.go:
// reason DeadlineExceeded, "Pod was active on the node longer than the
// specified deadline") and the CronJob controller
// (pkg/controller/cronjob/cronjob_controllerv2.go and utils.go: events
// MissSchedule, TooManyMissedTimes, JobAlreadyActive).
var jobRules = []*rule{
	{
		ID: "job.backoff-limit-exceeded", Severity: Error, Step: StepDescribe, Rank: rankRollout,
		Match:   matchJobFailed(batchv1.JobReasonBackoffLimitExceeded),
		Summary: "Job {{.Job}} failed: its pods failed {{.Failed}} time(s), past its backoffLimit of {{.Limit}}{{.PodNote}}",
		Explanation: "A Job retries a failed pod (a new pod with restartPolicy Never, a container restart with " +
			"OnFailure) until backoffLimit failures, then marks itself Failed with reason BackoffLimitExceeded, " +
			"stops its remaining pods and creates no more. The retries failed the same way, so the cause is in the " +
			"failing pod: its exit code and its last log lines (below) say why.{{.CronNote}}",
		NextSteps: []string{
			"Fix what makes the pod fail (see the pod's own finding), then run the Job again: a failed Job never retries by itself{{.Rerun}}.",
			"If the failures are transient, raise spec.backoffLimit; if some exit codes mean \"do not retry\", a podFailurePolicy fails the Job at once instead.",
		},
		Commands: []string{
			"kubectl describe job -n {{.Namespace}} {{.Job}}",
			"kubectl get pods -n {{.Namespace}} -l job-name={{.Job}}",
			"{{if .LogsCmd}}{{.LogsCmd}}{{end}}",
		},
	},
	{
		ID: "job.deadline-exceeded", Severity: Error, Step: StepDescribe, Rank: rankRollout,
		Match:   matchJobFailed(batchv1.JobReasonDeadlineExceeded),
		Summary: "Job {{.Job}} was stopped after running longer than its activeDeadlineSeconds ({{.Deadline}}){{.PodNote}}",
		Explanation: "spec.activeDeadlineSeconds bounds the whole Job, retries included. When it runs out, the Job " +
			"controller marks the Job Failed with reason DeadlineExceeded and deletes its running pods, whatever " +
			"backoffLimit says. The work was too slow or hung (a lock, a dependency that never answers, too much " +
			"data), or the deadline is too tight for it.{{.CronNote}}",
		NextSteps: []string{
			"Read the last pod's log to see where the run stalled; a run that stops logging long before the deadline is hung, not slow.",
			"If the work legitimately takes longer, raise spec.activeDeadlineSeconds (on a CronJob: spec.jobTemplate.spec.activeDeadlineSeconds).",
		},
		Commands: []string{
			"kubectl describe job -n {{.Namespace}} {{.Job}}",
			"kubectl get pods -n {{.Namespace}} -l job-name={{.Job}}",
			"{{if .LogsCmd}}{{.LogsCmd}}{{end}}",
		},
	},
	{
		ID: "pod.deadline-exceeded", Severity: Error, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchPodDeadline,
		Summary: "Pod {{.Pod}} was stopped by the kubelet after running longer than its activeDeadlineSeconds ({{.Deadline}})",
		Explanation: "spec.activeDeadlineSeconds on the pod bounds how long it may be active on its node. When it runs " +
			"out the kubelet kills the containers and marks the pod Failed with reason DeadlineExceeded; the pod is " +
			"not restarted. In a Job this counts as one failed attempt. The run was too slow or hung, or the deadline " +
			"is too tight.",
		NextSteps: []string{
			"Read the log of the stopped run to see how far it got; if it stopped logging long before the deadline, it hung.",
			"If the work legitimately takes longer, raise spec.activeDeadlineSeconds in the pod template.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.activeDeadlineSeconds} {.status.startTime}'",
			"{{if .LogsCmd}}{{.LogsCmd}}{{end}}",
		},
	},
	{
		ID: "cronjob.concurrency-blocked", Severity: Error, Step: StepEvents, Rank: rankCreate + 2,
		Match:   matchCronJobBlocked,
		Summary: "CronJob {{.CronJob}} is skipping its runs: Job {{.Job}} has been running for {{.Running}} and concurrencyPolicy is Forbid",
		Explanation: "With concurrencyPolicy Forbid the CronJob controller does not start a run while the previous " +
			"Job is still active (event JobAlreadyActive). A Job that hangs therefore blocks every later run until " +
			"it ends; nothing times it out unless the job template sets activeDeadlineSeconds. {{.Skipped}}",
		NextSteps: []string{
			"Find out why Job {{.Job}} does not finish (its pod's findings and logs below); delete it to let the next run start.",
			"Set spec.jobTemplate.spec.activeDeadlineSeconds below the schedule's interval so a hung run ends before the next one is due.",
		},
		Commands: []string{
			"kubectl get cronjob -n {{.Namespace}} {{.CronJob}} -o jsonpath='{.spec.concurrencyPolicy} {.status.active[*].name} {.status.lastScheduleTime}'",
			"kubectl describe job -n {{.Namespace}} {{.Job}}",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.kind=CronJob,involvedObject.name={{.CronJob}}",
		},
	},
	{
		ID: "cronjob.missed-schedule", Severity: Warning, Step: StepEvents, Rank: rankCreate + 3,
		Match:   matchCronJobMissed,
		Summary: "CronJob {{.CronJob}} missed its scheduled runs: {{.Why}}",
		Explanation: "The CronJob controller starts a run only within startingDeadlineSeconds of its scheduled time; a " +
			"run it notices later is skipped (event MissSchedule), and past 100 missed times it stops counting and " +
			"starts nothing (event TooManyMissedTimes). Runs are missed when kube-controller-manager was down or " +
			"overloaded, when the clocks of the control plane are skewed, or when startingDeadlineSeconds is shorter " +
			"than the controller's reaction time (keep it above a few minutes).",
		NextSteps: []string{
			"Check that kube-controller-manager is running and healthy, and that the control plane's clocks agree.",
			"Set or raise spec.startingDeadlineSeconds (minutes, not seconds) so a late controller still starts the run.",
			"To run the missed work now: kubectl create job -n {{.Namespace}} --from=cronjob/{{.CronJob}} {{.CronJob}}-manual.",
		},
		Commands: []string{
			"kubectl get cronjob -n {{.Namespace}} {{.CronJob}} -o jsonpath='{.spec.schedule} {.spec.startingDeadlineSeconds} {.status.lastScheduleTime}'",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.kind=CronJob,involvedObject.name={{.CronJob}}",
		},
	},
}

// examinedJob is the Job the diagnosis is about: the target Job, the Job
// of the target pod, or the Job a CronJob target examined (its first child).
func (w *walk) examinedJob() *Workload {
	if wl := w.f.Workload; wl != nil {
		switch wl.Kind {
		case "Job":
			return wl
		case "CronJob":
			for i := range w.f.Children {
				if w.f.Children[i].Kind == "Job" {
					return &w.f.Children[i]
				}
			}
			return nil
		}
	}
	for i := range w.f.Owners {
		if w.f.Owners[i].Kind == "Job" {
			return &w.f.Owners[i]
		}
	}
	return nil
}

// jobFailure returns the condition that says the Job failed: Failed, or the
// interim FailureTarget the controller sets first (Kubernetes ≥ 1.31) while
// it stops the remaining pods.
func jobFailure(j *batchv1.Job) *batchv1.JobCondition {
	var target *batchv1.JobCondition
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			return c
		case batchv1.JobFailureTarget:
			target = c
		}
	}
	return target
}

// JobFailed reports whether the Job has failed (or is failing: the
// controller set FailureTarget and is stopping its pods).
func JobFailed(j *batchv1.Job) bool { return jobFailure(j) != nil }

// jobRank puts the Job's failure first when a Job or CronJob is the target
// (it is the answer, the pod the reason) and after the pod's own cause when
// the pod is.
func (w *walk) jobRank() int {
	if w.f.Workload != nil && (w.f.Workload.Kind == "Job" || w.f.Workload.Kind == "CronJob") {
		return rankCreate + 1 // pods that were never created explain it better
	}
	return 0
}

func matchJobFailed(reason string) func(w *walk) []hit {
	return func(w *walk) []hit {
		wl := w.examinedJob()
		if wl == nil || wl.Job == nil {
			return nil
		}
		j := wl.Job
		c := jobFailure(j)
		if c == nil || c.Reason != reason {
			return nil
		}
		vars := map[string]string{
			"Job": j.Name, "Failed": itoa(j.Status.Failed), "Limit": itoa(replicas6(j.Spec.BackoffLimit)),
			"Deadline": "not set", "PodNote": "", "CronNote": "", "Rerun": "", "LogsCmd": "",
		}
		if d := j.Spec.ActiveDeadlineSeconds; d != nil {
			vars["Deadline"] = shortAge(time.Duration(*d) * time.Second)
		}
		h := hit{Rank: w.jobRank(), Vars: vars}
		line := fmt.Sprintf("job %s condition %s=True (%s): %s", j.Name, c.Type, c.Reason, oneLine(c.Message))
		if !c.LastTransitionTime.IsZero() {
			line += ", " + w.age(c.LastTransitionTime.Time)
		}
		h.Evidence = append(h.Evidence, line)
		counts := fmt.Sprintf("job %s: %d failed, %d succeeded, %d active; backoffLimit %d, restartPolicy %s",
			j.Name, j.Status.Failed, j.Status.Succeeded, j.Status.Active, replicas6(j.Spec.BackoffLimit), orDefault(string(j.Spec.Template.Spec.RestartPolicy), "Never"))
		h.Evidence = append(h.Evidence, counts)
		if reason == batchv1.JobReasonDeadlineExceeded && j.Spec.ActiveDeadlineSeconds != nil && j.Status.StartTime != nil {
			end := w.now
			if !c.LastTransitionTime.IsZero() {
				end = c.LastTransitionTime.Time
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("job %s: started %s, activeDeadlineSeconds %d, stopped after %s",
				j.Name, w.age(j.Status.StartTime.Time), *j.Spec.ActiveDeadlineSeconds, duration.HumanDuration(end.Sub(j.Status.StartTime.Time))))
		}
		for _, e := range w.objectEvents("job/"+j.Name, staleAfter, reason) {
			h.Evidence = append(h.Evidence, w.formatEvent(e))
		}
		if cj := ownerCronJob(w, wl); cj != "" {
			vars["CronNote"] = " Job " + j.Name + " is a run of CronJob " + cj + ": the next run starts on schedule, and fails the same way until the cause is fixed."
			vars["Rerun"] = "; to run it now: kubectl create job -n " + w.vars["Namespace"] + " --from=cronjob/" + cj + " " + cj + "-manual"
		} else {
			vars["Rerun"] = " (delete and recreate it: a Job's pod template cannot be changed)"
		}
		w.failingPodEvidence(&h, j)
		return []hit{h}
	}
}

// failingPodEvidence names the examined pod's failure: the container that
// failed, its exit code and the last lines of its log, with the command
// that shows the whole log.
func (w *walk) failingPodEvidence(h *hit, j *batchv1.Job) {
	p := w.pod
	if p == nil || !podOwnedBy(p, j.Name, string(j.UID)) {
		if p == nil {
			h.Evidence = append(h.Evidence, "no pod of job "+j.Name+" is left to examine (failed pods are deleted with the Job or by the TTL controller)")
		}
		return
	}
	if p.Status.Reason != "" {
		h.Evidence = append(h.Evidence, fmt.Sprintf("pod %s: phase %s, reason %s: %s", p.Name, p.Status.Phase, p.Status.Reason, oneLine(p.Status.Message)))
		h.Vars["PodNote"] = fmt.Sprintf("; pod %s: %s", p.Name, p.Status.Reason)
	}
	for _, c := range w.mainContainers() {
		t, current := c.lastTermination()
		if t == nil || t.ExitCode == 0 {
			continue
		}
		h.Evidence = append(h.Evidence, "failing pod "+p.Name+": "+w.formatTermination(c, t, current))
		if h.Vars["PodNote"] == "" {
			h.Vars["PodNote"] = fmt.Sprintf("; pod %s, container %s exited with code %d (%s)", p.Name, c.Name, t.ExitCode, ExitCodeMeaning(t.ExitCode))
		}
		lines, _ := w.crashLog(c, !current)
		h.Evidence = append(h.Evidence, lines...)
		flag := ""
		if !current {
			flag = " --previous"
		}
		h.Vars["LogsCmd"] = fmt.Sprintf("kubectl logs -n %s %s -c %s%s", p.Namespace, p.Name, c.Name, flag)
		return
	}
	if h.Vars["LogsCmd"] == "" && len(p.Spec.Containers) > 0 {
		h.Vars["LogsCmd"] = fmt.Sprintf("kubectl logs -n %s %s -c %s", p.Namespace, p.Name, p.Spec.Containers[0].Name)
	}
}

func podOwnedBy(p *corev1.Pod, name, uid string) bool {
	for _, r := range p.OwnerReferences {
		if r.Kind == "Job" && r.Name == name && (uid == "" || r.UID == "" || string(r.UID) == uid) {
			return true
		}
	}
	return false
}

// ownerCronJob names the CronJob that owns the Job, when it is known.
func ownerCronJob(w *walk, job *Workload) string {
	if wl := w.f.Workload; wl != nil && wl.Kind == "CronJob" {
		return wl.Name
	}
	if job.Job != nil {
		for _, r := range job.Job.OwnerReferences {
			if r.Kind == "CronJob" && r.Controller != nil && *r.Controller {
				return r.Name
			}
		}
	}
	return ""
}

// scheduleWindow is how far back a CronJob's schedule events count: a
// daily or hourly schedule misses one run a day or an hour, and each miss
// is its own event (its message names the scheduled time).
const scheduleWindow = 24 * time.Hour

// objectEvents returns the events of the last window about one object
// ("job/NAME") with one of reasons, oldest first.
func (w *walk) objectEvents(object string, window time.Duration, reasons ...string) []event {
	var out []event
	for _, e := range w.evs {
		if e.Object == object && (e.Last.IsZero() || w.now.Sub(e.Last) <= window) && (len(reasons) == 0 || oneOf(e.Reason, reasons...)) {
			out = append(out, e)
		}
	}
	return out
}

func matchPodDeadline(w *walk) []hit {
	p := w.pod
	if p == nil || p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" {
		return nil
	}
	h := hit{Vars: map[string]string{"Deadline": "unknown", "LogsCmd": ""}}
	h.Evidence = append(h.Evidence, fmt.Sprintf("pod %s: phase Failed, reason DeadlineExceeded: %s", p.Name, oneLine(p.Status.Message)))
	if d := p.Spec.ActiveDeadlineSeconds; d != nil {
		h.Vars["Deadline"] = shortAge(time.Duration(*d) * time.Second)
		line := fmt.Sprintf("pod %s: spec.activeDeadlineSeconds %d", p.Name, *d)
		if p.Status.StartTime != nil {
			line += ", started " + w.age(p.Status.StartTime.Time)
		}
		h.Evidence = append(h.Evidence, line)
	}
	for _, c := range w.mainContainers() {
		if c.Status == nil {
			continue
		}
		h.Evidence = append(h.Evidence, w.formatState(c))
		t, current := c.lastTermination()
		lines, _ := w.crashLog(c, t != nil && !current)
		h.Evidence = append(h.Evidence, lines...)
		if h.Vars["LogsCmd"] == "" {
			flag := ""
			if t != nil && !current {
				flag = " --previous"
			}
			h.Vars["LogsCmd"] = fmt.Sprintf("kubectl logs -n %s %s -c %s%s", p.Namespace, p.Name, c.Name, flag)
		}
	}
	h.Evidence = append(h.Evidence, w.formatEvents(w.podEvents("DeadlineExceeded"))...)
	return []hit{h}
}

// cronSchedule parses a CronJob's schedule as the CronJob controller does
// (robfig/cron's standard parser, with spec.timeZone applied). Without
// spec.timeZone the controller uses kube-controller-manager's zone, which
// kdoctor cannot see; it assumes UTC, the zone of most control planes.
func cronSchedule(cj *batchv1.CronJob) (sched cron.Schedule, err error) {
	// The parser panics on some malformed specs (the controller wraps it
	// the same way: ParseCronScheduleWithPanicRecovery).
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("unparseable schedule %q: %v", cj.Spec.Schedule, r)
		}
	}()
	spec := cj.Spec.Schedule
	if tz := cj.Spec.TimeZone; tz != nil && *tz != "" && !strings.Contains(spec, "TZ=") {
		spec = "CRON_TZ=" + *tz + " " + spec
	}
	return cron.ParseStandard(spec)
}

// maxDue bounds the walk over schedule times; the controller itself stops
// counting past 100.
const maxDue = 101

// dueTimes returns how many schedule times fall in (after, until] (at most
// maxDue) and the latest of them.
func dueTimes(s cron.Schedule, after, until time.Time) (n int, last time.Time) {
	for t := s.Next(after); !t.IsZero() && !t.After(until) && n < maxDue; t = s.Next(t) {
		n++
		last = t
	}
	return n, last
}

// cronEarliest is where the controller starts counting unmet schedule
// times: the last scheduled run, else the CronJob's creation, moved up to
// now - startingDeadlineSeconds when that is later.
func cronEarliest(cj *batchv1.CronJob, now time.Time) time.Time {
	t := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		t = cj.Status.LastScheduleTime.Time
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil {
		if d := now.Add(-time.Duration(*sds) * time.Second); d.After(t) {
			t = d
		}
	}
	return t
}

// controllerSlack is how late the CronJob controller may be before a due
// run that has not started counts as missed: it syncs every CronJob at its
// scheduled time, give or take a resync.
const controllerSlack = 2 * time.Minute

// activeJob returns the CronJob's oldest active Job among the facts' jobs,
// or, when that Job was not read, a Workload naming it.
func (w *walk) activeJob(cj *batchv1.CronJob) (*Workload, string) {
	if len(cj.Status.Active) == 0 {
		return nil, ""
	}
	names := make([]string, len(cj.Status.Active))
	for i, a := range cj.Status.Active {
		names[i] = a.Name
	}
	var found []*Workload
	for i := range w.f.Children {
		c := &w.f.Children[i]
		if c.Job != nil && oneOf(c.Name, names...) {
			found = append(found, c)
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		return found[i].Job.CreationTimestamp.Before(&found[j].Job.CreationTimestamp)
	})
	if len(found) > 0 {
		return found[0], names[0]
	}
	return nil, names[0]
}

func matchCronJobBlocked(w *walk) []hit {
	var hits []hit
	for _, wl := range w.workloads("CronJob") {
		cj := wl.CronJob
		if cj == nil || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			continue
		}
		job, name := w.activeJob(cj)
		if name == "" {
			continue
		}
		evs := w.objectEvents("cronjob/"+cj.Name, staleAfter, "JobAlreadyActive")
		started := time.Time{}
		if job != nil && job.Job != nil {
			started = job.Job.CreationTimestamp.Time
			if job.Job.Status.StartTime != nil {
				started = job.Job.Status.StartTime.Time
			}
		}
		skipped, lastDue := 0, time.Time{}
		if s, err := cronSchedule(cj); err == nil && !started.IsZero() {
			// Runs due after the active Job started, and overdue by more
			// than the controller's slack, were skipped for it.
			skipped, lastDue = dueTimes(s, started, w.now.Add(-controllerSlack))
		}
		if len(evs) == 0 && skipped == 0 {
			continue // the active run is not in the way of any other yet
		}
		// Diagnosing a pod, the CronJob's state matters only when the pod
		// is the run in the way.
		if wl != w.f.Workload && (w.pod == nil || !podOwnedBy(w.pod, name, "")) {
			continue
		}
		h := hit{Vars: map[string]string{"CronJob": cj.Name, "Job": name, "Running": "an unknown time", "Skipped": ""}}
		line := fmt.Sprintf("cronjob %s: schedule %q, concurrencyPolicy Forbid, active job %s", cj.Name, cj.Spec.Schedule, name)
		if !started.IsZero() {
			h.Vars["Running"] = w.since(started)
			line += " started " + w.age(started)
		}
		h.Evidence = append(h.Evidence, line)
		if skipped > 0 {
			more := ""
			if skipped >= maxDue {
				more = "more than "
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("cronjob %s: %s%d scheduled run(s) due since job %s started, the latest %s (%s)",
				cj.Name, more, min(skipped, maxDue-1), name, w.age(lastDue), lastDue.UTC().Format(time.RFC3339)))
			h.Vars["Skipped"] = fmt.Sprintf("So far %s%d run(s) were due while it ran.", more, min(skipped, maxDue-1))
		}
		h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
		if cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds == nil {
			h.Evidence = append(h.Evidence, "cronjob "+cj.Name+": the job template sets no activeDeadlineSeconds, so a hung run is never stopped")
		}
		if wl == w.f.Workload {
			h.Rank = rankCreate + 1
		} else {
			h.Rank = rankRollout // after the pod's own cause, if it has one
		}
		hits = append(hits, h)
	}
	return hits
}

func matchCronJobMissed(w *walk) []hit {
	var hits []hit
	for _, wl := range w.workloads("CronJob") {
		cj := wl.CronJob
		// Runs that never started say nothing about a pod of an earlier
		// run: only a diagnosis of the CronJob reports them.
		if cj == nil || wl != w.f.Workload {
			continue
		}
		evs := w.objectEvents("cronjob/"+cj.Name, scheduleWindow, "MissSchedule", "TooManyMissedTimes")
		h := hit{Vars: map[string]string{"CronJob": cj.Name}}
		var why string
		tooMany := false
		for _, e := range evs {
			if e.Reason == "TooManyMissedTimes" {
				tooMany = true
			}
		}
		suspended := cj.Spec.Suspend != nil && *cj.Spec.Suspend
		blocked := cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0
		line := fmt.Sprintf("cronjob %s: schedule %q", cj.Name, cj.Spec.Schedule)
		if tz := cj.Spec.TimeZone; tz != nil {
			line += ", timeZone " + *tz
		}
		if sds := cj.Spec.StartingDeadlineSeconds; sds != nil {
			line += fmt.Sprintf(", startingDeadlineSeconds %d", *sds)
		}
		if cj.Status.LastScheduleTime != nil {
			line += ", last scheduled " + w.age(cj.Status.LastScheduleTime.Time)
		} else {
			line += ", never scheduled"
		}
		missed, lastDue := 0, time.Time{}
		if s, err := cronSchedule(cj); err == nil && !suspended && !blocked {
			missed, lastDue = dueTimes(s, cronEarliest(cj, w.now), w.now.Add(-controllerSlack))
		}
		switch {
		case tooMany:
			why = "more than 100 start times were missed, so the controller starts none (TooManyMissedTimes)"
			h.Severity = sev(Error)
		case len(evs) > 0:
			last, _ := newest(evs)
			why = fmt.Sprintf("the controller reached %d scheduled run(s) too late and skipped them (MissSchedule), the latest %s", len(evs), w.age(last.Last))
		case missed > 0:
			// The events expire after an hour; the status still shows runs
			// that were due and did not start.
			why = fmt.Sprintf("%d run(s) were due since the last one and none started, the latest due %s", min(missed, maxDue-1), w.age(lastDue))
		default:
			continue
		}
		h.Vars["Why"] = why
		h.Evidence = append(h.Evidence, line)
		if missed > 0 {
			h.Evidence = append(h.Evidence, fmt.Sprintf("cronjob %s: %d scheduled run(s) due and not started, the latest at %s",
				cj.Name, min(missed, maxDue-1), lastDue.UTC().Format(time.RFC3339)))
		}
		h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
		if wl == w.f.Workload {
			h.Rank = rankCreate + 1
		}
		hits = append(hits, h)
	}
	return hits
}

// CronJobLate reports why a CronJob is not starting its runs at now, from
// its own status alone (no events): a Forbid CronJob whose active Job is
// past the next scheduled run, or runs due since the last one that did not
// start. Empty when it runs on time, is suspended, or its schedule does not
// parse.
func CronJobLate(cj *batchv1.CronJob, activeSince time.Time, now time.Time) string {
	s, err := cronSchedule(cj)
	if err != nil || (cj.Spec.Suspend != nil && *cj.Spec.Suspend) {
		return ""
	}
	if len(cj.Status.Active) > 0 {
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || activeSince.IsZero() {
			return ""
		}
		if n, _ := dueTimes(s, activeSince, now.Add(-controllerSlack)); n > 0 {
			return fmt.Sprintf("cronjob %s: %d run(s) skipped behind active job %s (concurrencyPolicy Forbid)", cj.Name, n, cj.Status.Active[0].Name)
		}
		return ""
	}
	if n, _ := dueTimes(s, cronEarliest(cj, now), now.Add(-controllerSlack)); n > 0 {
		return fmt.Sprintf("cronjob %s: %d scheduled run(s) did not start", cj.Name, n)
	}
	return ""
}

func replicas6(p *int32) int32 {
	if p == nil {
		return 6 // the API server's default backoffLimit
	}
	return *p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
