// Package kube owns every call kdoctor makes to a Kubernetes API server.
// This root package is the connection and its read-only boundary: Connect
// builds a Cluster from a kubeconfig, Source is what the other rooms read
// a cluster through (a real one or the demo), GuardReadOnly and
// CheckReadOnly refuse writes before they reach the network, AccessReview
// asks the server "may I?", and Explain turns an API error into the one
// sentence the user reads.
//
// The rest of kube is split into rooms that build on this one:
//
//   - kube/live watches a cluster and turns what it sees into the rows the
//     tree shows (Watch, PodRow, NodeRow, WorkloadRow, EventRow) and judges
//     each pod's health (JudgePod).
//   - kube/facts gathers the facts a diagnosis needs, from a live cluster
//     (Gather) or from dumped objects (LoadDump, BuildFacts), picks the
//     unhealthy targets, and loads the scenarios under testdata/.
//   - kube/inspect reads one object of any kind the way kubectl shows it:
//     describe (kubectl's describers), YAML (Secrets redacted) and events.
//   - kube/action does things to a cluster: logs, exec, cordon, drain, and
//     the session log that records every change.
//   - kube/demo is the in-process demo cluster built from the scenarios.
//   - kube/kubetest is the test harness: a real kube-apiserver and etcd and
//     a fake kubelet.
//
// The diagnosis itself is not here: package diag is pure (facts in,
// findings out) and never imports kube.
package kube
