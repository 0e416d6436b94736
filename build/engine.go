package build

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	mclient "github.com/moby/moby/client"
)

// Engine is what build uses of the Docker Engine.
type Engine interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options mclient.ImageBuildOptions) (mclient.ImageBuildResult, error)
	ImageList(ctx context.Context, options mclient.ImageListOptions) (mclient.ImageListResult, error)
	ImageRemove(ctx context.Context, image string, options mclient.ImageRemoveOptions) (mclient.ImageRemoveResult, error)
}

var _ Engine = (*mclient.Client)(nil)

// message is one line of the engine's build stream.
type message struct {
	Stream      string                    `json:"stream"`
	Status      string                    `json:"status"`
	Error       string                    `json:"error"`
	ErrorDetail *struct{ Message string } `json:"errorDetail"`
	Aux         json.RawMessage           `json:"aux"`
}

// maxLines bounds the build lines kept in a job: a build that prints more
// is almost always a progress bar gone wild, and the job lives in memory.
const maxLines = 20000

// readStream decodes the classic builder's JSON stream, handing each
// output line to line, and returns the built image's ID and how many
// steps the layer cache answered.
func readStream(r io.Reader, line func(string)) (id string, cached int, err error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	n := 0
	var partial string
	emit := func(text string) {
		partial += text
		for {
			i := strings.IndexByte(partial, '\n')
			if i < 0 {
				return
			}
			l := strings.TrimRight(partial[:i], "\r")
			partial = partial[i+1:]
			if strings.TrimSpace(l) == "---> Using cache" {
				cached++
			}
			n++
			if n <= maxLines {
				line(l)
			} else if n == maxLines+1 {
				line(fmt.Sprintf("(output beyond %d lines is not kept)", maxLines))
			}
		}
	}
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return id, cached, fmt.Errorf("%w: reading the engine's build output: %v", ErrEngine, err)
		}
		switch {
		case m.ErrorDetail != nil || m.Error != "":
			msg := m.Error
			if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
				msg = m.ErrorDetail.Message
			}
			emit("\n")
			line("ERROR: " + msg)
			return id, cached, &EngineError{Msg: msg}
		case m.Stream != "":
			emit(m.Stream)
		case m.Status != "":
			emit(m.Status + "\n")
		case len(m.Aux) > 0:
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
	if partial != "" {
		emit("\n")
	}
	if id == "" {
		return id, cached, &EngineError{Msg: "the engine ended the build without naming an image"}
	}
	return id, cached, nil
}
