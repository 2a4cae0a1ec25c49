//go:build !windows

package blob

import "os"

// openShared opens a file for reading. On Unix an open file never stands in
// the way of renaming another file over it or removing it.
func openShared(path string) (*os.File, error) {
	return os.Open(path)
}
