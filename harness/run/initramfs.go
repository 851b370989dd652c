package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbin"
	"github.com/ksystest/ksystest/harness/image"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
)

func writeInitramfs(ctx context.Context, o *Options, a arch.Arch, planned []matrix.Planned, btfPath, path string) error {
	files, err := guestFiles(ctx, o, a, planned, btfPath)
	if err != nil {
		return err
	}
	return writeArchive(path, files)
}

// guestFiles are what a guest needs: the agent as /init, the console
// node, the catalogue for its arch, BTF when its kernel has none, and the
// 32-bit helper when a case needs it.
func guestFiles(ctx context.Context, o *Options, a arch.Arch, planned []matrix.Planned, btfPath string) ([]image.File, error) {
	agentPath, err := o.Agents.Path(ctx, guestbin.Agent, a.Go)
	if err != nil {
		return nil, err
	}
	agent, err := os.ReadFile(agentPath)
	if err != nil {
		return nil, err
	}
	cat := matrix.ProtoOf(a, planned)
	cat.Collections = []proto.Collection{{Name: proto.Builtin, Path: proto.ProbesPath}}
	catJSON, err := json.Marshal(cat)
	if err != nil {
		return nil, err
	}
	probes, err := fs.ReadFile(o.Builtin, "bpf/obj/probes_"+a.BPF.Suffix()+".o")
	if err != nil {
		return nil, fmt.Errorf("ksystest's probes for %s: %w", a.Name, err)
	}
	files := []image.File{
		{Path: "/init", Mode: 0o755, Data: agent},
		// The kernel opens /dev/console for PID 1's stdio before anything
		// mounts devtmpfs, so the node must be in the archive.
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: proto.CataloguePath, Mode: 0o644, Data: catJSON},
		{Path: proto.ProbesPath, Mode: 0o644, Data: probes},
	}
	if btfPath != "" {
		btf, err := os.ReadFile(btfPath)
		if err != nil {
			return nil, err
		}
		files = append(files, image.File{Path: proto.BTFPath, Mode: 0o644, Data: btf})
	}
	if needsCompat(planned) {
		helperPath, err := o.Agents.Path(ctx, guestbin.Compat, *a.Compat)
		if err != nil {
			return nil, err
		}
		helper, err := os.ReadFile(helperPath)
		if err != nil {
			return nil, err
		}
		files = append(files, image.File{Path: proto.CompatHelperPath, Mode: 0o755, Data: helper})
	}
	return files, nil
}

func writeArchive(path string, files []image.File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = image.WriteInitramfs(f, files)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	return nil
}

func needsCompat(planned []matrix.Planned) bool {
	for _, cd := range planned {
		if cd.Compat {
			return true
		}
	}
	return false
}
