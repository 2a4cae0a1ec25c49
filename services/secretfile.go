package services

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateSecretFile returns the contents of the key file at path,
// creating it (mode 0600) with generate() if it does not exist. Two
// processes starting at once agree on one file. For the dev profile only:
// production keys come from configuration.
func LoadOrCreateSecretFile(path string, generate func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecretFile(path, generate)
	}
	if err != nil {
		return "", err
	}
	spec := generate()
	if _, err := f.WriteString(spec + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return spec, f.Close()
}
