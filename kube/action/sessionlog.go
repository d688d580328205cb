package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// SessionEntry is one line of the session log: what kdoctor did to which
// cluster, on whose behalf, and how it went.
type SessionEntry struct {
	Time    time.Time `json:"time"`
	Context string    `json:"context"`
	User    string    `json:"user,omitempty"`
	// Action is what was done: cordon, uncordon, drain, exec.
	Action string `json:"action"`
	// Object is what it was done to: "node/n1", "pod/shop/web-1 container app".
	Object string `json:"object"`
	// Result says what changed, in the words the view showed.
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// SessionLog appends every change kdoctor makes to a cluster (and every
// shell it opens) to a local JSON-lines file, one file per day, so that
// after an incident "what did I do at 3 a.m.?" has an answer. The file is
// opened for each entry: entries are rare, and no descriptor stays open.
type SessionLog struct {
	dir string
	mu  sync.Mutex
	err error // of the last Append
}

// OpenSessionLog returns a log writing under dir; empty dir means
// DefaultSessionLogDir. The directory is created on first write.
func OpenSessionLog(dir string) (*SessionLog, error) {
	if dir == "" {
		d, err := DefaultSessionLogDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &SessionLog{dir: dir}, nil
}

// DefaultSessionLogDir is $XDG_STATE_HOME/kdoctor, else ~/.local/state/kdoctor.
func DefaultSessionLogDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kdoctor"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("session log: no home directory to keep it in: %w", err)
	}
	return filepath.Join(home, ".local", "state", "kdoctor"), nil
}

// Path is the file holding the entries of t's day (local time).
func (l *SessionLog) Path(t time.Time) string {
	return filepath.Join(l.dir, "session-"+t.Local().Format("2006-01-02")+".jsonl")
}

// Append writes one entry; a zero Time means now. A nil log does nothing,
// so callers need not check whether logging is on.
func (l *SessionLog) Append(e SessionEntry) error {
	if l == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	// The log outlives the session and is copied into incident reports:
	// whatever an error or a command line carried, no credential goes in.
	e.Object, e.Result, e.Error = RedactSecrets(e.Object), RedactSecrets(e.Result), RedactSecrets(e.Error)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = l.write(l.Path(e.Time), line)
	return l.err
}

func (l *SessionLog) write(path string, line []byte) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	// MkdirAll and O_CREATE keep the mode of what already exists: a
	// directory or file left readable by others is tightened, since the
	// log says who did what to which cluster.
	if st, err := os.Stat(l.dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(l.dir, 0o700); err != nil {
			return fmt.Errorf("session log: %w", err)
		}
	}
	// O_APPEND writes of one small line land whole even with two kdoctor
	// processes logging at once.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("session log: %w", err)
		}
	}
	_, werr := f.Write(line)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("session log: %w", err)
	}
	return nil
}

// Err is the error of the last Append, nil when it was written: the view
// can say that actions are not being recorded.
func (l *SessionLog) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// secretPatterns match credentials that can end up in an error message or a
// command line: bearer tokens (Authorization headers, JWT service-account
// tokens), and key=value or key: value pairs whose key says secret.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*`),
	regexp.MustCompile(`(?i)\b([a-z_-]*(token|password|passwd|secret|apikey|api-key|api_key|client-key-data|credentials?))(["']?\s*[=:]\s*["']?)[^\s"'&,;]+`),
}

// RedactSecrets replaces credentials in s with [redacted].
func RedactSecrets(s string) string {
	if s == "" {
		return s
	}
	s = secretPatterns[0].ReplaceAllString(s, "$1 [redacted]")
	s = secretPatterns[1].ReplaceAllString(s, "[redacted]")
	return secretPatterns[2].ReplaceAllString(s, "$1$3[redacted]")
}
