// Package demo is the in-process demo cluster (kdoctor --demo): a fake
// clientset filled with the scenarios' objects, shifted to now, and their
// container logs, kept alive by Step; read-only, it refuses what a real
// cluster's guard refuses (kube.CheckReadOnly). It is a kube.Source, so the watch, the diagnosis and the actions run on it
// unchanged.
//
// It holds no diagnosis logic and makes no network calls.
package demo
