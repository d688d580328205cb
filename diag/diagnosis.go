package diag

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity ranks how badly a finding hurts the target.
type Severity int

// Severities, least severe first.
const (
	Info Severity = iota
	Warning
	Error
	Critical
)

var severityNames = [...]string{"info", "warning", "error", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the severity's name, so JSON output reads "error", not 2.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// StepName names one of the four steps of the walk.
type StepName string

// The steps, in the order they run.
const (
	StepDescribe StepName = "describe"
	StepEvents   StepName = "events"
	StepLogs     StepName = "logs"
	StepNode     StepName = "node"
)

// Steps lists the steps in order.
var Steps = []StepName{StepDescribe, StepEvents, StepLogs, StepNode}

// StepStatus says how a step went.
type StepStatus string

// Step statuses.
const (
	// StatusOK: the step looked and found nothing wrong.
	StatusOK StepStatus = "ok"
	// StatusProblem: the step produced at least one finding.
	StatusProblem StepStatus = "problem"
	// StatusIncomplete: part of what the step needed could not be read
	// (forbidden, not in the dump); it says so in its evidence.
	StatusIncomplete StepStatus = "incomplete"
	// StatusSkipped: the step had nothing to look at (no node yet, no
	// container ever started).
	StatusSkipped StepStatus = "skipped"
)

// Step is one step of the walk: what it looked at and what it concluded.
type Step struct {
	Name   StepName   `json:"name"`
	Status StepStatus `json:"status"`
	// Evidence are the lines the step looked at, verbatim where they come
	// from the API (event messages, waiting reasons, log lines).
	Evidence []string `json:"evidence"`
	// Findings are the rule ids this step produced.
	Findings []string `json:"findings"`
}

// Finding is one conclusion, tied to a catalogue rule.
type Finding struct {
	// Rule is the stable rule id from the catalogue ("crash.oom-killed").
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Summary is one line a junior can act on.
	Summary string `json:"summary"`
	// Explanation says why this happens.
	Explanation string `json:"explanation"`
	// Evidence are the lines that triggered the rule.
	Evidence []string `json:"evidence"`
	// NextSteps are concrete fixes and checks.
	NextSteps []string `json:"nextSteps"`
	// Commands are kubectl commands, real names filled in, that confirm it.
	Commands []string `json:"commands"`
	// Container names the container concerned, when there is one.
	Container string `json:"container,omitempty"`
	// Step is the step that produced the finding.
	Step StepName `json:"step"`
	// Short names the cause in a few words, for the tree's one-line cause.
	Short string `json:"-"`
}

// RootCause is the short form of the first finding.
type RootCause struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
}

// Diagnosis is the result of walking one target.
type Diagnosis struct {
	Target    Target    `json:"target"`
	RootCause RootCause `json:"rootCause"`
	// Findings are ranked: the first is the root cause.
	Findings []Finding `json:"findings"`
	// Steps are the four steps in order.
	Steps []Step `json:"steps"`
}

// Rule ids that are not catalogue rules but outcomes of the walk.
const (
	// RuleOK: the target looked healthy; the finding lists the checks passed.
	RuleOK = "ok"
	// RuleNone: the target looks unhealthy but no rule matched.
	RuleNone = "none"
)

// Healthy reports whether the diagnosis found nothing wrong.
func (d *Diagnosis) Healthy() bool { return d.RootCause.Rule == RuleOK }

// Has reports whether a finding with the rule id is present.
func (d *Diagnosis) Has(rule string) bool {
	for _, f := range d.Findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

// MarshalJSON keeps empty lists as [] so the JSON shape is stable.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	p := plain(s)
	p.Evidence = nonNil(p.Evidence)
	p.Findings = nonNil(p.Findings)
	return json.Marshal(p)
}

// MarshalJSON keeps empty lists as [] so the JSON shape is stable.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	p := plain(f)
	p.Evidence = nonNil(p.Evidence)
	p.NextSteps = nonNil(p.NextSteps)
	p.Commands = nonNil(p.Commands)
	return json.Marshal(p)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// String is a one-line form for logs and test failures.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s", f.Rule, f.Severity, f.Summary)
	return b.String()
}
