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

// AgentName is the file name of the agent built for goarch.
func AgentName(goarch string) string { return "ksystest-agent." + goarch }

// Agents finds (or builds) the guest agent for each GOARCH.
type Agents struct {
	// Dir holds prebuilt agents (make build puts them next to ksystest).
	Dir string
	// SourceDir, when set, is the module root to build missing agents from
	// with the go tool, into BuildDir.
	SourceDir string
	BuildDir  string

	mu    sync.Mutex
	built map[string]string
}

// ErrNoAgent means no agent binary exists for an arch and none can be built.
var ErrNoAgent = errors.New("guest agent not found")

// Path returns the agent binary for goarch (and goarm).
func (a *Agents) Path(ctx context.Context, goarch, goarm string) (string, error) {
	if a.Dir != "" {
		p := filepath.Join(a.Dir, AgentName(goarch))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if a.SourceDir == "" {
		return "", fmt.Errorf("%w for %s in %q: run `make build`, or pass --agent-dir", ErrNoAgent, goarch, a.Dir)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.built[goarch]; p != "" {
		return p, nil
	}
	out := filepath.Join(a.BuildDir, AgentName(goarch))
	if err := BuildAgent(ctx, a.SourceDir, goarch, goarm, out); err != nil {
		return "", err
	}
	if a.built == nil {
		a.built = map[string]string{}
	}
	a.built[goarch] = out
	return out, nil
}

// BuildAgent builds the static agent for goarch with the go tool.
func BuildAgent(ctx context.Context, srcDir, goarch, goarm, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/ksystest-agent")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if goarm != "" {
		cmd.Env = append(cmd.Env, "GOARM="+goarm)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build agent for %s: %w: %s", goarch, err, stderr.String())
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
