package diag

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The PodTopologySpread filter plugin writes "node(s) didn't match pod
// topology spread constraints" for nodes where placing the pod would make
// the skew exceed maxSkew, and "... (missing required label)" for nodes
// without the constraint's topologyKey label
// (pkg/scheduler/framework/plugins/podtopologyspread/filtering.go).
var topologyRules = []*rule{
	{
		ID: "sched.topology-spread", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   matchTopologySpread,
		Summary: "Pod {{.Pod}} cannot be scheduled: {{.Nodes}} node(s) {{.Why}} ({{.Constraint}})",
		Explanation: "A topology spread constraint with whenUnsatisfiable: DoNotSchedule lets the scheduler place " +
			"the pod only where the number of matching pods in the node's domain (its {{.TopologyKey}} label value) " +
			"stays within maxSkew of the emptiest domain. When one domain cannot take pods (its nodes are full, " +
			"tainted or gone) every other domain soon reaches the limit too, and nodes without the " +
			"{{.TopologyKey}} label are never eligible. During a rollout the labelSelector may also count the old " +
			"ReplicaSet's pods. {{.Detail}}",
		NextSteps: []string{
			"Give the emptiest {{.TopologyKey}} domain room for a pod (capacity, taints, a missing node group), or label the nodes that lack {{.TopologyKey}}.",
			"If an even spread is a preference rather than a rule, set whenUnsatisfiable: ScheduleAnyway, or raise maxSkew.",
			"For Deployments, add matchLabelKeys: [pod-template-hash] so only pods of the same revision are counted.",
		},
		Commands: []string{
			"kubectl get nodes -L {{.TopologyKey}}",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.topologySpreadConstraints}'",
			"kubectl get pods -n {{.Namespace}} -o wide{{.SelectorFlag}}",
		},
	},
}

// schedTopology extends the scheduler classes of rules_sched.go.
const schedTopology schedClass = 100

func matchTopologySpread(w *walk) []hit {
	v := w.schedView()
	if v == nil {
		return nil
	}
	reasons := v.reasons
	hits := w.schedHits(schedTopology, v)
	// One finding, counting every topology reason ("didn't match" and
	// "missing required label" are two reasons of the same constraints).
	if len(hits) == 0 {
		return nil
	}
	h := hits[0]
	h.Evidence = append([]string{}, h.Evidence...)
	spread, unlabelled := 0, 0
	for _, r := range reasons {
		if r.class != schedTopology {
			continue
		}
		if strings.Contains(r.text, "missing required label") {
			unlabelled += max(r.count, 0)
		} else {
			spread += max(r.count, 0)
		}
	}
	h.Weight = spread + unlabelled
	vars := map[string]string{"Nodes": nodeCount(spread), "Why": "would break its topology spread constraint",
		"Constraint": "no hard constraint in the spec", "TopologyKey": "topology key", "Detail": "", "SelectorFlag": ""}
	if spread == 0 {
		vars["Nodes"], vars["Why"] = nodeCount(unlabelled), "lack the label its topology spread constraint needs"
	} else if unlabelled > 0 {
		vars["Why"] += fmt.Sprintf(" and %d more lack its topology label", unlabelled)
	}
	var hard []corev1.TopologySpreadConstraint
	for _, c := range w.pod.Spec.TopologySpreadConstraints {
		h.Evidence = append(h.Evidence, "topologySpreadConstraint: "+formatSpread(c))
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			hard = append(hard, c)
		}
	}
	if len(hard) > 0 {
		c := hard[0]
		vars["Constraint"] = fmt.Sprintf("maxSkew %d on %s, whenUnsatisfiable DoNotSchedule", c.MaxSkew, c.TopologyKey)
		vars["TopologyKey"] = c.TopologyKey
		if c.LabelSelector != nil {
			if s, err := metav1.LabelSelectorAsSelector(c.LabelSelector); err == nil && !s.Empty() {
				vars["SelectorFlag"] = " -l '" + s.String() + "'"
			}
		}
		if line, unlabelled := w.domainLine(c.TopologyKey); line != "" {
			h.Evidence = append(h.Evidence, line)
			if unlabelled > 0 {
				vars["Detail"] = fmt.Sprintf("%d node(s) have no %s label and can never take this pod.", unlabelled, c.TopologyKey)
			}
		}
	} else if len(w.pod.Spec.TopologySpreadConstraints) == 0 {
		vars["Detail"] = "The pod itself sets no constraint: the scheduler's default constraints (its profile's PodTopologySpread args) apply."
	}
	h.Vars = vars
	return []hit{h}
}

func formatSpread(c corev1.TopologySpreadConstraint) string {
	s := fmt.Sprintf("maxSkew %d, topologyKey %s, whenUnsatisfiable %s", c.MaxSkew, c.TopologyKey, c.WhenUnsatisfiable)
	if c.LabelSelector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector); err == nil {
			s += ", labelSelector " + sel.String()
		}
	}
	if c.MinDomains != nil {
		s += fmt.Sprintf(", minDomains %d", *c.MinDomains)
	}
	if len(c.MatchLabelKeys) > 0 {
		s += ", matchLabelKeys " + strings.Join(c.MatchLabelKeys, ",")
	}
	return s
}

// domainLine counts the cluster's nodes per value of the topology key,
// when the nodes are known.
func (w *walk) domainLine(key string) (string, int) {
	if w.f.Nodes.State != Found || len(w.f.Nodes.Items) == 0 {
		return "", 0
	}
	count := map[string]int{}
	unlabelled := 0
	for _, n := range w.f.Nodes.Items {
		if v, ok := n.Labels[key]; ok {
			count[v]++
		} else {
			unlabelled++
		}
	}
	var parts []string
	for v, n := range count {
		parts = append(parts, fmt.Sprintf("%s %d", v, n))
	}
	sort.Strings(parts)
	if unlabelled > 0 {
		parts = append(parts, fmt.Sprintf("no label %d", unlabelled))
	}
	return "nodes per " + key + ": " + strings.Join(parts, ", "), unlabelled
}
