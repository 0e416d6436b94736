package microblog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/microblog/image"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// buildMicroblog builds Microblog's production image under a tag of this
// test's, labelled for its cleanup, and returns the tag.
func buildMicroblog(tb testing.TB, env *testutil.Env) string {
	tb.Helper()
	tag := env.Name("microblog") + ":1.0.0-prod"
	ctx, cancel := context.WithTimeout(env.Context(), 10*time.Minute)
	defer cancel()
	if _, err := image.Build(ctx, env.Client, []string{tag}, env.Labels()); err != nil {
		tb.Fatalf("building microblog's image: %v", err)
	}
	return tag
}

func secret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mariaDB is a MariaDB server container started by a test.
type mariaDB struct {
	ID string
	// Addr is port 3306 published on the host's loopback.
	Addr         netip.AddrPort
	RootPassword string
}

// mariaDBOptions say what the server is to create on first start, and
// where it runs.
type mariaDBOptions struct {
	Database, User, Password string
	// Network, when set, is a network the server joins as dbserver, as
	// the lesson's --link mysql:dbserver did.
	Network string
}

// startMariaDB runs the MariaDB test image with its data on a volume of
// the test's, and waits until root can log in over TCP.
func startMariaDB(tb testing.TB, env *testutil.Env, opts mariaDBOptions) *mariaDB {
	tb.Helper()
	ctx := env.Context()
	name := env.Name("mariadb")
	db := &mariaDB{RootPassword: secret()}
	vars := []string{"MYSQL_ROOT_PASSWORD=" + db.RootPassword, "MYSQL_DATABASE=" + opts.Database}
	if opts.User != "" {
		vars = append(vars, "MYSQL_USER="+opts.User, "MYSQL_PASSWORD="+opts.Password)
	}
	port := network.MustParsePort("3306/tcp")
	hostCfg := &container.HostConfig{
		PortBindings: network.PortMap{port: {{HostIP: loopback}}},
		// A volume of the test's: the image declares /var/lib/mysql a
		// volume, and the engine would otherwise make an unlabelled one.
		Mounts: []mount.Mount{{
			Type: mount.TypeVolume, Source: name, Target: "/var/lib/mysql",
			VolumeOptions: &mount.VolumeOptions{Labels: env.Labels()},
		}},
	}
	var netCfg *network.NetworkingConfig
	if opts.Network != "" {
		hostCfg.NetworkMode = container.NetworkMode(opts.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			opts.Network: {Aliases: []string{"dbserver"}},
		}}
	}
	res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:             name,
		Config:           &container.Config{Image: env.MariaDBImage(), Env: vars, Labels: env.Labels()},
		HostConfig:       hostCfg,
		NetworkingConfig: netCfg,
	})
	if err != nil {
		tb.Fatalf("creating the MariaDB container: %v", err)
	}
	db.ID = res.ID
	if _, err := env.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		tb.Fatalf("starting MariaDB: %v", err)
	}
	db.Addr = publishedPort(tb, env, res.ID, port)

	conn, err := sql.Open("mysql", db.DSN(""))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := errors.New("no MySQL greeting yet")
		if greets(db.Addr.String()) {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.PingContext(pctx)
			cancel()
			if err == nil {
				return db
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("MariaDB did not accept root within 2m: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// greets reports whether a MySQL server greets on addr. The engine's port
// proxy accepts connections before the server listens, then drops them,
// which the driver would log at every attempt.
func greets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	// A packet header (3 bytes length, 1 sequence), then protocol version 10.
	var head [5]byte
	_, err = io.ReadFull(c, head[:])
	return err == nil && head[4] == 10
}

// DSN is a go-sql-driver DSN for root on database (none when empty).
func (m *mariaDB) DSN(database string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "root", m.RootPassword, "tcp", m.Addr.String(), database
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// publishedPort returns where the host reaches the container's port.
func publishedPort(tb testing.TB, env *testutil.Env, id string, port network.Port) netip.AddrPort {
	tb.Helper()
	insp, err := env.Client.ContainerInspect(env.Context(), id, mclient.ContainerInspectOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range insp.Container.NetworkSettings.Ports[port] {
		if p, err := strconv.ParseUint(b.HostPort, 10, 16); err == nil && p != 0 {
			return netip.AddrPortFrom(loopback, uint16(p))
		}
	}
	tb.Fatalf("port %s of %s is not published: %+v", port, id[:12], insp.Container.NetworkSettings.Ports)
	return netip.AddrPort{}
}

// healthz asks a Microblog's /healthz once and returns the status code, or
// 0 when nothing answers.
func healthz(ctx context.Context, base string) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return 0
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noKeepAlive opens a connection per request: the containers asked come
// and go, and a pooled connection to a removed one would only time out.
var noKeepAlive = &http.Client{Transport: &http.Transport{
	DisableKeepAlives: true,
	DialContext:       kajtest.DialLocal,
}}

// waitHealthz polls base's /healthz every step until it answers want, and
// returns when it first did. It fails the test after limit.
func waitHealthz(tb testing.TB, base string, want int, step, limit time.Duration) time.Time {
	tb.Helper()
	deadline := time.Now().Add(limit)
	last := 0
	for {
		last = healthz(context.Background(), base)
		if last == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s/healthz answered %d for %s; want %d", base, last, limit, want)
		}
		time.Sleep(step)
	}
}
