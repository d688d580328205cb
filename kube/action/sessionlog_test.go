package action

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSessionLogIsPrivate: the log and its directory are readable by the
// user only, even when they already existed with wider modes.
func TestSessionLogIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "kdoctor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := OpenSessionLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := os.WriteFile(l.Path(now), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.Path(now), 0o644); err != nil { // umask-proof
		t.Fatal(err)
	}
	if err := l.Append(SessionEntry{Time: now, Context: "prod", Action: "cordon", Object: "node/n1"}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, l.Path(now): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}

	// A fresh directory too.
	fresh := filepath.Join(t.TempDir(), "x", "kdoctor")
	l2, _ := OpenSessionLog(fresh)
	if err := l2.Append(SessionEntry{Action: "exec", Object: "pod/a/b container c"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o700 {
		t.Errorf("fresh dir mode %o", st.Mode().Perm())
	}
}

// TestDefaultSessionLogDirIsXDGState: the location README documents.
func TestDefaultSessionLogDirIsXDGState(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/tmp/xdg-state")
	if d, _ := DefaultSessionLogDir(); d != "/tmp/xdg-state/kdoctor" {
		t.Errorf("dir %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/oncall")
	if d, _ := DefaultSessionLogDir(); d != "/home/oncall/.local/state/kdoctor" {
		t.Errorf("dir %s", d)
	}
}

// TestSessionLogHoldsNoCredentials: errors and results that carry a bearer
// token, a service-account JWT or a key=value secret are written redacted.
// The strings are the shapes client-go and servers really produce: an
// Authorization header echoed by a gateway, an exec command line with a
// password, a kubeconfig exec plugin error quoting a token.
func TestSessionLogHoldsNoCredentials(t *testing.T) {
	const (
		bearer = "kdoctor-secret-token-4f9a8b7c6d5e"
		jwt    = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLWJ5dGVz"
		secret = "hunter2-db-password"
	)
	dir := t.TempDir()
	l, _ := OpenSessionLog(dir)
	entries := []SessionEntry{
		{Action: "cordon", Object: "node/n1", Error: `Patch "https://gw.example.com/api/v1/nodes/n1": 401 Unauthorized; request had Authorization: Bearer ` + bearer},
		{Action: "exec", Object: "pod/shop/web-1 container app", Result: "sh -c mysql --password=" + secret + " exited 0 after 3s"},
		{Action: "drain", Object: "node/n2", Error: errors.New(`getting credentials: exec plugin returned {"token":"` + jwt + `"}`).Error()},
		{Action: "exec", Object: "pod/shop/web-1 container app", Result: "env DB_PASSWORD=" + secret + " API_TOKEN: " + bearer + " exited 0"},
		{Action: "uncordon", Object: "node/n1", Error: "dial https://gw.example.com/k8s?access_token=" + bearer + ": timeout"},
	}
	for _, e := range entries {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(l.Path(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{bearer, jwt, "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ", secret} {
		if strings.Contains(string(data), leaked) {
			t.Errorf("the session log holds %q:\n%s", leaked, data)
		}
	}
	if n := strings.Count(string(data), "[redacted]"); n < len(entries) {
		t.Errorf("%d redactions for %d entries:\n%s", n, len(entries), data)
	}
	// What a reader needs stays.
	for _, kept := range []string{"node/n1", "401 Unauthorized", "exited 0 after 3s", "mysql --password="} {
		if !strings.Contains(string(data), kept) {
			t.Errorf("redaction removed %q:\n%s", kept, data)
		}
	}
}
