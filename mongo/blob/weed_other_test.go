//go:build !linux

package blob

import "syscall"

// orphanKill is nothing outside Linux: a test binary that dies without
// stopping the test server leaves it running.
func orphanKill() *syscall.SysProcAttr { return nil }
