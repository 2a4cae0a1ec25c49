package blob

import "syscall"

// orphanKill has the kernel kill the test server if the test binary dies
// without stopping it (a panic, or go test's timeout).
func orphanKill() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
