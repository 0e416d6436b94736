package testutil

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"
)

// TestEnv_cleanup runs the test image, then checks that the cleanup of a
// finished test removes its container and image and nothing else.
func TestEnv_cleanup(t *testing.T) {
	var id, ref string
	outer := NewEnv(t)
	t.Run("inner", func(t *testing.T) {
		e := NewEnv(t)
		ref = e.TestAppImage("HELLO=world")
		ctx := e.Context()
		port, _ := network.ParsePort("8080/tcp")
		res, err := e.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
			Name:       e.Name(t.Name()),
			Config:     &container.Config{Image: ref, Labels: e.Labels(), ExposedPorts: network.PortSet{port: {}}},
			HostConfig: &container.HostConfig{PortBindings: network.PortMap{port: []network.PortBinding{{HostIP: netipLoopback()}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		id = res.ID
		if _, err := e.Client.ContainerStart(ctx, id, mclient.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		insp, err := e.Client.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := insp.Container.NetworkSettings.Ports[port]
		if len(b) == 0 {
			t.Fatal("port not published")
		}
		url := "http://" + net.JoinHostPort("127.0.0.1", b[0].HostPort) + "/env"
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get(url)
			if err != nil {
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(raw)
			break
		}
		if !strings.Contains(body, `"HELLO":"world"`) {
			t.Fatalf("testapp /env = %q", body)
		}
	})
	if id == "" {
		t.Fatal("inner test did not start its container")
	}
	ctx := t.Context()
	if _, err := outer.Client.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{}); err == nil {
		t.Fatal("container survived its test")
	}
	if _, err := outer.Client.ImageInspect(ctx, ref); err == nil {
		t.Fatal("image survived its test")
	}
}
