package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// VmlinuxFromBzImage returns the uncompressed ELF kernel inside an x86
// bzImage. QEMU boots such an ELF directly through its PVH entry point
// (CONFIG_PVH), which skips the bzImage's own decompression: about 2.5 s of
// every x86 boot under emulation. The payload is zstd (Debian 6.12) or xz
// with the x86 BCJ filter (5.10, 6.1), which the xz tool decodes; without
// xz this returns an error for those and the caller boots the bzImage.
func VmlinuxFromBzImage(ctx context.Context, bz []byte) ([]byte, error) {
	// Boot protocol (Documentation/arch/x86/boot.rst): setup_sects at
	// 0x1f1, "HdrS" at 0x202, payload_offset/length at 0x248/0x24c,
	// relative to the protected-mode code after the setup sectors.
	if len(bz) < 0x250 || string(bz[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage")
	}
	setup := int(bz[0x1f1])
	if setup == 0 {
		setup = 4
	}
	off := binary.LittleEndian.Uint32(bz[0x248:])
	n := binary.LittleEndian.Uint32(bz[0x24c:])
	start := (setup+1)*512 + int(off)
	if start+int(n) > len(bz) {
		return nil, errors.New("bzImage payload out of range")
	}
	payload := bz[start : start+int(n)]
	if bytes.HasPrefix(payload, []byte("\x28\xb5\x2f\xfd")) {
		return unzstdELF(payload)
	}
	if !bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")) {
		return nil, errors.New("bzImage payload is neither xz nor zstd")
	}
	xz, err := exec.LookPath("xz")
	if err != nil {
		return nil, fmt.Errorf("no xz tool to unpack the bzImage: %w", err)
	}
	cmd := exec.CommandContext(ctx, xz, "-dc")
	cmd.Stdin = bytes.NewReader(payload)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	// The kernel appends its size after the xz stream; xz reports that as
	// trailing garbage but has written the whole ELF by then.
	err = cmd.Run()
	elf := out.Bytes()
	if !bytes.HasPrefix(elf, []byte("\x7fELF")) {
		return nil, fmt.Errorf("unpack bzImage: %v: %s", err, stderr.String())
	}
	return elf, nil
}

// ensureVmlinux adds an uncompressed vmlinux to a cached kernel entry when
// the kernel can boot it (CONFIG_PVH=y). Failing that, the entry keeps only
// its bzImage, which boots too, more slowly.
func (f Archive) ensureVmlinux(ctx context.Context, k *Kernel, dir string) {
	if pvh, _ := k.ConfigValue("PVH"); pvh != "y" {
		return
	}
	path := filepath.Join(dir, "vmlinux")
	from := "vmlinux of " + k.Package + " " + k.Version + " sha256:" + k.SHA256
	_, err := f.Cache.File(ctx, "vmlinux-"+k.SHA256[:16], path, from, func(tmp string) (string, error) {
		bz, err := os.ReadFile(k.Vmlinuz)
		if err != nil {
			return "", err
		}
		elf, err := VmlinuxFromBzImage(ctx, bz)
		if err != nil {
			return "", err
		}
		out := filepath.Join(tmp, "vmlinux")
		return out, os.WriteFile(out, elf, 0o644)
	})
	if err != nil {
		f.Log("%s: booting the bzImage: %v", k.Package, err)
		return
	}
	k.Vmlinux = path
}

// unzstdELF decodes a zstd payload. The kernel's size trailer follows
// the frame; the decoder may complain about it once the ELF is out.
func unzstdELF(payload []byte) ([]byte, error) {
	d, err := zstd.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, d)
	if !bytes.HasPrefix(out.Bytes(), []byte("\x7fELF")) {
		return nil, fmt.Errorf("unpack bzImage (zstd): %v", err)
	}
	return out.Bytes(), nil
}
