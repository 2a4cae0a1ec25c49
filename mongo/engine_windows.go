package mongo

import "errors"

// listener is where the embedded engine listens.
type listener struct {
	socket  string
	cleanup func()
}

// privateListener refuses to start the embedded MongoDB-compatible engine
// on Windows. The engine has no authentication, so it listens only on a
// Unix socket in a directory of mode 0700, and Windows has no such mode to
// rely on. Nothing on Windows needs the engine: the default engine is
// SQLite, which has no listener, and the engine only exists to move the
// data of Molar versions that never ran on Windows.
func privateListener(string) (listener, error) {
	return listener{}, errors.New("the embedded MongoDB-compatible engine does not run on Windows: " +
		"move a data directory of an earlier Molar version on Linux or macOS first, or set MONGODB_URI")
}
