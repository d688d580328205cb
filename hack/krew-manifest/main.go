// Command krew-manifest writes kdoctor's krew plugin manifest (kdoctor.yaml)
// from the release archives `make dist` built: one platform entry per
// archive, its os/arch read from the archive's name
// (kdoctor_<version>_<os>_<arch>.tar.gz, .zip for windows), its sha256
// computed from the file, its uri the release URL joined with the file name.
// Each archive is opened to check it holds the binary krew will link and
// the LICENSE krew's index asks for, so a manifest never names a broken
// archive.
//
//	go run ./hack/krew-manifest -version v0.3.0 -url https://…/v0.3.0 -dir dist -o dist/kdoctor.yaml
//
// Install from it without an index:
//
//	kubectl krew install --manifest=dist/kdoctor.yaml --archive=dist/kdoctor_v0.3.0_linux_amd64.tar.gz
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The manifest's shape, as krew reads it (apiVersion
// krew.googlecontainertools.github.com/v1alpha2, kind Plugin).
type manifest struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       spec     `yaml:"spec"`
}

type metadata struct {
	Name string `yaml:"name"`
}

type spec struct {
	Version          string     `yaml:"version"`
	Homepage         string     `yaml:"homepage"`
	ShortDescription string     `yaml:"shortDescription"`
	Description      string     `yaml:"description"`
	Caveats          string     `yaml:"caveats,omitempty"`
	Platforms        []platform `yaml:"platforms"`
}

type platform struct {
	Selector selector `yaml:"selector"`
	URI      string   `yaml:"uri"`
	Sha256   string   `yaml:"sha256"`
	Bin      string   `yaml:"bin"`
	Files    []file   `yaml:"files"`
}

type selector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type file struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

const (
	apiVersion = "krew.googlecontainertools.github.com/v1alpha2"
	kind       = "Plugin"
)

// The platforms Go and krew both name (krew matches GOOS/GOARCH).
var (
	knownOS   = map[string]bool{"linux": true, "darwin": true, "windows": true, "freebsd": true}
	knownArch = map[string]bool{"amd64": true, "arm64": true, "386": true, "arm": true, "ppc64le": true, "s390x": true}
)

// options are the generator's inputs.
type options struct {
	name, version, url, homepage string
	archives                     []string
}

func main() {
	var o options
	var dir, out string
	flag.StringVar(&o.name, "name", "kdoctor", "plugin name (kubectl-<name>) and the binary's name in the archives")
	flag.StringVar(&o.version, "version", "", "release version; not semver (an untagged build) becomes v0.0.0-dev-<version>, as krew requires semver")
	flag.StringVar(&o.url, "url", "", "URL the archives are published under (the release download URL)")
	flag.StringVar(&o.homepage, "homepage", "https://github.com/kdoctor-dev/kdoctor", "project homepage")
	flag.StringVar(&dir, "dir", "dist", "directory holding the archives (*.tar.gz, *.zip)")
	flag.StringVar(&out, "o", "", "output file (default: <dir>/<name>.yaml)")
	flag.Parse()
	if out == "" {
		out = filepath.Join(dir, o.name+".yaml")
	}
	for _, pat := range []string{"*.tar.gz", "*.zip"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		o.archives = append(o.archives, m...)
	}
	b, err := generate(o)
	if err == nil {
		err = os.WriteFile(out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "krew-manifest: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d platforms)\n", out, len(o.archives))
}

// semverRe is the shape krew accepts for spec.version: vMAJOR.MINOR.PATCH
// with optional pre-release and build parts.
var semverRe = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// krewVersion returns version when krew can parse it (adding a missing
// leading v), else a pre-release of
// v0.0.0 naming it ("devel" → "v0.0.0-dev-devel"): one identifier of
// letters, digits and hyphens, which is always valid.
func krewVersion(version string) string {
	if semverRe.MatchString(version) {
		return version
	}
	if semverRe.MatchString("v" + version) {
		return "v" + version // krew wants the leading v
	}
	clean := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '-'
	}, version)
	return "v0.0.0-dev-" + clean
}

// generate builds the manifest for the archives.
func generate(o options) ([]byte, error) {
	if o.version == "" || o.url == "" {
		return nil, errors.New("-version and -url are required")
	}
	if len(o.archives) == 0 {
		return nil, errors.New("no archives (*.tar.gz, *.zip) to describe: run make dist first")
	}
	m := manifest{
		APIVersion: apiVersion,
		Kind:       kind,
		Metadata:   metadata{Name: o.name},
		Spec: spec{
			Version:          krewVersion(o.version),
			Homepage:         o.homepage,
			ShortDescription: "Find out why pods are broken: live tree, diagnosis, one-key fixes",
			Description: `kdoctor is a terminal troubleshooter for Kubernetes pods. It streams pods into
a live tree (namespace → workload → pod → container) with health rolled up, and
diagnoses a pod or workload the way a senior engineer would: describe → events →
logs --previous → node conditions, naming the root cause with its evidence and
the kubectl commands that confirm it. 'kubectl kdoctor diagnose' does the same
for scripts and CI (-o json|yaml|markdown, --fail-on), also offline from
'kubectl get -o yaml' dumps. --read-only refuses every request that could change
the cluster.
`,
			Caveats: `Shell completion of 'kubectl kdoctor …' (kubectl 1.26 or newer) needs the
completion helper on PATH, next to the plugin:

  ln -s kubectl-kdoctor "$(dirname "$(command -v kubectl-kdoctor)")/kubectl_complete-kdoctor"

Try it without a cluster: kubectl kdoctor --demo
`,
		},
	}
	seen := map[string]string{}
	archives := append([]string(nil), o.archives...)
	sort.Strings(archives)
	for _, a := range archives {
		p, err := describe(a, o)
		if err != nil {
			return nil, err
		}
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s and %s are both for %s", filepath.Base(prev), filepath.Base(a), key)
		}
		seen[key] = a
		m.Spec.Platforms = append(m.Spec.Platforms, p)
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by hack/krew-manifest from the archives of 'make dist'; do not edit.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// describe reads one archive into its platform entry.
func describe(archive string, o options) (platform, error) {
	base := filepath.Base(archive)
	stem, isZip := strings.CutSuffix(base, ".zip")
	if !isZip {
		var ok bool
		if stem, ok = strings.CutSuffix(base, ".tar.gz"); !ok {
			return platform{}, fmt.Errorf("%s: not a .tar.gz or .zip archive", base)
		}
	}
	parts := strings.Split(stem, "_")
	if len(parts) < 3 || parts[0] != o.name {
		return platform{}, fmt.Errorf("%s: want a name like %s_<version>_<os>_<arch>.tar.gz", base, o.name)
	}
	goos, goarch := parts[len(parts)-2], parts[len(parts)-1]
	if !knownOS[goos] || !knownArch[goarch] {
		return platform{}, fmt.Errorf("%s: unknown platform %s/%s", base, goos, goarch)
	}
	if (goos == "windows") != isZip {
		return platform{}, fmt.Errorf("%s: windows archives are .zip, the others .tar.gz", base)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		return platform{}, err
	}
	var names []string
	if isZip {
		names, err = zipNames(data)
	} else {
		names, err = tarNames(data)
	}
	if err != nil {
		return platform{}, fmt.Errorf("%s: %w", base, err)
	}
	bin := o.name
	if goos == "windows" {
		bin += ".exe"
	}
	p := platform{
		Selector: selector{MatchLabels: map[string]string{"os": goos, "arch": goarch}},
		URI:      strings.TrimSuffix(o.url, "/") + "/" + base,
		Bin:      bin,
	}
	for _, want := range []string{bin, "LICENSE", "README.md"} {
		found := false
		for _, n := range names {
			if path.Clean(n) == want {
				found = true
			}
		}
		if !found {
			return platform{}, fmt.Errorf("%s: lacks %s at its top level (has %s)", base, want, strings.Join(names, ", "))
		}
		p.Files = append(p.Files, file{From: want, To: "."})
	}
	sum := sha256.Sum256(data)
	p.Sha256 = hex.EncodeToString(sum[:])
	return p, nil
}

func tarNames(data []byte) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
}

func zipNames(data []byte) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			names = append(names, f.Name)
		}
	}
	return names, nil
}
