//go:build kdoctor_e2e

package main

import tea "charm.land/bubbletea/v2"

// The end-to-end tests build kdoctor with -tags kdoctor_e2e to check that a
// crash restores the terminal and leaves one line and a report; a normal
// build has no such key.
func init() {
	testKeyHook = func(k tea.KeyPressMsg) {
		if k.String() == "f12" {
			panic("panic requested by the kdoctor_e2e build's F12 key")
		}
	}
}
