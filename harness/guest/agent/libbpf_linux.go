package agent

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ksystest/ksystest/harness/proto"
)

// libbpfHelper is ksystest-libbpf running in the guest: a static program
// linked with a Debian libbpf that opened and loaded a collection exactly
// as that libbpf does (externs, LINUX_HAS_SYSCALL_WRAPPER, CO-RE) and
// attaches its programs on demand as libbpf's auto-attach does. The agent
// reads the maps and run counts it made through their IDs.
type libbpfHelper struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailWriter
	hello  libbpfHello
	// replies carries the helper's answers; closed when it exits.
	replies chan string
}

// libbpfHello is the helper's first line: what it loaded, or why not.
type libbpfHello struct {
	Libbpf  string                        `json:"libbpf"`
	Package string                        `json:"package"`
	Error   string                        `json:"error"`
	Maps    map[string]uint32             `json:"maps"`
	Progs   map[string]libbpfHelloProgram `json:"progs"`
}

type libbpfHelloProgram struct {
	ID      uint32 `json:"id"`
	Section string `json:"section"`
}

// libbpfAnswer bounds how long the helper may take over one attach.
const libbpfAnswer = 2 * time.Minute

// loadLibbpf loads the collection with the libbpf helper of p's loader:
// the constants go in as .rodata patches, the BTF the guest was given as
// libbpf's custom BTF (CO-RE only), and whatever libbpf says when it
// refuses is the collection's *LoadError.
func (p *Probes) loadLibbpf(o LoadOptions) error {
	args := append([]string{}, p.loaderArgs...)
	if _, err := os.Stat(proto.BTFPath); err == nil {
		args = append(args, "--btf", proto.BTFPath)
	}
	for _, name := range sortedKeys(o.Constants) {
		vs := p.spec.Variables[name]
		if vs.SectionName != ".rodata" {
			return fmt.Errorf("constant %s is in %s: the libbpf helper sets .rodata only", name, vs.SectionName)
		}
		args = append(args, "--rodata", fmt.Sprintf("%d:%s", vs.Offset, hex.EncodeToString(vs.Value)))
	}
	h, err := startLibbpf(proto.LibbpfPath(p.Loader), p.path, args)
	if err != nil {
		return err
	}
	p.owner, p.libbpf = h, h
	who := fmt.Sprintf("libbpf %s (Debian %s)", h.hello.Libbpf, h.hello.Package)
	p.Wrapper.ResolvedBy = who
	if h.hello.Error != "" {
		h.Close()
		return &LoadError{Err: fmt.Errorf("%s refuses it: %s\n%s", who, h.hello.Error, h.stderr.String())}
	}
	p.maps = map[string]*ebpf.Map{}
	for name, id := range h.hello.Maps {
		m, err := ebpf.NewMapFromID(ebpf.MapID(id))
		if err != nil {
			return fmt.Errorf("%s's map %s (id %d): %w", who, name, id, err)
		}
		p.maps[p.specMapName(name)] = m
	}
	for name, hp := range h.hello.Progs {
		prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(hp.ID))
		if err != nil {
			return fmt.Errorf("%s's program %s (id %d): %w", who, name, hp.ID, err)
		}
		p.progs[name] = prog
	}
	p.readWrapper()
	return nil
}

// specMapName is the name the object gives the map libbpf calls name.
// libbpf names a data section's map OBJ.SECTION, cut to the kernel's 15
// characters (macro.bss, syscall_.rodata): such a map is its section's,
// found by the part of the section's name that is left.
func (p *Probes) specMapName(name string) string {
	i := strings.IndexByte(name, '.')
	if _, ok := p.spec.Maps[name]; ok || i < 0 {
		return name
	}
	section := name[i:]
	var found []string
	for n := range p.spec.Maps {
		if strings.HasPrefix(n, section) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return section
}

// startLibbpf runs the helper at path on obj and reads its first line.
func startLibbpf(path, obj string, args []string) (*libbpfHelper, error) {
	cmd := exec.Command(path, append(append(args, "--"), obj)...)
	h := &libbpfHelper{cmd: cmd, stderr: &tailWriter{max: 64 << 10}, replies: make(chan string, 1)}
	cmd.Stderr = h.stderr
	var err error
	if h.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the libbpf helper %s: %w", path, err)
	}
	h.out = bufio.NewReaderSize(stdout, 64<<10)
	first, err := h.out.ReadString('\n')
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("the libbpf helper %s said nothing (%v): %s", path, err, h.stderr.String())
	}
	dec := json.NewDecoder(strings.NewReader(first))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h.hello); err != nil {
		h.Close()
		return nil, fmt.Errorf("the libbpf helper's first line %q: %w", strings.TrimSpace(first), err)
	}
	go func() {
		defer close(h.replies)
		for {
			line, err := h.out.ReadString('\n')
			if err != nil {
				return
			}
			h.replies <- strings.TrimRight(line, "\n")
		}
	}()
	return h, nil
}

// command sends one command line and returns the helper's answer: nil for
// "ok", an error with libbpf's message otherwise.
func (h *libbpfHelper) command(verb, prog string) error {
	if _, err := fmt.Fprintf(h.in, "%s %s\n", verb, prog); err != nil {
		return fmt.Errorf("the libbpf helper: %w: %s", err, h.stderr.String())
	}
	select {
	case answer, ok := <-h.replies:
		switch {
		case !ok:
			return fmt.Errorf("the libbpf helper ended: %s", h.stderr.String())
		case answer == "ok":
			return nil
		}
		return errors.New(strings.TrimPrefix(answer, "error: "))
	case <-time.After(libbpfAnswer):
		return fmt.Errorf("the libbpf helper did not answer %s %s within %s", verb, prog, libbpfAnswer)
	}
}

// attach has libbpf attach program prog as its section says, and returns
// how to detach it.
func (h *libbpfHelper) attach(prog string) (io.Closer, error) {
	if err := h.command("attach", prog); err != nil {
		return nil, err
	}
	return closerFunc(func() error { return h.command("detach", prog) }), nil
}

// Close ends the helper: it destroys its links and object and exits.
func (h *libbpfHelper) Close() error {
	h.in.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		return <-done
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
