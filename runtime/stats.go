package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	mclient "github.com/moby/moby/client"
)

// Sample is one reading of a container's live resource use, as the
// engine's stats stream delivers it about once a second.
type Sample struct {
	Time time.Time `json:"time"`
	// CPUPercent is the share of one CPU used since the previous
	// reading, as docker stats shows it (200 is two CPUs busy); the
	// stream's first reading has none to compare with and says 0.
	CPUPercent float64 `json:"cpu_percent"`
	// Memory is the memory in use without the page cache; MemoryLimit
	// the container's limit, or the machine's memory when it has none.
	Memory      uint64 `json:"memory"`
	MemoryLimit uint64 `json:"memory_limit"`
	// NetRx and NetTx are bytes received and sent over every interface
	// since the container started.
	NetRx uint64 `json:"net_rx"`
	NetTx uint64 `json:"net_tx"`
	// BlockRead and BlockWrite are bytes read and written on block
	// devices since the container started.
	BlockRead  uint64 `json:"block_read"`
	BlockWrite uint64 `json:"block_write"`
}

// StreamStats follows a container's resource use: emit gets a Sample
// about once a second until ctx ends (nil), the container stops (nil) or
// emit returns an error (returned). It holds one engine stats stream
// open for as long as it runs; emit runs on the calling goroutine.
func (d *Docker) StreamStats(ctx context.Context, id string, emit func(Sample) error) error {
	res, err := d.cli.ContainerStats(ctx, id, mclient.ContainerStatsOptions{Stream: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engineError("streaming stats of "+shortID(id), err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("reading stats of %s: %w", shortID(id), err)
		}
		// A stopped container's stream goes on with empty readings.
		if s.Read.IsZero() || (s.PidsStats.Current == 0 && s.MemoryStats.Usage == 0) {
			return nil
		}
		if err := emit(sampleOf(s)); err != nil {
			return err
		}
	}
}

func sampleOf(s container.StatsResponse) Sample {
	st := statsOf(s)
	out := Sample{Time: s.Read, CPUPercent: st.CPUPercent, Memory: st.Memory, MemoryLimit: st.MemoryLimit}
	for _, n := range s.Networks {
		out.NetRx += n.RxBytes
		out.NetTx += n.TxBytes
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			out.BlockRead += e.Value
		case "write":
			out.BlockWrite += e.Value
		}
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// HostUsage is what the engine's host holds: its CPUs and memory, and
// the disk its images, containers and volumes take.
type HostUsage struct {
	CPUs        int   `json:"cpus"`
	Memory      int64 `json:"memory"`
	Images      int64 `json:"images_bytes"`
	ImagesCount int64 `json:"images_count"`
	// ImagesReclaimable is what removing unused images would free.
	ImagesReclaimable int64 `json:"images_reclaimable"`
	Containers        int64 `json:"containers_bytes"`
	ContainersCount   int64 `json:"containers_count"`
	Volumes           int64 `json:"volumes_bytes"`
	VolumesCount      int64 `json:"volumes_count"`
}

// HostUsage asks the engine for its host's totals. Disk usage makes the
// engine walk its storage, which can take a few seconds on a big host.
func (d *Docker) HostUsage(ctx context.Context) (HostUsage, error) {
	info, err := d.cli.Info(ctx, mclient.InfoOptions{})
	if err != nil {
		return HostUsage{}, engineError("reading the engine's host info", err)
	}
	du, err := d.diskUsage(ctx, mclient.DiskUsageOptions{Images: true, Containers: true, Volumes: true})
	if err != nil {
		return HostUsage{}, engineError("reading the engine's disk usage", err)
	}
	return HostUsage{
		CPUs: info.Info.NCPU, Memory: info.Info.MemTotal,
		Images: du.Images.TotalSize, ImagesCount: du.Images.TotalCount, ImagesReclaimable: du.Images.Reclaimable,
		Containers: du.Containers.TotalSize, ContainersCount: du.Containers.TotalCount,
		Volumes: du.Volumes.TotalSize, VolumesCount: du.Volumes.TotalCount,
	}, nil
}

// HostImage is one image the engine holds, for pruning and pickers.
type HostImage struct {
	ID   string   `json:"id"`
	Tags []string `json:"tags"`
	Size int64    `json:"size"`
	// Containers is how many containers (running or not) use it; -1
	// when the engine did not count.
	Containers int64 `json:"containers"`
}

// Images lists every image the engine holds, with how many containers
// use each (the engine counts them only in its disk usage report).
func (d *Docker) Images(ctx context.Context) ([]HostImage, error) {
	res, err := d.diskUsage(ctx, mclient.DiskUsageOptions{Images: true, Verbose: true})
	if err != nil {
		return nil, engineError("listing images", err)
	}
	out := make([]HostImage, 0, len(res.Images.Items))
	for _, im := range res.Images.Items {
		out = append(out, hostImage(im))
	}
	return out, nil
}

func hostImage(im image.Summary) HostImage {
	tags := make([]string, 0, len(im.RepoTags))
	for _, t := range im.RepoTags {
		if t != "<none>:<none>" {
			tags = append(tags, t)
		}
	}
	return HostImage{ID: im.ID, Tags: tags, Size: im.Size, Containers: im.Containers}
}

// RemoveImage removes one image with every tag it has, never by force:
// the engine refuses an image a container (even a stopped one) uses.
func (d *Docker) RemoveImage(ctx context.Context, im HostImage) error {
	refs := im.Tags
	if len(refs) <= 1 {
		refs = []string{im.ID}
	}
	for _, ref := range refs {
		if _, err := d.cli.ImageRemove(ctx, ref, mclient.ImageRemoveOptions{PruneChildren: true}); err != nil {
			return engineError("removing image "+shortID(strings.TrimPrefix(im.ID, "sha256:")), err)
		}
	}
	return nil
}

// diskUsage asks the engine for its disk usage one request at a time: the
// engine runs one such walk at once and answers any other with a
// conflict ("a disk usage operation is already running"), which is
// waited out, since another client (docker system df) may hold it too.
func (d *Docker) diskUsage(ctx context.Context, opts mclient.DiskUsageOptions) (mclient.DiskUsageResult, error) {
	defer d.locks.lock("disk-usage")()
	for attempt := 0; ; attempt++ {
		res, err := d.cli.DiskUsage(ctx, opts)
		// Engines before 23.0 send this refusal as a plain 500, so it is
		// recognised by its words here, where the engine's error enters.
		busy := cerrdefs.IsConflict(err) || (err != nil && strings.Contains(err.Error(), "disk usage operation is already running"))
		if !busy || attempt == 20 {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
