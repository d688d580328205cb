package diag

// Catalogue lists every rule id of the decision tree (docs/decision-tree.md
// in the shared docs), in its order, including the healthy outcome "ok".
// The tests check that the engine implements exactly these and that every
// one has a scenario or fixture in testdata.
var Catalogue = []string{
	"sched.insufficient-resources", "sched.node-selector-mismatch", "sched.untolerated-taint",
	"sched.no-nodes", "sched.host-port-conflict", "sched.pvc-unbound", "sched.topology-spread", "sched.other",
	"create.quota-exceeded", "create.limitrange", "create.admission-denied", "create.serviceaccount-missing",
	"image.not-found", "image.unauthorized", "image.registry-unreachable", "image.pull-timeout",
	"image.invalid-name", "image.never-pull", "image.rate-limited", "image.platform-mismatch",
	"config.configmap-missing", "config.secret-missing", "config.key-missing",
	"config.run-as-non-root",
	"volume.provisioning-failed", "volume.waiting-first-consumer", "volume.attach-failed", "volume.mount-timeout",
	"volume.mount-failed", "volume.invalid-mount", "sandbox.cni-failed", "sandbox.disk", "sandbox.runtime-handler-missing",
	"container.command-not-found", "container.command-not-executable", "container.create-error",
	"crash.oom-killed", "crash.exit-error", "crash.sigkill", "crash.sigterm", "crash.segfault",
	"crash.completed-restarting", "probe.liveness-failing", "probe.readiness-failing", "probe.startup-failing",
	"init.failed", "init.never-finishes", "hook.poststart-failed", "hook.prestop-failed", "crash.restarting",
	"app.rbac-forbidden", "app.java-oom", "app.disk-full", "app.port-in-use", "app.dependency-unreachable",
	"pod.evicted", "pod.node-lost", "pod.stuck-terminating", "pod.node-shutdown", "pod.admission-rejected",
	"node.not-ready", "node.disk-pressure", "node.memory-pressure", "node.pid-pressure",
	"node.network-unavailable", "node.cordoned",
	"service.no-endpoints", "rollout.stuck",
	"job.backoff-limit-exceeded", "job.deadline-exceeded", "pod.deadline-exceeded",
	"cronjob.concurrency-blocked", "cronjob.missed-schedule",
	"usage.memory-near-limit", "usage.cpu-at-limit",
	RuleOK,
}
