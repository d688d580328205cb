// Package teamrules reads a team's rules file ($XDG_CONFIG_HOME/kdoctor/
// rules.yaml or --rules FILE) into a rule set for the diagnosis engine.
//
// Decoding is strict: an unknown field, a wrong type, a bad regexp or a
// template that names a variable the rule cannot fill is one error naming
// the file, the line and the field, and nothing of the file is used. The
// engine (package diag) gets the checked rules and does no I/O itself.
package teamrules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// MaxFileSize bounds a rules file: a team's signatures fit in far less,
// and a bigger file is a mistake (a log or a dump given by accident).
const MaxFileSize = 1 << 20

// DefaultPath is $XDG_CONFIG_HOME/kdoctor/rules.yaml (~/.config when the
// variable is unset), or "" when no home directory is known.
func DefaultPath() string {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "kdoctor", "rules.yaml")
}

// Load reads a rules file. A missing file is an error when required (the
// user named it), else the built-in catalogue alone.
func Load(path string, required bool) (*diag.Rules, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return diag.BuiltinRules(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, unwrapPath(err))
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("rules file %s: larger than %d KiB; is it the right file?", path, MaxFileSize>>10)
	}
	return Parse(path, data)
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Error is a problem in a rules file, at a line and field.
type Error struct {
	File         string
	Line, Column int
	// Field is the path of the field, like rules[2].match.previousLog.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rules file ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	// One error is one line: YAML and template messages may hold newlines.
	b.WriteString(strings.Join(strings.Fields(e.Msg), " "))
	return b.String()
}

// Parse decodes a rules file's content; name is used in errors.
func Parse(name string, data []byte) (*diag.Rules, error) {
	p := &parser{file: name}
	team, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	rs, err := diag.NewRules(team)
	if err != nil {
		var te *diag.TeamRuleError
		if errors.As(err, &te) {
			field := fmt.Sprintf("rules[%d].%s", te.Rule, te.Field)
			n := p.nodeFor(field)
			return nil, p.errAt(n, field, "%s", te.Err.Error())
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	return rs, nil
}

type parser struct {
	file string
	// nodes remembers where each field was, for errors found after decoding.
	nodes map[string]*yaml.Node
}

func (p *parser) errAt(n *yaml.Node, field, format string, args ...any) error {
	e := &Error{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// nodeFor finds the node of a field, or of its nearest parent.
func (p *parser) nodeFor(field string) *yaml.Node {
	for f := field; f != ""; {
		if n := p.nodes[f]; n != nil {
			return n
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return nil
}

func (p *parser) remember(field string, n *yaml.Node) {
	if p.nodes == nil {
		p.nodes = map[string]*yaml.Node{}
	}
	p.nodes[field] = n
}

func (p *parser) parse(data []byte) ([]diag.TeamRule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file holds no rules
		}
		return nil, p.yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, p.yamlErr(err)
		}
		return nil, p.errAt(&extra, "", "a second YAML document; put every rule under the one top-level rules: list")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if isNull(root) {
		return nil, nil
	}
	top, err := p.mapping(root, "", "rules")
	if err != nil {
		return nil, err
	}
	list, ok := top["rules"]
	if !ok || isNull(list.value) {
		return nil, nil
	}
	seq := deref(list.value)
	if seq.Kind != yaml.SequenceNode {
		return nil, p.errAt(seq, "rules", "want a list of rules, got %s", kindName(seq))
	}
	var out []diag.TeamRule
	for i, n := range seq.Content {
		r, err := p.rule(n, fmt.Sprintf("rules[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// yamlErr turns a YAML syntax error ("yaml: line 3: …") into an Error with
// its line.
func (p *parser) yamlErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if l, convErr := strconv.Atoi(num); convErr == nil {
				line, msg = l, strings.TrimSpace(tail)
			}
		}
	}
	return &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

type entry struct {
	key, value *yaml.Node
}

// mapping reads a mapping whose keys must be among known; a key given
// twice or not known is an error at its line.
func (p *parser) mapping(n *yaml.Node, field string, known ...string) (map[string]entry, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, field, "want a mapping with %s, got %s", strings.Join(known, ", "), kindName(n))
	}
	out := map[string]entry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		path := joinField(field, k.Value)
		if k.Kind != yaml.ScalarNode {
			return nil, p.errAt(k, field, "a key must be a plain word, got %s", kindName(k))
		}
		if !slices.Contains(known, k.Value) {
			return nil, p.errAt(k, path, "unknown field %q (known: %s)", k.Value, strings.Join(known, ", "))
		}
		if prev, dup := out[k.Value]; dup {
			return nil, p.errAt(k, path, "given twice (first at line %d)", prev.key.Line)
		}
		out[k.Value] = entry{k, v}
		p.remember(path, v)
	}
	return out, nil
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// deref follows a YAML alias (&anchor / *anchor) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// str reads a scalar as text; required says whether it may be absent or empty.
func (p *parser) str(m map[string]entry, key, field string, required bool) (string, error) {
	e, ok := m[key]
	path := joinField(field, key)
	if !ok || isNull(e.value) {
		if required {
			n := p.nodeFor(field)
			if ok {
				n = e.key
			}
			return "", p.errAt(n, path, "required")
		}
		return "", nil
	}
	v := deref(e.value)
	if v.Kind != yaml.ScalarNode {
		return "", p.errAt(v, path, "want text, got %s", kindName(v))
	}
	if required && strings.TrimSpace(v.Value) == "" {
		return "", p.errAt(v, path, "must not be empty")
	}
	return v.Value, nil
}

func (p *parser) strList(m map[string]entry, key, field string) ([]string, error) {
	e, ok := m[key]
	if !ok || isNull(e.value) {
		return nil, nil
	}
	path := joinField(field, key)
	v := deref(e.value)
	if v.Kind != yaml.SequenceNode {
		return nil, p.errAt(v, path, "want a list of texts, got %s", kindName(v))
	}
	var out []string
	for i, item := range v.Content {
		item = deref(item)
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.remember(ip, item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			return nil, p.errAt(item, ip, "want text, got %s", kindName(item))
		}
		out = append(out, item.Value)
	}
	return out, nil
}

func (p *parser) regexp(m map[string]entry, key, field string) (*regexp.Regexp, error) {
	s, err := p.str(m, key, field, false)
	if err != nil || s == "" {
		if err == nil && m[key].value != nil && !isNull(m[key].value) {
			return nil, p.errAt(m[key].value, joinField(field, key), "an empty regexp would match every line")
		}
		return nil, err
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, p.errAt(m[key].value, joinField(field, key), "bad regexp: %v", err)
	}
	return re, nil
}

var ruleFields = []string{"id", "severity", "step", "rank", "summary", "explanation", "nextSteps", "commands", "match"}

var matchFields = []string{"waitingReason", "terminatedReason", "exitCode", "event", "nodeCondition", "previousLog"}

func (p *parser) rule(n *yaml.Node, field string) (diag.TeamRule, error) {
	var r diag.TeamRule
	p.remember(field, n)
	m, err := p.mapping(n, field, ruleFields...)
	if err != nil {
		return r, err
	}
	if r.ID, err = p.str(m, "id", field, true); err != nil {
		return r, err
	}
	sev, err := p.str(m, "severity", field, true)
	if err != nil {
		return r, err
	}
	if err := r.Severity.UnmarshalText([]byte(sev)); err != nil {
		return r, p.errAt(m["severity"].value, field+".severity", "%q is not a severity (use info, warning, error or critical)", sev)
	}
	step, err := p.str(m, "step", field, false)
	if err != nil {
		return r, err
	}
	r.Step = diag.StepName(step)
	if r.Rank, err = p.str(m, "rank", field, false); err != nil {
		return r, err
	}
	if r.Summary, err = p.str(m, "summary", field, true); err != nil {
		return r, err
	}
	if r.Explanation, err = p.str(m, "explanation", field, true); err != nil {
		return r, err
	}
	if r.NextSteps, err = p.strList(m, "nextSteps", field); err != nil {
		return r, err
	}
	if r.Commands, err = p.strList(m, "commands", field); err != nil {
		return r, err
	}
	me, ok := m["match"]
	if !ok || isNull(me.value) {
		return r, p.errAt(n, field+".match", "required: the matchers that recognise this failure (%s)", strings.Join(matchFields, ", "))
	}
	r.Match, err = p.match(me.value, field+".match")
	return r, err
}

func (p *parser) match(n *yaml.Node, field string) (diag.TeamMatch, error) {
	var mt diag.TeamMatch
	m, err := p.mapping(n, field, matchFields...)
	if err != nil {
		return mt, err
	}
	if len(m) == 0 {
		return mt, p.errAt(n, field, "give at least one matcher (%s)", strings.Join(matchFields, ", "))
	}
	if mt.WaitingReason, err = p.reason(m, "waitingReason", field); err != nil {
		return mt, err
	}
	if mt.TerminatedReason, err = p.reason(m, "terminatedReason", field); err != nil {
		return mt, err
	}
	if e, ok := m["exitCode"]; ok {
		v := deref(e.value)
		code, convErr := strconv.ParseInt(v.Value, 10, 32)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || convErr != nil {
			return mt, p.errAt(v, field+".exitCode", "want a whole number like 1 or 137, got %s", kindName(v))
		}
		c := int32(code)
		mt.ExitCode = &c
	}
	if e, ok := m["event"]; ok {
		ef := field + ".event"
		em, err := p.mapping(e.value, ef, "reason", "message")
		if err != nil {
			return mt, err
		}
		if mt.EventReason, err = p.reason(em, "reason", ef); err != nil {
			return mt, err
		}
		if mt.EventMessage, err = p.regexp(em, "message", ef); err != nil {
			return mt, err
		}
		if mt.EventReason == "" && mt.EventMessage == nil {
			return mt, p.errAt(e.value, ef, "give reason, message or both")
		}
	}
	if e, ok := m["nodeCondition"]; ok {
		s, err := p.str(m, "nodeCondition", field, true)
		if err != nil {
			return mt, err
		}
		typ, status, found := strings.Cut(s, "=")
		typ, status = strings.TrimSpace(typ), strings.TrimSpace(status)
		if !found || typ == "" || !slices.Contains([]string{"True", "False", "Unknown"}, status) {
			return mt, p.errAt(e.value, field+".nodeCondition", "%q: want Type=Status, like MemoryPressure=True or Ready=False (status True, False or Unknown)", s)
		}
		mt.NodeConditionType, mt.NodeConditionStatus = typ, corev1.ConditionStatus(status)
	}
	if mt.PreviousLog, err = p.regexp(m, "previousLog", field); err != nil {
		return mt, err
	}
	return mt, nil
}

// reasonWord: Kubernetes reasons are one CamelCase word (CrashLoopBackOff,
// OOMKilled, FailedMount); a space or a regexp means a misunderstanding.
var reasonWord = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:.-]*$`)

func (p *parser) reason(m map[string]entry, key, field string) (string, error) {
	s, err := p.str(m, key, field, false)
	if err != nil || s == "" {
		if err == nil && m[key].value != nil && !isNull(m[key].value) {
			return "", p.errAt(m[key].value, joinField(field, key), "must not be empty")
		}
		return "", err
	}
	if !reasonWord.MatchString(s) {
		return "", p.errAt(m[key].value, joinField(field, key), "%q is not a reason: reasons are one word matched exactly, like CrashLoopBackOff", s)
	}
	return s, nil
}
