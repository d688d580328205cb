package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

func init() { extraCommands = append(extraCommands, newLogsCmd) }

// logsOptions are the logs command's own flags, spelled as kubectl logs's.
type logsOptions struct {
	follow     bool
	previous   bool
	tail       int64
	timestamps bool
	container  string
	maxPods    int
}

func newLogsCmd(a *app) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs TYPE/NAME",
		Short: "Print the logs of every container of a workload's pods, merged (like stern)",
		Long: `Logs prints the logs of every container of every pod of a Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job or CronJob (a CronJob's pods are those of its Jobs), merged,
each line prefixed with [pod/container]. TYPE is spelled as kubectl spells it (deploy,
sts, ds, rs, job, cj); pod/NAME or a bare NAME reads one pod's containers.

With -f the pods are watched: pods that start later join, and pods that go away are
reported on standard error ("— pod X deleted"). At most --max-pods pods are read at
once (like stern's --max-log-requests); the others wait for a slot.

Colour only on a terminal (and never with NO_COLOR). Exit status: 0, 1 when a log or
the workload cannot be read, 2 for a usage error.`,
		Example: `  kdoctor logs deploy/web -n shop
  kdoctor logs sts/postgres -n warehouse --previous
  kdoctor logs cronjob/nightly-report -n shop --tail 100 --timestamps
  kdoctor logs deploy/web -n shop -f -c app | grep ERROR`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeLogsTarget(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), a, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep streaming: new lines, and pods that start later")
	f.BoolVarP(&o.previous, "previous", "p", false, "print the previous instance of every container that has one (the crashed run)")
	f.Int64Var(&o.tail, "tail", -1, "lines of each container's recent log to print (-1: all)")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its RFC3339 time")
	f.StringVarP(&o.container, "container", "c", "", "read only this container of each pod")
	f.IntVar(&o.maxPods, "max-pods", action.DefaultMaxLogPods, "pods read at once")
	return cmd
}

// parseLogsTarget reads TYPE/NAME; a bare NAME is a pod, as for kubectl logs.
func parseLogsTarget(arg string) (kind, name string, err error) {
	t, n, ok := strings.Cut(arg, "/")
	if !ok {
		t, n = "pod", arg
	}
	k, known := facts.NormalizeKind(t)
	if !known {
		return "", "", usagef("cannot read logs of resource type %q: use pod, deployment, statefulset, daemonset, replicaset, job or cronjob", t)
	}
	if n == "" || strings.Contains(n, "/") {
		return "", "", usagef("bad target %q: want TYPE/NAME", arg)
	}
	return k, n, nil
}

func runLogs(ctx context.Context, a *app, o *logsOptions, args []string) error {
	kind, name, err := parseLogsTarget(args[0])
	if err != nil {
		return err
	}
	if o.tail < -1 {
		return usagef("--tail %d: want -1 (all) or a count of lines", o.tail)
	}
	if o.maxPods < 1 {
		return usagef("--max-pods %d: want at least 1", o.maxPods)
	}
	if o.previous && o.follow {
		return usagef("--previous and -f do not go together: a previous instance has ended")
	}
	if a.allNamespaces {
		return usagef("logs takes -n, not -A")
	}
	namespace := ""
	if a.kubeFlags.Namespace != nil {
		namespace = *a.kubeFlags.Namespace
	}
	var src kube.Source
	if a.demo {
		d, _, err := a.openDemo()
		if err != nil {
			return err
		}
		src = d
	} else {
		c, err := a.connect(a.kubeFlags)
		if err != nil {
			return err
		}
		if namespace == "" {
			namespace = c.Namespace
		}
		src = c
	}
	if namespace == "" {
		namespace = "default"
	}
	opts := action.LogOptions{
		Container: o.container, Follow: o.follow, Previous: o.previous, Timestamps: o.timestamps,
		AllContainers: o.container == "",
	}
	if o.tail >= 0 {
		// kubectl's --tail=0 prints nothing; LogOptions' 0 means all.
		opts.TailLines = max(o.tail, 0)
		if o.tail == 0 {
			return nil
		}
	}
	var s *action.LogStream
	if kind == "pod" {
		s, err = action.OpenLogs(ctx, src, namespace, name, opts)
	} else {
		s, err = action.OpenWorkloadLogs(ctx, src, kind, namespace, name, action.WorkloadLogOptions{LogOptions: opts, MaxPods: o.maxPods})
	}
	if err != nil {
		return err
	}
	defer s.Close()
	return printLogStream(ctx, a, s, colorWanted(a.stdout))
}

// ansiPod are the terminal's own palette colours (green, yellow, blue,
// magenta, cyan), so they follow its theme, for the [pod/container] prefix.
var ansiPod = []string{"32", "33", "34", "35", "36"}

// printLogStream writes the stream's lines to stdout as they come and its
// notes and troubles to stderr; a container that could not be read makes
// the command fail once the stream has ended.
func printLogStream(ctx context.Context, a *app, s *action.LogStream, colour bool) error {
	out := bufio.NewWriterSize(a.stdout, 64<<10)
	defer out.Flush()
	podColour := map[string]string{}
	var failed []string
	for {
		c, err := s.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				break
			}
			return err
		}
		if c.Skipped > 0 {
			fmt.Fprintf(a.stderr, "kdoctor: %d lines skipped: stdout was read more slowly than the pods wrote\n", c.Skipped)
		}
		for _, l := range c.Lines {
			if l.Note {
				out.Flush()
				fmt.Fprintf(a.stderr, "kdoctor: %s\n", l.Text)
				continue
			}
			writeLogLine(out, l, colour, podColour)
		}
		// Flush per chunk: a follow must show lines as they come.
		if err := out.Flush(); err != nil {
			return err
		}
		for _, e := range c.Ended {
			switch e.Status {
			case action.LogComplete, action.LogStopped:
			case action.LogFailed:
				failed = append(failed, e.Message)
				fmt.Fprintf(a.stderr, "kdoctor: %s\n", e.Message)
			default:
				fmt.Fprintf(a.stderr, "kdoctor: %s\n", e.Message)
			}
		}
		if c.Done {
			break
		}
	}
	if len(failed) > 0 && ctx.Err() == nil {
		return fmt.Errorf("%d of the logs could not be read", len(failed))
	}
	return nil
}

func writeLogLine(w *bufio.Writer, l action.LogLine, colour bool, podColour map[string]string) {
	if !l.Time.IsZero() {
		w.WriteString(l.Time.UTC().Format(time.RFC3339Nano))
		w.WriteByte(' ')
	}
	text := l.Text
	if colour {
		// A terminal would obey escape sequences in a log: show them inert.
		text = diag.Printable(text)
	}
	prefix := ""
	switch {
	case l.Pod != "":
		prefix = "[" + l.Pod + "/" + l.Container + "]"
	case l.Container != "":
		prefix = "[" + l.Container + "]"
	}
	if prefix != "" {
		if colour {
			key := l.Pod + "/" + l.Container
			if l.Pod != "" {
				key = l.Pod
			}
			code, ok := podColour[key]
			if !ok {
				code = ansiPod[len(podColour)%len(ansiPod)]
				podColour[key] = code
			}
			prefix = "\x1b[" + code + "m" + prefix + "\x1b[0m"
		}
		w.WriteString(prefix)
		w.WriteByte(' ')
	}
	w.WriteString(text)
	w.WriteByte('\n')
}
