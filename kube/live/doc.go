// Package live watches a cluster and keeps what the tree shows up to date.
// Watch starts informers over the pods, nodes, workloads and Warning events
// of a Scope and streams coalesced Batches of compact rows (PodRow,
// NodeRow, WorkloadRow, EventRow) plus each resource's connection state.
// JudgePod gives a pod row its Health and one-line cause, with the same
// diag rules the diagnosis uses, so the tree and the diagnosis agree.
//
// It does not connect (that is package kube), gather the full facts of a
// diagnosis (kube/facts) or change anything in the cluster (kube/action).
package live
