// Package ndjson writes one JSON document per line to stdout or to a file
// that rotates by size.
package ndjson

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/network-traffic/network-traffic/input/output"
)

// Config of the file output.
type Config struct {
	// Path of the file; "" or "-" means stdout.
	Path string
	// RotateBytes starts a new file when the current one would exceed it
	// (0: never). Rotated files are Path.1 (newest) ... Path.<Keep>.
	RotateBytes int64
	// Keep is how many rotated files to keep (default 7).
	Keep int
	// Append keeps what an existing file holds; otherwise New truncates it,
	// so running the same command twice does not double its documents.
	Append bool
}

// Output writes NDJSON.
type Output struct {
	cfg  Config
	mu   sync.Mutex
	f    *os.File // nil for stdout
	w    *bufio.Writer
	size int64
	st   output.Stats
}

// New opens the destination.
func New(cfg Config) (*Output, error) {
	if cfg.Keep <= 0 {
		cfg.Keep = 7
	}
	o := &Output{cfg: cfg}
	if cfg.Path == "" || cfg.Path == "-" {
		o.w = bufio.NewWriterSize(os.Stdout, 256<<10)
		return o, nil
	}
	if err := o.open(cfg.Append); err != nil {
		return nil, err
	}
	return o, nil
}

// NewWriter writes to any io.Writer (tests, pipes).
func NewWriter(w io.Writer) *Output {
	return &Output{cfg: Config{Keep: 1}, w: bufio.NewWriterSize(w, 256<<10)}
}

func (o *Output) open(appendTo bool) error {
	if dir := filepath.Dir(o.cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
	}
	mode := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if !appendTo {
		mode |= os.O_TRUNC
	}
	f, err := os.OpenFile(o.cfg.Path, mode, 0o644)
	if err != nil {
		return fmt.Errorf("open output file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	o.f, o.size = f, info.Size()
	o.w = bufio.NewWriterSize(f, 256<<10)
	return nil
}

func (o *Output) rotate() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	// Shift Path.(n-1) -> Path.n, dropping the oldest.
	os.Remove(fmt.Sprintf("%s.%d", o.cfg.Path, o.cfg.Keep))
	for i := o.cfg.Keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", o.cfg.Path, i), fmt.Sprintf("%s.%d", o.cfg.Path, i+1))
	}
	if err := os.Rename(o.cfg.Path, o.cfg.Path+".1"); err != nil {
		return err
	}
	return o.open(false)
}

// Publish writes the batch and flushes it.
func (o *Output) Publish(_ context.Context, batch []output.Doc) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range batch {
		n := int64(len(d.Body) + 1)
		if o.f != nil && o.cfg.RotateBytes > 0 && o.size > 0 && o.size+n > o.cfg.RotateBytes {
			if err := o.rotate(); err != nil {
				o.st.LastError = err.Error()
				return fmt.Errorf("rotate %s: %w", o.cfg.Path, err)
			}
		}
		o.w.Write(d.Body)
		if err := o.w.WriteByte('\n'); err != nil {
			o.st.LastError = err.Error()
			return err
		}
		o.size += n
		o.st.Published++
	}
	if err := o.w.Flush(); err != nil {
		o.st.LastError = err.Error()
		return err
	}
	return nil
}

// ReusesBodies reports that Publish keeps nothing of the documents (it
// copies them into its buffer), so the queue may reuse their memory.
func (o *Output) ReusesBodies() bool { return true }

// Stats reports counters.
func (o *Output) Stats() output.Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.st
}

// Close flushes and closes the file.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.w.Flush()
	if o.f != nil {
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		o.f = nil
	}
	return err
}
