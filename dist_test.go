package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestMakeDist runs the real `make dist` for the host platform only and
// checks what a release publishes: the archive holds the binary, README.md
// and LICENSE at its top level, the binary reports the version it was
// stamped with, the checksum file verifies, and the krew manifest names the
// archive with its sha256 and the release URL.
func TestMakeDist(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if runtime.GOOS == "windows" {
		t.Skip("make dist runs on unix-like hosts")
	}
	dir := filepath.Join(t.TempDir(), "out")
	platform := runtime.GOOS + "/" + runtime.GOARCH
	const version, url = "v9.8.7", "https://downloads.example.com/kdoctor/v9.8.7"
	cmd := exec.Command("make", "dist", "PLATFORMS="+platform, "DIST="+dir, "VERSION="+version, "RELEASE_URL="+url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	name := "kdoctor_" + version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	archive := filepath.Join(dir, name)

	// The archive: exactly the three files, at the top level.
	extract := t.TempDir()
	var files []string
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name)
		out, err := os.OpenFile(filepath.Join(extract, filepath.Base(h.Name)), os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(out, tr)
		out.Close()
	}
	sort.Strings(files)
	if strings.Join(files, " ") != "LICENSE README.md kdoctor" {
		t.Errorf("archive holds %v", files)
	}
	if lic, _ := os.ReadFile(filepath.Join(extract, "LICENSE")); !strings.Contains(string(lic), "Apache License") {
		t.Error("LICENSE in the archive is not the license")
	}
	out, err := exec.Command(filepath.Join(extract, "kdoctor"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "kdoctor "+version+" (commit ") {
		t.Errorf("archived binary's version: %q (%v)", out, err)
	}

	// The checksum file, in sha256sum's format, verifies.
	sums, err := os.Open(filepath.Join(dir, "kdoctor_"+version+"_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	checked := 0
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksum line %q", sc.Text())
		}
		if got := fileSHA256(t, filepath.Join(dir, file)); got != sum {
			t.Errorf("%s: checksum file says %s, file is %s", file, sum, got)
		}
		checked++
	}
	if checked != 1 {
		t.Errorf("%d checksums for 1 archive", checked)
	}

	// The krew manifest.
	b, err := os.ReadFile(filepath.Join(dir, "kdoctor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version   string
			Platforms []struct {
				URI, Sha256, Bin string
				Selector         struct{ MatchLabels map[string]string }
			}
		}
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("kdoctor.yaml: %v\n%s", err, b)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "kdoctor" || m.Spec.Version != version {
		t.Errorf("manifest header: %+v", m)
	}
	if len(m.Spec.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1:\n%s", len(m.Spec.Platforms), b)
	}
	p := m.Spec.Platforms[0]
	if p.URI != url+"/"+name || p.Sha256 != fileSHA256(t, archive) || p.Bin != "kdoctor" ||
		p.Selector.MatchLabels["os"] != runtime.GOOS || p.Selector.MatchLabels["arch"] != runtime.GOARCH {
		t.Errorf("platform entry: %+v", p)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
