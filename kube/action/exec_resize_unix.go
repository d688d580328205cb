//go:build !windows

package action

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize reports terminal resizes (SIGWINCH) until stop is called.
func notifyResize() (resized <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGWINCH)
	return c, func() { signal.Stop(c) }
}
