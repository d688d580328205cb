package facts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// DumpResult is what LoadDump read.
type DumpResult struct {
	Set *ObjectSet
	// Warnings are one line each: objects skipped because kdoctor does not
	// know their kind.
	Warnings []string
}

// LoadDump reads the --from-file inputs into one ObjectSet: YAML or JSON
// files (one object, a List as `kubectl get -o yaml|json` prints it, or
// several documents), "-" for standard input, directories of such files,
// `kubectl cluster-info dump --output-directory` trees (NS/pods.json,
// nodes.json, NS/POD/logs.txt) and kdoctor scenario directories
// (objects.yaml, README.md, logs/NS/POD/CONTAINER[.previous].log).
//
// Objects of kinds kdoctor does not know are skipped with a warning; any
// input that is not YAML or JSON is an error naming the file.
func LoadDump(inputs []string, stdin io.Reader) (*DumpResult, error) {
	l := &dumpLoader{set: NewObjectSet(), unknown: map[string]int{}}
	for _, in := range inputs {
		if err := l.load(in, stdin); err != nil {
			return nil, err
		}
	}
	res := &DumpResult{Set: l.set}
	kinds := make([]string, 0, len(l.unknown))
	for k := range l.unknown {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		res.Warnings = append(res.Warnings, fmt.Sprintf("skipped %d object(s) of unknown kind %s", l.unknown[k], k))
	}
	return res, nil
}

type dumpLoader struct {
	set *ObjectSet
	// unknown counts skipped objects per `"Kind" (apiVersion "v")`.
	unknown map[string]int
	// scenarios counts scenario directories: a single one is a whole cluster.
	scenarios int
}

func (l *dumpLoader) load(in string, stdin io.Reader) error {
	if in == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		return l.loadData("standard input", data)
	}
	info, err := os.Stat(in)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		return l.loadData(in, data)
	}
	if isScenarioDir(in) {
		return l.loadScenario(in)
	}
	return filepath.WalkDir(in, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(in, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch ext := strings.ToLower(filepath.Ext(path)); {
		case d.Name() == "logs.txt":
			// cluster-info dump: NS/POD/logs.txt holds every container's current log.
			parts := strings.Split(filepath.ToSlash(rel), "/")
			if len(parts) >= 3 {
				l.addClusterInfoLogs(parts[len(parts)-3], parts[len(parts)-2], data)
			}
			return nil
		case ext == ".yaml" || ext == ".yml" || ext == ".json":
			return l.loadData(path, data)
		}
		return nil // READMEs and other files in a dump directory are not objects
	})
}

// isScenarioDir reports whether dir is a kdoctor scenario: a whole
// cluster's objects with the logs its kubelets would serve.
func isScenarioDir(dir string) bool {
	for _, f := range []string{"objects.yaml", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

func (l *dumpLoader) loadScenario(dir string) error {
	sc, err := LoadScenario(dir)
	if err != nil {
		return err
	}
	l.set.Add(sc.Objects...)
	for k, v := range sc.Logs {
		l.set.Logs[k] = v
	}
	// A scenario is a whole cluster: what it lacks does not exist. Mixed
	// with other inputs, that no longer holds.
	l.scenarios++
	l.set.Complete = l.scenarios == 1 && len(l.set.objects) == len(sc.Objects)
	l.set.LogsComplete = l.set.Complete
	return nil
}

// logBlock matches one container's section of a cluster-info dump log.
var logBlock = regexp.MustCompile(`(?s)==== START logs for container (\S+) of pod ([^/\s]+)/(\S+) ====\n(.*?)==== END logs for container \S+ of pod \S+ ====\n?`)

// addClusterInfoLogs reads NS/POD/logs.txt of a cluster-info dump.
func (l *dumpLoader) addClusterInfoLogs(ns, pod string, data []byte) {
	for _, m := range logBlock.FindAllSubmatch(data, -1) {
		key := LogKey{Namespace: string(m[2]), Pod: string(m[3]), Container: string(m[1])}
		if key.Namespace == "" {
			key.Namespace, key.Pod = ns, pod
		}
		text := m[4]
		if bytes.HasPrefix(text, []byte("Request log error: ")) || bytes.HasPrefix(text, []byte("Create log request error: ")) {
			l.set.LogErrors[key] = strings.TrimSpace(string(text))
			continue
		}
		l.set.Logs[key] = text
	}
}

// loadData decodes one file (or standard input). A cluster-info dump
// printed to standard output interleaves log sections with the JSON; they
// are taken out first.
func (l *dumpLoader) loadData(name string, data []byte) error {
	if logBlock.Match(data) {
		for _, m := range logBlock.FindAllSubmatch(data, -1) {
			l.addClusterInfoLogs(string(m[2]), string(m[3]), m[0])
		}
		data = logBlock.ReplaceAll(data, nil)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d is not valid YAML or JSON: %s", name, doc, firstLine(err.Error()))
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if err := l.addDocument(name, raw); err != nil {
			return err
		}
	}
}

// addDocument adds one object or list. Lists are split here so one object
// of an unknown kind skips only itself, and typed lists (PodList, as
// cluster-info dump prints them) lend their items the kind they omit.
func (l *dumpLoader) addDocument(name string, raw []byte) error {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || (head.Kind == "" && head.Items == nil) {
		return fmt.Errorf("%s: not a Kubernetes object or list (no kind)", name)
	}
	if !strings.HasSuffix(head.Kind, "List") {
		return l.addObject(name, raw)
	}
	itemKind := strings.TrimSuffix(head.Kind, "List")
	for _, item := range head.Items {
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(item, &tm); err != nil {
			return fmt.Errorf("%s: %s item is not an object: %s", name, head.Kind, firstLine(err.Error()))
		}
		if tm.Kind == "" && itemKind != "" {
			var m map[string]any
			if err := json.Unmarshal(item, &m); err != nil {
				return fmt.Errorf("%s: %s item is not an object: %s", name, head.Kind, firstLine(err.Error()))
			}
			m["kind"], m["apiVersion"] = itemKind, head.APIVersion
			item, _ = json.Marshal(m)
		}
		if err := l.addObject(name, item); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) addObject(name string, raw []byte) error {
	objs, err := DecodeObjects(raw)
	var uk *UnknownKindError
	switch {
	case errors.As(err, &uk):
		// Quoted: the kind comes from the file and must not carry
		// newlines or escape sequences onto the terminal.
		l.unknown[fmt.Sprintf("%q (apiVersion %q)", uk.Kind, uk.APIVersion)]++
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	l.set.Add(objs...)
	return nil
}
