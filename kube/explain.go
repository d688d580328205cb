package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// KubeconfigError is a kubeconfig that cannot be used.
type KubeconfigError struct {
	Path string
	Err  error
}

func (e *KubeconfigError) Error() string { return e.Err.Error() }
func (e *KubeconfigError) Unwrap() error { return e.Err }

// Explain turns an error from talking to Kubernetes into one sentence that
// says what failed, where, and what to try — the line an on-call engineer
// reads at 3 a.m. instead of Go error soup. Text from the server or a
// file (a name, a webhook's message) cannot break it over several lines or
// smuggle escape sequences through it: the sentence is diag.Printable.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	return diag.Printable(strings.ReplaceAll(explain(err), "\n", " "))
}

func explain(err error) string {
	var kc *KubeconfigError
	var ro *ReadOnlyError
	var ue *url.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &ro):
		return ro.Error()
	case errors.As(err, &kc):
		msg := firstLine(kc.Err.Error())
		if clientcmd.IsEmptyConfig(kc.Err) || strings.Contains(msg, "no configuration has been provided") {
			return fmt.Sprintf("no usable kubeconfig (looked at %s): point --kubeconfig or KUBECONFIG at one, or try the demo with --demo", kc.Path)
		}
		switch {
		case errors.Is(kc.Err, fs.ErrNotExist):
			return fmt.Sprintf("kubeconfig %s does not exist: point --kubeconfig or KUBECONFIG at your cluster's kubeconfig, or try the demo with --demo", kc.Path)
		case strings.Contains(msg, "yaml:") || strings.Contains(msg, "json:"):
			return fmt.Sprintf("kubeconfig %s is not a valid kubeconfig (%s): fix or replace the file", kc.Path, yamlReason(msg))
		case strings.Contains(msg, "context") && strings.Contains(msg, "does not exist"):
			return fmt.Sprintf("%s in kubeconfig %s: list contexts with 'kubectl config get-contexts' and pick one with --context", msg, kc.Path)
		}
		return fmt.Sprintf("cannot use kubeconfig %s: %s; check the file and --context, or try the demo with --demo", kc.Path, trimErr(msg))
	case apierrors.IsForbidden(err):
		msg := apiMessage(err)
		for _, v := range []string{"cannot list", "cannot get", "cannot watch"} {
			if strings.Contains(msg, v) {
				return fmt.Sprintf("access denied: %s; ask for read access, or narrow the scope with -n", msg)
			}
		}
		return fmt.Sprintf("access denied: %s; ask your cluster admin for this permission", msg)
	case apierrors.IsUnauthorized(err):
		return "the API server rejected your credentials (401 Unauthorized): your token or certificate may have expired; log in again or refresh the kubeconfig"
	case apierrors.IsNotFound(err):
		return apiMessage(err)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve the API server host %q: check the server address in your kubeconfig and your network/VPN", dnsErr.Name)
	case errors.As(err, &opErr) || (errors.As(err, &ue) && ue.Timeout()):
		where := ""
		if errors.As(err, &ue) {
			if hostOf(ue.URL) == "localhost:8080" {
				// client-go's default when the kubeconfig names no server:
				// an empty kubeconfig, not a cluster that is down.
				return "no API server configured (the kubeconfig names no cluster, so localhost:8080 was tried): point --kubeconfig or KUBECONFIG at your cluster's kubeconfig, or try the demo with --demo"
			}
			where = " at " + hostOf(ue.URL)
		}
		return fmt.Sprintf("cannot reach the API server%s (%s): is the cluster up and your VPN connected? check with 'kubectl cluster-info'", where, trimErr(firstLine(err.Error())))
	}
	return trimErr(firstLine(err.Error()))
}

func yamlReason(msg string) string {
	if i := strings.Index(msg, "yaml: "); i >= 0 {
		return msg[i:]
	}
	return msg
}

func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Message
	}
	return err.Error()
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

// trimErr keeps the innermost, human part of a wrapped net error.
func trimErr(s string) string {
	if i := strings.LastIndex(s, ": dial tcp"); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// FailureReason says in a few words why a request failed, for what a
// source marks as unknown: the API server's message for a refusal, the
// network error without Go's wrapping otherwise.
func FailureReason(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden: " + apiMessage(err)
	case apierrors.IsNotFound(err):
		return "not found"
	}
	return trimErr(err.Error())
}

// firstLine is also in kube/facts (too small to share across rooms).
func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }
