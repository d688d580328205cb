// Package action is what kdoctor does to a cluster on the user's request:
// stream logs (LogStream, LogRing), exec into a container, cordon and
// uncordon a node, plan and run a drain the way kubectl
// does, and record every change in the session log. Actions bundles them
// for one cluster, with the permission checks (kube.AccessReview) that
// decide which keys the screen offers.
//
// It does not decide what is allowed in read-only mode (package kube's
// guard refuses writes below it) and does not watch or diagnose.
package action
