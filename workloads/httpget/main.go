// httpget is a workload: a Go program doing what Go programs do on the
// web, so that probes attached while it runs see the calls Go's runtime
// and net/http make on each arch (socket, connect, accept4, read, write,
// epoll, mmap, clone for its threads). It serves a page on 127.0.0.1 from
// the same process, GETs it a few times over fresh connections, checks
// each body, prints one line per request and exits 0; on any failure it
// says what failed and exits 1. Standard library only: harness/guestbuild builds it
// for each guest arch like the agent.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// requests is how many GETs it makes, each over a connection of its own.
const requests = 3

func main() {
	if err := run(os.Stdout, requests); err != nil {
		fmt.Fprintln(os.Stderr, "httpget:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, n int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ksystest %s\n", r.URL.Path)
		}),
		ReadHeaderTimeout: time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// No keep-alives, so that every request connects and is accepted
	// again; the generous timeout is for guests under emulation.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	for i := 1; i <= n; i++ {
		url := fmt.Sprintf("http://%s/page/%d", ln.Addr(), i)
		size, err := get(client, url, fmt.Sprintf("ksystest /page/%d\n", i))
		if err != nil {
			srv.Close()
			return err
		}
		fmt.Fprintf(out, "GET %s: 200 OK, %d bytes\n", url, size)
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// get fetches url and checks that the body is want, returning its size.
func get(client *http.Client, url, want string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != want {
		return 0, fmt.Errorf("get %s: %s %q, want 200 OK %q", url, resp.Status, body, want)
	}
	return len(body), nil
}
