package diag

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	corev1 "k8s.io/api/core/v1"
)

// TeamRule is one rule of a team's rules file, already decoded (package
// teamrules reads the file; diag does no I/O). It matches when every
// matcher it sets matches, and renders its texts with the same template
// variables as the built-in rules.
type TeamRule struct {
	// ID is "<prefix>.<name>"; the prefix is the team's own, never a
	// built-in family.
	ID       string
	Severity Severity
	// Step is the step the finding is listed under; empty infers it from
	// the matchers (see InferStep).
	Step StepName
	// Rank places the rule among the built-ins: a built-in family ("crash")
	// or a built-in rule id ("crash.exit-error"). Empty takes the default
	// of its step (see DefaultRankOf).
	Rank string

	Summary     string
	Explanation string
	NextSteps   []string
	Commands    []string

	Match TeamMatch
}

// TeamMatch holds a team rule's matchers; the zero value of each means
// "not given". Container matchers (the waiting reason, the last
// termination's reason and exit code, the previous log) must all hold for
// the same container.
type TeamMatch struct {
	WaitingReason    string
	TerminatedReason string
	ExitCode         *int32
	// EventReason and EventMessage match one recent event of the pod or of
	// its owners (both when both are given).
	EventReason  string
	EventMessage *regexp.Regexp
	// NodeConditionType and NodeConditionStatus match a condition of the
	// pod's node ("MemoryPressure", "True").
	NodeConditionType   string
	NodeConditionStatus corev1.ConditionStatus
	// PreviousLog matches a line of the log of the container's last
	// terminated instance (kubectl logs --previous).
	PreviousLog *regexp.Regexp
}

func (m *TeamMatch) container() bool {
	return m.WaitingReason != "" || m.TerminatedReason != "" || m.ExitCode != nil || m.PreviousLog != nil
}

func (m *TeamMatch) event() bool { return m.EventReason != "" || m.EventMessage != nil }

func (m *TeamMatch) empty() bool { return !m.container() && !m.event() && m.NodeConditionType == "" }

// InferStep is the step a team rule without an explicit step is listed
// under: the step that reads its most specific matcher (logs, then events,
// then describe for container states, then node).
func (m *TeamMatch) InferStep() StepName {
	switch {
	case m.PreviousLog != nil:
		return StepLogs
	case m.event():
		return StepEvents
	case m.container():
		return StepDescribe
	}
	return StepNode
}

// DefaultRankOf is the placement of a team rule that does not choose one:
// with the node family for rules listed under the node step, else with the
// crash family (the app failed in a way the team recognises).
func DefaultRankOf(step StepName) string {
	if step == StepNode {
		return "node"
	}
	return "crash"
}

// TeamRuleError says which rule (index in the file) and which field of it
// is wrong, so the reader of the file can name the line.
type TeamRuleError struct {
	Rule  int
	Field string
	Err   error
}

func (e *TeamRuleError) Error() string {
	return fmt.Sprintf("rules[%d].%s: %v", e.Rule, e.Field, e.Err)
}

func (e *TeamRuleError) Unwrap() error { return e.Err }

// teamWeight puts a team rule's hit before the built-in hits of the same
// rank: a team names its own failure signatures more precisely than a
// generic rule of that family does.
const teamWeight = 1 << 30

// Rules is a rule set: the built-in catalogue, plus a team's rules when
// built with NewRules. The zero value and nil mean the built-ins alone.
type Rules struct {
	list []*rule
	team map[string]*TeamRule
}

var builtinRules = &Rules{list: rules}

// BuiltinRules returns the rule set of the built-in catalogue.
func BuiltinRules() *Rules { return builtinRules }

func (rs *Rules) rules() []*rule {
	if rs == nil || rs.list == nil {
		return rules
	}
	return rs.list
}

// Diagnose diagnoses with the built-in catalogue alone.
func Diagnose(f *Facts) *Diagnosis { return builtinRules.Diagnose(f) }

// builtinFamilies are the id prefixes of the built-in rules, with the
// smallest rank of each: a team rule placed "with crash" ranks there.
func builtinFamilies() map[string]int {
	fam := map[string]int{}
	for _, r := range rules {
		p := family(r.ID)
		if rank, ok := fam[p]; !ok || r.Rank < rank {
			fam[p] = r.Rank
		}
	}
	return fam
}

func family(id string) string {
	p, _, _ := strings.Cut(id, ".")
	return p
}

var teamID = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+(?:[.-][a-z0-9]+)*$`)

// walkVars are the template variables every rule may use.
var walkVars = []string{"Namespace", "Kind", "Name", "Target", "Pod", "Node", "Container"}

// NewRules checks the team rules and returns the built-in catalogue with
// them added. Any error is a *TeamRuleError naming the rule and field; on
// error nothing is returned, never a partial set.
func NewRules(team []TeamRule) (*Rules, error) {
	fam := builtinFamilies()
	builtinRank := map[string]int{}
	for _, r := range rules {
		builtinRank[r.ID] = r.Rank
	}
	rs := &Rules{list: slices.Clone(rules), team: map[string]*TeamRule{}}
	for i := range team {
		t := team[i]
		bad := func(field, format string, args ...any) error {
			return &TeamRuleError{Rule: i, Field: field, Err: fmt.Errorf(format, args...)}
		}
		switch {
		case !teamID.MatchString(t.ID):
			return nil, bad("id", "%q is not <prefix>.<name> in lower case (like team.db-password-rejected)", t.ID)
		case t.ID == RuleOK || t.ID == RuleNone:
			return nil, bad("id", "%q is a built-in outcome", t.ID)
		}
		if _, ok := builtinRank[t.ID]; ok {
			return nil, bad("id", "%q is a built-in rule; give team rules your own prefix (like team.)", t.ID)
		}
		if _, ok := fam[family(t.ID)]; ok {
			return nil, bad("id", "prefix %q is a built-in family; give team rules your own prefix (like team.)", family(t.ID)+".")
		}
		if rs.team[t.ID] != nil {
			return nil, bad("id", "%q is defined twice", t.ID)
		}
		if t.Severity < Info || t.Severity > Critical {
			return nil, bad("severity", "unknown severity %d", t.Severity)
		}
		if t.Match.empty() {
			return nil, bad("match", "give at least one matcher")
		}
		if t.Step == "" {
			t.Step = t.Match.InferStep()
		} else if !slices.Contains(Steps, t.Step) {
			return nil, bad("step", "unknown step %q (use describe, events, logs or node)", t.Step)
		}
		if t.Rank == "" {
			t.Rank = DefaultRankOf(t.Step)
		}
		rank, ok := fam[t.Rank]
		if !ok {
			if rank, ok = builtinRank[t.Rank]; !ok {
				return nil, bad("rank", "%q is neither a built-in family (%s) nor a built-in rule id", t.Rank, strings.Join(sortedKeys(fam), ", "))
			}
		}
		vars, err := t.Match.vars()
		if err != nil {
			return nil, bad(err.field, "%v", err.err)
		}
		r := &rule{
			ID: t.ID, Severity: t.Severity, Step: t.Step, Rank: rank,
			Summary: t.Summary, Explanation: t.Explanation, NextSteps: t.NextSteps, Commands: t.Commands,
		}
		if strings.TrimSpace(t.Summary) == "" {
			return nil, bad("summary", "must not be empty")
		}
		if field, err := compileTeamTemplates(r, vars); err != nil {
			return nil, bad(field, "%v", err)
		}
		m := t.Match
		r.Match = func(w *walk) []hit { return m.hits(w) }
		rs.team[t.ID] = &t
		rs.list = append(rs.list, r)
	}
	return rs, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type fieldErr struct {
	field string
	err   error
}

// vars lists the template variables a hit of this match fills: the
// walk's, one per matcher given, and the named groups of its regexps.
func (m *TeamMatch) vars() (map[string]string, *fieldErr) {
	v := map[string]string{}
	for _, k := range walkVars {
		v[k] = "x"
	}
	if m.WaitingReason != "" {
		v["WaitingReason"], v["WaitingMessage"] = "x", "x"
	}
	if m.TerminatedReason != "" || m.ExitCode != nil {
		v["TerminatedReason"], v["ExitCode"], v["ExitMeaning"] = "x", "x", "x"
	}
	if m.event() {
		v["EventReason"], v["EventMessage"] = "x", "x"
	}
	if m.NodeConditionType != "" {
		v["ConditionType"], v["ConditionStatus"], v["ConditionMessage"] = "x", "x", "x"
	}
	if m.PreviousLog != nil {
		v["LogLine"], v["PreviousFlag"] = "x", "x"
	}
	fixed := maps.Clone(v)
	for _, re := range []struct {
		field string
		re    *regexp.Regexp
	}{{"match.event.message", m.EventMessage}, {"match.previousLog", m.PreviousLog}} {
		if re.re == nil {
			continue
		}
		for _, name := range re.re.SubexpNames() {
			if name == "" {
				continue
			}
			if _, ok := fixed[name]; ok {
				return nil, &fieldErr{re.field, fmt.Errorf("group name %q is a variable kdoctor fills itself; rename the group", name)}
			}
			v[name] = "x"
		}
	}
	return v, nil
}

// maxTemplateOutput bounds what one template may render while it is
// checked: a file is configuration, not a program that may run away.
const maxTemplateOutput = 64 << 10

type cappedWriter struct{ n int }

var errTooLong = errors.New("renders more than 64 KiB")

func (c *cappedWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	if c.n > maxTemplateOutput {
		return 0, errTooLong
	}
	return len(p), nil
}

// compileTeamTemplates parses the rule's texts and renders each once with
// every variable the rule can fill, so a misspelt variable is an error when
// the file is loaded, not a "(template error …)" in an incident.
func compileTeamTemplates(r *rule, vars map[string]string) (field string, err error) {
	parse := func(field, text string) (*template.Template, error) {
		t, err := template.New(r.ID + "/" + field).Option("missingkey=error").Funcs(teamFuncs).Parse(text)
		if err != nil {
			return nil, err
		}
		// Every {{.Name}}, in every branch, must be a variable the rule
		// fills: rendering once only visits the branches taken.
		if name := unknownField(t.Tree.Root, vars); name == "range" {
			return nil, errors.New("{{range}} is not supported: the variables are text")
		} else if name != "" {
			return nil, fmt.Errorf("{{.%s}} is not a variable this rule fills (it has: %s)", name, strings.Join(sortedVarNames(vars), ", "))
		}
		if err := t.Execute(&cappedWriter{}, vars); err != nil {
			return nil, err
		}
		return t, nil
	}
	tm := &ruleTemplates{}
	if tm.summary, err = parse("summary", r.Summary); err != nil {
		return "summary", err
	}
	if tm.explanation, err = parse("explanation", r.Explanation); err != nil {
		return "explanation", err
	}
	for i, s := range r.NextSteps {
		t, err := parse(fmt.Sprintf("nextSteps[%d]", i), s)
		if err != nil {
			return fmt.Sprintf("nextSteps[%d]", i), err
		}
		tm.next = append(tm.next, t)
	}
	for i, s := range r.Commands {
		t, err := parse(fmt.Sprintf("commands[%d]", i), s)
		if err != nil {
			return fmt.Sprintf("commands[%d]", i), err
		}
		tm.commands = append(tm.commands, t)
	}
	r.tmpl = tm
	return "", nil
}

// teamFuncs replaces printf with one that refuses huge widths and
// precisions ("%999999999d" would allocate a gigabyte per finding).
var teamFuncs = template.FuncMap{"printf": func(format string, args ...any) (string, error) {
	if err := boundedFormat(format); err != nil {
		return "", err
	}
	return fmt.Sprintf(format, args...), nil
}}

// boundedFormat refuses a printf format whose verbs take their width from
// an argument (*) or ask for one of more than three digits.
func boundedFormat(format string) error {
	for i := strings.IndexByte(format, '%'); i >= 0; {
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[j]) >= 0 {
			j++
		}
		if spec := format[i+1 : j]; strings.Contains(spec, "*") || longNumber.MatchString(spec) {
			return fmt.Errorf("printf width or precision %q is too large", spec)
		}
		next := strings.IndexByte(format[j:], '%')
		if next < 0 {
			break
		}
		i = j + next
	}
	return nil
}

var longNumber = regexp.MustCompile(`\d{4}`)

// unknownField returns the first field of the template's data that vars
// lacks, looking into every branch, pipeline and argument.
func unknownField(n parse.Node, vars map[string]string) string {
	check := func(ident []string) string {
		if len(ident) > 0 {
			if _, ok := vars[ident[0]]; !ok {
				return ident[0]
			}
		}
		return ""
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if s := unknownField(c, vars); s != "" {
				return s
			}
		}
	case *parse.ActionNode:
		return unknownField(n.Pipe, vars)
	case *parse.PipeNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Cmds {
			if s := unknownField(c, vars); s != "" {
				return s
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if s := unknownField(a, vars); s != "" {
				return s
			}
		}
	case *parse.FieldNode:
		return check(n.Ident)
	case *parse.ChainNode:
		return unknownField(n.Node, vars)
	case *parse.VariableNode:
		// $.Name reads the data too; $x.Name reads a variable's value.
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return check(n.Ident[1:])
		}
	case *parse.IfNode:
		return unknownBranch(&n.BranchNode, vars)
	case *parse.RangeNode:
		// The variables are text: nothing to range over but a number,
		// and a number only makes a template run long.
		return "range"
	case *parse.WithNode:
		return unknownBranch(&n.BranchNode, vars)
	case *parse.TemplateNode:
		return unknownField(n.Pipe, vars)
	}
	return ""
}

func unknownBranch(b *parse.BranchNode, vars map[string]string) string {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if s := unknownField(n, vars); s != "" {
			return s
		}
	}
	return ""
}

func sortedVarNames(vars map[string]string) []string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// hits returns the rule's hits: one per container that satisfies every
// container matcher (when any is given), else one for the pod; none when a
// matcher fails.
func (m *TeamMatch) hits(w *walk) []hit {
	if w.pod == nil {
		return nil
	}
	base := hit{Weight: teamWeight, Vars: map[string]string{}}
	if m.NodeConditionType != "" {
		if !m.nodeCondition(w, &base) {
			return nil
		}
	}
	if !m.container() {
		if m.event() && !m.eventMatch(w, "", &base) {
			return nil
		}
		return []hit{base}
	}
	var out []hit
	for _, c := range w.cs {
		h := base
		h.Vars = maps.Clone(base.Vars)
		h.Evidence = slices.Clone(base.Evidence)
		h.Container = c.Name
		if m.containerMatch(w, c, &h) && (!m.event() || m.eventMatch(w, c.Name, &h)) {
			out = append(out, h)
		}
	}
	return out
}

func (m *TeamMatch) containerMatch(w *walk, c *container, h *hit) bool {
	if c.Status == nil {
		return false
	}
	var ev []string
	if m.WaitingReason != "" {
		wt := c.waiting()
		if wt == nil || wt.Reason != m.WaitingReason {
			return false
		}
		h.Vars["WaitingReason"], h.Vars["WaitingMessage"] = wt.Reason, oneLine(wt.Message)
		ev = append(ev, w.formatState(c))
	}
	if m.TerminatedReason != "" || m.ExitCode != nil || m.PreviousLog != nil {
		// Only a termination kdoctor would blame counts: a container that
		// is running and ready again is not explained by how it once ended.
		t, current := c.lastTermination()
		if t == nil || !w.unwell(c) {
			return false
		}
		if m.TerminatedReason != "" || m.ExitCode != nil {
			if (m.TerminatedReason != "" && t.Reason != m.TerminatedReason) || (m.ExitCode != nil && t.ExitCode != *m.ExitCode) {
				return false
			}
			h.Vars["TerminatedReason"], h.Vars["ExitCode"] = t.Reason, strconv.Itoa(int(t.ExitCode))
			h.Vars["ExitMeaning"] = ExitCodeMeaning(t.ExitCode)
			ev = append(ev, w.formatTermination(c, t, current))
		}
		if m.PreviousLog != nil {
			// The last terminated instance's log: --previous once the
			// container was restarted, else the log of the instance that
			// ended (restartPolicy Never).
			l := w.f.Log(c.Name, !current)
			if l == nil || l.State != Found {
				return false
			}
			var matched []string
			var last []string
			for _, line := range lastLines(l.Text, logScanLines) {
				if sm := m.PreviousLog.FindStringSubmatch(line); sm != nil && !slices.Contains(matched, line) {
					matched, last = append(matched, line), sm
				}
			}
			if len(matched) == 0 {
				return false
			}
			label, flag := "logs ("+c.Name+"): ", ""
			if l.Previous {
				label, flag = "logs --previous ("+c.Name+"): ", " --previous"
			}
			for _, line := range matched[max(len(matched)-3, 0):] {
				ev = append(ev, label+line)
			}
			h.Vars["LogLine"], h.Vars["PreviousFlag"] = matched[len(matched)-1], flag
			groups(m.PreviousLog, last, h.Vars)
		}
	}
	h.Evidence = append(h.Evidence, ev...)
	return true
}

// eventMatch finds the newest recent event of the pod or its owners that
// matches; an event about another container than the hit's does not count.
func (m *TeamMatch) eventMatch(w *walk, containerName string, h *hit) bool {
	for i := len(w.evs) - 1; i >= 0; i-- {
		e := w.evs[i]
		if !w.recent(e.Last) || (m.EventReason != "" && e.Reason != m.EventReason) {
			continue
		}
		if containerName != "" && e.Container != "" && e.Container != containerName {
			continue
		}
		var sm []string
		if m.EventMessage != nil {
			if sm = m.EventMessage.FindStringSubmatch(e.Message); sm == nil {
				continue
			}
			groups(m.EventMessage, sm, h.Vars)
		}
		h.Vars["EventReason"], h.Vars["EventMessage"] = e.Reason, oneLine(e.Message)
		h.Evidence = append(h.Evidence, w.formatEvent(e))
		if h.Container == "" {
			h.Container = e.Container
		}
		return true
	}
	return false
}

func (m *TeamMatch) nodeCondition(w *walk, h *hit) bool {
	n := w.f.Node.Object
	if w.f.Node.State != Found || n == nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if string(c.Type) == m.NodeConditionType && c.Status == m.NodeConditionStatus {
			h.Vars["ConditionType"], h.Vars["ConditionStatus"], h.Vars["ConditionMessage"] = string(c.Type), string(c.Status), oneLine(c.Message)
			line := fmt.Sprintf("node %s: %s=%s", n.Name, c.Type, c.Status)
			if c.Reason != "" {
				line += " (" + c.Reason + ")"
			}
			if c.Message != "" {
				line += ": " + oneLine(c.Message)
			}
			h.Evidence = append(h.Evidence, line)
			return true
		}
	}
	return false
}

func groups(re *regexp.Regexp, sm []string, vars map[string]string) {
	for i, name := range re.SubexpNames() {
		if name != "" && i < len(sm) {
			vars[name] = sm[i]
		}
	}
}

// Trigger describes in one line what a team rule matches.
func (m *TeamMatch) Trigger() string {
	var parts []string
	if m.WaitingReason != "" {
		parts = append(parts, "waiting "+m.WaitingReason)
	}
	if m.TerminatedReason != "" {
		parts = append(parts, "terminated "+m.TerminatedReason)
	}
	if m.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit code %d", *m.ExitCode))
	}
	if m.event() {
		s := "event"
		if m.EventReason != "" {
			s += " " + m.EventReason
		}
		if m.EventMessage != nil {
			s += " ~ /" + m.EventMessage.String() + "/"
		}
		parts = append(parts, s)
	}
	if m.NodeConditionType != "" {
		parts = append(parts, fmt.Sprintf("node %s=%s", m.NodeConditionType, m.NodeConditionStatus))
	}
	if m.PreviousLog != nil {
		parts = append(parts, "logs --previous ~ /"+m.PreviousLog.String()+"/")
	}
	return strings.Join(parts, " and ")
}

// RuleInfo describes one rule of a set for `kdoctor rules`.
type RuleInfo struct {
	ID       string   `json:"id"`
	Family   string   `json:"family"`
	Severity Severity `json:"severity"`
	Step     StepName `json:"step"`
	// Rank is the rule's place in the ranking: lower explains more of a
	// failure and is named root cause first.
	Rank    int    `json:"rank"`
	Trigger string `json:"trigger"`
	// Team is true for a rule of the team's rules file.
	Team bool `json:"team"`
	// RanksWith is the built-in family or rule a team rule is placed with.
	RanksWith string `json:"ranksWith,omitempty"`
}

// List returns every rule of the set in ranking order: a finding of a rule
// listed earlier is named root cause before one listed later (team rules
// before the built-ins of their rank; info findings always come last, and a
// few built-in findings move their own rank, as the README's ranking
// section says).
func (rs *Rules) List() []RuleInfo {
	var out []RuleInfo
	for _, r := range rs.rules() {
		info := RuleInfo{ID: r.ID, Family: family(r.ID), Severity: r.Severity, Step: r.Step, Rank: r.Rank}
		if t := rs.teamRule(r.ID); t != nil {
			info.Team, info.Trigger, info.RanksWith = true, t.Match.Trigger(), t.Rank
		} else {
			info.Trigger = builtinTriggers[r.ID]
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Severity == Info) != (b.Severity == Info) {
			return b.Severity == Info
		}
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		return a.Team && !b.Team
	})
	return out
}

func (rs *Rules) teamRule(id string) *TeamRule {
	if rs == nil || rs.team == nil {
		return nil
	}
	return rs.team[id]
}

// TeamCount is how many team rules the set holds.
func (rs *Rules) TeamCount() int {
	if rs == nil {
		return 0
	}
	return len(rs.team)
}
