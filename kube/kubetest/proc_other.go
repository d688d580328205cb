//go:build !linux

package kubetest

import "syscall"

// childAttr: only Linux can tie a child's life to its parent; elsewhere Close
// (or the sandbox's signal handler) must stop the processes.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// processAlive: without a portable check, assume alive (never sweep).
func processAlive(int) bool { return true }
