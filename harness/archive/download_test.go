package archive

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// downloadFixture is one file on a fake mirror and a Fetcher with short
// timeouts to fetch it.
func downloadFixture(t *testing.T) (*archivetest.Mirror, *Fetcher, cache.FileSum, string) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	body := []byte(strings.Repeat("a kernel package ", 100))
	m.Set("pool/x.deb", body)
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{})
	f.HeaderTimeout, f.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	return m, f, cache.FileSum{SHA256: archivetest.SHA256(body), Size: int64(len(body))}, filepath.Join(t.TempDir(), "x.deb")
}

// bounded is a context that ends a test which would otherwise hang (a
// timeout that does not fire) with a failure instead.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDownloadRetriesTamperedThenNamesTheHash(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	m.Corrupt("pool/x.deb", 100)
	err := f.Download(context.Background(), m.URL()+"/pool/x.deb", want, dest)
	var mismatch *cache.HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, want.SHA256, mismatch.Want)
	assert.Contains(t, err.Error(), want.SHA256)
	assert.Equal(t, 3, m.HitsOf("pool/x.deb"), "every attempt made")
	assert.NoFileExists(t, dest, "a tampered file is not kept")
}

func TestDownloadNotFoundIsNotRetried(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	err := f.Download(context.Background(), m.URL()+"/pool/gone.deb", want, dest)
	var status *StatusError
	require.ErrorAs(t, err, &status)
	assert.Equal(t, http.StatusNotFound, status.Code)
	assert.Contains(t, err.Error(), "404")
	assert.Equal(t, 1, m.HitsOf("pool/gone.deb"))
}

func TestDownloadServerErrorIsRetried(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	m.Fault("pool/x.deb", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	err := f.Download(context.Background(), m.URL()+"/pool/x.deb", want, dest)
	assert.ErrorContains(t, err, "503")
	assert.Equal(t, 3, m.HitsOf("pool/x.deb"))
}

// A mirror that accepts the connection and never answers.
func TestDownloadHeaderTimeout(t *testing.T) {
	_, f, want, dest := downloadFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never read or answered
		}
	}()
	f.Attempts = 2
	start := time.Now()
	err = f.Download(bounded(t), "http://"+ln.Addr().String()+"/x.deb", want, dest)
	assert.ErrorIs(t, err, ErrStalled)
	assert.ErrorContains(t, err, "no answer within 300ms")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// A body that stops in the middle fails once it has sent nothing for
// IdleTimeout; one that trickles slower than that in total but keeps
// moving succeeds.
func TestDownloadIdleTimeout(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	body := m.Get("pool/x.deb")
	m.Fault("pool/x.deb", func(w http.ResponseWriter, r *http.Request) {
		w.Write(body[:100])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-m.Stopping():
		}
	})
	f.Attempts = 1
	err := f.Download(bounded(t), m.URL()+"/pool/x.deb", want, dest)
	assert.ErrorIs(t, err, ErrStalled)
	assert.ErrorContains(t, err, "no data for 300ms")
	assert.NoFileExists(t, dest)

	// The trickle's gaps are an eighth of the idle timeout, so that a
	// loaded machine (the VM tests beside this one) does not stretch one
	// past it.
	f.IdleTimeout = 2 * time.Second
	m.Fault("pool/x.deb", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(body); i += len(body) / 10 {
			w.Write(body[i:min(i+len(body)/10, len(body))])
			w.(http.Flusher).Flush()
			time.Sleep(f.IdleTimeout / 8)
		}
	})
	start := time.Now()
	require.NoError(t, f.Download(bounded(t), m.URL()+"/pool/x.deb", want, dest))
	assert.Greater(t, time.Since(start), f.IdleTimeout, "slower in total than the idle timeout")
}

// A body that never ends stops at the size the index gives, and an
// InRelease at maxInRelease.
func TestDownloadSizeLimit(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	endless := func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 1<<16))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			select {
			case <-m.Stopping():
				return
			default:
			}
		}
	}
	m.Fault("pool/x.deb", endless)
	f.Attempts = 1
	err := f.Download(bounded(t), m.URL()+"/pool/x.deb", want, dest)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.NoFileExists(t, dest)

	// Announced too large: refused before the body.
	m.Fault("pool/x.deb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000000")
		w.Write([]byte("x"))
	})
	err = f.Download(bounded(t), m.URL()+"/pool/x.deb", want, dest)
	assert.ErrorIs(t, err, ErrTooLarge)

	m.Fault("dists/bookworm/InRelease", endless)
	_, err = f.Release(bounded(t), "bookworm")
	assert.ErrorIs(t, err, ErrTooLarge)
}

// fullDisk is a download destination on a disk with no space left.
type fullDisk struct{ name string }

func (d fullDisk) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: d.name, Err: syscall.ENOSPC}
}
func (d fullDisk) Close() error { return nil }

func TestDownloadStopsOnFullDisk(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	f.createFile = func(name string) (io.WriteCloser, error) { return fullDisk{name}, nil }
	err := f.Download(context.Background(), m.URL()+"/pool/x.deb", want, dest)
	assert.True(t, errors.Is(err, syscall.ENOSPC), "%v", err)
	assert.Equal(t, 1, m.HitsOf("pool/x.deb"), "a full disk is not retried")
}

func TestDownloadStopsWhenCancelled(t *testing.T) {
	m, f, want, dest := downloadFixture(t)
	m.Fault("pool/x.deb", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	f.Attempts, f.Backoff = 10, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := f.Download(ctx, m.URL()+"/pool/x.deb", want, dest)
	assert.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second, "backoff cut short")
	assert.Equal(t, 1, m.HitsOf("pool/x.deb"))
}
