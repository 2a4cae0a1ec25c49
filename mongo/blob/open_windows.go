package blob

import (
	"io/fs"
	"os"
	"syscall"
)

// openShared opens a file for reading and lets others delete it meanwhile,
// as Unix does: os.Open does not share delete access, so while an image was
// being downloaded its file could not be removed. (Renaming another file
// over it is still refused: a Put then fails whole and is tried again.)
func openShared(path string) (*os.File, error) {
	name, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(name, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
