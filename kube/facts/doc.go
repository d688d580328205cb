// Package facts gathers what a diagnosis needs into diag.Facts, from a
// live cluster (Gather, a bounded set of reads around one target) or from
// dumped objects (LoadDump, DecodeObjects, an ObjectSet, BuildFacts). It
// also picks the targets worth diagnosing (UnhealthyTargets,
// ListUnhealthy) and loads the scenarios under testdata/ (objects plus
// container logs) that the goldens, the demo and the real-server tests
// share.
//
// It does not judge anything (package diag does), watch (kube/live) or
// write to the cluster (kube/action).
package facts
