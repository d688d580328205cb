package kube

import (
	"context"
	"fmt"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Cluster is a connection to one API server through one kubeconfig context.
type Cluster struct {
	client  kubernetes.Interface
	metrics metricsclient.MetricsV1beta1Interface
	Config  *rest.Config
	// Namespace is the one from -n, else the context's, else "default".
	Namespace string
	// ExplicitNamespace is true when the namespace came from -n or the context.
	ExplicitNamespace bool
	Context           string
	// User is the kubeconfig user (AuthInfo) of the context, for the session log.
	User     string
	Server   string
	ReadOnly bool
	// ReadOnlyWhy says what made the connection read-only ("--read-only",
	// a config entry), for the status line.
	ReadOnlyWhy string
}

// ConnectOptions tunes Connect.
type ConnectOptions struct {
	// ReadOnly installs the transport guard that refuses every mutating or
	// exec-like request inside the process.
	ReadOnly bool
	// ReadOnlyFor, when set, decides read-only from the context name and the
	// API server URL (config patterns); it can only add to ReadOnly.
	ReadOnlyFor func(context, server string) (bool, string)
	// UserAgent defaults to "kdoctor".
	UserAgent string
}

// Connect builds a client from kubectl-compatible flags (--kubeconfig,
// --context, -n, --as, --request-timeout, …). It does not contact the server:
// errors about reachability surface on first use, where Explain turns them
// into one sentence.
func Connect(flags *genericclioptions.ConfigFlags, opts ConnectOptions) (*Cluster, error) {
	loader := flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: err}
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: err}
	}
	ns, explicit, err := loader.Namespace()
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: err}
	}
	ctxName := raw.CurrentContext
	if flags.Context != nil && *flags.Context != "" {
		ctxName = *flags.Context
	}
	if ctxName != "" {
		if _, ok := raw.Contexts[ctxName]; !ok {
			return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: fmt.Errorf("context %q does not exist", ctxName)}
		}
	}
	user := ""
	if c, ok := raw.Contexts[ctxName]; ok {
		user = c.AuthInfo
	}
	if flags.AuthInfoName != nil && *flags.AuthInfoName != "" {
		user = *flags.AuthInfoName
	}
	if flags.Impersonate != nil && *flags.Impersonate != "" {
		user = *flags.Impersonate
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = opts.UserAgent
	if cfg.UserAgent == "" {
		cfg.UserAgent = "kdoctor"
	}
	// Protobuf halves decode time and memory for lists and watches of pods.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	readOnly, why := opts.ReadOnly, ""
	if readOnly {
		why = "--read-only"
	}
	if opts.ReadOnlyFor != nil {
		if ro, w := opts.ReadOnlyFor(ctxName, cfg.Host); ro {
			readOnly, why = true, w
		}
	}
	if readOnly {
		GuardReadOnly(cfg)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: err}
	}
	// The metrics client shares the config, so the read-only guard covers it.
	metrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfigPath(flags), Err: err}
	}
	return &Cluster{
		client: client, metrics: metrics, Config: cfg, Namespace: ns, ExplicitNamespace: explicit,
		Context: ctxName, User: user, Server: cfg.Host, ReadOnly: readOnly, ReadOnlyWhy: why,
	}, nil
}

func kubeconfigPath(flags *genericclioptions.ConfigFlags) string {
	if flags.KubeConfig != nil && *flags.KubeConfig != "" {
		return *flags.KubeConfig
	}
	return flags.ToRawKubeConfigLoader().ConfigAccess().GetDefaultFilename()
}

// NeedsTerminal reports whether the credentials come from an exec plugin
// (kubelogin, `aws eks get-token`, gke-gcloud-auth-plugin): such a plugin
// may prompt for a code or a password, or print where to log in, so it must
// run with the terminal — not under a full-screen program that would hide
// its prompt.
func (c *Cluster) NeedsTerminal() bool { return c.Config.ExecProvider != nil }

// Login makes one request so that an exec plugin runs now, while the caller
// has handed it the terminal; client-go caches the credential it returns
// for every later request of this connection.
func (c *Cluster) Login(ctx context.Context) error {
	return c.client.CoreV1().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
}
