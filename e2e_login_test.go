package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestContextSwitchHandsTheTerminalToAPromptingPlugin: switching, inside
// the TUI, to a context whose credentials come from an exec plugin that
// prompts (kubelogin, aws, gke ask for a code or print where to log in)
// hands the terminal to the plugin as the shell does: its prompt is seen,
// answered, and the TUI comes back on the new context. A wrong answer is
// one line, and the TUI stays where it was.
func TestContextSwitchHandsTheTerminalToAPromptingPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real API server and tmux (not in -short mode)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end test: apt-get install tmux")
	}
	bin := filepath.Join(t.TempDir(), "kdoctor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed")
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	token := cfg.AuthInfos[cfg.Contexts[kubetest.ContextName].AuthInfo].Token
	// The plugin asks for a one-time code on stderr, reads it from the
	// terminal, and answers with a credential only for the right code.
	plugin := filepath.Join(dir, "sso-login")
	script := fmt.Sprintf(`#!/bin/sh
printf 'Enter the code from your authenticator app: ' >&2
read code
if [ "$code" != "424242" ]; then echo "error: wrong code" >&2; exit 1; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}'
`, token)
	if err := os.WriteFile(plugin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos["sso"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1", Command: plugin, InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode,
	}}
	sso := *cfg.Contexts[kubetest.ContextName]
	sso.AuthInfo = "sso"
	cfg.Contexts["sso"] = &sso
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	env := fmt.Sprintf("env XDG_CONFIG_HOME=%s XDG_STATE_HOME=%s TERM=xterm-256color", dir, dir)
	s := startTmux(t, 120, 30, fmt.Sprintf("%s %s --kubeconfig %s -A --theme mono", env, bin, kubeconfig))
	s.waitFor("the tree", func(scr string) bool { return strings.Contains(scr, "ledger-") && strings.Contains(scr, "live") })

	s.send(":")
	s.typeText("ctx sso")
	s.send("Enter")
	s.waitFor("the plugin's prompt, on the terminal", func(scr string) bool {
		return strings.Contains(scr, "Enter the code from your authenticator app:")
	})
	s.typeText("111111")
	s.send("Enter")
	s.waitFor("the refusal, back in the TUI", func(scr string) bool {
		return strings.Contains(scr, "cannot log in to context sso") && strings.Contains(scr, "ctx "+kubetest.ContextName)
	})

	s.send(":")
	s.typeText("ctx sso")
	s.send("Enter")
	s.waitFor("the prompt again", func(scr string) bool {
		return strings.Contains(scr, "Enter the code from your authenticator app:")
	})
	s.typeText("424242")
	s.send("Enter")
	s.waitFor("the TUI on the sso context", func(scr string) bool {
		return strings.Contains(scr, "ctx sso") && strings.Contains(scr, "live") && strings.Contains(scr, "switched to context sso")
	})
	s.send("q")
	s.waitFor("kdoctor to exit", func(string) bool { return s.dead() })
}
