package facts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// Scenario is one troubleshooting story kept under testdata/scenarios/<name>/:
// the objects a cluster held (as `kubectl get -o yaml` prints them, status
// included) plus the container logs a kubelet would serve. The same scenario
// feeds the diagnosis golden tests, the demo cluster and the real API server
// tests, so a story is written once and checked everywhere.
type Scenario struct {
	Name string
	Dir  string
	// Objects are typed API objects (corev1.Pod, corev1.Event, appsv1.Deployment, …).
	Objects []Object
	// Logs maps a container instance to its log text.
	Logs map[LogKey][]byte
	// Rule is the catalogue rule the README promises as root cause ("none" when
	// no rule must match).
	Rule string
	// Also lists further rules the README promises among the findings.
	Also []string
	// Target is what the README says to diagnose.
	Target diag.Target
	// Description is the README text without the machine-read lines.
	Description string
}

// LogKey names one container instance's log.
type LogKey struct {
	Namespace, Pod, Container string
	Previous                  bool
}

// LoadScenario reads one scenario directory from disk.
func LoadScenario(dir string) (*Scenario, error) {
	s, err := LoadScenarioFS(os.DirFS(dir), ".")
	if err != nil {
		return nil, err
	}
	s.Name, s.Dir = filepath.Base(dir), dir
	return s, nil
}

// LoadScenarios reads every scenario directory under root, sorted by name.
func LoadScenarios(root string) ([]*Scenario, error) {
	out, err := LoadScenariosFS(os.DirFS(root), ".")
	for _, s := range out {
		s.Dir = filepath.Join(root, s.Name)
	}
	return out, err
}

// LoadScenarioFS reads the scenario in directory dir of fsys (the demo reads
// scenarios embedded in the binary this way).
func LoadScenarioFS(fsys fs.FS, dir string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, path.Join(dir, "objects.yaml"))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", dir, err)
	}
	objs, err := DecodeObjects(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: objects.yaml: %w", dir, err)
	}
	s := &Scenario{Name: path.Base(dir), Dir: dir, Objects: objs, Logs: map[LogKey][]byte{}}
	if err := s.readLogs(fsys, path.Join(dir, "logs")); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", dir, err)
	}
	if err := s.readREADME(fsys, path.Join(dir, "README.md")); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", dir, err)
	}
	return s, nil
}

// LoadScenariosFS reads every scenario directory under root in fsys.
func LoadScenariosFS(fsys fs.FS, root string) ([]*Scenario, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := path.Join(root, e.Name())
		if _, err := fs.Stat(fsys, path.Join(dir, "objects.yaml")); err != nil {
			continue
		}
		s, err := LoadScenarioFS(fsys, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readLogs walks logs/<namespace>/<pod>/<container>[.previous].log.
func (s *Scenario) readLogs(fsys fs.FS, root string) error {
	if _, err := fs.Stat(fsys, root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		parts := strings.Split(rel, "/")
		if len(parts) != 3 || !strings.HasSuffix(parts[2], ".log") {
			return fmt.Errorf("log file %s: want logs/<namespace>/<pod>/<container>[.previous].log", rel)
		}
		name := strings.TrimSuffix(parts[2], ".log")
		key := LogKey{Namespace: parts[0], Pod: parts[1], Container: name}
		if c, ok := strings.CutSuffix(name, ".previous"); ok {
			key.Container, key.Previous = c, true
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s.Logs[key] = data
		return nil
	})
}

func (s *Scenario) readREADME(fsys fs.FS, name string) error {
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var desc []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Rule:"):
			s.Rule = strings.TrimSpace(strings.TrimPrefix(line, "Rule:"))
		case strings.HasPrefix(line, "Also:"):
			s.Also = strings.Fields(strings.TrimPrefix(line, "Also:"))
		case strings.HasPrefix(line, "Target:"):
			t, err := ParseScenarioTarget(strings.TrimSpace(strings.TrimPrefix(line, "Target:")))
			if err != nil {
				return fmt.Errorf("README.md: %w", err)
			}
			s.Target = t
		case strings.HasPrefix(line, "# "):
		default:
			desc = append(desc, line)
		}
	}
	s.Description = strings.TrimSpace(strings.Join(desc, "\n"))
	return nil
}

// ParseScenarioTarget reads "kind/namespace/name".
func ParseScenarioTarget(v string) (diag.Target, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return diag.Target{}, fmt.Errorf("target %q: want kind/namespace/name", v)
	}
	return diag.Target{Kind: parts[0], Namespace: parts[1], Name: parts[2]}, nil
}

// Newest returns the latest timestamp found in the scenario's objects: the
// moment the story was "captured", used as the clock for offline diagnosis.
func (s *Scenario) Newest() time.Time { return NewestTimestamp(s.Objects) }

// ShiftedTo returns a copy of the scenario's objects with every timestamp moved
// so that the newest one equals now: ages stay as the story tells them when the
// scenario is replayed into a live (demo or real) cluster.
func (s *Scenario) ShiftedTo(now time.Time) []Object {
	d := now.Sub(s.Newest())
	out := make([]Object, len(s.Objects))
	for i, o := range s.Objects {
		out[i] = ShiftTimestamps(o, d)
	}
	return out
}
