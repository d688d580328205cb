package kubetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// AuditEvent is one API request as the API server's audit log recorded it
// (Metadata level). It mirrors the fields of k8s.io/apiserver's audit/v1
// Event that tests need, without pulling that module into kdoctor's go.mod.
type AuditEvent struct {
	Stage       string    // "ResponseComplete", or "ResponseStarted" for long-running requests
	Verb        string    // get, list, watch, create, patch, update, delete, …
	User        string    // authenticated user name
	Groups      []string  // authenticated user groups
	UserAgent   string    // client user agent
	RequestURI  string    // path and query
	APIGroup    string    // "" for the core group
	Resource    string    // pods, nodes, …
	Subresource string    // log, exec, status, eviction, …
	Namespace   string    // object namespace
	Name        string    // object name
	Code        int       // HTTP response code (0 when not yet known)
	Time        time.Time // stage timestamp
}

type rawAuditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

// AuditEvents parses the audit log written so far, oldest first. The API
// server writes an event after sending the response, so a request just made
// may not be there yet: use WaitForAuditEvent to wait for one.
func (s *Server) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(filepath.Join(s.dir, "audit.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubetest: audit log: %w", err)
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r rawAuditEvent
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// The API server may be in the middle of writing the last line.
			continue
		}
		e := AuditEvent{
			Stage: r.Stage, Verb: r.Verb, User: r.User.Username, Groups: r.User.Groups,
			UserAgent: r.UserAgent, RequestURI: r.RequestURI, Time: r.StageTimestamp,
		}
		if o := r.ObjectRef; o != nil {
			e.APIGroup, e.Resource, e.Subresource, e.Namespace, e.Name = o.APIGroup, o.Resource, o.Subresource, o.Namespace, o.Name
		}
		if r.ResponseStatus != nil {
			e.Code = r.ResponseStatus.Code
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("kubetest: audit log: %w", err)
	}
	return out, nil
}

// WaitForAuditEvent polls the audit log until an event matches or ctx ends.
func (s *Server) WaitForAuditEvent(ctx context.Context, match func(AuditEvent) bool) (AuditEvent, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		events, err := s.AuditEvents()
		if err != nil {
			return AuditEvent{}, err
		}
		for _, e := range events {
			if match(e) {
				return e, nil
			}
		}
		select {
		case <-ctx.Done():
			return AuditEvent{}, fmt.Errorf("kubetest: no matching audit event among %d: %w", len(events), ctx.Err())
		case <-tick.C:
		}
	}
}
