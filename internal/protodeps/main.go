// Command protodeps writes the .proto sources that the schema imports but that
// cannot be fetched from a registry, reconstructed from descriptors compiled
// into pinned Go modules. Today that is buf/validate/validate.proto from the
// protovalidate module that the server itself validates with, so the browser,
// the server and buf always agree on one version of the rules.
//
// Usage: go run ./internal/protodeps <output dir>
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoprint"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: protodeps <output dir>")
		os.Exit(2)
	}
	if err := write(os.Args[1], validate.File_buf_validate_validate_proto); err != nil {
		fmt.Fprintln(os.Stderr, "protodeps:", err)
		os.Exit(1)
	}
}

// write prints one file descriptor as .proto source below dir, at its own path.
func write(dir string, fd protoreflect.FileDescriptor) error {
	d, err := desc.WrapFile(fd)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, filepath.FromSlash(fd.Path()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	p := protoprint.Printer{Compact: true}
	if err := p.PrintProtoFile(d, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
