package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Guest programs: the agent (PID 1) and the 32-bit compat helper.
const (
	AgentCmd  = "ksystest-agent"
	CompatCmd = "ksystest-compat"
)

// BinaryName is the file name of cmd built for goarch.
func BinaryName(cmd, goarch string) string { return cmd + "." + goarch }

// AgentName is the file name of the agent built for goarch.
func AgentName(goarch string) string { return BinaryName(AgentCmd, goarch) }

// Agents finds (or builds) the guest programs for each GOARCH.
type Agents struct {
	// Dir holds prebuilt binaries (make build puts them next to ksystest).
	Dir string
	// SourceDir, when set, is the module root to build the binaries from
	// with the go tool, into BuildDir; Dir is then not used.
	SourceDir string
	BuildDir  string

	mu    sync.Mutex
	built map[string]string
}

// ErrNoAgent means a guest program is missing and cannot be built.
var ErrNoAgent = errors.New("guest program not found")

// Path returns the binary of cmd (AgentCmd or CompatCmd) for goarch.
func (a *Agents) Path(ctx context.Context, cmd, goarch, goarm string) (string, error) {
	name := BinaryName(cmd, goarch)
	if a.Dir != "" && a.SourceDir == "" {
		p := filepath.Join(a.Dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if a.SourceDir == "" {
		return "", fmt.Errorf("%w: %s in %q: run `make build`, or pass --agent-dir", ErrNoAgent, name, a.Dir)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.built[name]; p != "" {
		return p, nil
	}
	out := filepath.Join(a.BuildDir, name)
	if err := Build(ctx, a.SourceDir, cmd, goarch, goarm, out); err != nil {
		return "", err
	}
	if a.built == nil {
		a.built = map[string]string{}
	}
	a.built[name] = out
	return out, nil
}

// Build builds a static, stripped guest program with the go tool.
func Build(ctx context.Context, srcDir, cmdName, goarch, goarm, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/"+cmdName)
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if goarm != "" {
		cmd.Env = append(cmd.Env, "GOARM="+goarm)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s for %s: %w: %s", cmdName, goarch, err, stderr.String())
	}
	return nil
}

// ModuleRoot walks up from dir to the ksystest module root, or returns "".
func ModuleRoot(dir string) string {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/ksystest/ksystest\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
