package proto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// ksystest exec runs one program in a guest. The host hands the guest's
// init an ExecSpec in the initramfs; the init answers with frames on the
// console, one per line: the program's start, its stdout and stderr in
// chunks, heartbeats, and its exit. The console also carries the kernel's
// messages, so a frame says where it starts (ExecMarker), where its
// payload ends (the line), and what it holds (a CRC): a frame cut by a
// kernel message, or one missing, is seen as such, never taken for
// output.

// ExecSpecPath holds the ExecSpec in the initramfs.
const ExecSpecPath = "/ksystest/exec.json"

// CacheProgArg is the exec init's first argument when the go command
// runs it as its GOCACHEPROG: it then serves the guest's Go build cache,
// with the host's shown read-only at HostGoCache behind it.
const CacheProgArg = "gocacheprog"

// HostGoCache is where an exec guest shows the host's Go build cache.
const HostGoCache = "/run/ksystest/host-go-build"

// CacheProgEnv is the GOCACHEPROG an exec guest's programs get where it
// shows the host's Go build cache: the exec init itself, /init.
const CacheProgEnv = "GOCACHEPROG=/init " + CacheProgArg + " " + HostGoCache

// ExecVersion is the wire version of ExecSpec and of frames.
const ExecVersion = 1

// ExecSpec is the program the init runs.
type ExecSpec struct {
	Version int `json:"version"`
	// Path is the program's file in the guest; Args its argv, Args[0] as
	// the user gave it.
	Path string   `json:"path"`
	Args []string `json:"args"`
	// Env is the program's whole environment.
	Env []string `json:"env"`
	// Dir is its working directory.
	Dir string `json:"dir"`
	// Modules are loaded, with what they depend on, from the guest's
	// /lib/modules/RELEASE before the program runs.
	Modules []string `json:"modules,omitempty"`
}

// ExecStart is a start frame's payload, sent just before the init
// executes the program.
type ExecStart struct {
	Kernel  string `json:"kernel"`  // uname -r
	Machine string `json:"machine"` // uname -m
	// UptimeNS is the guest's CLOCK_BOOTTIME then.
	UptimeNS int64 `json:"uptime_ns"`
}

// ExecExit is an exit frame's payload: how the program ended.
type ExecExit struct {
	// Code is the exit status, or -1 when a signal killed the program.
	Code   int `json:"code"`
	Signal int `json:"signal,omitempty"`
	// UptimeNS is the guest's CLOCK_BOOTTIME when the init saw it end.
	UptimeNS int64 `json:"uptime_ns"`
}

// FrameKind says what a frame carries.
type FrameKind string

// Frame kinds, in the order a guest sends them: one start, then output
// and beats, then one exit or one fail.
const (
	// FrameStart: the program is about to run (payload: ExecStart JSON).
	FrameStart FrameKind = "start"
	// FrameStdout, FrameStderr: bytes the program wrote.
	FrameStdout FrameKind = "out"
	FrameStderr FrameKind = "err"
	// FrameBeat: the init is alive (no payload), once a second.
	FrameBeat FrameKind = "beat"
	// FrameExit: the program ended (payload: ExecExit JSON).
	FrameExit FrameKind = "exit"
	// FrameFail: the init could not run the program (payload: why).
	FrameFail FrameKind = "fail"
)

var frameKinds = map[FrameKind]bool{
	FrameStart: true, FrameStdout: true, FrameStderr: true, FrameBeat: true, FrameExit: true, FrameFail: true,
}

// ExecMarker starts every frame. It differs from Marker, so the agent's
// event decoder and the exec reader never take each other's lines.
const ExecMarker = "@@ksystest-exec@@ "

// MaxFrameData bounds a frame's payload; longer output is sent in several
// frames.
const MaxFrameData = 3072

// maxFrameLine bounds a whole frame line after the marker: version, seq
// (at most 20 digits), kind, CRC, base64 payload and four spaces.
var maxFrameLine = len("1") + 20 + len("start") + 8 + base64.StdEncoding.EncodedLen(MaxFrameData) + 4

// Frame is one message from the exec init to the host. Seq counts from
// 1 without gaps.
type Frame struct {
	Seq  uint64
	Kind FrameKind
	Data []byte
}

// EncodeFrame renders f as one console line, marker first, newline
// ended: "@@ksystest-exec@@ VERSION SEQ KIND CRC32 BASE64" ("-" for an
// empty payload). The CRC covers seq, kind and payload.
func EncodeFrame(f Frame) []byte {
	if len(f.Data) > MaxFrameData {
		panic(fmt.Sprintf("proto: frame payload of %d bytes, at most %d", len(f.Data), MaxFrameData))
	}
	payload := "-"
	if len(f.Data) > 0 {
		payload = base64.StdEncoding.EncodeToString(f.Data)
	}
	return fmt.Appendf(nil, "%s%d %d %s %08x %s\n", ExecMarker, ExecVersion, f.Seq, f.Kind, frameCRC(f), payload)
}

func frameCRC(f Frame) uint32 {
	h := crc32.NewIEEE()
	fmt.Fprintf(h, "%d %s ", f.Seq, f.Kind)
	h.Write(f.Data)
	return h.Sum32()
}

// ErrNotFrame means a console line carries no frame.
var ErrNotFrame = errors.New("not an exec frame")

// ParseFrame reads a console line (trailing CR and LF allowed). A line
// without the marker gives ErrNotFrame; one with it that is not exactly a
// frame is an error: a frame the kernel cut into, or a guest that speaks
// something else, must not pass as output. The marker may follow other
// text: the kernel can print in the middle of a console line.
func ParseFrame(line []byte) (Frame, error) {
	i := bytes.Index(line, []byte(ExecMarker))
	if i < 0 {
		return Frame{}, ErrNotFrame
	}
	rest := bytes.TrimRight(line[i+len(ExecMarker):], "\r\n")
	if len(rest) > maxFrameLine {
		return Frame{}, fmt.Errorf("exec frame of %d bytes, at most %d", len(rest), maxFrameLine)
	}
	fields := bytes.Split(rest, []byte(" "))
	if len(fields) != 5 {
		return Frame{}, fmt.Errorf("exec frame %q: %d fields, want 5", rest, len(fields))
	}
	if string(fields[0]) != strconv.Itoa(ExecVersion) {
		return Frame{}, fmt.Errorf("exec frame version %q, want %d", fields[0], ExecVersion)
	}
	seq, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return Frame{}, fmt.Errorf("exec frame seq %q: not a number", fields[1])
	}
	f := Frame{Seq: seq, Kind: FrameKind(fields[2])}
	if !frameKinds[f.Kind] {
		return Frame{}, fmt.Errorf("exec frame %d: unknown kind %q", seq, fields[2])
	}
	crc, err := strconv.ParseUint(string(fields[3]), 16, 32)
	if err != nil || len(fields[3]) != 8 {
		return Frame{}, fmt.Errorf("exec frame %d: CRC %q is not 8 hex digits", seq, fields[3])
	}
	if p := fields[4]; string(p) != "-" {
		f.Data = make([]byte, base64.StdEncoding.DecodedLen(len(p)))
		n, err := base64.StdEncoding.Strict().Decode(f.Data, p)
		if err != nil || n == 0 {
			return Frame{}, fmt.Errorf("exec frame %d: payload is not base64", seq)
		}
		f.Data = f.Data[:n]
		if n > MaxFrameData {
			return Frame{}, fmt.Errorf("exec frame %d: payload of %d bytes, at most %d", seq, n, MaxFrameData)
		}
	}
	if got := frameCRC(f); got != uint32(crc) {
		return Frame{}, fmt.Errorf("exec frame %d: CRC %08x, the payload's is %08x", seq, crc, got)
	}
	return f, nil
}
