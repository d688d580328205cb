//go:build !linux

package scale

import (
	"errors"
	"time"
)

var errNotLinux = errors.New("process statistics need Linux's /proc")

// RSS needs /proc; elsewhere it reports an error and the suite prints n/a.
func RSS() (uint64, error) { return 0, errNotLinux }

// CPUTime needs getrusage as Linux has it; elsewhere it is zero.
func CPUTime() time.Duration { return 0 }

// ProcCPUTime needs /proc.
func ProcCPUTime(int) (time.Duration, error) { return 0, errNotLinux }

// ChildPIDs needs /proc.
func ChildPIDs(...string) map[string]int { return map[string]int{} }

// MachineCPU needs /proc.
func MachineCPU() (busy, total time.Duration, err error) { return 0, 0, errNotLinux }
