package diag

import "testing"

// TestBuiltinTriggers: every built-in rule says what triggers it, for
// `kdoctor rules`; a rule added to the table needs its line in triggers.go.
func TestBuiltinTriggers(t *testing.T) {
	for _, r := range rules {
		if builtinTriggers[r.ID] == "" {
			t.Errorf("%s has no trigger text in builtinTriggers", r.ID)
		}
	}
	for id := range builtinTriggers {
		found := false
		for _, r := range rules {
			found = found || r.ID == id
		}
		if !found {
			t.Errorf("builtinTriggers names %s, which is no rule", id)
		}
	}
}

// TestNilRulesAreTheBuiltins: a nil or zero rule set diagnoses and lists
// with the built-in catalogue, so callers that pass none lose nothing.
func TestNilRulesAreTheBuiltins(t *testing.T) {
	var nilSet *Rules
	if got, want := len(nilSet.List()), len(rules); got != want {
		t.Errorf("nil set lists %d rules, want %d", got, want)
	}
	if got := len((&Rules{}).List()); got != len(rules) {
		t.Errorf("zero set lists %d rules", got)
	}
	rs, err := NewRules(nil)
	if err != nil || rs.TeamCount() != 0 || len(rs.List()) != len(rules) {
		t.Errorf("NewRules(nil): %v, %d team rules", err, rs.TeamCount())
	}
}
