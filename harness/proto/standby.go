package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// A saved guest is booted once per kernel and machine, up to where its
// init (ksystest-standby) waits for work, and saved; a run restores it and
// hands it the run's work. The work crosses two channels that exist in
// the saved guest and in every restored one: one line on the console (this
// Work), and a virtio-9p share the guest mounts only once it has the line
// (QEMU cannot save a guest that has a share mounted). The share holds
// the run's files as a newc archive, the same files a booted guest would
// have in its initramfs; the standby init unpacks it into its root and
// becomes the run's /init. The console lines are the standby init's:
// StandbyReady when it waits, StandbyTaken when it has the work and
// executes /init, StandbyFailed when it cannot.

// StandbyMarker starts the standby init's console lines.
const StandbyMarker = "@@ksystest-standby@@ "

// The standby init's lines, after the marker.
const (
	StandbyReady  = "ready"
	StandbyTaken  = "taken"
	StandbyFailed = "failed: "
	// StandbyTook, before StandbyTaken, says how long taking the work
	// took, step by step.
	StandbyTook = "took: "
)

// StandbyVersion is the wire version of Work.
const StandbyVersion = 1

// ShareTag is the mount tag of the share that carries a run's files;
// StandbyDir holds what the standby init needs before it has work (the
// modules that bring the share up, ModulesOrder naming them in load order).
const (
	ShareTag     = "ksystest"
	StandbyDir   = "/ksystest-standby"
	ModulesOrder = StandbyDir + "/modules"
)

// Bounds of a work line: the console's line discipline takes 4095 bytes
// in a line, and the entropy is what the host reads from its own RNG.
const (
	MaxWorkLine  = 4000
	WorkEntropy  = 64
	maxWorkFile  = 255
	minTimeNanos = 1_000_000_000 * 1_000_000_000 // 2001-09-09: no host clock is earlier
)

// Work is what a restored guest is handed on its console.
type Work struct {
	Version int `json:"version"`
	// TimeNS is the host's CLOCK_REALTIME when it sent the work: the guest's
	// realtime clock stopped when it was saved.
	TimeNS int64 `json:"time_ns"`
	// Entropy seeds the guest's RNG afresh (RNDADDENTROPY, then
	// RNDRESEEDCRNG): every restore of a state would otherwise draw the
	// same random numbers.
	Entropy []byte `json:"entropy"`
	// Archive is the file on the share to unpack into the guest's root.
	Archive string `json:"archive"`
	// Binds are host files and directories the guest mounts, read-only,
	// from the host's share (HostShareTag) at the paths they name.
	Binds []Bind `json:"binds,omitempty"`
}

// Bind is a host path (a file or a directory, symlinks resolved) the
// guest mounts at Guest, read-only.
type Bind struct {
	Host  string `json:"host"`
	Guest string `json:"guest"`
}

// HostShareTag is the mount tag of the share of the host's root, read
// only, that exec guests have: the program, its module root, the host's
// C library are mounted from it where they are on the host (Work.Binds).
const HostShareTag = "host"

// MaxBinds bounds a work's binds.
const MaxBinds = 32

// Line is w as the console line the host writes.
func (w Work) Line() []byte {
	w.Version = StandbyVersion
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Paths as they are: '<' or '&' escaped would make a line six times
	// longer than what was read.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		panic(err) // plain fields only
	}
	return b.Bytes() // Encode ends it with '\n'
}

// ParseWork reads a work line strictly.
func ParseWork(line []byte) (Work, error) {
	var w Work
	if len(line) > MaxWorkLine {
		return w, fmt.Errorf("work line of %d bytes, at most %d", len(line), MaxWorkLine)
	}
	// A host writes UTF-8 (JSON's); the decoder would take other bytes
	// for U+FFFD, and a path for another.
	if !utf8.Valid(line) {
		return w, errors.New("work line: not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimRight(line, "\r\n")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Work{}, fmt.Errorf("work line: %w", err)
	}
	if dec.More() {
		return Work{}, fmt.Errorf("work line: more than one value")
	}
	switch {
	case w.Version != StandbyVersion:
		return Work{}, fmt.Errorf("work version %d, this init speaks %d", w.Version, StandbyVersion)
	case w.TimeNS < minTimeNanos:
		return Work{}, fmt.Errorf("work time %d is no host's clock", w.TimeNS)
	case len(w.Entropy) != WorkEntropy:
		return Work{}, fmt.Errorf("work entropy of %d bytes, want %d", len(w.Entropy), WorkEntropy)
	case w.Archive == "" || len(w.Archive) > maxWorkFile || strings.ContainsAny(w.Archive, "/\x00") || w.Archive == "." || w.Archive == "..":
		return Work{}, fmt.Errorf("work archive %q is not a file name", w.Archive)
	case len(w.Binds) > MaxBinds:
		return Work{}, fmt.Errorf("%d binds, at most %d", len(w.Binds), MaxBinds)
	}
	for _, b := range w.Binds {
		for _, p := range []string{b.Host, b.Guest} {
			if !CleanAbs(p) || p == "/" {
				return Work{}, fmt.Errorf("work bind %q → %q: not a clean absolute path", b.Host, b.Guest)
			}
		}
	}
	// What parses is what a host could have written: its line again
	// within the bound (JSON writes U+2028 in six bytes, however it came).
	if n := len(w.Line()); n > MaxWorkLine {
		return Work{}, fmt.Errorf("work line of %d bytes written again, at most %d", n, MaxWorkLine)
	}
	return w, nil
}

// CleanAbs says whether p is an absolute path as path.Clean writes it,
// without NUL.
func CleanAbs(p string) bool {
	return path.IsAbs(p) && path.Clean(p) == p && !strings.ContainsRune(p, 0)
}

// StandbyLine is the standby init's console line s.
func StandbyLine(s string) string { return StandbyMarker + s + "\n" }

// ParseStandby reads a console line: what the standby init said, and
// whether the line is one of its.
func ParseStandby(line string) (string, bool) {
	i := strings.Index(line, StandbyMarker)
	if i < 0 {
		return "", false
	}
	return strings.TrimRight(line[i+len(StandbyMarker):], "\r\n"), true
}
