package blob

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The S3 tests run against SeaweedFS (`weed server -s3`), a real
// S3-compatible store, started once per test binary on loopback with a
// temporary directory. `go tool task test` builds it into .bin/weed first
// (task s3:server). Without it the tests fail, unless MOLAR_S3_TESTS=skip
// says skipping them is fine.

const (
	weedAccessKey = "molar-test"
	weedSecretKey = "molar-test-secret-key"
)

var weed struct {
	once     sync.Once
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	dir      string
	grpc     map[string]int // gRPC port by service
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopWeed()
	os.Exit(code)
}

// weedBinary is $MOLAR_WEED, or .bin/weed at the top of the repository.
func weedBinary() (string, error) {
	if p := os.Getenv("MOLAR_WEED"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".bin", "weed")
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", os.ErrNotExist
		}
		dir = up
	}
}

// s3Endpoint starts SeaweedFS if it is not running yet and returns the
// host:port of its S3 gateway.
func s3Endpoint(t *testing.T) string {
	t.Helper()
	bin, err := weedBinary()
	if err != nil {
		if os.Getenv("MOLAR_S3_TESTS") == "skip" {
			t.Skip("SeaweedFS (.bin/weed) is not built and MOLAR_S3_TESTS=skip: the S3 adapter is not tested")
		}
		t.Fatalf("SeaweedFS is needed to test the S3 adapter: run `go tool task s3:server` (builds .bin/weed), "+
			"set MOLAR_WEED to a weed binary, or set MOLAR_S3_TESTS=skip to skip these tests (%v)", err)
	}
	weed.once.Do(func() { weed.err = startWeed(bin) })
	if weed.err != nil {
		t.Fatal(weed.err)
	}
	return weed.endpoint
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startWeed(bin string) error {
	dir, err := os.MkdirTemp("", "molar-weed-")
	if err != nil {
		return err
	}
	weed.dir = dir
	p, err := freePorts(8)
	if err != nil {
		return err
	}
	port := func(i int) string { return strconv.Itoa(p[i]) }
	weed.grpc = map[string]int{"master": p[1], "volume": p[3], "filer": p[5], "s3": p[7]}
	log, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(bin, "server",
		"-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+port(0), "-master.port.grpc="+port(1),
		"-master.volumeSizeLimitMB=64", "-master.telemetry=false",
		"-volume.port="+port(2), "-volume.port.grpc="+port(3), "-volume.max=0", "-volume.preStopSeconds=0",
		"-filer", "-filer.port="+port(4), "-filer.port.grpc="+port(5), "-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port="+port(6), "-s3.port.grpc="+port(7), "-s3.localSocket="+filepath.Join(dir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
	)
	// With these set, the gateway refuses requests not signed with them.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+weedAccessKey, "AWS_SECRET_ACCESS_KEY="+weedSecretKey)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = orphanKill()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	weed.cmd, weed.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(weed.exited) }()
	weed.endpoint = "127.0.0.1:" + port(6)

	// Ready means a write goes through: master, volume server, filer and
	// gateway all up. A cold start takes seconds; allow a loaded machine
	// far more.
	started := time.Now()
	client := adminClient(weed.endpoint)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = probe(ctx, client)
		cancel()
		if err == nil {
			fmt.Fprintf(os.Stderr, "SeaweedFS answered on %s after %s\n", weed.endpoint, time.Since(started).Round(time.Millisecond))
			return nil
		}
		select {
		case <-weed.exited:
			return fmt.Errorf("SeaweedFS exited at start: %s", tail(filepath.Join(dir, "weed.log")))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Since(started) > 2*time.Minute {
			return fmt.Errorf("SeaweedFS did not answer on %s within 2 minutes (%v): %s", weed.endpoint, err, tail(filepath.Join(dir, "weed.log")))
		}
	}
}

func probe(ctx context.Context, c *minio.Client) error {
	const bucket = "molar-probe"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" && minio.ToErrorResponse(err).Code != "BucketAlreadyExists" {
			return err
		}
	}
	_, err := c.PutObject(ctx, bucket, "probe", bytes.NewReader([]byte("ok")), 2, minio.PutObjectOptions{})
	return err
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stopWeed kills the server outright: a graceful stop takes over fifteen
// seconds, and everything it wrote goes with its directory. So do the gRPC
// sockets it makes in /tmp whatever its flags say.
func stopWeed() {
	if weed.cmd != nil {
		_ = weed.cmd.Process.Kill()
		<-weed.exited
		for name, port := range weed.grpc {
			_ = os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, port))
		}
	}
	if weed.dir != "" {
		_ = os.RemoveAll(weed.dir)
	}
}

// adminClient talks to the test server directly, to make buckets and to
// look behind the adapter.
func adminClient(endpoint string) *minio.Client {
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(weedAccessKey, weedSecretKey, "")})
	if err != nil {
		panic(err) // only for a malformed endpoint, which freePorts does not make
	}
	return c
}
