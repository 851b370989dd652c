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
	"github.com/pierrec/lz4/v4"
)

// VmlinuxFromBzImage returns the uncompressed ELF kernel inside an x86
// bzImage. QEMU boots such an ELF directly through its PVH entry point
// (CONFIG_PVH), which skips the bzImage's own decompression: about 2.5 s of
// every x86 boot under emulation. The payload is zstd (Debian 6.12), xz
// with the x86 BCJ filter (Debian 5.10, 6.1), which the xz tool decodes
// (without it this returns an error and the caller boots the bzImage),
// or LZ4's legacy format (Ubuntu's 5.4).
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
	switch {
	case bytes.HasPrefix(payload, []byte("\x28\xb5\x2f\xfd")):
		return unzstdELF(payload)
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		return untoolELF(ctx, "xz", "xz-utils", payload)
	case bytes.HasPrefix(payload, []byte("\x02\x21\x4c\x18")):
		return unlz4ELF(payload)
	}
	return nil, errors.New("bzImage payload is neither xz, zstd nor lz4")
}

// untoolELF decodes a payload with tool -dc (package pkg installs it).
// The kernel appends its size after the compressed stream; xz reports
// that as trailing garbage, and fails, but has written the whole ELF by
// then: the ELF's own header says whether it is whole.
func untoolELF(ctx context.Context, tool, pkg string, payload []byte) ([]byte, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("no %s tool (package %s) to unpack the bzImage: %w", tool, pkg, err)
	}
	cmd := exec.CommandContext(ctx, path, "-dc")
	cmd.Stdin = bytes.NewReader(payload)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	elf := out.Bytes()
	if !bytes.HasPrefix(elf, []byte("\x7fELF")) || !elfWhole(elf) {
		return nil, fmt.Errorf("unpack bzImage with %s: %v: %s", tool, err, stderr.String())
	}
	return elf, nil
}

// elfWhole reports whether a 64-bit little-endian ELF (an x86_64 vmlinux)
// holds its section header table, which the linker puts last; other ELFs
// (i386's) pass unchecked.
func elfWhole(elf []byte) bool {
	if len(elf) < 64 || elf[4] != 2 || elf[5] != 1 {
		return true
	}
	shoff := binary.LittleEndian.Uint64(elf[0x28:])
	end := shoff + uint64(binary.LittleEndian.Uint16(elf[0x3a:]))*uint64(binary.LittleEndian.Uint16(elf[0x3c:]))
	return end <= uint64(len(elf))
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
// unlz4ELF decodes LZ4's legacy format. The kernel's size after the
// stream reads as one more block header; the ELF's own header says
// whether what came before is whole.
func unlz4ELF(payload []byte) ([]byte, error) {
	var out bytes.Buffer
	_, err := io.Copy(&out, io.LimitReader(lz4.NewReader(bytes.NewReader(payload)), maxVmlinux))
	elf := out.Bytes()
	if !bytes.HasPrefix(elf, []byte("\x7fELF")) || !elfWhole(elf) {
		return nil, fmt.Errorf("unpack bzImage (lz4): %v", err)
	}
	return elf, nil
}

// maxVmlinux bounds an unpacked kernel: Ubuntu's x86 vmlinux is about 60
// MB.
const maxVmlinux = 1 << 30

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
