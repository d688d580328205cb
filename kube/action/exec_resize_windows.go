//go:build windows

package action

import "os"

// notifyResize reports nothing on Windows, which has no SIGWINCH: the
// remote terminal keeps the size it had when the session started.
func notifyResize() (resized <-chan os.Signal, stop func()) {
	return nil, func() {}
}
