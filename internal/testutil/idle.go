package testutil

import (
	"context"
	"fmt"
	"sync"

	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// IdleImage loads a scratch image of one tiny file, made in Go, and
// returns its reference: containers of it are created, never started,
// so a test can have a thousand of them for the cost of their records.
func (e *Env) IdleImage(ctx context.Context) (string, error) {
	l, err := Layer(File{Path: "idle", Data: []byte("idle\n")})
	if err != nil {
		return "", err
	}
	img, err := Image(ImageConfig{Entrypoint: []string{"/idle"}, Labels: e.Labels()}, l)
	if err != nil {
		return "", err
	}
	ref := "kaj-idle:" + e.ID
	if _, err := e.Load(ctx, ref, img); err != nil {
		return "", err
	}
	return ref, nil
}

// CreateIdle creates n containers of img, not started, named by name(i)
// and labelled by labels(i) plus the test's label, eight at a time.
func (e *Env) CreateIdle(ctx context.Context, img string, n int, name func(int) string, labels func(int) map[string]string) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := e.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
					Name:   name(i),
					Config: &container.Config{Image: img, Labels: e.WithLabels(labels(i))},
				})
				if err != nil {
					errs <- fmt.Errorf("creating idle container %d: %w", i, err)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}
