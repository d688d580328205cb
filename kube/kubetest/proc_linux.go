package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// childAttr makes the kernel SIGKILL etcd and kube-apiserver when the process
// that started them dies (a test binary killed by a timeout, a sandbox killed
// with -9), so they never outlive it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processAlive reports whether pid exists (signal 0 checks without
// sending) and is not a zombie nobody reaped.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state …: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
