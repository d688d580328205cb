//go:build !linux

package action_test

import "testing"

func (e *realEnv) testExecTTY(t *testing.T) {
	t.Skip("opening a pseudo-terminal is written for Linux only")
}

func (e *realEnv) testDebugTTY(t *testing.T) {
	t.Skip("opening a pseudo-terminal is written for Linux only")
}
