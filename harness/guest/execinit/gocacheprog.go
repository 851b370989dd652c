package execinit

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CacheProgLocal is where the guest's go commands keep what they build
// (RAM, as the rest of the guest's files) when CacheProg serves them.
const CacheProgLocal = "/run/ksystest/go-build"

// The go command's build cache keys, as its cache program protocol
// (cmd/go/internal/cacheprog) and disk cache (cmd/go/internal/cache) have
// them: SHA256 sums, an action's entry a fixed-size line.
const (
	hashSize  = 32
	hexSize   = 2 * hashSize
	entrySize = 2 + 1 + hexSize + 1 + hexSize + 1 + 20 + 1 + 20 + 1
)

// cacheRequest is a request of the go command to its cache program.
type cacheRequest struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

// cacheResponse is the cache program's answer; the first, of ID 0, says
// what it knows.
type cacheResponse struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

// CacheProg serves the go command's build cache over in and out (its
// GOCACHEPROG protocol) from two directories laid out as the go
// command's own cache: local, the guest's, which takes what the go
// command puts, and host, the host's build cache shown read-only, whose
// compiled packages are used when local misses. A go command in the
// guest so compiles only what the host has not compiled already, as it
// would on the machine that built the test; what it builds stays in the
// guest. An entry of the host's that is not whole, or not a compiled
// package (a test's cached result among them), is a miss.
func CacheProg(in io.Reader, out io.Writer, local, host string) error {
	if err := os.MkdirAll(local, 0o755); err != nil {
		return err
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(r cacheResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(r)
	}
	if err := send(cacheResponse{KnownCommands: []string{"get", "put", "close"}}); err != nil {
		return err
	}
	br := bufio.NewReaderSize(in, 64<<10)
	dec := json.NewDecoder(br)
	for {
		var req cacheRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("gocacheprog: %w", err)
		}
		var resp cacheResponse
		switch req.Command {
		case "get":
			resp = cacheGet(req, local, host)
		case "put":
			var body []byte
			if req.BodySize > 0 {
				// The body follows as a JSON string of base64.
				var b64 string
				if err := dec.Decode(&b64); err != nil {
					return fmt.Errorf("gocacheprog: put %d: body: %w", req.ID, err)
				}
				var err error
				if body, err = base64.StdEncoding.DecodeString(b64); err != nil {
					return fmt.Errorf("gocacheprog: put %d: body: %w", req.ID, err)
				}
				if int64(len(body)) != req.BodySize {
					return fmt.Errorf("gocacheprog: put %d: %d bytes of body, said %d", req.ID, len(body), req.BodySize)
				}
			}
			resp = cachePut(req, body, local)
		case "close":
			return send(cacheResponse{ID: req.ID})
		default:
			resp = cacheResponse{Err: "unknown command " + strconv.Quote(req.Command)}
		}
		resp.ID = req.ID
		if err := send(resp); err != nil {
			return err
		}
	}
}

// cacheFile is where a cache laid out as the go command's keeps id's
// file of kind ("a": an action's entry, "d": an output).
func cacheFile(dir string, id []byte, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("%02x", id[0]), fmt.Sprintf("%x", id)+"-"+kind)
}

// cacheGet answers a get from local, else from host.
func cacheGet(req cacheRequest, local, host string) cacheResponse {
	if len(req.ActionID) != hashSize {
		return cacheResponse{Err: fmt.Sprintf("action ID of %d bytes", len(req.ActionID))}
	}
	if resp, ok := cacheLookup(local, req.ActionID); ok {
		return resp
	}
	// Of the host's, compiled packages only: the go command keeps test
	// results in the same cache, and a result the host's kernel gave must
	// never pass for the guest's ("ok (cached)").
	if resp, ok := cacheLookup(host, req.ActionID); ok && isArchive(resp.DiskPath) {
		return resp
	}
	return cacheResponse{Miss: true}
}

// isArchive says whether the file at path is an ar archive, as the
// compiler writes a package.
func isArchive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 8)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "!<arch>\n"
}

// cacheLookup reads action's entry in dir and checks that its output is
// there, of the size the entry gives.
func cacheLookup(dir string, action []byte) (cacheResponse, bool) {
	if dir == "" {
		return cacheResponse{}, false
	}
	f, err := os.Open(cacheFile(dir, action, "a"))
	if err != nil {
		return cacheResponse{}, false
	}
	defer f.Close()
	entry := make([]byte, entrySize+1)
	if n, _ := io.ReadFull(f, entry); n != entrySize {
		return cacheResponse{}, false
	}
	fields := strings.Fields(string(entry[:entrySize]))
	if len(fields) != 5 || fields[0] != "v1" || fields[1] != hex.EncodeToString(action) {
		return cacheResponse{}, false
	}
	output, err := hex.DecodeString(fields[2])
	if err != nil || len(output) != hashSize {
		return cacheResponse{}, false
	}
	size, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil || size < 0 {
		return cacheResponse{}, false
	}
	ns, err := strconv.ParseInt(fields[4], 10, 64)
	if err != nil || ns < 0 {
		return cacheResponse{}, false
	}
	path := cacheFile(dir, output, "d")
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return cacheResponse{}, false // a cached executable (a directory), or trimmed
	}
	when := time.Unix(0, ns)
	return cacheResponse{OutputID: output, Size: size, Time: &when, DiskPath: path}, true
}

// cachePut keeps body as req's output in local, and req's entry.
func cachePut(req cacheRequest, body []byte, local string) cacheResponse {
	if len(req.ActionID) != hashSize || len(req.OutputID) != hashSize {
		return cacheResponse{Err: "put: action and output IDs of the wrong size"}
	}
	path := cacheFile(local, req.OutputID, "d")
	entry := fmt.Sprintf("v1 %x %x %20d %20d\n", req.ActionID, req.OutputID, len(body), time.Now().UnixNano())
	for _, w := range []struct {
		path string
		data []byte
	}{{path, body}, {cacheFile(local, req.ActionID, "a"), []byte(entry)}} {
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			return cacheResponse{Err: err.Error()}
		}
		tmp := fmt.Sprintf("%s.%d.tmp", w.path, os.Getpid())
		if err := os.WriteFile(tmp, w.data, 0o644); err != nil {
			return cacheResponse{Err: err.Error()}
		}
		if err := os.Rename(tmp, w.path); err != nil {
			return cacheResponse{Err: err.Error()}
		}
	}
	return cacheResponse{DiskPath: path}
}
