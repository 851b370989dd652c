package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/ksystest/ksystest/harness/cache"
)

// A mirror is untrusted like everything else from the network: it may
// accept a connection and never answer, stop in the middle of a body, or
// send forever. Every request is bounded in time and size.
const (
	defaultConnectTimeout = 30 * time.Second
	defaultHeaderTimeout  = time.Minute
	defaultIdleTimeout    = time.Minute
	defaultAttempts       = 3
	defaultBackoff        = time.Second
	// maxInRelease bounds an InRelease, whose size nothing signed states.
	// Debian's largest are a few hundred KiB.
	maxInRelease = 8 << 20
	// maxUnstated bounds a download whose index gives no size. Debian's
	// largest -dbg packages are under 1 GiB.
	maxUnstated = 4 << 30
)

// ErrStalled means the mirror stopped answering: no response within
// HeaderTimeout, or no body bytes within IdleTimeout.
var ErrStalled = errors.New("mirror stalled")

// ErrTooLarge means a mirror sent more than the size it was asked for.
var ErrTooLarge = fmt.Errorf("more than expected: %w", cache.ErrTooLarge)

// StatusError is a mirror's answer other than 200 OK.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return e.Status }

func (f *Fetcher) client() *http.Client {
	f.clientOnce.Do(func() {
		if f.Client != nil {
			f.httpClient = f.Client
			return
		}
		connect := orDefault(f.ConnectTimeout, defaultConnectTimeout)
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = connect
		f.httpClient = &http.Client{Transport: t}
	})
	return f.httpClient
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// get copies the body of url to w, at most limit bytes, and returns how
// many it copied. The answer must come within HeaderTimeout and every read
// of the body must bring bytes within IdleTimeout: a slow download that
// keeps moving continues, one that stops fails with ErrStalled. Its errors
// do not repeat the URL: callers name it.
func (f *Fetcher) get(ctx context.Context, url string, limit int64, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	header := orDefault(f.HeaderTimeout, defaultHeaderTimeout)
	timer := time.AfterFunc(header, func() { cancel(fmt.Errorf("%w: no answer within %s", ErrStalled, header)) })
	resp, err := f.client().Do(req)
	timer.Stop()
	if err != nil {
		return 0, stallCause(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &StatusError{URL: url, Code: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("%w: %d bytes, want at most %d", ErrTooLarge, resp.ContentLength, limit)
	}
	idle := orDefault(f.IdleTimeout, defaultIdleTimeout)
	body := &idleReader{r: resp.Body, idle: idle, timer: time.AfterFunc(idle, func() {
		cancel(fmt.Errorf("%w: no data for %s", ErrStalled, idle))
	})}
	body.timer.Stop()
	n, err := io.Copy(w, io.LimitReader(body, limit+1))
	if err != nil {
		return n, stallCause(ctx, err)
	}
	if n > limit {
		return n, fmt.Errorf("%w: want at most %d bytes", ErrTooLarge, limit)
	}
	return n, nil
}

// stallCause names the stall when one of get's timers ended the request,
// rather than the "context canceled" the HTTP client reports.
func stallCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
		return cause
	}
	return err
}

// idleReader arms its timer only while waiting inside Read, so time spent
// writing what it read (to a slow disk) never counts as the mirror's.
type idleReader struct {
	r     io.Reader
	idle  time.Duration
	timer *time.Timer
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.timer.Reset(r.idle)
	n, err := r.r.Read(p)
	r.timer.Stop()
	return n, err
}

// retry calls try up to Attempts times, waiting Backoff before the second
// attempt and twice as long before each next one. It stops at once when
// another attempt cannot help: the context ended, the disk is full, or the
// mirror answered that the file is not there.
func (f *Fetcher) retry(ctx context.Context, what string, try func() error) error {
	attempts := max(f.Attempts, 1)
	wait := orDefault(f.Backoff, defaultBackoff)
	for i := 1; ; i++ {
		err := try()
		if err == nil || i >= attempts || !retryable(ctx, err) {
			return err
		}
		f.Log("%s failed (attempt %d of %d): %v; retrying in %s", what, i, attempts, err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return false
	}
	var status *StatusError
	if errors.As(err, &status) {
		// 4xx says the request is wrong, except "timeout" and "too many".
		return status.Code >= 500 || status.Code == http.StatusRequestTimeout || status.Code == http.StatusTooManyRequests
	}
	return true
}

// Download fetches url into dest, checking size and SHA256, retrying on
// failures that another attempt may mend (see retry). A file that fails
// its hash is deleted, never kept. The mirror may send at most want.Size
// bytes (maxUnstated when that is unknown).
func (f *Fetcher) Download(ctx context.Context, url string, want cache.FileSum, dest string) error {
	err := f.retry(ctx, "download "+path.Base(url), func() error {
		err := f.downloadOnce(ctx, url, want, dest)
		if err != nil {
			os.Remove(dest)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

func (f *Fetcher) downloadOnce(ctx context.Context, url string, want cache.FileSum, dest string) error {
	out, err := f.create(dest)
	if err != nil {
		return err
	}
	h := sha256.New()
	sink := io.MultiWriter(out, h)
	if f.OnDownload != nil {
		w, done := f.OnDownload(path.Base(url), want.Size)
		defer done()
		sink = io.MultiWriter(out, h, w)
	}
	limit := want.Size
	if limit <= 0 {
		limit = maxUnstated
	}
	n, err := f.get(ctx, url, limit, sink)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if want.Size > 0 && n != want.Size {
		return fmt.Errorf("%d bytes, want %d", n, want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return &cache.HashMismatchError{URL: url, Want: want.SHA256, Got: got}
	}
	return nil
}

// create opens a download's destination; tests replace it to fill the disk.
func (f *Fetcher) create(name string) (io.WriteCloser, error) {
	if f.createFile != nil {
		return f.createFile(name)
	}
	return os.Create(name)
}
