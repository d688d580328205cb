package diag

import (
	"fmt"
	"maps"
	"strings"
	"text/template"
)

// rule is one row of the catalogue table: how to recognise a cause in the
// facts and what to tell the user about it. Rules hold no logic beyond
// matching; the texts are templates filled from the walk's names (namespace,
// pod, node, container) and from the variables the match returns.
type rule struct {
	ID       string
	Severity Severity
	Step     StepName
	// Rank orders findings by how much of the failure they explain: a pod
	// that cannot be scheduled has no image to pull, so scheduling ranks
	// before images, images before crashes, and node conditions, which
	// explain many pods a little, come last.
	Rank int
	// Match returns one hit per occurrence (a container, a Service, a
	// scheduler reason); none when the rule does not apply.
	Match func(w *walk) []hit

	Summary     string
	Explanation string
	NextSteps   []string
	// Commands are kubectl commands that confirm the finding; a line that
	// renders empty is dropped, so a template may guard one with {{if}}.
	Commands []string

	tmpl *ruleTemplates
}

type ruleTemplates struct {
	summary, explanation *template.Template
	next, commands       []*template.Template
}

// hit is one match of a rule.
type hit struct {
	Container string
	Vars      map[string]string
	Evidence  []string
	// Next are next steps specific to this hit, shown before the rule's own.
	Next []string
	// Commands specific to this hit, shown before the rule's own.
	Commands []string
	// Severity, when set, replaces the rule's (a condition that is true now
	// weighs more than a warning event from half an hour ago).
	Severity *Severity
	// Rank, when set, replaces the rule's rank for this hit (a SIGKILL the
	// node's OOM killer explains ranks after the node's memory pressure).
	Rank int
	// Weight orders hits of equal rank: more weight ranks first (a
	// scheduler reason that covers more nodes).
	Weight int
	// Refines names the container whose crash finding this hit explains;
	// such a finding ranks right after it.
	Refines string
}

func sev(s Severity) *Severity { return &s }

func compileRule(r *rule) {
	parse := func(name, text string) *template.Template {
		return template.Must(template.New(r.ID + "/" + name).Option("missingkey=error").Parse(text))
	}
	t := &ruleTemplates{summary: parse("summary", r.Summary), explanation: parse("explanation", r.Explanation)}
	for i, s := range r.NextSteps {
		t.next = append(t.next, parse(fmt.Sprint("next", i), s))
	}
	for i, s := range r.Commands {
		t.commands = append(t.commands, parse(fmt.Sprint("command", i), s))
	}
	r.tmpl = t
}

// render fills a template. A template error is a bug in the rule table; it
// is shown in the output rather than hidden, and the tests look for it.
func render(t *template.Template, vars map[string]string) string {
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		return "(template error: " + err.Error() + ")"
	}
	return strings.TrimSpace(b.String())
}

// finding turns a hit of r into a Finding.
func (r *rule) finding(w *walk, h hit) Finding {
	vars := maps.Clone(w.vars)
	vars["Container"] = h.Container
	maps.Copy(vars, h.Vars)
	f := Finding{
		Rule:        r.ID,
		Severity:    r.Severity,
		Summary:     render(r.tmpl.summary, vars),
		Explanation: render(r.tmpl.explanation, vars),
		Evidence:    h.Evidence,
		Container:   h.Container,
		Step:        r.Step,
		Short:       shortText(r.ID, vars),
	}
	if h.Severity != nil {
		f.Severity = *h.Severity
	}
	f.NextSteps = append(f.NextSteps, h.Next...)
	for _, t := range r.tmpl.next {
		if s := render(t, vars); s != "" {
			f.NextSteps = append(f.NextSteps, s)
		}
	}
	seen := map[string]bool{}
	add := func(c string) {
		if c != "" && !seen[c] {
			seen[c] = true
			f.Commands = append(f.Commands, c)
		}
	}
	for _, c := range h.Commands {
		add(c)
	}
	for _, t := range r.tmpl.commands {
		add(render(t, vars))
	}
	return f
}

// rules is the catalogue table, assembled from the family files.
var rules = func() []*rule {
	var all []*rule
	for _, family := range [][]*rule{
		lifecycleRules, schedulingRules, createRules, imageRules, configRules,
		startRules, crashRules, probeRules, logRules, nodeRules, serviceRules, jobRules,
		platformRules, admissionRules, securityContextRules, topologyRules, initWaitRules, volumeRules,
		usageRules,
	} {
		all = append(all, family...)
	}
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r.ID] {
			panic("diag: duplicate rule " + r.ID)
		}
		seen[r.ID] = true
		compileRule(r)
	}
	return all
}()

// RuleIDs returns the ids of every rule the engine implements.
func RuleIDs() []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}
