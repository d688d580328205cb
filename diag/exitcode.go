package diag

import "fmt"

// signals names the POSIX signals a container is commonly killed with; the
// runtime reports such a death as exit code 128+n.
var signals = map[int32]struct{ name, meaning string }{
	1:  {"SIGHUP", "hang-up"},
	2:  {"SIGINT", "interrupted (Ctrl-C)"},
	3:  {"SIGQUIT", "quit, often with a core dump"},
	4:  {"SIGILL", "illegal instruction: a binary built for another CPU, or a corrupt binary"},
	5:  {"SIGTRAP", "trace/breakpoint trap"},
	6:  {"SIGABRT", "aborted by the process itself: a failed assertion, abort(), or a fatal runtime error"},
	7:  {"SIGBUS", "bus error: bad memory access (e.g. a truncated memory-mapped file)"},
	8:  {"SIGFPE", "arithmetic error such as division by zero"},
	9:  {"SIGKILL", "killed from outside without a chance to clean up (OOM killer, liveness kill after the grace period, docker kill, kill -9)"},
	10: {"SIGUSR1", "user-defined signal 1"},
	11: {"SIGSEGV", "segmentation fault: the process read or wrote memory it does not own"},
	12: {"SIGUSR2", "user-defined signal 2"},
	13: {"SIGPIPE", "wrote to a pipe or socket nobody reads"},
	14: {"SIGALRM", "timer alarm"},
	15: {"SIGTERM", "asked to stop gracefully (pod deletion, scale-down, eviction, liveness restart)"},
}

// windowsStatus names NTSTATUS values Windows containers exit with. The API
// carries the exit code as an int32, so they arrive negative.
var windowsStatus = map[uint32]string{
	0xC0000005: "STATUS_ACCESS_VIOLATION: the process read or wrote memory it does not own (Windows' segfault)",
	0xC000013A: "STATUS_CONTROL_C_EXIT: the process was stopped (Ctrl-C or container stop)",
	0xC0000409: "STATUS_STACK_BUFFER_OVERRUN: fatal error detected by the process itself",
	0xC0000135: "STATUS_DLL_NOT_FOUND: a DLL the program needs is missing from the image",
	0xC0000142: "STATUS_DLL_INIT_FAILED: a DLL failed to initialise",
	0xE0434352: "unhandled .NET exception",
}

// ExitCodeMeaning explains a container exit code in a few words.
func ExitCodeMeaning(code int32) string {
	switch code {
	case 0:
		return "success: the process ended normally"
	case 1:
		return "general application error"
	case 2:
		return "misuse of a shell builtin or invalid arguments"
	case 126:
		return "command found but not executable (permission denied or not a binary)"
	case 127:
		return "command not found"
	case 128:
		return "the runtime could not start the process, or the process exited with an invalid code"
	case 255:
		return "exit status out of range (exit(-1)) or a fatal error"
	}
	if code > 128 && code < 128+65 {
		n := code - 128
		if s, ok := signals[n]; ok {
			return fmt.Sprintf("killed by signal %d (%s): %s", n, s.name, s.meaning)
		}
		return fmt.Sprintf("killed by signal %d", n)
	}
	if code < 0 || code > 255 {
		u := uint32(code)
		if s, ok := windowsStatus[u]; ok {
			return fmt.Sprintf("Windows status 0x%08X %s", u, s)
		}
		return fmt.Sprintf("Windows status 0x%08X", u)
	}
	return "application-defined exit code: see the app's documentation or logs"
}

// exitSignal returns the signal number behind an exit code, or 0.
func exitSignal(code int32) int32 {
	if code > 128 && code < 128+65 {
		return code - 128
	}
	return 0
}
