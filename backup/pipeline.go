package backup

import (
	"errors"
	"io"
	"sync"
)

// parallelWriter hands what is written to it to another goroutine that
// writes it on to w, so that reading the dump from the engine and
// compressing it run on two cores, not in turn. It copies each write: the
// engine's stream reuses its buffer. Writes fail once w failed. Call start
// before the first write and close after the last.
type parallelWriter struct {
	w    io.Writer
	ch   chan []byte
	pool sync.Pool
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// pipelineDepth is how many chunks (up to 32 KiB each, the engine's
// stream frames) wait between the two goroutines: enough to ride out a
// compressor's pauses, small in memory.
const pipelineDepth = 64

func (p *parallelWriter) start() {
	p.ch = make(chan []byte, pipelineDepth)
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		for b := range p.ch {
			if p.failed() == nil {
				if _, err := p.w.Write(b); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
				}
			}
			p.pool.Put(b[:0])
		}
	}()
}

func (p *parallelWriter) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *parallelWriter) Write(b []byte) (int, error) {
	if err := p.failed(); err != nil {
		return 0, err
	}
	buf, _ := p.pool.Get().([]byte)
	p.ch <- append(buf, b...)
	return len(b), nil
}

// close waits for everything written to reach w and returns w's error.
func (p *parallelWriter) close() error {
	if p.ch == nil {
		return errors.New("backup: parallelWriter closed before start")
	}
	close(p.ch)
	<-p.done
	return p.failed()
}
